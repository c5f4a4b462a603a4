//! Helpers shared by the integration tests: fixture roots copied to temp dirs, a
//! fingerprint of a whole tree, the answer sets.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clawguard::answers::Answers;
use clawguard::host::{self, Facts};
use clawguard::target::Root;

pub mod booted;
pub mod cli;
pub mod engine;
pub mod macfixture;
pub mod macroot;
pub mod registry;
pub mod rig;
pub mod standins;
pub mod tmux;
pub mod vps;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A fresh copy of fixture root `name` in a temp dir, with the modes a real host has
/// (git keeps none of them).
pub fn fixture_root(name: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix(&format!("clawguard-{name}-")).tempdir().unwrap();
    copy_tree(&fixtures().join(name), dir.path());
    let passwd = fs::read_to_string(dir.path().join("etc/passwd")).unwrap_or_default();
    for home in ["home/debian", "home/ubuntu", "home/admin"] {
        let h = dir.path().join(home);
        if h.exists() {
            // Owned by their user, as on a real host (sshd reads the keys as the user).
            let user = home.trim_start_matches("home/");
            if let Some(ids) =
                passwd.lines().map(|l| l.split(':').collect::<Vec<_>>()).find(|f| f.len() > 3 && f[0] == user)
            {
                let (uid, gid) = (ids[2].parse().unwrap(), ids[3].parse().unwrap());
                chown_tree(&h, uid, gid);
            }
            fs::set_permissions(&h, fs::Permissions::from_mode(0o750)).unwrap();
            if h.join(".ssh").exists() {
                fs::set_permissions(h.join(".ssh"), fs::Permissions::from_mode(0o700)).unwrap();
                fs::set_permissions(h.join(".ssh/authorized_keys"), fs::Permissions::from_mode(0o600)).unwrap();
            }
        }
    }
    dir
}

fn chown_tree(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("chown {}: {e} (the tests run as root)", p.display()));
    if p.is_dir() {
        for e in fs::read_dir(p).unwrap() {
            chown_tree(&e.unwrap().path(), uid, gid);
        }
    }
}

pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        let ft = e.file_type().unwrap();
        if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(e.path()).unwrap(), &t).unwrap();
        } else if ft.is_dir() {
            copy_tree(&e.path(), &t);
        } else {
            fs::copy(e.path(), &t).unwrap();
        }
    }
}

/// Every path under `dir` with its type, mode and content: equal fingerprints mean the
/// tree is byte-for-byte the same.
pub fn fingerprint(dir: &Path) -> BTreeMap<String, (u32, Vec<u8>)> {
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, (u32, Vec<u8>)>) {
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let meta = fs::symlink_metadata(e.path()).unwrap();
        let rel = e.path().strip_prefix(base).unwrap().to_string_lossy().into_owned();
        let content = if meta.is_file() {
            fs::read(e.path()).unwrap()
        } else if meta.file_type().is_symlink() {
            fs::read_link(e.path()).unwrap().to_string_lossy().as_bytes().to_vec()
        } else {
            Vec::new()
        };
        out.insert(rel, (meta.permissions().mode(), content));
        if meta.is_dir() {
            walk(base, &e.path(), out);
        }
    }
}

/// The answer sets every rendered file is checked with.
pub fn answer_sets() -> Vec<(&'static str, Answers)> {
    let load = |f: &str| Answers::load(&fixtures().join("answers").join(f)).unwrap();
    vec![("defaults", Answers::default()), ("generic", load("generic.toml")), ("rest-backup", load("rest-backup.toml"))]
}

pub fn facts(root: &Path, ssh_connection: Option<&str>) -> Facts {
    host::probe(&Root::new(root), ssh_connection)
}

