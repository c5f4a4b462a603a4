//! The real binary as root inside a Mac-shaped root (see `common::macroot`: chroot, no
//! /proc, Apple's tools as stand-ins that behave as Apple's documentation and public
//! reports say): the user's whole path — `sudo clawguard apply`, confirm from a new login,
//! a second apply that changes a daemon, rollback, uninstall — on macOS 14, 15 and 26.

mod common;

use std::process::{Command, Output};

use common::macroot::{MacRoot, Release, Start};

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn ok(o: Output, what: &str) -> String {
    let t = text(&o);
    assert!(o.status.success(), "{what} failed ({:?}):\n{t}", o.status);
    t
}

const ANSWERS: &str = "/var/root/answers.toml";

fn answers(mac: &MacRoot, check_time: &str) {
    std::fs::write(
        mac.path(ANSWERS),
        format!(
            "version = 1\nskip = [\"sandbox\", \"egress\", \"backup\"]\n[ssh]\nport = 2222\nallowed_users = [\"alice\"]\n[monitoring]\ncheck_time = \"{check_time}\"\n"
        ),
    )
    .unwrap();
}

fn apply(mac: &MacRoot) -> String {
    ok(mac.sudo(&["apply", "--yes", "--answers", ANSWERS, "--confirm-timeout", "600"]), "sudo clawguard apply")
}

/// Where the stand-ins say launchd listens (`lsof`, as clawguard asks it).
fn listening(mac: &MacRoot, port: u16) -> bool {
    let o =
        mac.run("/usr/bin:/bin:/usr/sbin:/sbin", "/usr/sbin/lsof", &["-nP", &format!("-iTCP:{port}"), "-sTCP:LISTEN"]);
    o.status.success()
}

fn disabled(mac: &MacRoot, label: &str) -> Option<bool> {
    let v = plist::Value::from_file(mac.path(clawguard::host::platform::LAUNCHD_DISABLED)).unwrap();
    v.as_dictionary().unwrap().get(label).and_then(plist::Value::as_boolean)
}

/// A snapshot of what the stand-ins hold that clawguard changes and must put back.
fn mac_state(mac: &MacRoot) -> Vec<(String, Option<String>)> {
    ["alf.state", "alf.stealth", "pmset.sleep", "pmset.autorestart", "softwareupdate", "disabled"]
        .iter()
        .map(|k| (k.to_string(), mac.state(k)))
        .collect()
}

