//! macOS as a target, on fixture roots of a Mac's layout (`tests/fixtures/macos-*`, made
//! by `make-macos-fixtures.py`: Apple's sshd_config and ssh.plist, pf.conf, the local
//! accounts in dslocal as binary property lists, launchd's disabled list): a fresh Mac
//! (Remote Login never on, OrbStack) and one in use (Remote Login on, colima and restic
//! from Homebrew, pf.conf as an OS update leaves it).
//!
//! What runs here: the plan and every file it renders (snapshots), each LaunchDaemon
//! through two property-list parsers and launchd's keys, pf's rules through the grammar
//! checker, the sshd drop-in through this machine's real `sshd -t`/`-T` over macOS's own
//! config, apply/rollback/hand edits into the roots (files only), and one answers file
//! carried by the same setting on both platforms. What needs a real Mac (launchctl,
//! pfctl, plutil, a login over the moved port) is in `.github/workflows/macos.yml`.

mod common;

use common::cli::{self, run};
use common::macfixture::{answers, commands, defaults, facts, file, mac, no_file_changes, paths};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use clawguard::answers::Answers;
use clawguard::host::platform::{DockerRuntime, Platform};
use clawguard::layers::{self, launchd, pf};
use clawguard::plan::{Stage, Validator};

#[test]
fn a_mac_is_found_with_what_only_a_mac_has() {
    let fresh = mac("macos-fresh");
    let f = facts(fresh.path(), None);
    let Platform::MacOs(m) = &f.platform else { panic!("not found as a Mac: {:?}", f.platform) };
    assert_eq!((m.version.as_str(), m.build.as_str()), ("14.6.1", "23G93"));
    assert_eq!(f.os.describe(), "macOS 14.6.1");
    assert_eq!(m.remote_login, Ok(false));
    assert_eq!(f.sshd.ports(), Vec::<u16>::new(), "Remote Login off: nothing listens for SSH");
    assert!(f.sshd.includes_dropins, "macOS's `Include /etc/ssh/sshd_config.d/*` reads the drop-in");
    assert_eq!(m.docker, Some(DockerRuntime::OrbStack));
    let brew = m.homebrew.as_ref().unwrap();
    assert_eq!((brew.prefix.as_str(), brew.owner.as_deref()), ("/opt/homebrew", Some("alice")));
    // People's accounts come from dslocal (binary plists), not from /etc/passwd.
    let alice = f.users.iter().find(|u| u.name == "alice").expect("alice from dslocal");
    assert_eq!((alice.uid, alice.gid, alice.home.as_str()), (501, 20, "/Users/alice"));
    assert_eq!(alice.authorized_keys(), Some(1));
    assert!(alice.groups.contains(&"admin".to_owned()), "{:?}", alice.groups);
    assert!(f.accounts.iter().any(|a| a.name == "alice" && a.privileged_groups == ["admin"]));
    assert!(!f.tools.restic && f.tools.docker && f.tools.compose_plugin);
    // OpenClaw's plaintext keys in a Mac's home are found too.
    fs::create_dir_all(fresh.path().join("Users/alice/.openclaw")).unwrap();
    fs::write(fresh.path().join("Users/alice/.openclaw/.env"), "ANTHROPIC_API_KEY=sk-x\nSLACK_TOKEN=y\n").unwrap();
    let env = facts(fresh.path(), None).plaintext_env_files;
    assert_eq!(env.iter().map(|e| (e.path.as_str(), e.keys)).collect::<Vec<_>>(), [("/Users/alice/.openclaw/.env", 2)]);

    let used = mac("macos-remote-login");
    let f = facts(used.path(), None);
    let m = f.platform.mac().unwrap();
    assert_eq!(m.remote_login, Ok(true));
    assert_eq!(f.sshd.ports(), [22]);
    assert_eq!((m.alf_state, m.alf_stealth), (Some(1), Some(false)));
    assert_eq!((m.sleep_minutes, m.autorestart), (Some(10), Some(false)));
    assert_eq!(m.updates["CriticalUpdateInstall"], Some(false));
    assert_eq!(m.updates["ConfigDataInstall"], None);
    assert_eq!(m.docker, Some(DockerRuntime::Colima));
    assert!(f.tools.restic && f.sshd.ed25519_host_key);

    // One damaged account record: the accounts are unknown, said, and SSH is not moved.
    fs::write(used.path().join("private/var/db/dslocal/nodes/Default/users/_www.plist"), "not a plist").unwrap();
    let f = facts(used.path(), None);
    let why = f.platform.mac().unwrap().accounts_unreadable.clone().expect("unknown, not empty");
    assert!(why.contains("_www.plist"), "{why}");
    let plan = layers::plan(&defaults(), &f).unwrap();
    assert!(plan.blockers.iter().any(|b| b.text.contains("who may log in cannot be checked")), "{:?}", plan.blockers);

    // A Debian root stays Linux.
    let deb = common::fixture_root("debian12-cloud");
    assert_eq!(facts(deb.path(), None).platform, Platform::Linux);
}

