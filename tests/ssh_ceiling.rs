//! The rendered SSH configuration at the outside judges' ceiling, on a real sshd in a
//! network namespace: ssh-audit 3 (from PyPI) exits 0 against it, and Lynis makes no SSH
//! suggestion. Positive controls: both do complain about the same sshd before clawguard.

mod common;

use std::fs;
use std::process::{Command, Output};

use common::vps::{Vps, path_str, sh};
use common::wait;

fn ssh_audit(v: &Vps, port: u16) -> Output {
    let bin = std::env::var("CLAWGUARD_SSH_AUDIT")
        .unwrap_or_else(|_| "/var/cache/clawguard-tests/ssh-audit-3.9.0/bin/ssh-audit".into());
    assert!(
        std::path::Path::new(&bin).exists(),
        "ssh-audit 3 is missing at {bin}: scripts/test installs it (or set CLAWGUARD_SSH_AUDIT)"
    );
    Command::new(&bin).args(["-n", "-p", &port.to_string(), &v.vps_ip]).output().unwrap()
}

/// Lynis' SSH tests, run inside the VPS (they read /etc/ssh through `sshd -T` and want a
/// running sshd): the SSH suggestions of its report.
fn lynis_ssh_suggestions(v: &Vps, name: &str) -> Vec<String> {
    let report = v.work.path().join(format!("lynis-{name}.dat"));
    let log = v.work.path().join(format!("lynis-{name}.log"));
    let (ok, out) = sh(&mut v.in_vps(&[
        "lynis",
        "audit",
        "system",
        "--quick",
        "--no-colors",
        "--tests-from-group",
        "ssh",
        "--logfile",
        path_str(&log),
        "--report-file",
        path_str(&report),
    ]));
    assert!(ok, "lynis (scripts/test installs it): {out}");
    let dat = fs::read_to_string(&report).unwrap_or_else(|e| panic!("lynis wrote no report ({e}): {out}"));
    dat.lines().filter(|l| l.starts_with("suggestion[]=SSH")).map(str::to_owned).collect()
}

#[test]
fn the_default_ssh_configuration_passes_ssh_audit_and_lynis() {
    let mut v = Vps::new("debian12-cloud");
    v.start_sshd();
    wait("sshd on port 22", 10, || v.port_open(22));

    // Positive controls: the distribution's sshd is rated down by both.
    let before = ssh_audit(&v, 22);
    assert_ne!(before.status.code(), Some(0), "ssh-audit passes Debian's defaults: the check cannot fail");
    let suggestions = lynis_ssh_suggestions(&v, "before");
    assert!(!suggestions.is_empty(), "Lynis has no SSH suggestion for Debian's defaults: the check cannot fail");

    let answers = v.work.path().join("answers.toml");
    // ufw's rate limit on the SSH port would cut ssh-audit's many connections short.
    fs::write(&answers, "version = 1\nskip = [\"sandbox\", \"egress\"]\n[firewall]\nlimit_ssh = false\n").unwrap();
    // As a user does it: apply from a login on port 22, confirm from a new one on 2222.
    let runner = v.runner();
    let (_, from) = v.ssh("debian", 22, "echo $SSH_CONNECTION");
    let mut c = common::cli::command(&[]);
    c.args(["apply", "--yes", "--confirm-timeout", "300", "--root", path_str(v.root.path())])
        .args(["--answers", path_str(&answers), "--runner", path_str(&runner)])
        .env("SSH_CONNECTION", from.trim());
    let (ok, out) = sh(&mut c);
    assert!(ok, "apply: {out}");
    wait("sshd on port 2222", 10, || v.port_open(2222));
    let (ok, conn) = v.ssh("debian", 2222, "echo $SSH_CONNECTION");
    assert!(ok, "the key login after apply: {conn}\n{}", v.auth_log());
    let mut c = common::cli::command(&[]);
    c.args(["confirm", "--root", path_str(v.root.path()), "--runner", path_str(&runner)])
        .env("SSH_CONNECTION", conn.trim());
    let (ok, out) = sh(&mut c);
    assert!(ok, "confirm: {out}");
    wait("port 22 to close", 10, || !v.port_open(22));

    let after = ssh_audit(&v, 2222);
    assert_eq!(
        after.status.code(),
        Some(0),
        "ssh-audit rates the rendered config down:\n{}{}",
        String::from_utf8_lossy(&after.stdout),
        String::from_utf8_lossy(&after.stderr)
    );
    let suggestions = lynis_ssh_suggestions(&v, "after");
    assert!(suggestions.is_empty(), "Lynis still suggests: {suggestions:#?}");
}
