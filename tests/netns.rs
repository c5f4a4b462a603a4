//! clawguard against a real sshd, ufw and fail2ban, in network namespaces the tests create
//! and remove (see `common::vps`). Needs root, iproute2, openssh, ufw, fail2ban, sshpass:
//! `scripts/test` installs them; a missing one fails the test.

mod common;

use std::fs;
use std::process::Command;

use common::vps::{self, PASSWORD, Vps, path_str, sh};
use common::wait;

fn clawguard(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    sh(common::cli::command(args).envs(env.iter().copied()))
}

/// An answers file for these tests. This VPS has no container engine, so the agent's
/// layers are skipped (tests/sandbox.rs and tests/fresh_host.rs run them on real engines).
fn answers(v: &Vps, text: &str) -> String {
    let p = v.work.path().join("answers.toml");
    fs::write(&p, format!("version = 1\nskip = [\"sandbox\", \"egress\"]\n{text}")).unwrap();
    p.display().to_string()
}

#[test]
fn apply_moves_ssh_safely_and_a_second_apply_changes_nothing() {
    let host_rules = vps::host_ruleset();
    let mut v = Vps::new("debian12-cloud");
    v.start_sshd();
    wait("sshd on port 22", 10, || v.port_open(22));
    let (ok, why) = v.ssh("debian", 22, "true");
    assert!(ok, "key login before apply: {why}\nsshd log:\n{}", v.auth_log());
    assert!(v.ssh_password("debian", 22, PASSWORD).0, "control: the cloud image allows passwords before apply");
    let mut listener = v.exec(&["nc", "-lk", &v.vps_ip, "8080"]).spawn().unwrap();
    wait("a listener on 8080 (control)", 10, || v.port_open(8080));

    let runner = v.runner();
    let root = path_str(v.root.path()).to_owned();
    let a = answers(&v, "[firewall]\nlimit_ssh = false\n");
    // The admin applies from an SSH session on port 22.
    let (_, from) = v.ssh("debian", 22, "echo $SSH_CONNECTION");
    let from = from.trim().to_owned();
    let (ok, out) = clawguard(
        &[
            "apply",
            "--yes",
            "--root",
            &root,
            "--answers",
            &a,
            "--runner",
            path_str(&runner),
            "--confirm-timeout",
            "300",
        ],
        &[("SSH_CONNECTION", &from)],
    );
    assert!(ok, "apply failed:\n{out}\nrunner log:\n{}", v.runner_log());
    assert!(out.contains("ran   ufw allow 22/tcp") && out.contains("ran   ufw --force enable"), "{out}");

    // During the move both ports work; passwords and root are refused.
    wait("sshd on port 2222", 10, || v.port_open(2222));
    let (ok, who) = v.ssh("debian", 2222, "id -un");
    assert!(ok && who.trim() == "debian", "key login on the new port: {who}");
    assert!(v.ssh("debian", 22, "true").0, "the old port stays open until confirmed");
    assert!(!v.ssh_password("debian", 2222, PASSWORD).0, "password login must be refused");
    assert!(!v.ssh("root", 2222, "true").0, "root login must be refused");

    // ufw: the SSH ports are reachable, another listening port is not.
    assert!(!v.port_open(8080), "ufw must drop port 8080");

    // Confirm from a new session on the new port: the old port closes.
    let (_, conn) = v.ssh("debian", 2222, "echo $SSH_CONNECTION");
    let (ok, out) =
        clawguard(&["confirm", "--root", &root, "--runner", path_str(&runner)], &[("SSH_CONNECTION", conn.trim())]);
    assert!(ok, "confirm failed:\n{out}\n{}", v.runner_log());
    wait("port 22 to close", 10, || !v.port_open(22));
    assert!(v.ssh("debian", 2222, "true").0, "the new port still works after confirm");
    assert!(v.runner_log().contains("ufw delete allow 22/tcp"), "{}", v.runner_log());

    // Idempotent: a second apply changes and reloads nothing; plan exits 0.
    let log_before = v.runner_log();
    let (ok, out) =
        clawguard(&["apply", "--yes", "--root", &root, "--answers", &a, "--runner", path_str(&runner)], &[]);
    assert!(ok && out.contains("0 changes"), "{out}");
    // (Only the read-only question the front door asks the engine before planning: is
    // the agent's image here, at which digest.)
    let after = v.runner_log();
    let ran: Vec<&str> =
        after[log_before.len()..].lines().filter(|l| !l.starts_with("docker image inspect ")).collect();
    assert!(after.starts_with(&log_before) && ran.is_empty(), "the second apply ran commands: {ran:?}");
    let o = common::cli::command(&[]).args(["plan", "--root", &root, "--answers", &a]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));

    let _ = listener.kill();
    let _ = listener.wait();
    drop(v);
    assert_eq!(host_rules, vps::host_ruleset(), "the host's own firewall rules changed");
}