/// Empty files where the installed tools would be, and the packages in dpkg's database,
/// so a plan does not install them.
pub fn fake_tools(root: &Path) {
    let status = root.join("var/lib/dpkg/status");
    fs::create_dir_all(status.parent().unwrap()).unwrap();
    let mut text = fs::read_to_string(&status).unwrap_or_default();
    for p in ["python3-systemd", "logrotate"] {
        text.push_str(&format!("\nPackage: {p}\nStatus: install ok installed\nVersion: 1\n"));
    }
    fs::write(&status, text).unwrap();
    for tool in [
        "usr/sbin/logrotate",
        "usr/sbin/ufw",
        "usr/bin/fail2ban-client",
        "usr/bin/docker",
        "usr/bin/docker-compose",
        "usr/bin/restic",
        "lib/systemd/systemd",
        "usr/local/bin/clawguard",
    ] {
        fs::create_dir_all(root.join(tool).parent().unwrap()).unwrap();
        fs::write(root.join(tool), "").unwrap();
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_clawguard")
}

/// The commands `BIN [path…] --help` lists under "Commands:" (`help` left out): what a
/// user sees, which the manual and the completions must all cover.
pub fn help_commands(bin: &Path, path: &[&str]) -> Vec<String> {
    let o = std::process::Command::new(bin).args(path).arg("--help").output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let section = out.split("Commands:\n").nth(1).unwrap_or_else(|| panic!("no Commands: in {path:?} --help:\n{out}"));
    section
        .lines()
        .take_while(|l| !l.is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

/// The Debian package `scripts/package` builds (`scripts/test` runs it first). Missing is
/// a failure that says how to make it, never a skipped test.
pub fn deb() -> std::path::PathBuf {
    let deb = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("target/debian/clawguard_{}-1_amd64.deb", env!("CARGO_PKG_VERSION")));
    assert!(deb.is_file(), "{} is missing: run scripts/package (scripts/test does) first", deb.display());
    deb
}

/// A flat apt repository in `dir` (a `file:` source, no signature: `[trusted=yes]`) whose
/// Release names `suite` and `label` as Debian's do (`bookworm-security`,
/// `Debian-Security`), offering each `(package, version)` for amd64.
pub fn apt_repo(dir: &Path, suite: &str, label: &str, packages: &[(&str, &str)]) {
    use sha2::Digest;
    std::fs::create_dir_all(dir).unwrap();
    let mut index = String::new();
    for (name, version) in packages {
        index.push_str(&format!(
            "Package: {name}\nPriority: optional\nSection: misc\nMaintainer: T <t@example.org>\nArchitecture: amd64\nVersion: {version}\nFilename: ./{name}.deb\nSize: 1\nSHA256: {}\nDescription: test\n\n",
            "0".repeat(64)
        ));
    }
    std::fs::write(dir.join("Packages"), &index).unwrap();
    let hash = sha2::Sha256::digest(index.as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(
        dir.join("Release"),
        format!(
            "Origin: Debian\nLabel: {label}\nSuite: {suite}\nCodename: {suite}\nDate: Sat, 28 Nov 2026 00:00:00 UTC\nSHA256:\n {hex} {} Packages\n",
            index.len()
        ),
    )
    .unwrap();
}

/// `clawguard secrets set NAME` on `root`, the value on standard input as a person types it.
pub fn set_secret(root: &Path, name: &str, value: &str) {
    use std::io::Write;
    let mut c = std::process::Command::new(bin())
        .args(["secrets", "--root", root.to_str().unwrap(), "set", name])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(format!("{value}\n").as_bytes()).unwrap();
    assert!(c.wait().unwrap().success(), "secrets set {name} failed");
}

/// Waits until `f` holds, for at most `secs` seconds (polled every 100 ms); fails the test
/// naming `what` when it never does.
pub fn wait(what: &str, secs: u64, f: impl FnMut() -> bool) {
    assert!(until(secs, f), "timed out after {secs} s waiting for {what}");
}

/// Whether `f` came to hold within `secs` seconds (polled every 100 ms): for a caller whose
/// failure has more to say than [`wait`]'s (what it saw last).
pub fn until(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while !f() {
        if t.elapsed() >= Duration::from_secs(secs) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}