#[test]
fn the_welcome_and_the_plan_say_which_platform_and_what_differs() {
    let root = mac("macos-remote-login");
    let o = run(&["plan", "--root", root.path().to_str().unwrap(), "--no-color"]);
    let t = cli::text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("(macOS 14.6.1)"), "{t}");
    assert!(t.contains("macOS 14.6.1 found: SSH's port is opened by launchd"), "{t}");
    let m = facts(root.path(), None).platform.mac().unwrap().differences().join("\n");
    for want in [
        "Remote Login is on (port 22)",
        "pf, in clawguard's own anchor",
        "colima (a Linux VM)",
        "Homebrew (/opt/homebrew)",
    ] {
        assert!(m.contains(want), "{want}: {m}");
    }
}

#[test]
fn every_macos_file_matches_its_snapshot() {
    for (name, ssh) in [("macos-fresh", None), ("macos-remote-login", Some("198.51.100.7 50000 192.0.2.10 22"))] {
        let root = mac(name);
        let a = answers(
            "[backup]\ndestination = \"sftp:backup@backup.example.net:/srv/restic/mac\"\n[firewall]\nextra_ports = [8443]\n",
        );
        let f = facts(root.path(), ssh).for_answers(&clawguard::target::Root::new(root.path()), &a);
        let plan = layers::plan(&a, &f).unwrap();
        assert!(plan.blockers.is_empty(), "{name}: {:?}", plan.blockers);
        for f in &plan.files {
            insta::assert_snapshot!(format!("{name}{}", f.path.replace('/', "__")), &f.content);
        }
        // Nothing of Linux's on a Mac.
        for p in paths(&plan) {
            assert!(
                !p.starts_with("/etc/systemd") && !p.contains("fail2ban") && !p.contains("logrotate"),
                "{name}: {p}"
            );
        }
        for c in commands(&plan) {
            for linux in ["systemctl", "ufw", "apt-get", "fail2ban-client"] {
                assert!(!c.split_whitespace().any(|w| w == linux), "{name}: {c}");
            }
        }
    }
}

