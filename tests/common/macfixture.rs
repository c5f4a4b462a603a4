//! A Mac's layout to plan against: the fixture roots under `tests/fixtures/macos-*` with
//! the owners and modes a Mac has, the Mac's default answers, and what the tests read of
//! a plan.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use clawguard::answers::Answers;
use clawguard::plan::Plan;

/// A copy of a macOS fixture with the owners and modes a Mac has (git keeps neither).
pub fn mac(name: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix(&format!("clawguard-{name}-")).tempdir().unwrap();
    super::copy_tree(&super::fixtures().join(name), dir.path());
    let chown = |p: &str, uid: u32, gid: u32| {
        let out = Command::new("chown").args(["-R", &format!("{uid}:{gid}")]).arg(dir.path().join(p)).output().unwrap();
        assert!(out.status.success(), "chown {p}: {}", String::from_utf8_lossy(&out.stderr));
    };
    chown("Users/alice", 501, 20);
    chown("opt/homebrew", 501, 80);
    let mode = |p: &str, m: u32| fs::set_permissions(dir.path().join(p), fs::Permissions::from_mode(m)).unwrap();
    mode("Users/alice", 0o750);
    mode("Users/alice/.ssh", 0o700);
    mode("Users/alice/.ssh/authorized_keys", 0o600);
    mode("private/var/db/dslocal", 0o700);
    dir
}

pub fn facts(root: &Path, ssh: Option<&str>) -> clawguard::host::Facts {
    super::facts(root, ssh)
}

pub fn defaults() -> Answers {
    Answers::defaults_for(clawguard::target::Kind::MacOs)
}

pub fn answers(toml: &str) -> Answers {
    let mut a = defaults();
    let parsed = Answers::parse(&format!("version = 1\n{toml}"), "test").unwrap();
    // The sandbox's paths stay the Mac's defaults unless the snippet sets them.
    if !toml.contains("state_dir") {
        let mut p = parsed;
        p.sandbox.state_dir = a.sandbox.state_dir.clone();
        p.sandbox.workspace = a.sandbox.workspace.clone();
        p.sandbox.config_dir = a.sandbox.config_dir.clone();
        a = p;
    } else {
        a = parsed;
    }
    a
}

pub fn file<'a>(plan: &'a Plan, path: &str) -> &'a str {
    &plan.file(path).unwrap_or_else(|| panic!("{path} is not in the plan: {:?}", paths(plan))).content
}

pub fn paths(plan: &Plan) -> Vec<&str> {
    plan.files.iter().map(|f| f.path.as_str()).collect()
}

pub fn commands(plan: &Plan) -> Vec<String> {
    plan.commands.iter().map(|c| c.argv.join(" ")).collect()
}

/// A plan's report in which every file is unchanged.
pub fn no_file_changes(report: &str) -> bool {
    report.contains("(unchanged)") && !report.contains("(new file") && !report.contains("(changed")
}

pub fn file_contains(p: &Path, needle: &str) -> bool {
    fs::read_to_string(p).is_ok_and(|t| t.contains(needle))
}