#[test]
fn an_unconfirmed_port_move_rolls_back_and_the_old_port_works_again() {
    let mut v = Vps::new("debian12-cloud");
    v.start_sshd();
    wait("sshd on port 22", 10, || v.port_open(22));
    let runner = v.runner();
    let root = path_str(v.root.path()).to_owned();
    let a = answers(&v, "[firewall]\nlimit_ssh = false\n");
    let (ok, out) = clawguard(
        &["apply", "--yes", "--root", &root, "--answers", &a, "--runner", path_str(&runner), "--confirm-timeout", "3"],
        &[],
    );
    assert!(ok, "{out}\n{}", v.runner_log());
    wait("sshd on port 2222", 10, || v.port_open(2222));
    // Nobody confirms. The watchdog restores the files, takes back ufw and reloads sshd.
    let last = v.root.path().join("var/lib/clawguard/last-rollback");
    wait("the automatic rollback", 30, || last.exists());
    let record = fs::read_to_string(&last).unwrap();
    assert!(record.contains("verified: all"), "{record}");
    assert!(!v.root.path().join("etc/ssh/sshd_config.d/00-clawguard.conf").exists());
    wait("sshd to leave port 2222", 10, || !v.port_open(2222));
    assert!(v.ssh("debian", 22, "true").0, "login on the old port works again");
    assert!(v.ssh_password("debian", 22, PASSWORD).0, "the previous config (passwords allowed) is back");
    let (_, status) = sh(v.in_vps(&["ufw", "status"]).env("LC_ALL", "C"));
    assert!(status.contains("Status: inactive"), "ufw taken back: {status}");
}

#[test]
fn fail2ban_bans_after_three_failed_logins_on_the_new_port() {
    let mut v = Vps::new("debian12-cloud");
    // A host with /var/log/auth.log: the jail reads the file (the stamped sshd log).
    fs::write(v.root.path().join("var/log/auth.log"), "").unwrap();
    v.start_sshd();
    wait("sshd on port 22", 10, || v.port_open(22));
    v.start_fail2ban();
    let runner = v.runner();
    let root = path_str(v.root.path()).to_owned();
    let a = answers(&v, "[firewall]\nlimit_ssh = false\n[fail2ban]\nbantime = 60\n");
    let (ok, out) = clawguard(
        &["apply", "--yes", "--root", &root, "--answers", &a, "--runner", path_str(&runner), "--confirm-timeout", "0"],
        &[],
    );
    assert!(ok, "{out}\n{}", v.runner_log());
    assert!(v.runner_log().contains("systemctl reload-or-restart fail2ban"), "{}", v.runner_log());
    let (ok, jail) = v.fail2ban(&["get", "sshd", "maxretry"]);
    assert!(ok && jail.trim() == "3", "the running jail has maxretry {jail}");
    wait("sshd on port 2222", 10, || v.port_open(2222));

    for _ in 0..3 {
        assert!(!v.ssh("intruder", 2222, "true").0);
    }
    let banned = (0..200).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        v.fail2ban(&["status", "sshd"]).1.contains(&v.host_ip)
    });
    assert!(
        banned,
        "no ban:\n{}\nsshd log:\n{}\nfail2ban log:\n{}",
        v.fail2ban(&["status", "sshd"]).1,
        v.auth_log(),
        fs::read_to_string(v.root.path().join("run/fail2ban.log")).unwrap_or_default()
    );
    wait("the firewall to drop us", 10, || !v.port_open(2222));
}