#[test]
fn the_sshd_drop_in_passes_this_machines_sshd_over_macos_own_config() {
    for name in ["macos-fresh", "macos-remote-login"] {
        let root = mac(name);
        let f = facts(root.path(), Some("198.51.100.7 50000 192.0.2.10 22"));
        let plan = layers::plan(&defaults(), &f).unwrap();
        let dropin = file(&plan, "/etc/ssh/sshd_config.d/00-clawguard.conf");
        assert!(!dropin.lines().any(|l| l.starts_with("Port ")), "launchd carries the port on a Mac: {dropin}");
        assert!(dropin.contains("Port 2222 is in /Library/LaunchDaemons/com.clawguard.sshd.plist"), "{dropin}");
        let outcomes = clawguard::validate::run_for(&plan, &clawguard::target::Root::new(root.path()), |s| {
            matches!(s.validator, Some(Validator::Sshd { .. } | Validator::Pf | Validator::Launchd))
        })
        .unwrap();
        assert!(outcomes.len() >= 6, "{name}: {outcomes:?}");
        for o in &outcomes {
            let summary = o.result.as_ref().unwrap_or_else(|e| panic!("{name}: {} ({}): {e}", o.file, o.checker));
            if o.checker.starts_with("sshd") {
                assert!(summary.contains("sshd -T -C lets alice in with a key from 198.51.100.7"), "{summary}");
            }
        }
        // macOS's own sshd_config is not touched: its Include already reads the drop-in.
        assert!(plan.file("/etc/ssh/sshd_config").is_none(), "{name}: {:?}", paths(&plan));
    }
}

#[test]
fn the_ssh_move_keeps_remote_login_until_confirmed_then_closes_port_22() {
    let root = mac("macos-remote-login");
    let f = facts(root.path(), None);
    let during = layers::plan_for(&defaults(), &f, Stage::Move).unwrap();
    let mv = during.ssh_move.as_ref().unwrap();
    assert_eq!((mv.new_port, mv.old_ports.as_slice(), mv.interim), (2222, &[22][..], true));
    assert!(!commands(&during).iter().any(|c| c.contains("com.openssh.sshd")), "{:?}", commands(&during));
    let after = layers::plan_for(&defaults(), &f, Stage::Complete).unwrap();
    let closing: Vec<_> =
        after.commands.iter().filter(|c| c.argv.iter().any(|a| a.contains("com.openssh.sshd"))).collect();
    // Closed first, then disabled: a rollback runs the undos newest first, and launchd
    // refuses to bootstrap a disabled label ("119: Service is disabled").
    assert_eq!(
        closing.iter().map(|c| c.argv.join(" ")).collect::<Vec<_>>(),
        ["/usr/local/bin/clawguard launchd unload com.openssh.sshd", "launchctl disable system/com.openssh.sshd"]
    );
    assert_eq!(
        closing[0].undo.as_deref().unwrap(),
        ["/usr/local/bin/clawguard", "launchd", "load", "/System/Library/LaunchDaemons/ssh.plist"]
    );
    assert_eq!(closing[1].undo.as_deref().unwrap(), ["launchctl", "enable", "system/com.openssh.sshd"]);
    assert!(clawguard::plan::Plan::needs_confirmation(after.files.iter(), after.commands.iter()));

    // A fresh Mac: no SSH at all yet, so nothing to keep and nothing to close.
    let fresh = mac("macos-fresh");
    let f = facts(fresh.path(), None);
    let plan = layers::plan_for(&defaults(), &f, Stage::Move).unwrap();
    let mv = plan.ssh_move.as_ref().unwrap();
    assert_eq!((mv.old_ports.is_empty(), mv.interim), (true, false));
    assert!(!commands(&plan).iter().any(|c| c.contains("com.openssh.sshd")));
    assert!(plan.warnings.iter().any(|w| w.text.contains("Remote Login is off on this Mac")));
    // A second move while clawguard's daemon holds the first port is refused, with the way.
    let used = mac("macos-remote-login");
    assert!(run(&["apply", "--yes", "--root", used.path().to_str().unwrap()]).status.success());
    let f2 = facts(used.path(), None);
    assert_eq!(f2.platform.mac().unwrap().own_sshd_port, Some(2222));
    let plan = layers::plan(&answers("[ssh]\nport = 2233\n"), &f2).unwrap();
    let b = plan.blockers.iter().map(|b| b.text.as_str()).collect::<Vec<_>>().join("\n");
    assert!(
        b.contains("SSH listens on clawguard's port 2222 already") && b.contains("then apply with ssh.port 2233"),
        "{b}"
    );
    assert!(layers::plan(&defaults(), &f2).unwrap().blockers.is_empty(), "the same port again is fine");
    // Port 22 on a Mac is Remote Login's: turned on, no daemon of clawguard's.
    let a = answers("[ssh]\nport = 22\n");
    let plan = layers::plan(&a, &f).unwrap();
    assert!(plan.file(&launchd::path(clawguard::host::platform::SSHD_LABEL)).is_none());
    assert_eq!(commands(&plan).iter().filter(|c| c.contains("com.openssh.sshd") || c.contains("ssh.plist")).count(), 2);
}