#[test]
fn sequoia_the_users_whole_path_apply_confirm_change_a_daemon_rollback_uninstall() {
    // Remote Login on, the application firewall on (socketfilterfw's alone: macOS 15).
    let mac = MacRoot::new("macos-remote-login", Release::Sequoia, Start { alf: (1, false), filevault: true });
    assert!(!mac.path("/Library/Preferences/com.apple.alf.plist").exists());
    let before = mac_state(&mac);
    answers(&mac, "06:00");

    // 1. sudo clawguard apply: clawguard's sshd on 2222, Remote Login keeps 22 until confirmed.
    let out = apply(&mac);
    let calls = mac.calls();
    assert!(mac.loaded("com.clawguard.sshd") && listening(&mac, 2222), "{out}\n{calls}");
    assert!(mac.loaded("com.openssh.sshd") && listening(&mac, 22), "Remote Login keeps 22 until confirmed:\n{calls}");
    for label in ["com.clawguard.pf", "com.clawguard.pf-expire", "com.clawguard.check", "com.clawguard.secrets"] {
        assert!(mac.loaded(label), "{label}:\n{calls}");
        assert_eq!(
            mac.state(&format!("launchd/{label}.exit")),
            None,
            "{label} could not open its log (EX_CONFIG):\n{calls}"
        );
    }
    let logs = calls.find("install -d -m 0755 /var/log/clawguard").expect("the daemons' log directory is made");
    assert!(logs < calls.find("launchctl bootstrap").unwrap(), "made before the first daemon loads:\n{calls}");
    assert!(
        !calls.contains("socketfilterfw --setglobalstate"),
        "the firewall was on (socketfilterfw said so): left as it is:\n{calls}"
    );
    assert!(calls.contains("socketfilterfw --setstealthmode on"), "{calls}");
    assert_eq!(mac.state("alf.stealth").as_deref(), Some("1"));
    assert!(mac.state("pf/com.apple_clawguard.rules").is_some_and(|r| r.contains("2222")), "{calls}");
    // sshd's PATH over SSH has no /usr/local/bin: the way to confirm is said with the path.
    assert!(out.contains("sudo /usr/local/bin/clawguard confirm"), "{out}");

    // 2. confirm from a new login on 2222: Remote Login's port 22 off, now and after a restart.
    mac.clear_calls();
    let out = ok(mac.sudo_over_ssh("10.0.0.7", 2222, &["confirm"]), "confirm");
    assert!(!mac.loaded("com.openssh.sshd") && !listening(&mac, 22), "{out}\n{}", mac.calls());
    assert_eq!(disabled(&mac, "com.openssh.sshd"), Some(true), "{out}");
    assert!(listening(&mac, 2222));

    // 3. A second apply that changes a daemon (the daily check's time): launchd is given the
    // time it takes to let the old job go, and the apply does not roll back.
    answers(&mac, "07:30");
    mac.clear_calls();
    let out = apply(&mac);
    let calls = mac.calls();
    let after =
        calls.split("launchctl bootout system/com.clawguard.check").nth(1).unwrap_or_else(|| panic!("{out}\n{calls}"));
    assert!(
        after
            .lines()
            .take_while(|l| !l.starts_with("launchctl bootstrap"))
            .filter(|l| l.starts_with("launchctl print"))
            .count()
            >= 2,
        "{calls}"
    );
    assert!(mac.loaded("com.clawguard.check"), "{out}\n{calls}");
    assert!(mac.read("/Library/LaunchDaemons/com.clawguard.check.plist").contains("<integer>7</integer>"));

    // 4. rollback: the second apply; again: the move with what confirm completed of it.
    ok(mac.sudo(&["rollback"]), "rollback");
    assert!(mac.read("/Library/LaunchDaemons/com.clawguard.check.plist").contains("<integer>6</integer>"));
    mac.clear_calls();
    let out = ok(mac.sudo(&["rollback"]), "rollback of the move");
    assert!(
        !mac.loaded("com.clawguard.sshd") && !listening(&mac, 2222),
        "one rollback after confirm takes the move back:\n{out}\n{}",
        mac.calls()
    );
    assert!(mac.loaded("com.openssh.sshd") && listening(&mac, 22), "{out}\n{}", mac.calls());
    assert_eq!(mac_state(&mac), before, "{out}\n{}", mac.calls());
    assert_eq!(mac.state("alf.state").as_deref(), Some("1"), "a firewall that was on stays on");

    // 5. Apply again, confirm, then uninstall: the Mac is as it was.
    answers(&mac, "06:00");
    apply(&mac);
    ok(mac.sudo_over_ssh("10.0.0.7", 2222, &["confirm"]), "confirm");
    let out = ok(mac.sudo(&["uninstall", "--yes"]), "uninstall");
    let out = if !mac.loaded("com.openssh.sshd") || mac.loaded("com.clawguard.sshd") {
        // SSH goes back to port 22 first, proven from a new login there.
        ok(mac.sudo_over_ssh("10.0.0.7", 22, &["confirm"]), &format!("confirm of the uninstall after:\n{out}"))
    } else {
        out
    };
    let calls = mac.calls();
    assert!(mac.loaded("com.openssh.sshd") && listening(&mac, 22), "{out}\n{calls}");
    for label in [
        "com.clawguard.sshd",
        "com.clawguard.pf",
        "com.clawguard.pf-expire",
        "com.clawguard.check",
        "com.clawguard.secrets",
    ] {
        assert!(!mac.loaded(label), "{label} is still loaded:\n{out}\n{calls}");
        assert!(!mac.path(&format!("/Library/LaunchDaemons/{label}.plist")).exists(), "{label}");
    }
    assert!(mac.state("pf/com.apple_clawguard.rules").is_none(), "{calls}");
    assert_eq!(mac_state(&mac), before, "{out}\n{calls}");
}