/// The daily check asks the services themselves: a firewall turned off, a fail2ban
/// stopped, a drop-in that overrides clawguard's, a new SSH key or account are findings
/// even though every managed file is intact; each with a clean control.
#[test]
fn check_sees_what_a_takeover_leaves() {
    let mut v = Vps::new("debian12-cloud");
    fs::write(v.root.path().join("var/log/auth.log"), "").unwrap();
    v.start_sshd();
    wait("sshd on port 22", 10, || v.port_open(22));
    v.start_fail2ban();
    let runner = v.runner();
    let root = path_str(v.root.path()).to_owned();
    let a = answers(&v, "[firewall]\nlimit_ssh = false\n");
    let (_, from) = v.ssh("debian", 22, "echo $SSH_CONNECTION");
    let (ok, out) = clawguard(
        &[
            "apply",
            "--yes",
            "--root",
            &root,
            "--answers",
            &a,
            "--runner",
            path_str(&runner),
            "--confirm-timeout",
            "300",
        ],
        &[("SSH_CONNECTION", from.trim())],
    );
    assert!(ok, "{out}\n{}", v.runner_log());
    wait("sshd on port 2222", 10, || v.port_open(2222));
    let (_, conn) = v.ssh("debian", 2222, "echo $SSH_CONNECTION");
    let (ok, out) =
        clawguard(&["confirm", "--root", &root, "--runner", path_str(&runner)], &[("SSH_CONNECTION", conn.trim())]);
    assert!(ok, "{out}");

    let check = || {
        let o = common::cli::command(&[])
            .args(["check", "--no-alert", "--root", &root, "--runner", path_str(&runner)])
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr))
    };
    // Before the first check (which learns what is normal), a stranger who can reach
    // sshd writes what looks like logins into its log: sshd quotes a client's first line
    // verbatim ("client sent invalid protocol identifier \"…\"").
    for banner in [
        "x]: Accepted password for root from 203.0.113.66 port 4 ssh2",
        "x]: Accepted publickey for mallory from 203.0.113.66 port 4 ssh2: ED25519 SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect((v.vps_ip.as_str(), 2222)).unwrap();
        c.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        c.write_all(format!("{banner}\r\n").as_bytes()).unwrap();
        let _ = c.read_to_end(&mut Vec::new());
    }
    wait("sshd to log the strangers", 10, || v.auth_log().contains("Accepted publickey for mallory"));
    assert!(v.auth_log().contains("]: Accepted password for root from 203.0.113.66"), "{}", v.auth_log());
    // Clean control: freshly applied and confirmed, nothing needs anyone (the strangers'
    // lines are not logins).
    let (code, out) = check();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("nothing needs you"), "{out}");

    let (ok, out) = sh(&mut v.in_vps(&["ufw", "disable"]));
    assert!(ok, "{out}");
    let (code, out) = check();
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("DANGER: ufw is not active"), "{out}");
    let (ok, out) = sh(&mut v.in_vps(&["ufw", "--force", "enable"]));
    assert!(ok, "{out}");
    assert_eq!(check().0, Some(0));

    let (ok, out) = v.fail2ban(&["stop"]);
    assert!(ok, "{out}");
    wait("fail2ban to stop", 10, || !v.root.path().join("run/fail2ban.sock").exists());
    let (code, out) = check();
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("DANGER: fail2ban's sshd jail is not running"), "{out}");
    v.start_fail2ban();
    let (code, out) = check();
    assert_eq!(code, Some(0), "{out}");

    // The jail still runs, moved live to port 22: it counts failures on 2222 and bans
    // nothing there.
    let (ok, actions) = v.fail2ban(&["get", "sshd", "actions"]);
    assert!(ok, "{actions}");
    let action = actions.lines().last().unwrap().split(',').next().unwrap().trim().to_owned();
    let (ok, out) = v.fail2ban(&["set", "sshd", "action", &action, "port", "22"]);
    assert!(ok, "{out}");
    let (code, out) = check();
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("DANGER: fail2ban's sshd jail bans on port 22") && out.contains("not on SSH's port 2222"),
        "{out}"
    );
    let (ok, out) = v.fail2ban(&["reload", "sshd"]);
    assert!(ok, "{out}");
    let (code, out) = check();
    assert_eq!(code, Some(0), "after reloading the applied jail:\n{out}");

    // A key slipped into authorized_keys: named once, then known.
    let eve = v.work.path().join("eve");
    let (ok, out) =
        sh(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", "eve@elsewhere", "-f"]).arg(&eve));
    assert!(ok, "{out}");
    let keys = v.root.path().join("home/debian/.ssh/authorized_keys");
    let mut text = fs::read_to_string(&keys).unwrap();
    text.push_str(&fs::read_to_string(eve.with_extension("pub")).unwrap());
    fs::write(&keys, text).unwrap();
    let (code, out) = check();
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("DANGER: A new SSH key lets `debian` log in") && out.contains("`eve@elsewhere`"), "{out}");
    let (code, out) = check();
    assert_eq!(code, Some(0), "a key already reported is news every day:\n{out}");

    // A login with that key (sshd logs its fingerprint: LogLevel VERBOSE): news once.
    let (ok, out) = sh(Command::new("ssh")
        .args(vps::ssh_opts())
        .args(["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i"])
        .arg(&eve)
        .args(["-p", "2222", &format!("debian@{}", v.vps_ip), "true"]));
    assert!(ok, "eve's key did not log in: {out}");
    wait("sshd to log the login", 10, || v.auth_log().matches("Accepted publickey").count() >= 3);
    let (code, out) = check();
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("WARNING: `debian` logged in over SSH with a key never seen before (SHA256:"), "{out}");
    let (code, out) = check();
    assert_eq!(code, Some(0), "a login already reported is news every day:\n{out}");

    // A listener nobody planned (a reverse shell's bind port), in the VPS's namespace.
    let bind = "import socket,time; s=socket.socket(); s.bind(('0.0.0.0',4444)); s.listen(); time.sleep(60)";
    let mut listener = v
        .in_vps(&["python3", "-c", bind])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait("the listener on 4444", 10, || sh(&mut v.in_vps(&["ss", "-Htln"])).1.contains(":4444"));
    let (code, out) = check();
    let _ = listener.kill();
    let _ = listener.wait();
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("WARNING: Something new listens on TCP 0.0.0.0:4444"), "{out}");

    // An account with uid 0 under another name.
    let passwd = v.root.path().join("etc/passwd");
    let mut text = fs::read_to_string(&passwd).unwrap();
    text.push_str("toor:x:0:0::/root:/bin/bash\n");
    fs::write(&passwd, text).unwrap();
    let (code, out) = check();
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("A new account `toor` (uid 0)"), "{out}");

    // A drop-in read before clawguard's (`0-` sorts before `00-`) turns password logins
    // back on: every managed file is intact, sshd -T tells.
    let evil = v.root.path().join("etc/ssh/sshd_config.d/0-override.conf");
    fs::write(&evil, "PasswordAuthentication yes\n").unwrap();
    let (code, out) = check();
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("sshd's effective settings are not the ones clawguard applied")
            && out.contains("passwordauthentication"),
        "{out}"
    );
    fs::remove_file(&evil).unwrap();
    let (code, out) = check();
    assert_eq!(code, Some(0), "{out}");

    // Security updates waiting, as apt itself simulates them on the root's package state:
    // an ordinary update is not one (control); one from a security suite is named.
    let status = v.root.path().join("var/lib/dpkg/status");
    let mut text = fs::read_to_string(&status).unwrap_or_default();
    text.push_str("\nPackage: hello\nStatus: install ok installed\nPriority: optional\nSection: misc\nMaintainer: T <t@example.org>\nArchitecture: amd64\nVersion: 1.0-1\nDescription: test\n");
    fs::write(&status, text).unwrap();
    let repos = v.work.path().join("repos");
    common::apt_repo(&repos.join("main"), "bookworm", "Debian", &[("hello", "1.0-1+b1")]);
    common::apt_repo(&repos.join("security"), "bookworm-security", "Debian-Security", &[("hello", "1.0-1+deb12u1")]);
    for d in ["etc/apt", "var/lib/apt/lists/partial", "var/cache/apt/archives/partial"] {
        fs::create_dir_all(v.root.path().join(d)).unwrap();
    }
    let sources = |repos_: &[&str]| {
        let lines: String =
            repos_.iter().map(|r| format!("deb [trusted=yes] file:{} ./\n", repos.join(r).display())).collect();
        fs::write(v.root.path().join("etc/apt/sources.list"), lines).unwrap();
        // What apt's daily timer does: fresh lists.
        let conf = v.work.path().join("apt.conf");
        let (ok, out) = sh(Command::new("apt-get").arg("update").env("APT_CONFIG", &conf));
        assert!(ok, "apt-get update: {out}");
    };
    sources(&["main"]);
    let (code, out) = check();
    assert_eq!(code, Some(0), "an ordinary update is not a security update:\n{out}");
    sources(&["main", "security"]);
    let (code, out) = check();
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("WARNING: 1 security update(s) are waiting: hello."), "{out}");
}