#[test]
fn packages_come_from_homebrew_as_its_owner_and_without_it_the_plan_says_what_to_do() {
    let root = mac("macos-fresh");
    let a = answers("[backup]\ndestination = \"sftp:backup@backup.example.net:/srv/restic/mac\"\n");
    let plan = layers::plan(&a, &facts(root.path(), None)).unwrap();
    let first = &plan.commands[0];
    assert_eq!(
        first.argv.join(" "),
        "sudo -u alice -H env HOMEBREW_NO_AUTO_UPDATE=1 HOMEBREW_NO_ANALYTICS=1 /opt/homebrew/bin/brew install restic"
    );
    assert_eq!(
        first.undo.as_ref().unwrap().join(" "),
        "sudo -u alice -H env HOMEBREW_NO_AUTO_UPDATE=1 HOMEBREW_NO_ANALYTICS=1 /opt/homebrew/bin/brew uninstall restic"
    );
    assert_eq!(first.phase, clawguard::plan::Phase::Prepare);
    fs::remove_file(root.path().join("opt/homebrew/bin/brew")).unwrap();
    let plan = layers::plan(&a, &facts(root.path(), None)).unwrap();
    let b = plan.blockers.iter().map(|b| b.text.as_str()).collect::<Vec<_>>().join("\n");
    assert!(b.contains("This Mac has no Homebrew, where clawguard gets restic: install Homebrew (https://brew.sh), or install it yourself"), "{b}");
}

#[test]
fn paths_a_mac_cannot_make_and_a_missing_runtime_are_refused_with_what_to_type() {
    let root = mac("macos-fresh");
    let a = answers(
        "[sandbox]\nstate_dir = \"/srv/openclaw/state\"\nworkspace = \"/opt/openclaw/workspace\"\nconfig_dir = \"/opt/openclaw/config\"\n",
    );
    let plan = layers::plan(&a, &facts(root.path(), None)).unwrap();
    let b = plan.blockers.iter().map(|b| b.text.as_str()).collect::<Vec<_>>().join("\n");
    assert!(
        b.contains("sandbox.state_dir `/srv/openclaw/state` cannot be made on a Mac")
            && b.contains("Use /opt/openclaw/state"),
        "{b}"
    );
    // /etc, /var and /tmp are /private's on a Mac: the same place under another name.
    for (dir, place) in [
        ("/private/etc/ssh", "/etc/ssh"),
        ("/private/var/db/dslocal", "/var/db"),
        ("/Library/LaunchDaemons/x", "/Library/LaunchDaemons"),
        ("/private/etc", "/etc"),
    ] {
        let a = answers(&format!(
            "[sandbox]\nstate_dir = \"{dir}\"\nworkspace = \"/opt/openclaw/workspace\"\nconfig_dir = \"/opt/openclaw/config\"\n"
        ));
        let plan = layers::plan(&a, &facts(root.path(), None)).unwrap();
        let b = plan.blockers.iter().map(|b| b.text.as_str()).collect::<Vec<_>>().join("\n");
        assert!(
            b.contains(&format!(
                "sandbox.state_dir `{dir}` is mounted into the agent's container and on a Mac is {place}"
            )),
            "{dir}: {b}"
        );
    }
    fs::remove_dir_all(root.path().join("Applications/OrbStack.app")).unwrap();
    let plan = layers::plan(&defaults(), &facts(root.path(), None)).unwrap();
    assert!(
        plan.blockers.iter().any(|b| b
            .text
            .starts_with("No container runtime on this Mac: install OrbStack, Docker Desktop, or colima"))
    );
}

