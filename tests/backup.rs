//! Backups with the real restic: the repository and its password, a snapshot of the
//! agent's data and clawguard's answers and vault, the recovery kit, a restore onto a
//! second, empty root (every file byte for byte, the vault's keys open there), and the
//! clear errors: no repository yet, a wrong passphrase, a wrong password, an unreachable
//! destination, a full disk — each leaving the snapshots already made intact.

mod common;

use common::cli::{code_text, code_text_env, must};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

const ANSWERS: &str = "version = 1\n[backup]\ndestination = \"/srv/clawguard-backup\"\nallow_same_machine = true\nexclude = [\"*.tmp\", \"/srv/openclaw/state/cache\"]\n";

/// A host root with the agent's data, clawguard's answers, and a key in the vault.
fn host() -> tempfile::TempDir {
    host_with(ANSWERS)
}

fn host_with(answers: &str) -> tempfile::TempDir {
    let root = common::fixture_root("debian12-cloud");
    let r = root.path();
    fs::create_dir_all(r.join("etc/clawguard")).unwrap();
    fs::write(r.join("etc/clawguard/answers.toml"), answers).unwrap();
    for (dir, file, content) in [
        ("srv/openclaw/state", "agent.sqlite", vec![0u8, 1, 2, 255, 254]),
        ("srv/openclaw/state/sessions", "s1.json", b"{\"session\": 1}".to_vec()),
        ("srv/openclaw/workspace", "notes.md", b"# notes\n".to_vec()),
        ("srv/openclaw/config", "openclaw.json", b"{\"gateway\": {}}".to_vec()),
        ("srv/openclaw/state/cache", "blob", b"cache".to_vec()),
        ("srv/openclaw/workspace", "scratch.tmp", b"scratch".to_vec()),
    ] {
        fs::create_dir_all(r.join(dir)).unwrap();
        fs::write(r.join(dir).join(file), content).unwrap();
    }
    let mut set = common::cli::command(&[])
        .args(["secrets", "set", "openai", "--root", r.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(set.stdin.as_mut().unwrap(), b"sk-test-123\n").unwrap();
    assert!(set.wait().unwrap().success());
    root
}

fn tree(root: &Path, sub: &str) -> std::collections::BTreeMap<String, (u32, Vec<u8>)> {
    common::fingerprint(&root.join(sub))
}

#[test]
fn back_up_make_the_kit_and_restore_onto_an_empty_root() {
    let a = host();
    let r = a.path().to_str().unwrap();
    // Before the repository exists: said, with what to run.
    let (code, out) = code_text(&["backup", "now", "--root", r]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("sudo clawguard backup init"), "{out}");

    let out = must(&["backup", "init", "--root", r]);
    assert!(out.contains("Created the restic repository at /srv/clawguard-backup"), "{out}");
    assert!(a.path().join("srv/clawguard-backup/config").exists(), "the repository is under the root");
    let out = must(&["backup", "init", "--root", r]);
    assert!(out.contains("is there and opens"), "a second init changes nothing:\n{out}");
    let out = must(&["backup", "now", "--root", r]);
    assert!(out.contains("Snapshot "), "{out}");
    let last = fs::read_to_string(a.path().join("var/lib/clawguard/backup-last.toml")).unwrap();
    assert!(last.contains("snapshot = ") && !last.contains("error"), "{last}");
    let list = must(&["backup", "list", "--root", r]);
    assert_eq!(list.lines().count(), 1, "{list}");
    assert!(list.contains("/etc/clawguard") && list.contains("/srv/openclaw/state"), "{list}");
    // The vault's identity is never in a snapshot.
    let ls = Command::new("restic")
        .args(["ls", "latest"])
        .env("RESTIC_REPOSITORY", a.path().join("srv/clawguard-backup"))
        .env(
            "RESTIC_PASSWORD",
            String::from_utf8(
                clawguard::vault::Vault::new(&clawguard::target::Root::new(a.path()))
                    .get(&clawguard::backup::PASSWORD_KEY.parse().unwrap())
                    .unwrap(),
            )
            .unwrap(),
        )
        .output()
        .expect("restic is missing: apt-get install restic (scripts/test does)");
    let ls = String::from_utf8_lossy(&ls.stdout);
    assert!(ls.contains("/etc/clawguard/vault/openai.age") && !ls.contains("vault-identity"), "{ls}");
    // backup.exclude: a glob anywhere, an absolute path on the target.
    assert!(ls.contains("/srv/openclaw/state/agent.sqlite"), "{ls}");
    assert!(!ls.contains("scratch.tmp") && !ls.contains("/srv/openclaw/state/cache"), "excluded, yet backed up:\n{ls}");

    // The kit: sealed with a passphrase; a short one is refused.
    let work = tempfile::tempdir().unwrap();
    let (pf, short) = (work.path().join("pf"), work.path().join("short"));
    fs::write(&pf, "correct horse battery staple\n").unwrap();
    fs::write(&short, "hunter2\n").unwrap();
    let kit = work.path().join("kit.toml");
    let (code, out) = code_text(&[
        "backup",
        "kit",
        "--root",
        r,
        "--out",
        kit.to_str().unwrap(),
        "--passphrase-file",
        short.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("at least 12") && !kit.exists(), "{out}");
    must(&["backup", "kit", "--root", r, "--out", kit.to_str().unwrap(), "--passphrase-file", pf.to_str().unwrap()]);
    let text = fs::read_to_string(&kit).unwrap();
    assert!(!text.contains("AGE-SECRET-KEY") && text.contains("clawguard restore --kit"), "{text}");
    let (code, out) = code_text(&[
        "backup",
        "kit",
        "--root",
        r,
        "--out",
        kit.to_str().unwrap(),
        "--passphrase-file",
        pf.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "a kit is never written over:\n{out}");

    // A wrong passphrase: said, and nothing written to the new root.
    let b = tempfile::tempdir().unwrap();
    let rb = b.path().to_str().unwrap();
    let wrong = work.path().join("wrong");
    fs::write(&wrong, "wrong horse battery staple\n").unwrap();
    let (code, out) = code_text(&[
        "restore",
        "--kit",
        kit.to_str().unwrap(),
        "--passphrase-file",
        wrong.to_str().unwrap(),
        "--root",
        rb,
    ]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("passphrase does not open this kit"), "{out}");
    assert_eq!(fs::read_dir(b.path()).unwrap().count(), 0, "a failed restore wrote something");

    // The restore onto an empty root: every file back, byte for byte.
    let out =
        must(&["restore", "--kit", kit.to_str().unwrap(), "--passphrase-file", pf.to_str().unwrap(), "--root", rb]);
    assert!(out.contains("restored /etc/clawguard") && out.contains("sudo clawguard apply"), "{out}");
    for sub in ["srv/openclaw/state", "srv/openclaw/workspace", "srv/openclaw/config", "etc/clawguard"] {
        let mut want = tree(a.path(), sub);
        want.retain(|p, _| !p.starts_with("cache") && !p.ends_with(".tmp"));
        assert_eq!(tree(b.path(), sub), want, "{sub} differs after the restore");
    }
    // The vault's keys open there, and the check sees the restored vault as clawguard's.
    let vault = clawguard::vault::Vault::new(&clawguard::target::Root::new(b.path()));
    assert_eq!(vault.get(&"openai".parse().unwrap()).unwrap(), b"sk-test-123");
    let (_, out) = code_text(&["check", "--root", rb]);
    assert!(!out.contains("did not put it there"), "{out}");
    // The hardening is what is left to do: the plan shows it.
    let (code, out) = code_text(&["plan", "--root", rb, "--no-color"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("/etc/ssh/sshd_config.d/00-clawguard.conf (new file"), "{out}");
    // Nothing is left behind in the staging directory.
    let left: Vec<_> = fs::read_dir(b.path().join("var/lib/clawguard"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("restore-"))
        .collect();
    assert!(left.is_empty(), "a staging directory was left: {left:?}");
    // A second restore there keeps what it finds: moved aside, not overwritten.
    fs::write(b.path().join("srv/openclaw/workspace/notes.md"), "changed after the restore").unwrap();
    let out =
        must(&["restore", "--kit", kit.to_str().unwrap(), "--passphrase-file", pf.to_str().unwrap(), "--root", rb]);
    assert!(
        out.contains("what was at /srv/openclaw/workspace is now at /srv/openclaw/workspace.before-restore-"),
        "{out}"
    );
    assert_eq!(fs::read(b.path().join("srv/openclaw/workspace/notes.md")).unwrap(), b"# notes\n");

    // The drill on the first host: identical right after the backup; then a file changed,
    // one deleted and one added are each named.
    let out = must(&["backup", "verify", "--root", r]);
    assert!(out.contains("identical to the host's"), "{out}");
    fs::write(a.path().join("srv/openclaw/workspace/notes.md"), "# notes, edited\n").unwrap();
    fs::remove_file(a.path().join("srv/openclaw/state/sessions/s1.json")).unwrap();
    fs::write(a.path().join("srv/openclaw/workspace/new.txt"), "new").unwrap();
    let out = must(&["backup", "verify", "--root", r]);
    assert!(out.contains("3 difference(s)"), "{out}");
    assert!(out.contains("/srv/openclaw/workspace/notes.md differs"), "{out}");
    assert!(out.contains("/srv/openclaw/state/sessions/s1.json is in the snapshot, no longer on the host"), "{out}");
    assert!(out.contains("/srv/openclaw/workspace/new.txt is on the host, not in the snapshot"), "{out}");
    let verified = fs::read_to_string(a.path().join("var/lib/clawguard/backup-verified.toml")).unwrap();
    assert!(verified.contains("only-in-snapshot"), "{verified}");
}

#[test]
fn a_wrong_password_an_unreachable_destination_and_a_full_disk_are_said_and_keep_the_snapshots() {
    let a = host();
    let r = a.path().to_str().unwrap();
    // Applied (the nightly unit is in place): the daily check looks at the backups.
    must(&["apply", "--yes", "--root", r]);
    let (code, out) = code_text(&["check", "--root", r]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("No backup has run yet"), "{out}");
    must(&["backup", "init", "--root", r]);
    must(&["backup", "now", "--root", r]);
    // A repository whose password lives only in this server's vault, and no kit yet.
    let (code, out) = code_text(&["check", "--root", r]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("No recovery kit was made for these backups yet"), "{out}");
    let work = tempfile::tempdir().unwrap();
    let pf = work.path().join("pf");
    fs::write(&pf, "correct horse battery staple\n").unwrap();
    let kit = work.path().join("kit.toml");
    must(&["backup", "kit", "--root", r, "--out", kit.to_str().unwrap(), "--passphrase-file", pf.to_str().unwrap()]);
    let (code, out) = code_text(&["check", "--root", r]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("never verified") && !out.contains("backup failed"), "{out}");
    // A new vault identity: the kit no longer opens the vault.
    must(&["secrets", "rotate-identity", "--root", r]);
    let (code, out) = code_text(&["check", "--root", r]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("The vault's identity changed since the last recovery kit"), "{out}");
    must(&[
        "backup",
        "kit",
        "--root",
        r,
        "--out",
        work.path().join("kit2.toml").to_str().unwrap(),
        "--passphrase-file",
        pf.to_str().unwrap(),
    ]);
    assert_eq!(code_text(&["check", "--root", r]).0, Some(0));
    let root = clawguard::target::Root::new(a.path());
    let vault = clawguard::vault::Vault::new(&root);
    let key = clawguard::backup::PASSWORD_KEY.parse().unwrap();
    let password = vault.get(&key).unwrap();

    // A wrong password (the vault's key replaced).
    vault.set(&key, b"not-the-password").unwrap();
    let (code, out) = code_text(&["backup", "now", "--root", r]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("the password does not open the repository at"), "{out}");
    let last = fs::read_to_string(a.path().join("var/lib/clawguard/backup-last.toml")).unwrap();
    assert!(last.contains("error = ") && last.contains("password does not open"), "the failure is recorded:\n{last}");
    let (code, out) = code_text(&["check", "--root", r]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("WARNING: The last backup failed 0 day(s) ago: the password does not open"), "{out}");
    let (code, out) = code_text(&["backup", "init", "--root", r]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("already at") && out.contains("does not open it"),
        "init never makes a second repository over one:\n{out}"
    );
    vault.set(&key, &password).unwrap();
    assert_eq!(must(&["backup", "list", "--root", r]).lines().count(), 1);

    // An unreachable destination.
    let unreachable = a.path().join("unreachable.toml");
    fs::write(
        &unreachable,
        "version = 1\n[backup]\ndestination = \"rest:http://127.0.0.1:9/repo\"\nallow_same_machine = true\n",
    )
    .unwrap();
    let (code, out) = code_text(&["backup", "now", "--root", r, "--answers", unreachable.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("cannot be reached"), "{out}");
    let (code, out) = code_text(&["backup", "test", "--root", r, "--answers", unreachable.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("cannot be reached"), "{out}");

    // A full disk where the repository is: a 3 MB tmpfs, and more data than fits.
    let full = a.path().join("srv/full");
    fs::create_dir_all(&full).unwrap();
    let mount = Command::new("mount").args(["-t", "tmpfs", "-o", "size=3m", "tmpfs"]).arg(&full).output().unwrap();
    assert!(
        mount.status.success(),
        "mounting a tmpfs (the test needs root): {}",
        String::from_utf8_lossy(&mount.stderr)
    );
    let answers = a.path().join("full.toml");
    fs::write(&answers, "version = 1\n[backup]\ndestination = \"/srv/full/repo\"\nallow_same_machine = true\n")
        .unwrap();
    let af = answers.to_str().unwrap();
    let result = std::panic::catch_unwind(|| {
        // Another repository: its own password (the vault holds one per host: set it anew).
        vault.remove(&key).unwrap();
        must(&["backup", "init", "--root", r, "--answers", af]);
        must(&["backup", "now", "--root", r, "--answers", af]);
        // Random bytes: neither compression nor deduplication makes them fit.
        let mut random = vec![0u8; 8 << 20];
        std::io::Read::read_exact(&mut fs::File::open("/dev/urandom").unwrap(), &mut random).unwrap();
        fs::write(a.path().join("srv/openclaw/state/big.bin"), random).unwrap();
        let (code, out) = code_text(&["backup", "now", "--root", r, "--answers", af]);
        assert_eq!(code, Some(1), "{out}");
        assert!(out.contains("no space left"), "{out}");
        fs::remove_file(a.path().join("srv/openclaw/state/big.bin")).unwrap();
        let list = must(&["backup", "list", "--root", r, "--answers", af]);
        assert_eq!(list.lines().count(), 1, "the snapshot made before the disk filled is intact:\n{list}");
    });
    let _ = Command::new("umount").arg("-l").arg(&full).status();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// Back up, make the kit, restore onto an empty root, compare; through `destination`.
/// `env`: how this machine's restic reaches it (the sftp test's key).
fn round_trip(destination: &str, env: &[(&str, &Path)], before: &dyn Fn(&Path)) {
    let a = host_with(&format!("version = 1\n[backup]\ndestination = \"{destination}\"\nallow_same_machine = true\n"));
    let r = a.path().to_str().unwrap();
    before(a.path());
    let go = |args: &[&str]| {
        let (code, out) = code_text_env(args, env);
        assert_eq!(code, Some(0), "clawguard {}:\n{out}", args.join(" "));
        out
    };
    // The wizard's connectivity test, before anything is there; then with the repository.
    let out = go(&["backup", "test", "--root", r]);
    assert!(out.contains("answers and holds no repository yet"), "{out}");
    assert!(go(&["backup", "init", "--root", r]).contains("Created the restic repository"));
    assert!(go(&["backup", "test", "--root", r]).contains("opens with this host's password"));
    // Another host pointed at it (no password of its own): told, not written over.
    let other =
        host_with(&format!("version = 1\n[backup]\ndestination = \"{destination}\"\nallow_same_machine = true\n"));
    before(other.path());
    let (code, out) = code_text_env(&["backup", "test", "--root", other.path().to_str().unwrap()], env);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("does not open"), "{out}");
    assert!(go(&["backup", "now", "--root", r]).contains("Snapshot "));
    let work = tempfile::tempdir().unwrap();
    let pf = work.path().join("pf");
    fs::write(&pf, "correct horse battery staple\n").unwrap();
    let kit = work.path().join("kit.toml");
    go(&["backup", "kit", "--root", r, "--out", kit.to_str().unwrap(), "--passphrase-file", pf.to_str().unwrap()]);
    let b = tempfile::tempdir().unwrap();
    let rb = b.path().to_str().unwrap();
    go(&["restore", "--kit", kit.to_str().unwrap(), "--passphrase-file", pf.to_str().unwrap(), "--root", rb]);
    for sub in ["srv/openclaw/state", "srv/openclaw/workspace", "srv/openclaw/config", "etc/clawguard"] {
        assert_eq!(tree(b.path(), sub), tree(a.path(), sub), "{sub} differs after the restore from {destination}");
    }
    let vault = clawguard::vault::Vault::new(&clawguard::target::Root::new(b.path()));
    assert_eq!(vault.get(&"openai".parse().unwrap()).unwrap(), b"sk-test-123");
    fs::remove_file(a.path().join("srv/openclaw/workspace/notes.md")).unwrap();
    let out = go(&["backup", "verify", "--root", r]);
    assert!(out.contains("/srv/openclaw/workspace/notes.md is in the snapshot, no longer on the host"), "{out}");
}

/// A free TCP port on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn a_rest_server_round_trip() {
    let store = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = Command::new("rclone")
        .args(["serve", "restic", "--addr", &format!("127.0.0.1:{port}")])
        .arg(store.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("rclone is missing: apt-get install rclone (scripts/test does)");
    let up = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let result = std::panic::catch_unwind(|| {
        assert!(up, "rclone serve restic did not listen on {port}");
        round_trip(&format!("rest:http://127.0.0.1:{port}/host1"), &[], &|_| {});
        assert!(store.path().join("host1/config").exists(), "the repository is on the REST server");
    });
    let _ = server.kill();
    let _ = server.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn an_sftp_round_trip_to_a_real_sshd_in_its_own_namespace() {
    let mut v = common::vps::Vps::new("debian12-cloud");
    v.start_sshd();
    common::wait("sshd on port 22", 10, || v.port_open(22));
    // The host's own backup key, allowed on the backup server as `backup key` says: sftp
    // only. The restored host reaches it with the key from the kit.
    let keys = v.root.path().join("home/debian/.ssh/authorized_keys");
    let allow = |host: &Path| {
        let (code, public) = code_text(&["backup", "key", "--root", host.to_str().unwrap()]);
        assert_eq!(code, Some(0), "{public}");
        let line =
            public.lines().find(|l| l.starts_with("ssh-ed25519 ")).expect("the public key is printed").to_owned();
        assert!(public.contains("restrict,command=\"internal-sftp\""), "{public}");
        let mut text = fs::read_to_string(&keys).unwrap();
        text.push_str(&format!("restrict,command=\"internal-sftp\" {line}\n"));
        fs::write(&keys, text).unwrap();
        assert!(!fs::read_to_string(host.join("var/lib/clawguard/backup_ed25519")).unwrap().is_empty());
    };
    round_trip(&format!("sftp:debian@{}:/home/debian/backup", v.vps_ip), &[], &allow);
    assert!(
        v.root.path().join("home/debian/backup/config").exists(),
        "the repository is on the sftp server's disk (in its root)"
    );
}

#[test]
fn backup_now_reports_how_far_restic_is_as_it_goes() {
    let a = host();
    let r = a.path().to_str().unwrap();
    must(&["backup", "init", "--root", r]);
    let mut random = vec![0u8; 24 << 20];
    std::io::Read::read_exact(&mut fs::File::open("/dev/urandom").unwrap(), &mut random).unwrap();
    fs::write(a.path().join("srv/openclaw/state/big.bin"), random).unwrap();
    let root = clawguard::target::Root::new(a.path());
    let answers = clawguard::answers::Answers::load(&a.path().join("etc/clawguard/answers.toml")).unwrap();
    let facts = clawguard::host::probe(&root, None);
    let mut seen = Vec::new();
    let made =
        clawguard::backup::now(&answers, &facts, &root, &clawguard::target::Runner::Skip, &mut |p| seen.push(*p))
            .unwrap();
    assert!(!made.snapshot.is_empty());
    assert!(!seen.is_empty(), "restic's status lines never arrived while it ran");
    assert!(seen.iter().any(|p| p.total_bytes >= 24 << 20), "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0].done <= w[1].done) && seen.iter().all(|p| p.done <= 1.0), "{seen:?}");
}

#[test]
fn a_restore_killed_between_any_two_steps_is_finished_by_running_it_again() {
    let a = host();
    let r = a.path().to_str().unwrap();
    must(&["backup", "init", "--root", r]);
    must(&["backup", "now", "--root", r]);
    // What backup.exclude left out is not expected back.
    fs::remove_dir_all(a.path().join("srv/openclaw/state/cache")).unwrap();
    fs::remove_file(a.path().join("srv/openclaw/workspace/scratch.tmp")).unwrap();
    let work = tempfile::tempdir().unwrap();
    let pf = work.path().join("pf");
    fs::write(&pf, "correct horse battery staple\n").unwrap();
    let kit = work.path().join("kit.toml");
    must(&["backup", "kit", "--root", r, "--out", kit.to_str().unwrap(), "--passphrase-file", pf.to_str().unwrap()]);
    for label in [
        "restore staged",
        "restore placed /etc/clawguard",
        "restore aside /srv/openclaw/workspace",
        "restore placed /srv/openclaw/workspace",
    ] {
        let b = tempfile::tempdir().unwrap();
        let rb = b.path().to_str().unwrap();
        // What the new host already had in the workspace: moved aside, never lost.
        fs::create_dir_all(b.path().join("srv/openclaw/workspace")).unwrap();
        fs::write(b.path().join("srv/openclaw/workspace/mine.txt"), "already here").unwrap();
        let args = ["restore", "--kit", kit.to_str().unwrap(), "--passphrase-file", pf.to_str().unwrap(), "--root", rb];
        let o = common::cli::command(&[]).args(args).env(clawguard::target::CRASH_ENV, label).output().unwrap();
        assert_eq!(o.status.code(), Some(137), "did not stop at `{label}`: {}", String::from_utf8_lossy(&o.stderr));
        let out = must(&args);
        for sub in ["srv/openclaw/state", "srv/openclaw/workspace", "srv/openclaw/config", "etc/clawguard"] {
            assert_eq!(
                tree(b.path(), sub),
                tree(a.path(), sub),
                "{sub} after a kill at `{label}` and a second restore"
            );
        }
        let kept = Command::new("grep").args(["-rl", "already here"]).arg(b.path().join("srv")).output().unwrap();
        assert!(
            String::from_utf8_lossy(&kept.stdout).contains("before-restore"),
            "the host's own file was lost after a kill at `{label}`:\n{out}"
        );
        let vault = clawguard::vault::Vault::new(&clawguard::target::Root::new(b.path()));
        assert_eq!(vault.get(&"openai".parse().unwrap()).unwrap(), b"sk-test-123", "after `{label}`");
        if label != "restore placed /srv/openclaw/workspace" {
            assert!(out.contains("an earlier restore was cut short"), "after `{label}`:\n{out}");
        }
    }
}

/// The agent around a snapshot, as `backup now --runner` drives it: OpenClaw's own archive
/// when it can make one (the agent keeps running), else the agent stopped and started
/// again — and why the archive failed is said, by `backup now` and by the check.
#[test]
fn when_openclaw_cannot_archive_itself_the_agent_is_stopped_instead_and_that_is_said() {
    let a = host();
    let r = a.path().to_str().unwrap();
    // Applied (files only): the agent's compose project is there, the check reads backups.
    must(&["apply", "--yes", "--root", r]);
    must(&["backup", "init", "--root", r]);
    let work = tempfile::tempdir().unwrap();
    let runner = work.path().join("runner.sh");
    let log = work.path().join("ran");
    let script = |archive: &str| {
        fs::write(
            &runner,
            format!(
                "#!/bin/sh\necho \"$*\" >> {log}\ncase \"$*\" in *'openclaw backup create'*) {archive} ;; esac\nexit 0\n",
                log = log.display()
            ),
        )
        .unwrap();
        fs::set_permissions(&runner, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let _ = fs::remove_file(&log);
    };
    let ran = || fs::read_to_string(&log).unwrap_or_default();
    let verbs = || -> Vec<String> {
        ran().lines().filter_map(|l| l.split_whitespace().rev().nth(1).map(str::to_owned)).collect::<Vec<_>>()
    };

    // It fails (a full disk inside the agent): stopped, snapshot, started — in that order.
    script("echo 'Error: ENOSPC: no space left on device' >&2; exit 1");
    let (code, out) = code_text(&["backup", "now", "--root", r, "--runner", runner.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("OpenClaw could not make its own archive (Error: ENOSPC: no space left on device), so the agent was stopped for the snapshot instead and started again."),
        "{out}"
    );
    let v = verbs();
    let (stop, start) = (v.iter().position(|x| x == "stop"), v.iter().position(|x| x == "start"));
    assert!(stop.is_some() && start > stop, "stop then start:\n{}", ran());
    let (_, check) = code_text(&["check", "--no-alert", "--root", r]);
    // Still a consistent snapshot: a note, not something that needs anyone.
    assert!(check.contains("note: OpenClaw could not make its own archive"), "{check}");

    // It works: the agent is never stopped.
    script("echo '{\"archivePath\": \"/var/backups/openclaw/2026-11-28T20-00-00.tar.gz\", \"verified\": true}'");
    let (code, out) = code_text(&["backup", "now", "--root", r, "--runner", runner.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("OpenClaw made its own verified archive (2026-11-28T20-00-00.tar.gz)"), "{out}");
    assert!(!verbs().iter().any(|v| v == "stop"), "the agent was stopped:\n{}", ran());
    let (_, check) = code_text(&["check", "--no-alert", "--root", r]);
    assert!(!check.contains("OpenClaw could not make its own archive"), "{check}");
}

/// restic splits `sftp.command` at spaces itself: a state directory whose real name holds
/// `-oProxyCommand=…` (a link to it is all a crafted target needs) would hand ssh that
/// option as root, through `backup test`, which says it writes nothing. With a recording
/// `ssh` (the real restic runs it): on a plain target every element reaches ssh whole,
/// the host after `--`; on the crafted one ssh is never started and the error names the
/// path.
#[test]
fn no_path_or_destination_becomes_an_ssh_option() {
    let bin = tempfile::tempdir().unwrap();
    let record = bin.path().join("argv");
    let ssh = bin.path().join("ssh");
    fs::write(
        &ssh,
        format!("#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done >> {}\nexit 255\n", record.display()),
    )
    .unwrap();
    fs::set_permissions(&ssh, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap());
    let answers = "version = 1\n[backup]\ndestination = \"sftp:debian@backup.example:/srv/restic\"\n";
    let test = |root: &Path| {
        let r = root.to_str().unwrap();
        assert_eq!(code_text(&["backup", "key", "--root", r]).0, Some(0));
        let o = common::cli::command(&[])
            .args(["backup", "test", "--root", r])
            .env("PATH", &path)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
    };

    // Control: a plain target. ssh gets the key as one argument and the host after `--`.
    let plain = host_with(answers);
    let out = test(plain.path());
    let argv = fs::read_to_string(&record).unwrap_or_else(|_| panic!("restic never ran ssh:\n{out}"));
    let argv: Vec<&str> = argv.lines().collect();
    let key = plain.path().join("var/lib/clawguard/backup_ed25519");
    assert!(argv.windows(2).any(|w| w == ["-i", key.to_str().unwrap()]), "{argv:?}");
    assert!(argv.ends_with(&["-l", "debian", "--", "backup.example", "sftp"]), "{argv:?}");
    fs::remove_file(&record).unwrap();

    // Attack: the state directory is a link to one whose name carries an option.
    let crafted = host_with(answers);
    let state = crafted.path().join("var/lib/clawguard");
    let evil = crafted.path().join("srv/x -oProxyCommand=touch${IFS}pwned");
    fs::create_dir_all(evil.parent().unwrap()).unwrap();
    if state.exists() {
        fs::rename(&state, &evil).unwrap();
    } else {
        fs::create_dir_all(&evil).unwrap();
    }
    std::os::unix::fs::symlink("/srv/x -oProxyCommand=touch${IFS}pwned", &state).unwrap();
    let out = test(crafted.path());
    assert!(!record.exists(), "ssh was started:\n{}", fs::read_to_string(&record).unwrap());
    assert!(out.contains("a path restic cannot hand to ssh safely"), "{out}");
}

/// A snapshot is its maker's: one that holds the agent's state directory as a link to
/// /etc (made with restic by whoever holds the repository's password) is not put in
/// place by a restore — the agent would get the host's /etc mounted read-write — and the
/// error says so; the new root's own /etc is untouched.
#[test]
fn a_restore_puts_no_link_where_the_agents_directories_go() {
    let a = host();
    let r = a.path().to_str().unwrap();
    must(&["backup", "init", "--root", r]);
    must(&["backup", "now", "--root", r]);
    let work = tempfile::tempdir().unwrap();
    let pf = work.path().join("pf");
    fs::write(&pf, "correct horse battery staple\n").unwrap();
    let kit = work.path().join("kit.toml");
    // Made through sudo by `debian`: the kit is theirs to copy off (mode 600).
    let (code, out) = code_text_env(
        &["backup", "kit", "--root", r, "--out", kit.to_str().unwrap(), "--passphrase-file", pf.to_str().unwrap()],
        &[("SUDO_UID", Path::new("1000")), ("SUDO_GID", Path::new("1000"))],
    );
    assert_eq!(code, Some(0), "{out}");
    {
        use std::os::unix::fs::MetadataExt;
        let m = fs::metadata(&kit).unwrap();
        assert_eq!((m.uid(), m.mode() & 0o777), (1000, 0o600), "{out}");
        assert!(out.contains("(yours, mode 600)"), "{out}");
    }
    // A later snapshot, crafted: the state directory is a link.
    let crafted = tempfile::tempdir().unwrap();
    fs::create_dir_all(crafted.path().join("etc/clawguard")).unwrap();
    fs::copy(a.path().join("etc/clawguard/answers.toml"), crafted.path().join("etc/clawguard/answers.toml")).unwrap();
    fs::create_dir_all(crafted.path().join("srv/openclaw")).unwrap();
    std::os::unix::fs::symlink("/etc", crafted.path().join("srv/openclaw/state")).unwrap();
    let password = clawguard::vault::Vault::new(&clawguard::target::Root::new(a.path()))
        .get(&clawguard::backup::PASSWORD_KEY.parse().unwrap())
        .unwrap();
    let o = Command::new("restic")
        .args(["backup", "--tag", "clawguard", "etc/clawguard", "srv/openclaw"])
        .current_dir(crafted.path())
        .env("RESTIC_REPOSITORY", a.path().join("srv/clawguard-backup"))
        .env("RESTIC_PASSWORD", String::from_utf8(password).unwrap())
        .env("RESTIC_CACHE_DIR", work.path().join("cache"))
        .output()
        .unwrap();
    assert!(o.status.success(), "restic: {}", String::from_utf8_lossy(&o.stderr));

    let b = tempfile::tempdir().unwrap();
    let rb = b.path().to_str().unwrap();
    fs::create_dir_all(b.path().join("etc")).unwrap();
    fs::write(b.path().join("etc/shadow"), "root:*:1::::::\n").unwrap();
    let (code, out) = code_text(&[
        "restore",
        "--kit",
        kit.to_str().unwrap(),
        "--passphrase-file",
        pf.to_str().unwrap(),
        "--root",
        rb,
    ]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("the snapshot holds /srv/openclaw/state as a symbolic link"), "{out}");
    assert!(
        fs::symlink_metadata(b.path().join("srv/openclaw/state")).is_err(),
        "a link was put where the agent's state goes"
    );
    assert_eq!(fs::read_to_string(b.path().join("etc/shadow")).unwrap(), "root:*:1::::::\n");
}
