//! Host facts read from fixture roots (a Debian 12 cloud image, Ubuntu 24.04 with
//! ssh.socket, an old host with no keys), and the warnings and steps the plan draws from
//! them (PITFALLS 1, 3, 5, 9).

mod common;

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;

use clawguard::answers::Answers;
use clawguard::layers;
use clawguard::plan::{Plan, Refusal, Severity};

/// Warnings and commands of a plan, one per line, for a snapshot.
fn summary(plan: &Plan) -> String {
    let mut s = String::new();
    for c in &plan.commands {
        let _ = writeln!(
            s,
            "run [{:?}] {}{}",
            c.layer,
            c.argv.join(" "),
            if c.when_changed.is_empty() {
                String::new()
            } else {
                format!("  (when {} changes)", c.when_changed.join(", "))
            }
        );
    }
    for b in &plan.blockers {
        let _ = writeln!(s, "Refused ({:?}) [{:?}] {}", b.kind, b.layer, b.text);
    }
    for w in &plan.warnings {
        let _ = writeln!(s, "{:?} [{:?}] {}", w.severity, w.layer, w.text);
    }
    s
}

#[test]
fn debian12_cloud_image() {
    let root = common::fixture_root("debian12-cloud");
    let f = common::facts(root.path(), Some("198.51.100.7 50000 203.0.113.5 22"));
    assert_eq!((f.os.id.as_str(), f.os.version_id.as_str()), ("debian", "12"));
    assert_eq!(f.hostname.as_deref(), Some("vps-debian"));
    assert!(f.cloud_init && !f.ssh_socket && !f.auth_log);
    assert!(f.sshd.includes_dropins);
    assert_eq!(f.sshd.dropins, vec!["50-cloud-init.conf"]);
    let pw = f.sshd.effective("passwordauthentication").unwrap();
    assert_eq!((pw.value.as_str(), pw.file.as_str()), ("yes", "/etc/ssh/sshd_config.d/50-cloud-init.conf"));
    assert_eq!(f.sshd.ports(), vec![22]);
    let debian = f.users.iter().find(|u| u.name == "debian").unwrap();
    assert!(debian.can_log_in_with_key(), "{debian:?}");
    assert_eq!(f.ssh_connection.as_ref().unwrap().server_port, 22);
    assert_eq!(f.docker_version.as_deref(), Some("27.3.1"), "docker-ce installed, docker.io removed");

    let plan = layers::plan(&Answers::default(), &f).unwrap();
    assert!(plan.file("/etc/cloud/cloud.cfg.d/99-clawguard-ssh.cfg").unwrap().content.contains("ssh_pwauth: false"));
    assert!(plan.file("/etc/fail2ban/jail.d/zz-clawguard.local").unwrap().content.contains("backend = systemd"));
    assert!(plan.file("/etc/ssh/sshd_config.d/00-clawguard.conf").unwrap().content.contains("AllowUsers debian\n"));
    assert!(
        plan.blockers.is_empty() && !plan.warnings.iter().any(|w| w.severity == Severity::Danger),
        "{}",
        summary(&plan)
    );
    let argv: Vec<String> = plan.commands.iter().map(|c| c.argv.join(" ")).collect();
    let allow_new = argv.iter().position(|a| a.starts_with("ufw limit 2222/tcp")).unwrap();
    let enable = argv.iter().position(|a| a == "ufw --force enable").unwrap();
    let reload = argv.iter().position(|a| a == "systemctl reload ssh").unwrap();
    assert!(allow_new < enable, "default deny only after the SSH allow rule");
    assert!(allow_new < reload, "the new port is open in ufw before sshd moves to it");
    insta::assert_snapshot!("debian12_cloud_plan", summary(&plan));
}

#[test]
fn ubuntu2404_with_ssh_socket() {
    let root = common::fixture_root("ubuntu2404-socket");
    // A group-writable home makes sshd ignore the keys (StrictModes).
    fs::set_permissions(root.path().join("home/ubuntu"), fs::Permissions::from_mode(0o775)).unwrap();
    let f = common::facts(root.path(), None);
    assert!(f.ssh_socket, "ssh.socket enabled in sockets.target.wants");
    assert_eq!(f.docker_version.as_deref(), Some("24.0.7"));
    let ubuntu = f.users.iter().find(|u| u.name == "ubuntu").unwrap();
    assert_eq!(ubuntu.authorized_keys(), Some(1));
    assert!(!ubuntu.can_log_in_with_key());
    assert!(ubuntu.strict_modes_problems[0].contains("chmod go-w /home/ubuntu"), "{:?}", ubuntu.strict_modes_problems);

    let plan = layers::plan(&Answers::default(), &f).unwrap();
    let argv: Vec<String> = plan.commands.iter().map(|c| c.argv.join(" ")).collect();
    let reload = argv.iter().position(|a| a == "systemctl daemon-reload").unwrap();
    let restart = argv.iter().position(|a| a == "systemctl restart ssh.socket").unwrap();
    assert!(reload < restart, "daemon-reload must come before the socket restart");
    assert!(!argv.iter().any(|a| a == "systemctl reload ssh"), "restarting ssh.service leaves port 22");
    assert!(plan.blockers.iter().any(|b| b.kind == Refusal::Lockout && b.text.contains("StrictModes")));
    assert!(plan.warnings.iter().any(|w| w.text.contains("Docker engine 24.0.7 predates the fix for CVE-2024-29018")));
    insta::assert_snapshot!("ubuntu2404_socket_plan", summary(&plan));
}

#[test]
fn a_host_with_no_authorized_keys_and_an_old_sshd_config() {
    let root = common::fixture_root("no-keys");
    let f = common::facts(root.path(), None);
    assert!(!f.sshd.includes_dropins);
    assert!(f.auth_log);
    assert!(f.users.iter().all(|u| u.authorized_keys() == Some(0)));
    assert_eq!(f.plaintext_env_files.len(), 1);
    assert_eq!(f.plaintext_env_files[0].keys, 2);

    let plan = layers::plan(&Answers::default(), &f).unwrap();
    assert!(
        plan.blockers.iter().any(|b| b.kind == Refusal::Lockout && b.text.contains("nobody could log in")),
        "{}",
        summary(&plan)
    );
    let main = &plan.file("/etc/ssh/sshd_config").expect("main config rewritten").content;
    assert!(main.starts_with("# added by clawguard"), "{main}");
    assert!(main.contains("\nInclude /etc/ssh/sshd_config.d/*.conf\n"));
    assert!(
        main.contains("# disabled by clawguard (see /etc/ssh/sshd_config.d/00-clawguard.conf): Port 22\n"),
        "{main}"
    );
    assert!(main.contains("\nPermitRootLogin yes\n"), "lines read after the drop-in lose anyway and stay: {main}");
    let jail = &plan.file("/etc/fail2ban/jail.d/zz-clawguard.local").unwrap().content;
    assert!(jail.contains("backend = auto") && jail.contains("logpath = %(sshd_log)s"), "{jail}");
    assert!(plan.warnings.iter().any(|w| { w.text.contains("/root/.openclaw/.env holds 2 key(s) in plaintext") }));
    insta::assert_snapshot!("no_keys_plan", summary(&plan));
}