/// macOS 26 with FileVault on: Remote Login is what unlocks FileVault over SSH before
/// login (apple_ssh_and_filevault(7)), so confirm keeps it; pf blocks 22 while macOS runs.
/// With FileVault off it is turned off as on macOS 15.
#[test]
fn tahoe_with_filevault_keeps_remote_login_for_the_unlock_before_login_and_pf_blocks_22() {
    let mac = MacRoot::new("macos-remote-login", Release::Tahoe, Start { alf: (1, true), filevault: true });
    let before = mac_state(&mac);
    answers(&mac, "06:00");
    apply(&mac);
    let plan = text(&mac.sudo(&["plan", "--answers", ANSWERS]));
    assert!(plan.contains("Remote Login stays on") && plan.contains("apple_ssh_and_filevault(7)"), "{plan}");
    let out = ok(mac.sudo_over_ssh("10.0.0.7", 2222, &["confirm"]), "confirm");
    let calls = mac.calls();
    assert!(mac.loaded("com.openssh.sshd"), "{out}\n{calls}");
    assert_eq!(
        disabled(&mac, "com.openssh.sshd"),
        Some(false),
        "Remote Login stays enabled for the next boot:\n{calls}"
    );
    let rules = mac.state("pf/com.apple_clawguard.rules").unwrap();
    assert!(rules.contains("port 2222") || rules.contains("port = 2222"), "{rules}");
    assert!(
        !rules.contains("port 22 ")
            && !rules.contains("port = 22 ")
            && !rules.lines().any(|l| l.trim_end().ends_with("port 22") || l.trim_end().ends_with("port = 22")),
        "pf lets 22 in no more:\n{rules}"
    );
    // A second apply, over SSH as the admin now logs in, does not see port 22 as the way
    // in: no new move to confirm.
    answers(&mac, "07:30");
    let out = ok(
        mac.sudo_over_ssh("10.0.0.7", 2222, &["apply", "--yes", "--answers", ANSWERS, "--confirm-timeout", "600"]),
        "the second apply",
    );
    assert!(!out.contains("confirm within"), "{out}");
    ok(mac.sudo(&["uninstall", "--yes"]), "uninstall");
    assert!(mac.loaded("com.openssh.sshd") && !mac.loaded("com.clawguard.sshd"), "{}", mac.calls());
    assert_eq!(mac_state(&mac), before, "{}", mac.calls());

    // FileVault off: nothing to unlock before login, Remote Login is turned off as on 15.
    let mac = MacRoot::new("macos-remote-login", Release::Tahoe, Start { alf: (1, true), filevault: false });
    answers(&mac, "06:00");
    apply(&mac);
    ok(mac.sudo_over_ssh("10.0.0.7", 2222, &["confirm"]), "confirm");
    assert!(!mac.loaded("com.openssh.sshd") && disabled(&mac, "com.openssh.sshd") == Some(true), "{}", mac.calls());
}

/// The application firewall put back as it was: on macOS 14 from com.apple.alf.plist (and
/// socketfilterfw keeps it there), on a fresh macOS 15 from socketfilterfw alone — off
/// before, turned on, off again after the rollback.
#[test]
fn the_application_firewall_is_read_where_each_release_keeps_it_and_put_back_as_it_was() {
    let mac = MacRoot::new("macos-remote-login", Release::Sonoma, Start::default());
    let alf = || plist::Value::from_file(mac.path(clawguard::host::platform::ALF)).unwrap();
    let get = |k: &str| alf().as_dictionary().unwrap().get(k).and_then(plist::Value::as_signed_integer);
    assert_eq!((get("globalstate"), get("stealthenabled")), (Some(1), Some(0)));
    answers(&mac, "06:00");
    apply(&mac);
    let calls = mac.calls();
    assert!(!calls.contains("socketfilterfw --get"), "macOS 14 keeps it in the plist, read there:\n{calls}");
    assert!(!calls.contains("--setglobalstate") && calls.contains("--setstealthmode on"), "{calls}");
    assert_eq!(get("stealthenabled"), Some(1));
    ok(mac.sudo(&["rollback"]), "rollback");
    assert_eq!((get("globalstate"), get("stealthenabled")), (Some(1), Some(0)), "{}", mac.calls());

    // A fresh Mac on 15: Remote Login off, the firewall off.
    let mac = MacRoot::new("macos-fresh", Release::Sequoia, Start { alf: (0, false), filevault: true });
    let before = mac_state(&mac);
    answers(&mac, "06:00");
    let out = apply(&mac);
    let calls = mac.calls();
    assert!(
        calls.contains("socketfilterfw --getglobalstate") && calls.contains("socketfilterfw --setglobalstate on"),
        "{out}\n{calls}"
    );
    assert_eq!(mac.state("alf.state").as_deref(), Some("1"));
    assert!(mac.loaded("com.clawguard.sshd") && !mac.loaded("com.openssh.sshd"), "{calls}");
    ok(mac.sudo(&["rollback"]), "rollback");
    assert_eq!(mac_state(&mac), before, "{}", mac.calls());
    assert!(!mac.loaded("com.clawguard.sshd"), "{}", mac.calls());
}