#[test]
fn apply_into_a_mac_root_then_a_hand_edit_is_a_conflict_and_rollback_restores_every_byte() {
    let root = mac("macos-fresh");
    let r = root.path().to_str().unwrap();
    let before = common::fingerprint(root.path());
    let o = run(&["apply", "--yes", "--root", r]);
    assert!(o.status.success(), "{}", cli::text(&o));
    for p in [
        "private/etc/pf.anchors/com.clawguard",
        "Library/LaunchDaemons/com.clawguard.sshd.plist",
        "private/etc/ssh/sshd_config.d/00-clawguard.conf",
        "private/etc/clawguard/answers.toml",
        "private/etc/newsyslog.d/clawguard-agent.conf",
    ] {
        assert!(root.path().join(p).is_file(), "{p} was not written");
    }
    assert!(
        fs::read_to_string(root.path().join("private/etc/clawguard/answers.toml"))
            .unwrap()
            .contains("/opt/openclaw/state")
    );
    // Applied again: no file to change (the commands, which a root does not run, are
    // planned again from the facts: the application firewall, pmset, updates).
    let o = run(&["plan", "--root", r, "--no-color"]);
    assert!(no_file_changes(&cli::text(&o)), "{}", cli::text(&o));
    // A hand edit of a managed file is a conflict: refused, nothing written.
    let anchor = root.path().join("private/etc/pf.anchors/com.clawguard");
    let edited = fs::read_to_string(&anchor).unwrap() + "pass in all\n";
    fs::write(&anchor, &edited).unwrap();
    let answers = root.path().join("a.toml");
    fs::write(
        &answers,
        fs::read_to_string(root.path().join("private/etc/clawguard/answers.toml"))
            .unwrap()
            .replace("extra_ports = []", "extra_ports = [443]"),
    )
    .unwrap();
    let o = run(&["apply", "--yes", "--root", r, "--answers", answers.to_str().unwrap()]);
    let t = cli::text(&o);
    assert!(!o.status.success() && t.contains("/etc/pf.anchors/com.clawguard"), "{t}");
    assert_eq!(fs::read_to_string(&anchor).unwrap(), edited);
    fs::write(&anchor, edited.trim_end_matches("pass in all\n")).unwrap();
    // Rolled back: the root is byte for byte what it was.
    let o = run(&["rollback", "--root", r]);
    assert!(o.status.success(), "{}", cli::text(&o));
    fs::remove_file(&answers).unwrap();
    // Kept by a rollback, by design: the vault (the gateway's key clawguard made) and the
    // records of what was done.
    let kept = |p: &str| {
        p.starts_with("private/etc/clawguard/vault") || p == "private/etc/clawguard" || p.starts_with("private/var/lib")
    };
    assert!(!root.path().join("private/etc/clawguard/answers.toml").exists());
    let after = common::fingerprint(root.path());
    let changed: Vec<&String> =
        after.keys().chain(before.keys()).filter(|k| !kept(k) && after.get(*k) != before.get(*k)).collect();
    assert!(changed.is_empty(), "not as before: {changed:?}");
}

