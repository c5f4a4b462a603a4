//! What an uninstall would put back, read from clawguard's records after real applies
//! (files only, `--root`): every managed file as it was before clawguard first touched it,
//! the commands that take back what ran — and loud errors when the records cannot say.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use clawguard::target::Root;
use clawguard::uninstall::{Original, UninstallError, restoration};

fn apply(root: &Path, answers: Option<&Path>) {
    let mut c = common::cli::command(&[]);
    c.args(["apply", "--yes", "--root", root.to_str().unwrap()]).env_remove("SSH_CONNECTION");
    if let Some(a) = answers {
        c.args(["--answers", a.to_str().unwrap()]);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
}

/// A cloud image whose sshd_config sets what clawguard's drop-in must win over: clawguard
/// comments those lines out, so sshd_config is a managed file that existed before.
fn host() -> tempfile::TempDir {
    let root = common::fixture_root("debian12-cloud");
    let main = root.path().join("etc/ssh/sshd_config");
    let mut text = fs::read_to_string(&main).unwrap();
    text.push_str("Port 22\nPasswordAuthentication yes\n");
    fs::write(&main, text).unwrap();
    root
}

#[test]
fn every_managed_file_goes_back_to_what_it_was_before_the_first_apply() {
    let root = host();
    let before = common::fingerprint(root.path());
    let sshd_config = fs::read(root.path().join("etc/ssh/sshd_config")).unwrap();
    apply(root.path(), None);
    // A second generation over the first: the originals still come from the first.
    let answers = root.path().join("answers.toml");
    fs::write(&answers, "version = 1\n[ssh]\nport = 2200\n").unwrap();
    apply(root.path(), Some(&answers));

    let r = restoration(&Root::new(root.path())).unwrap();
    assert!(r.files.len() > 5, "{:?}", r.files.iter().map(|f| &f.path).collect::<Vec<_>>());
    let paths: Vec<&str> = r.files.iter().map(|f| f.path.as_str()).collect();
    let unique: std::collections::BTreeSet<&str> = paths.iter().copied().collect();
    assert_eq!(unique.len(), paths.len(), "a file is listed twice: {paths:?}");
    for f in &r.files {
        match (&f.original, before.get(&f.path[1..])) {
            (Original::Content { data, mode }, Some((old_mode, old))) => {
                assert_eq!(data, old, "{}", f.path);
                assert_eq!(*mode, old_mode & 0o7777, "{}", f.path);
            }
            (Original::Absent, None) => {}
            (o, w) => panic!("{}: restoration says {o:?}, the fixture had {w:?}", f.path),
        }
        assert_eq!(f.current.as_deref(), fs::read(root.path().join(&f.path[1..])).ok().as_deref(), "{}", f.path);
    }
    // sshd_config had lines clawguard commented out: it goes back byte for byte.
    let main = r.files.iter().find(|f| f.path == "/etc/ssh/sshd_config").expect("sshd_config is managed");
    assert!(main.changes());
    assert_eq!(main.original, Original::Content { data: sshd_config, mode: 0o644 });
    let dropin = r.files.iter().find(|f| f.path.starts_with("/etc/ssh/sshd_config.d/00-clawguard")).unwrap();
    assert_eq!(dropin.original, Original::Absent);
    assert!(dropin.diff().contains("-Port 2200") && dropin.diff().contains("+++ /dev/null"), "{}", dropin.diff());
    // Under --root nothing ran, so there is nothing to take back.
    assert!(r.undo.is_empty(), "{:?}", r.undo);
}

#[test]
fn what_ran_is_taken_back_newest_first_each_once() {
    let root = common::fixture_root("debian12-cloud");
    let work = tempfile::tempdir().unwrap();
    let runner = work.path().join("runner.sh");
    fs::write(&runner, "#!/bin/sh\necho \"$*\" >> \"$(dirname \"$0\")/ran\"\nexit 0\n").unwrap();
    fs::set_permissions(&runner, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let answers = work.path().join("answers.toml");
    let run = |check_time: &str| {
        // SSH and the firewall left out: nothing waits for a confirmation.
        fs::write(
            &answers,
            format!("version = 1\nskip = [\"ssh\", \"firewall\", \"sandbox\"]\n[monitoring]\ncheck_time = \"{check_time}\"\n"),
        )
        .unwrap();
        let o = common::cli::command(&[])
            .args(["apply", "--yes", "--root", root.path().to_str().unwrap(), "--runner", runner.to_str().unwrap()])
            .args(["--answers", answers.to_str().unwrap()])
            .env_remove("SSH_CONNECTION")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    };
    run("06:00");
    run("07:30");
    let r = restoration(&Root::new(root.path())).unwrap();
    let undo: Vec<String> = r.undo.iter().map(|u| u.argv.join(" ")).collect();
    let ran = fs::read_to_string(work.path().join("ran")).unwrap();
    assert!(ran.contains("systemctl enable --now clawguard-check.timer"), "{ran}");
    assert_eq!(
        undo.iter().filter(|u| *u == "systemctl disable --now clawguard-check.timer").count(),
        1,
        "{undo:?}\nran:\n{ran}"
    );
    let unique: std::collections::BTreeSet<&String> = undo.iter().collect();
    assert_eq!(unique.len(), undo.len(), "{undo:?}");
    let timer = r.undo.iter().find(|u| u.argv.join(" ") == "systemctl disable --now clawguard-check.timer").unwrap();
    assert_eq!(timer.undoes.join(" "), "systemctl enable --now clawguard-check.timer");
}

#[test]
fn records_that_cannot_say_what_was_there_are_an_error_not_a_skip() {
    let root = host();
    let r = Root::new(root.path());
    assert!(matches!(restoration(&r), Err(UninstallError::Nothing)));
    apply(root.path(), None);
    // The backup of sshd_config gone, then replaced by a link to another file.
    let backup = root.path().join("var/lib/clawguard/generations/000001/backup/etc/ssh/sshd_config");
    let kept = fs::read(&backup).unwrap();
    fs::remove_file(&backup).unwrap();
    let e = restoration(&r).unwrap_err();
    assert!(matches!(&e, UninstallError::Backup { path, generation: 1, .. } if path == "/etc/ssh/sshd_config"), "{e}");
    assert!(e.to_string().contains("Nothing was changed"), "{e}");
    std::os::unix::fs::symlink(root.path().join("etc/hostname"), &backup).unwrap();
    assert!(matches!(restoration(&r), Err(UninstallError::Backup { .. })));
    fs::remove_file(&backup).unwrap();
    fs::write(&backup, kept).unwrap();
    assert!(restoration(&r).is_ok());
    // A manifest that does not parse.
    let manifest = root.path().join("var/lib/clawguard/generations/000001/manifest.toml");
    let text = fs::read_to_string(&manifest).unwrap();
    fs::write(&manifest, "files = 3\n").unwrap();
    assert!(matches!(restoration(&r), Err(UninstallError::Records { .. })));
    fs::write(&manifest, text).unwrap();
    // A change waiting for its confirmation: that comes first.
    let store = clawguard::apply::store::Store::new(&r);
    let pending = clawguard::apply::store::Pending {
        generation: 1,
        deadline: 0,
        new_port: Some(2222),
        old_ports: vec![22],
        applied_from: None,
        then: Default::default(),
    };
    store.set_pending(&pending).unwrap();
    let e = restoration(&r).unwrap_err();
    assert!(matches!(e, UninstallError::Pending(1)) && e.to_string().contains("clawguard confirm"), "{e}");
    store.clear_pending().unwrap();
    // A managed file that is now a link: read as managed files are, never followed.
    let dropin = root.path().join("etc/fail2ban/jail.d/zz-clawguard.local");
    fs::remove_file(&dropin).unwrap();
    std::os::unix::fs::symlink("/etc/shadow", &dropin).unwrap();
    assert!(matches!(restoration(&r), Err(UninstallError::Current { .. })), "{:?}", restoration(&r));
}

fn uninstall(root: &Path, extra: &[&str]) -> std::process::Output {
    common::cli::command(&[])
        .args(["uninstall", "--root", root.to_str().unwrap()])
        .args(extra)
        .env_remove("SSH_CONNECTION")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// The whole uninstall as a user runs it on a root clawguard only writes files to: it
/// shows the diffs, refuses to go on without `--yes` when it cannot ask, then puts every
/// file back byte for byte and removes its records — the vault kept unless `--purge`.
#[test]
fn uninstall_puts_every_file_back_and_keeps_the_vault_unless_purged() {
    let root = host();
    let before = common::fingerprint(root.path());
    apply(root.path(), None);
    let answers = root.path().join("answers.toml");
    fs::write(&answers, "version = 1\n[ssh]\nport = 2200\n").unwrap();
    apply(root.path(), Some(&answers));
    fs::remove_file(&answers).unwrap();
    let mut set = common::cli::command(&[])
        .args(["secrets", "set", "anthropic", "--root", root.path().to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(set.stdin.as_mut().unwrap(), b"sk-ant-test-0123456789\n").unwrap();
    assert!(set.wait().unwrap().success());
    // The user's own OpenClaw settings, which clawguard made once: edited, so they stay.
    let settings = root.path().join("srv/openclaw/config/settings.json5");
    fs::write(&settings, "{ agents: { defaults: { model: \"mine\" } } }\n").unwrap();
    let applied = common::fingerprint(root.path());

    // Without a terminal and without --yes: the diffs, then a refusal that names --yes.
    let o = uninstall(root.path(), &[]);
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("clawguard uninstall --yes"), "{err}");
    assert!(out.contains("/etc/ssh/sshd_config (restored, mode 644)"), "{out}");
    assert!(out.contains("-Port 2200") && out.contains("+++ /dev/null"), "{out}");
    assert!(out.contains("Kept: the vault"), "{out}");
    assert!(out.contains("/srv/openclaw/config/settings.json5 stays as it is"), "{out}");
    assert_eq!(common::fingerprint(root.path()), applied, "a refused uninstall wrote something");

    let o = uninstall(root.path(), &["--yes"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("clawguard is uninstalled"), "{out}");
    let after = common::fingerprint(root.path());
    let kept: Vec<&String> = after.keys().filter(|p| !before.contains_key(*p)).collect();
    let vault = ["etc/clawguard", "etc/clawguard/vault", "var/lib/clawguard", "var/lib/clawguard/vault-identity.txt"];
    let settings_kept = ["srv", "srv/openclaw", "srv/openclaw/config", "srv/openclaw/config/settings.json5"];
    assert!(
        kept.iter().all(|p| vault.contains(&p.as_str())
            || p.starts_with("etc/clawguard/vault/")
            || settings_kept.contains(&p.as_str())),
        "{kept:#?}"
    );
    assert_eq!(fs::read_to_string(&settings).unwrap(), "{ agents: { defaults: { model: \"mine\" } } }\n");
    assert!(kept.iter().any(|p| p.starts_with("etc/clawguard/vault/")), "the vault was not kept: {kept:#?}");
    for (path, was) in &before {
        assert_eq!(after.get(path), Some(was), "{path} is not as it was before clawguard");
    }
    // Nothing left to uninstall; with --purge on a fresh apply nothing of clawguard stays.
    let o = uninstall(root.path(), &["--yes"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing to uninstall"), "{o:?}");
    fs::remove_dir_all(root.path().join("srv")).unwrap();
    apply(root.path(), None);
    // Edited again: it stays, and nothing else of clawguard does, its records included.
    fs::write(&settings, "{}\n").unwrap();
    let o = uninstall(root.path(), &["--yes", "--purge"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!root.path().join("var/lib/clawguard").exists(), "the records stay beside a file the user kept");
    assert_eq!(fs::read_to_string(&settings).unwrap(), "{}\n");
    fs::remove_dir_all(root.path().join("srv")).unwrap();
    assert_eq!(common::fingerprint(root.path()), before, "--purge left something behind");
}

/// Without root on this host: a refusal that says to use sudo, before anything is read.
#[test]
fn uninstall_without_root_says_to_use_sudo() {
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", common::bin(), "uninstall", "--yes"])
        .env_remove("SSH_CONNECTION")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("run `sudo clawguard uninstall`"), "{err}");
}

/// A layer given up in a generation (a backup destination that did not answer) had its
/// files taken back on the spot: neither the check nor the uninstall may take what it
/// wrote for what is on disk — the check called the file changed by someone else, and the
/// uninstall kept it as the user's.
#[test]
fn a_layer_given_up_leaves_no_record_of_what_it_did_not_keep() {
    use std::os::unix::fs::PermissionsExt;
    let root = common::fixture_root("debian12-cloud");
    common::fake_tools(root.path());
    let before = common::fingerprint(root.path());
    let work = tempfile::tempdir().unwrap();
    let runner = work.path().join("runner.sh");
    let fail = work.path().join("fail-on");
    fs::write(
        &runner,
        format!(
            "#!/bin/sh\necho \"$*\" >> {log}\nif [ -f {fail} ] && grep -qxF -- \"$*\" {fail}; then echo 'no answer' >&2; exit 3; fi\ncase \"$1\" in ss) echo \"LISTEN 0 128 0.0.0.0:${{3##*:}} 0.0.0.0:* users:((\\\"sshd\\\",pid=1,fd=3))\";; esac\nexit 0\n",
            log = work.path().join("log").display(),
            fail = fail.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&runner, fs::Permissions::from_mode(0o755)).unwrap();
    let (r, rn) = (root.path().to_str().unwrap(), runner.to_str().unwrap());
    let run = |args: &[&str]| {
        let o = common::cli::command(&[]).args(args).env_remove("SSH_CONNECTION").output().unwrap();
        (o.status.code(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
    };
    let here = work.path().join("here.toml");
    fs::write(&here, "version = 1\n[backup]\ndestination = \"/srv/backup\"\nallow_same_machine = true\n").unwrap();
    let away = work.path().join("away.toml");
    fs::write(&away, "version = 1\n[backup]\ndestination = \"sftp:debian@192.0.2.9:/x\"\n").unwrap();
    let apply = |answers: &Path| {
        run(&[
            "apply",
            "--yes",
            "--confirm-timeout",
            "0",
            "--runner",
            rn,
            "--root",
            r,
            "--answers",
            answers.to_str().unwrap(),
        ])
    };
    assert_eq!(apply(&here).0, Some(0));
    assert_eq!(run(&["confirm", "--runner", rn, "--root", r]).0, Some(0));
    let init = fs::read_to_string(work.path().join("log"))
        .unwrap()
        .lines()
        .find(|l| l.contains("backup init"))
        .unwrap()
        .to_owned();
    fs::write(&fail, format!("{init}\n")).unwrap();
    let (code, out) = apply(&away);
    assert_eq!(code, Some(4), "{out}");
    assert!(out.contains("NOT APPLIED: 7. Backup") && out.contains("restored /etc/clawguard/RECOVERY.md"), "{out}");
    fs::remove_file(&fail).unwrap();
    assert_eq!(apply(&here).0, Some(0));
    let (_, check) = run(&["check", "--no-alert", "--root", r]);
    assert!(!check.contains("RECOVERY.md was changed since clawguard wrote it"), "{check}");
    let (code, out) = run(&["uninstall", "--yes", "--purge", "--confirm-timeout", "0", "--runner", rn, "--root", r]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("yours now"), "{out}");
    assert_eq!(run(&["confirm", "--runner", rn, "--root", r]).0, Some(0));
    let after = common::fingerprint(root.path());
    let left: Vec<&String> = after.keys().filter(|p| !before.contains_key(*p)).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