/// colima's engine listens in its user's home (colima's FAQ: `~/.colima/default/docker.sock`,
/// no /var/run/docker.sock): every engine command of `sudo clawguard` is pointed there, the
/// proxy's config is checked without a bind mount colima's VM would not see, and the agent's
/// layers apply. Without the socket (colima not started) the plan says so, and the apply
/// leaves the agent's layers out with what to do.
#[test]
fn colima_every_engine_command_reaches_the_socket_in_its_users_home() {
    let mac = MacRoot::new("macos-remote-login", Release::Sequoia, Start::default());
    std::fs::write(
        mac.path(ANSWERS),
        "version = 1\nskip = [\"backup\"]\n[ssh]\nport = 2222\nallowed_users = [\"alice\"]\n",
    )
    .unwrap();
    mac.start_colima(501, "/Users/alice");
    // colima not started: no socket.
    std::fs::remove_file(mac.path("/Users/alice/.colima/default/docker.sock")).unwrap();
    let plan = text(&mac.sudo(&["plan", "--answers", ANSWERS]));
    assert!(
        plan.contains("colima does not seem to be running") && plan.contains("`colima start` as its user"),
        "{plan}"
    );
    // The engine does not answer: the agent's layers are left out with what to do, the rest applies.
    let o = mac.sudo(&["apply", "--yes", "--answers", ANSWERS, "--confirm-timeout", "600"]);
    let out = text(&o);
    assert!(
        !o.status.success() && out.contains("NOT APPLIED: 1. Agent sandbox") && out.contains("start your runtime"),
        "{out}"
    );
    assert!(!mac.path("/opt/clawguard/agent/docker-compose.yml").exists(), "{out}");
    ok(mac.sudo_over_ssh("10.0.0.7", 2222, &["confirm"]), "confirm");

    mac.start_colima(501, "/Users/alice");
    mac.clear_calls();
    let plan = text(&mac.sudo(&["plan", "--answers", ANSWERS]));
    assert!(plan.contains("colima's engine listens at /Users/alice/.colima/default/docker.sock"), "{plan}");
    let out = apply(&mac);
    let calls = mac.calls();
    let engine: Vec<&str> = calls.lines().filter(|l| l.starts_with("docker")).collect();
    assert!(engine.iter().any(|l| l.contains(" up -d")), "the agent's project came up:\n{out}\n{calls}");
    for l in &engine {
        assert!(l.ends_with("[DOCKER_HOST=unix:///Users/alice/.colima/default/docker.sock]"), "{l}");
    }
    assert!(
        engine.iter().any(|l| l.contains("--entrypoint squid") && l.contains("-f /dev/stdin") && !l.contains(" -v ")),
        "{calls}"
    );
    assert!(mac.loaded("com.clawguard.colima"), "{calls}");

    // colima's VM reads what it shares as alice, who runs it: the agent's files are hers,
    // and the agent runs as her uid inside the VM.
    for dir in ["/opt/openclaw/state", "/opt/openclaw/workspace", "/var/log/clawguard-agent"] {
        assert!(
            calls.lines().any(|l| l.starts_with("install -d") && l.contains("-o 501 -g 20") && l.ends_with(dir)),
            "{dir}:\n{calls}"
        );
    }
    assert!(plan.contains("the agent's files are alice's (uid 501), who runs colima"), "{plan}");
    let compose = mac.read("/opt/clawguard/agent/docker-compose.yml");
    assert!(compose.contains("501:20"), "{compose}");
    assert!(!compose.contains("64000"), "{compose}");
    // Bind sources as the Mac resolves them (Docker Desktop compares them literally).
    assert!(
        compose.contains("/private/var/log/clawguard-agent:")
            && compose.contains("/private/var/run/clawguard/secrets/"),
        "{compose}"
    );
    assert!(!compose.contains("\"/var/") && !compose.contains("- /var/"), "{compose}");
    use std::os::unix::fs::MetadataExt;
    let secrets: Vec<_> = std::fs::read_dir(mac.path("/var/run/clawguard/secrets")).unwrap().flatten().collect();
    assert!(!secrets.is_empty(), "the gateway's key is unlocked for the agent");
    for e in secrets {
        assert_eq!(e.metadata().unwrap().uid(), 501, "{:?}", e.path());
    }
    // colima's LaunchDaemon: alice's HOME and working directory, the secrets mounted, run
    // once at boot (never respawned: abiosoft/colima#1490).
    let daemon = plist::Value::from_file(mac.path("/Library/LaunchDaemons/com.clawguard.colima.plist")).unwrap();
    let d = daemon.as_dictionary().unwrap();
    assert_eq!(d.get("UserName").and_then(plist::Value::as_string), Some("alice"));
    assert_eq!(d.get("WorkingDirectory").and_then(plist::Value::as_string), Some("/Users/alice"));
    let env = d.get("EnvironmentVariables").and_then(plist::Value::as_dictionary).unwrap();
    assert_eq!(env.get("HOME").and_then(plist::Value::as_string), Some("/Users/alice"));
    assert!(d.get("KeepAlive").is_none());
    let argv: Vec<&str> = d
        .get("ProgramArguments")
        .and_then(plist::Value::as_array)
        .unwrap()
        .iter()
        .filter_map(plist::Value::as_string)
        .collect();
    assert!(argv.windows(2).any(|w| w == ["--mount", "/private/var/run/clawguard/secrets"]), "{argv:?}");
    assert!(argv.windows(2).any(|w| w == ["--mount", "/private/var/log/clawguard-agent:w"]), "{argv:?}");
}