/// One answers file gives equivalent protection on both platforms: each answer, and the
/// Linux and the macOS file that carries it.
#[test]
fn each_answer_reaches_its_linux_and_its_macos_artefact() {
    let table: &[(&str, &str, &str, &str, &str)] = &[
        // (answers, Linux file, Linux text, macOS file, macOS text)
        (
            "[ssh]\nport = 2345\n",
            "/etc/ssh/sshd_config.d/00-clawguard.conf",
            "Port 2345",
            "/Library/LaunchDaemons/com.clawguard.sshd.plist",
            "<string>2345</string>",
        ),
        (
            "[ssh]\nallowed_users = [\"alice\"]\n",
            "/etc/ssh/sshd_config.d/00-clawguard.conf",
            "AllowUsers alice",
            "/etc/ssh/sshd_config.d/00-clawguard.conf",
            "AllowUsers alice",
        ),
        (
            "[ssh]\nmax_auth_tries = 4\n",
            "/etc/ssh/sshd_config.d/00-clawguard.conf",
            "MaxAuthTries 4",
            "/etc/ssh/sshd_config.d/00-clawguard.conf",
            "MaxAuthTries 4",
        ),
        (
            "[ssh]\nclient_alive_interval = 123\n",
            "/etc/ssh/sshd_config.d/00-clawguard.conf",
            "ClientAliveInterval 123",
            "/etc/ssh/sshd_config.d/00-clawguard.conf",
            "ClientAliveInterval 123",
        ),
        (
            "[firewall]\nextra_ports = [8443]\n",
            "ufw allow 8443/tcp",
            "",
            pf::ANCHOR_FILE,
            "port 8443 flags S/SA keep state\n",
        ),
        (
            "[fail2ban]\nbantime = 4321\n",
            "/etc/fail2ban/jail.d/zz-clawguard.local",
            "bantime = 4321",
            "/Library/LaunchDaemons/com.clawguard.pf-expire.plist",
            "<string>4321</string>",
        ),
        (
            "[fail2ban]\nignoreip = [\"203.0.113.0/24\"]\n",
            "/etc/fail2ban/jail.d/zz-clawguard.local",
            "203.0.113.0/24",
            pf::ANCHOR_FILE,
            "203.0.113.0/24",
        ),
        (
            "[monitoring]\ncheck_time = \"04:17\"\n",
            "/etc/systemd/system/clawguard-check.timer",
            "04:17",
            "/Library/LaunchDaemons/com.clawguard.check.plist",
            "<integer>17</integer>",
        ),
        (
            "[monitoring]\nretain_days = 21\n",
            "/etc/logrotate.d/clawguard-agent",
            "maxage 21",
            "/etc/newsyslog.d/clawguard-agent.conf",
            " 21 ",
        ),
        (
            "[backup]\ndestination = \"sftp:b@backup.example.net:/r\"\nschedule = \"02:33\"\n",
            "/etc/systemd/system/clawguard-backup.timer",
            "02:33",
            "/Library/LaunchDaemons/com.clawguard.backup.plist",
            "<integer>33</integer>",
        ),
        (
            "[credentials]\nservices = [\"anthropic\"]\n",
            "/etc/clawguard/credentials.toml",
            "/run/clawguard/secrets/anthropic",
            "/etc/clawguard/credentials.toml",
            "/var/run/clawguard/secrets/anthropic",
        ),
        (
            "[egress]\nallowed_hosts = [\"api.example.org\"]\n",
            "/opt/clawguard/agent/proxy/squid.conf",
            "api.example.org",
            "/opt/clawguard/agent/proxy/squid.conf",
            "api.example.org",
        ),
        (
            "[sandbox]\nmemory = \"3G\"\n",
            "/opt/clawguard/agent/docker-compose.yml",
            "mem_limit: \"3G\"",
            "/opt/clawguard/agent/docker-compose.yml",
            "mem_limit: \"3G\"",
        ),
    ];
    let deb = common::fixture_root("debian12-cloud");
    let deb_facts = facts(deb.path(), None);
    let macroot = mac("macos-remote-login");
    let mac_facts = facts(macroot.path(), None);
    for (toml, lf, lt, mf, mt) in table {
        // The same answers on both (a blocker, like an allowed user Debian lacks, does not
        // stop the files from being rendered).
        let linux = layers::plan(&Answers::parse(&format!("version = 1\n{toml}"), "t").unwrap(), &deb_facts).unwrap();
        let macos = layers::plan(&answers(toml), &mac_facts).unwrap();
        if lf.starts_with("ufw ") {
            assert!(commands(&linux).iter().any(|c| c.starts_with(lf)), "{toml}: Linux: {:?}", commands(&linux));
        } else {
            assert!(file(&linux, lf).contains(lt), "{toml}: Linux {lf} lacks {lt}:\n{}", file(&linux, lf));
        }
        assert!(file(&macos, mf).contains(mt), "{toml}: macOS {mf} lacks {mt}:\n{}", file(&macos, mf));
    }
}

