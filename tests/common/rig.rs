//! What the engine's tests start from: the Debian 12 cloud fixture, a work directory, and
//! a recording runner (a script that logs each command it gets).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// What most tests here start from: the Debian 12 cloud fixture, a work directory, and a
/// recording runner in it.
pub struct Rig {
    pub root: tempfile::TempDir,
    pub work: tempfile::TempDir,
    pub runner: PathBuf,
}

/// Whether the fixture gets stand-ins for the services' tools (`super::fake_tools`) or
/// has none of them, as a bare host (the plan installs them first).
pub enum Tools {
    Fake,
    None,
}

pub fn rig(tools: Tools) -> Rig {
    let root = super::fixture_root("debian12-cloud");
    if let Tools::Fake = tools {
        super::fake_tools(root.path());
    }
    let work = tempfile::tempdir().unwrap();
    let runner = recording_runner(work.path());
    Rig { root, work, runner }
}

/// A runner that logs every command it gets to `<dir>/runner.log`, answers `ss` as if sshd
/// listened on the port, and fails a command whose text is a line of `<dir>/fail-on`.
pub fn recording_runner(dir: &Path) -> PathBuf {
    let script = dir.join("runner.sh");
    let log = dir.join("runner.log");
    let fail = dir.join("fail-on");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$*\" >> {log}\nif [ -f {fail} ] && grep -qxF -- \"$*\" {fail}; then echo 'simulated failure' >&2; exit 3; fi\ncase \"$1\" in ss) echo \"LISTEN 0 128 0.0.0.0:${{3##*:}} 0.0.0.0:* users:((\\\"sshd\\\",pid=1,fd=3))\";; esac\nexit 0\n",
            log = log.display(),
            fail = fail.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// A runner that does `first` (shell lines that may answer for the runner), then hands the
/// command to the recording runner `runner`.
pub fn wrapped_runner(dir: &Path, name: &str, first: &str, runner: &Path) -> PathBuf {
    let script = dir.join(name);
    fs::write(&script, format!("#!/bin/sh\n{first}\nexec {} \"$@\"\n", runner.display())).unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    script
}

pub fn log_of(dir: &Path) -> String {
    fs::read_to_string(dir.join("runner.log")).unwrap_or_default()
}

/// The content of every file the default plan for a fresh Debian 12 cloud image manages,
/// as it is now on `root`.
pub fn rendered(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let fresh = super::fixture_root("debian12-cloud");
    let plan =
        clawguard::layers::plan(&clawguard::answers::Answers::default(), &super::facts(fresh.path(), None)).unwrap();
    plan.files.iter().map(|f| (f.path.clone(), fs::read(root.join(f.path.trim_start_matches('/'))).ok())).collect()
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