/// `clawguard uninstall` against a real sshd and ufw, after a confirmed move to 2222: its
/// first step opens port 22 next to 2222; unconfirmed, the watchdog takes it back and
/// clawguard stays. Run again and confirmed from a new login on 22, every file goes back,
/// ufw is off, sshd is on 22 alone with the image's own settings (passwords allowed).
#[test]
fn uninstall_moves_ssh_back_only_with_a_new_login_on_the_old_port() {
    let mut v = Vps::new("debian12-cloud");
    v.start_sshd();
    wait("sshd on port 22", 10, || v.port_open(22));
    let before = common::fingerprint(v.root.path());
    let runner = v.runner();
    let run = path_str(&runner).to_owned();
    let root = path_str(v.root.path()).to_owned();
    let a = answers(&v, "[firewall]\nlimit_ssh = false\n");
    let (_, from) = v.ssh("debian", 22, "echo $SSH_CONNECTION");
    let (ok, out) = clawguard(
        &["apply", "--yes", "--root", &root, "--answers", &a, "--runner", &run, "--confirm-timeout", "300"],
        &[("SSH_CONNECTION", from.trim())],
    );
    assert!(ok, "{out}\n{}", v.runner_log());
    let (_, on_new) = v.ssh("debian", 2222, "echo $SSH_CONNECTION");
    let (ok, out) = clawguard(&["confirm", "--root", &root, "--runner", &run], &[("SSH_CONNECTION", on_new.trim())]);
    assert!(ok, "{out}");
    wait("port 22 to close", 10, || !v.port_open(22));
    let managed = clawguard::uninstall::restoration(&clawguard::target::Root::new(v.root.path())).unwrap();

    // Step 1, from the session on 2222, and nobody logs in on 22 in time.
    let uninstall = |timeout: &str| {
        clawguard(
            &["uninstall", "--yes", "--root", &root, "--runner", &run, "--confirm-timeout", timeout],
            &[("SSH_CONNECTION", on_new.trim())],
        )
    };
    let (ok, out) = uninstall("4");
    assert!(ok, "{out}\n{}", v.runner_log());
    assert!(out.contains("Step 1 of 2 done: SSH listens on port 22 again"), "{out}");
    wait("sshd on port 22 again", 10, || v.port_open(22));
    assert!(v.ssh("debian", 22, "true").0 && v.ssh("debian", 2222, "true").0, "both ports during step 1");
    let last = v.root.path().join("var/lib/clawguard/last-rollback");
    wait("the automatic rollback of step 1", 30, || last.exists());
    assert!(fs::read_to_string(&last).unwrap().contains("verified: all"));
    wait("port 22 to close again", 10, || !v.port_open(22));
    assert!(v.ssh("debian", 2222, "true").0, "clawguard stays: 2222 works");
    assert!(v.root.path().join("etc/ssh/sshd_config.d/00-clawguard.conf").exists());

    // Again, and confirmed from a new login on 22 — not from the session that ran it.
    let (ok, out) = uninstall("300");
    assert!(ok, "{out}");
    wait("sshd on port 22 again", 10, || v.port_open(22));
    let (ok, out) = clawguard(&["confirm", "--root", &root, "--runner", &run], &[("SSH_CONNECTION", on_new.trim())]);
    assert!(!ok && out.contains("this is the session that applied the change"), "{out}");
    let (_, on_old) = v.ssh("debian", 22, "echo $SSH_CONNECTION");
    let (ok, out) = clawguard(&["confirm", "--root", &root, "--runner", &run], &[("SSH_CONNECTION", on_old.trim())]);
    assert!(ok, "{out}\n{}", v.runner_log());
    assert!(out.contains("clawguard is uninstalled") && out.contains("sshd listens on port 22, as before"), "{out}");
    wait("sshd to leave port 2222", 10, || !v.port_open(2222));
    assert!(v.ssh_password("debian", 22, PASSWORD).0, "the image's own sshd settings (passwords allowed) are back");
    let (_, status) = sh(v.in_vps(&["ufw", "status"]).env("LC_ALL", "C"));
    assert!(status.contains("Status: inactive"), "ufw taken back: {status}");
    for f in &managed.files {
        let now = fs::read(v.root.path().join(&f.path[1..])).ok();
        match &f.original {
            clawguard::uninstall::Original::Content { data, .. } => assert_eq!(now.as_ref(), Some(data), "{}", f.path),
            clawguard::uninstall::Original::Absent => assert_eq!(now, None, "{}", f.path),
        }
    }
    // Nothing of clawguard is left in the root (no key was stored: no vault to keep);
    // /run has what sshd and ufw keep there while they run.
    let after = common::fingerprint(v.root.path());
    let new: Vec<&String> = after.keys().filter(|p| !before.contains_key(*p) && !p.starts_with("run/")).collect();
    assert!(new.is_empty(), "left behind: {new:#?}");
}