/// A runner for the daily check on a Mac root: answers `pfctl` and `lsof` from files in
/// `dir` (what a Mac would print), and nothing else.
fn mac_runner(dir: &Path, pf_info: &str, pf_rules: &str, lsof: &str) -> std::path::PathBuf {
    fs::write(dir.join("pf-info"), pf_info).unwrap();
    fs::write(dir.join("pf-rules"), pf_rules).unwrap();
    fs::write(dir.join("lsof"), lsof).unwrap();
    let script = dir.join("runner.sh");
    let d = dir.display();
    fs::write(
        &script,
        format!(
            "#!/bin/sh\ncase \"$1 $2 $3\" in\n'pfctl -s info') cat {d}/pf-info;;\n'pfctl -a com.apple/clawguard') cat {d}/pf-rules;;\n'lsof -nP -iTCP') cat {d}/lsof;;\n*) exit 0;;\nesac\n"
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[test]
fn the_daily_check_on_a_mac_asks_pf_and_reads_listeners_from_lsof() {
    let root = mac("macos-remote-login");
    let r = root.path().to_str().unwrap();
    let o = run(&["apply", "--yes", "--root", r]);
    assert!(o.status.success(), "{}", cli::text(&o));
    let work = tempfile::tempdir().unwrap();
    let lsof =
        "COMMAND PID USER FD TYPE DEVICE SIZE/OFF NODE NAME\nlaunchd 1 root 9u IPv6 0x1 0t0 TCP *:2222 (LISTEN)\n";
    let check = |runner: &Path| {
        let o = run(&["check", "--root", r, "--no-alert", "--runner", runner.to_str().unwrap()]);
        cli::text(&o)
    };
    // pf on, clawguard's rules loaded: nothing about the firewall.
    let good = mac_runner(
        work.path(),
        "Status: Enabled for 0 days 00:10:00  Debug: Urgent\n",
        "pass in quick proto tcp from any to any port = 2222 flags S/SA keep state\n",
        lsof,
    );
    let t = check(&good);
    assert!(!t.contains("pf is disabled") && !t.contains("no rule that lets SSH in"), "{t}");
    // An attacker's first moves: pf off, the anchor flushed; and a new listener.
    let bad = mac_runner(
        work.path(),
        "Status: Disabled for 0 days 00:00:05  Debug: Urgent\n",
        "",
        &format!("{lsof}nc 666 alice 3u IPv4 0x2 0t0 TCP *:4444 (LISTEN)\n"),
    );
    let t = check(&bad);
    assert!(t.contains("pf is disabled: every port of this Mac is open"), "{t}");
    assert!(t.contains("has no rule that lets SSH in on port 2222"), "{t}");
    assert!(t.contains("*:4444"), "the new listener, seen through lsof: {t}");
}

#[test]
fn uninstall_puts_a_mac_root_back_as_it_was() {
    let root = mac("macos-remote-login");
    let r = root.path().to_str().unwrap();
    let before = common::fingerprint(root.path());
    let o = run(&["apply", "--yes", "--root", r]);
    assert!(o.status.success(), "{}", cli::text(&o));
    let o = run(&["uninstall", "--yes", "--purge", "--root", r]);
    let t = cli::text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("/Library/LaunchDaemons/com.clawguard.sshd.plist"), "the review names what goes: {t}");
    let after = common::fingerprint(root.path());
    let changed: Vec<&String> = after.keys().chain(before.keys()).filter(|k| after.get(*k) != before.get(*k)).collect();
    assert!(changed.is_empty(), "not as before: {changed:?}");
}

#[test]
fn the_wizards_welcome_says_a_mac_was_found_and_what_differs() {
    let root = mac("macos-remote-login");
    let before = common::fingerprint(root.path());
    let t = common::tmux::Tmux::start(
        &format!("NO_COLOR=1 {} --dry-run --root {}", common::bin(), root.path().display()),
        140,
        45,
    );
    let s = t.wait_for("Press Enter to start", 10);
    for want in [
        "macOS 14.6.1 found. What differs from a Linux server:",
        "launchd owns sshd's port; Remote Login is on (port 22)",
        "Firewall: pf, in clawguard's own anchor",
        "Containers: colima (a Linux VM)",
        "pf built in",
        "SSH listens on port 22.",
        "Users with SSH keys: alice.",
    ] {
        assert!(s.contains(want), "{want}:\n{s}");
    }
    assert!(!s.contains("No firewall yet"), "{s}");
    t.keys(&["C-c"]);
    drop(t);
    assert_eq!(common::fingerprint(root.path()), before, "a dry run writes nothing");
}

/// launchctl as Apple's launchd behaves and as others hit it (tuist/tuist#10143,
/// DeterminateSystems/nix-installer#1157): `bootout` returns before launchd has let the
/// label go; until then `print` still finds it and `bootstrap` fails with "5: Input/output
/// error". Loading a daemon that is already loaded (what the second apply that changes it
/// does) must wait for launchd, not roll the apply back.
#[test]
fn loading_a_daemon_again_waits_for_launchd_to_let_the_old_one_go() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    fs::create_dir_all(&bin).unwrap();
    let state = dir.path().join("state");
    fs::create_dir_all(&state).unwrap();
    let script = format!(
        r#"#!/bin/sh
# A stand-in for macOS's launchctl(1): `bootout` frees the label 1.5 s later.
S={s}
now() {{ date +%s%3N; }}
gone() {{ [ ! -f $S/loaded ] && {{ [ ! -f $S/freed_at ] || [ $(now) -ge $(cat $S/freed_at) ]; }}; }}
echo "$*" >> $S/calls
case "$1" in
  print) gone && {{ echo "Could not find service \"$2\" in domain for system" >&2; exit 113; }}; echo "state = running"; exit 0 ;;
  bootout) rm -f $S/loaded; echo $(( $(now) + 1500 )) > $S/freed_at; exit 0 ;;
  bootstrap) gone || {{ echo "Bootstrap failed: 5: Input/output error" >&2; exit 5; }}; touch $S/loaded; exit 0 ;;
  *) echo "not in this test: $*" >&2; exit 99 ;;
esac
"#,
        s = state.display()
    );
    let launchctl = bin.join("launchctl");
    fs::write(&launchctl, script).unwrap();
    fs::set_permissions(&launchctl, fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let load = || {
        common::cli::command(&[])
            .args(["launchd", "load", "/Library/LaunchDaemons/com.clawguard.pf.plist"])
            .env("PATH", &path)
            .output()
            .unwrap()
    };
    // First load: nothing to let go.
    let o = load();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Again, as a second apply does: bootout, wait until launchd lets go, bootstrap.
    let t = std::time::Instant::now();
    let o = load();
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(t.elapsed() >= std::time::Duration::from_millis(1400), "it did not wait for launchd");
    let calls = fs::read_to_string(state.join("calls")).unwrap();
    let after_bootout = calls.split("bootout").nth(1).unwrap();
    assert!(after_bootout.lines().filter(|l| l.starts_with("print")).count() >= 2, "{calls}");
    assert!(state.join("loaded").exists(), "{calls}");
}