/// After a power cut colima's Lima instance still has its pid files and sockets from before
/// the boot, and `colima start` fails on them every time (abiosoft/colima#381). The boot
/// daemon's `clawguard launchd colima-start`, run as colima's user, removes what is older
/// than the boot — nothing newer — then runs colima in its place.
#[test]
fn colima_at_boot_removes_what_a_power_cut_left_and_nothing_newer() {
    use std::os::unix::fs::PermissionsExt;
    let mac = MacRoot::new("macos-remote-login", Release::Sequoia, Start::default());
    let colima = mac.path("/opt/homebrew/bin/colima");
    std::fs::write(&colima, common::standins::COLIMA).unwrap();
    std::fs::set_permissions(&colima, std::fs::Permissions::from_mode(0o755)).unwrap();
    let lima = mac.path("/Users/alice/.colima/_lima/colima");
    std::fs::create_dir_all(&lima).unwrap();
    for f in ["ha.pid", "ha.sock", "vz.pid", "ha.stderr.log"] {
        std::fs::write(lima.join(f), "789\n").unwrap();
    }
    // From before the boot (ten minutes ago): an hour old. The VM's log is not runtime state.
    for f in ["ha.pid", "ha.sock", "ha.stderr.log"] {
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        std::fs::File::options().write(true).open(lima.join(f)).unwrap().set_modified(old).unwrap();
    }
    let out = Command::new("chown").args(["-R", "501:20"]).arg(mac.path("/Users/alice/.colima")).output().unwrap();
    assert!(out.status.success());
    let argv = ["launchd", "colima-start", "/opt/homebrew/bin/colima", "start", "--foreground"];
    // colima alone fails on the stale socket, as after a real power cut.
    let o = mac.run_as(501, 20, "/Users/alice", "/opt/homebrew/bin/colima", &argv[3..]);
    assert!(!o.status.success() && text(&o).contains("ha.sock"), "{}", text(&o));
    let out = ok(mac.run_as(501, 20, "/Users/alice", "/usr/local/bin/clawguard", &argv), "colima-start");
    assert!(
        out.contains("removed /Users/alice/.colima/_lima/colima/ha.sock") && out.contains("INFO[0000] starting colima"),
        "{out}"
    );
    assert!(!lima.join("ha.pid").exists() && !lima.join("ha.sock").exists());
    assert!(lima.join("vz.pid").exists(), "newer than the boot: left alone");
    assert!(lima.join("ha.stderr.log").exists(), "not runtime state: left alone");
    let calls = mac.calls();
    assert!(calls.contains("colima start --foreground [HOME=/Users/alice uid=501]"), "{calls}");
}
