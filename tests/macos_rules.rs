//! macOS's own formats, on fixture roots of a Mac's layout: each LaunchDaemon through two
//! property-list parsers and the keys launchd needs, pf's rules through the grammar
//! checker with the ports, limits and trusted addresses the answers give, and a pf.conf
//! an OS update reset. The rest of the Mac's path is `tests/macos.rs`.

mod common;

use common::cli::{self, run};
use common::macfixture::{answers, commands, facts, file, file_contains, mac, no_file_changes};
use std::fs;
use std::process::Command;

use clawguard::host::platform::Platform;
use clawguard::layers::{self, launchd, pf};
use clawguard::plan::{Stage, Validator};

#[test]
fn every_launch_daemon_parses_and_has_what_launchd_needs() {
    let root = mac("macos-remote-login");
    let a = answers(
        "[backup]\ndestination = \"sftp:backup@backup.example.net:/srv/restic/mac\"\n[monitoring]\ncheck_time = \"05:45\"\n",
    );
    let plan = layers::plan(&a, &facts(root.path(), None)).unwrap();
    let daemons: Vec<_> = plan.files.iter().filter(|f| f.path.starts_with("/Library/LaunchDaemons/")).collect();
    let labels: Vec<&str> = daemons.iter().map(|f| f.path.rsplit('/').next().unwrap()).collect();
    for want in ["sshd", "pf", "pf-expire", "check", "backup", "secrets", "colima"] {
        assert!(labels.contains(&format!("com.clawguard.{want}.plist").as_str()), "{want}: {labels:?}");
    }
    let mut python_checked = String::new();
    for f in &daemons {
        assert_eq!(f.validator, Some(Validator::Launchd), "{}", f.path);
        assert_eq!(f.mode, 0o644, "launchd refuses a plist others may write: {}", f.path);
        launchd::lint(&f.path, &f.content).unwrap_or_else(|e| panic!("{}: {e}", f.path));
        let v = plist::Value::from_reader_xml(f.content.as_bytes()).unwrap();
        let d = v.as_dictionary().unwrap();
        assert!(matches!(d["ProcessType"].as_string(), Some("Background" | "Interactive")), "{}", f.path);
        assert!(
            d["EnvironmentVariables"].as_dictionary().unwrap()["PATH"]
                .as_string()
                .unwrap()
                .contains("/opt/homebrew/bin")
        );
        // A second, independent parser: Python's plistlib (what macOS tooling also reads).
        let py = Command::new("python3")
            .args(["-c", "import plistlib,sys; d=plistlib.loads(sys.stdin.buffer.read()); print(d['Label'], d['UserName'], len(d['ProgramArguments']))"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("python3 is needed for this test (scripts/test installs it)");
        use std::io::Write;
        py.stdin.as_ref().unwrap().write_all(f.content.as_bytes()).unwrap();
        let out = py.wait_with_output().unwrap();
        assert!(out.status.success(), "plistlib refused {}: {}", f.path, String::from_utf8_lossy(&out.stderr));
        python_checked.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    assert!(
        python_checked.contains("com.clawguard.colima alice 18"),
        "colima runs as Homebrew's owner, with each mount: {python_checked}"
    );
    assert!(python_checked.contains("com.clawguard.check root 4"), "{python_checked}");
    let get = |label: &str| {
        let f = daemons.iter().find(|f| f.path.ends_with(&format!("{label}.plist"))).unwrap();
        plist::Value::from_reader_xml(f.content.as_bytes()).unwrap().into_dictionary().unwrap()
    };
    let check = get("com.clawguard.check");
    let at = check["StartCalendarInterval"].as_dictionary().unwrap();
    assert_eq!((at["Hour"].as_signed_integer(), at["Minute"].as_signed_integer()), (Some(5), Some(45)));
    let sshd = get("com.clawguard.sshd");
    let listener = sshd["Sockets"].as_dictionary().unwrap()["Listeners"].as_dictionary().unwrap();
    assert_eq!(listener["SockServiceName"].as_string(), Some("2222"));
    assert_eq!(
        sshd["ProgramArguments"].as_array().unwrap().iter().map(|v| v.as_string().unwrap()).collect::<Vec<_>>(),
        ["/usr/sbin/sshd", "-i"]
    );
    assert_eq!(sshd["inetdCompatibility"].as_dictionary().unwrap()["Wait"].as_boolean(), Some(false));
    assert_eq!(get("com.clawguard.secrets")["RunAtLoad"].as_boolean(), Some(true));
    assert_eq!(get("com.clawguard.pf-expire")["StartInterval"].as_signed_integer(), Some(60));
    // Started once at boot through clawguard (stale runtime files first), never respawned
    // (a failing start kept alive leaks limactl processes: abiosoft/colima#1490).
    let colima = get("com.clawguard.colima");
    assert!(colima.get("KeepAlive").is_none(), "{colima:?}");
    assert_eq!(colima["RunAtLoad"].as_boolean(), Some(true));
    let argv: Vec<&str> = colima["ProgramArguments"].as_array().unwrap().iter().filter_map(|v| v.as_string()).collect();
    assert_eq!(
        argv[..6],
        ["/usr/local/bin/clawguard", "launchd", "colima-start", "/opt/homebrew/bin/colima", "start", "--foreground"]
    );
    // Each one is loaded through clawguard's own helper, and unloaded by a rollback.
    for f in &daemons {
        let c = plan
            .commands
            .iter()
            .find(|c| c.when_changed.contains(&f.path) && c.argv.get(1).map(String::as_str) == Some("launchd"))
            .unwrap_or_else(|| panic!("nothing loads {}", f.path));
        assert_eq!(c.argv, ["/usr/local/bin/clawguard", "launchd", "load", f.path.as_str()]);
        let label = f.path.rsplit('/').next().unwrap().trim_end_matches(".plist");
        assert_eq!(c.undo.as_deref().unwrap(), ["/usr/local/bin/clawguard", "launchd", "unload", label]);
    }
}

#[test]
fn pf_rules_parse_and_carry_the_ports_the_limits_and_the_trusted_addresses() {
    let root = mac("macos-remote-login");
    let a = answers(
        "[ssh]\nport = 2200\n[firewall]\nextra_ports = [443]\n[fail2ban]\nbantime = 7200\nignoreip = [\"203.0.113.0/24\"]\n",
    );
    let f = facts(root.path(), Some("198.51.100.7 50000 192.0.2.10 22"));
    let during = layers::plan_for(&a, &f, Stage::Move).unwrap();
    let after = layers::plan_for(&a, &f, Stage::Complete).unwrap();
    for plan in [&during, &after] {
        let rules = file(plan, pf::ANCHOR_FILE);
        assert_eq!(plan.file(pf::ANCHOR_FILE).unwrap().validator, Some(Validator::Pf));
        let n = pf::check(rules).unwrap_or_else(|e| panic!("{e}\n{rules}"));
        assert!(n >= 10, "{rules}");
        assert!(
            rules.contains("table <clawguard_trusted> persist { 127.0.0.0/8, ::1, 203.0.113.0/24, 198.51.100.7 }"),
            "{rules}"
        );
        assert!(rules.contains("pass in quick proto tcp from any to any port 2200 flags S/SA keep state (max-src-conn-rate 6/30, overload <clawguard_abuse> flush global)"), "{rules}");
        assert!(rules.contains("pass in quick proto tcp from any to any port 443 flags S/SA keep state\n"), "{rules}");
        assert!(
            rules.find("block drop in quick from <clawguard_abuse>").unwrap()
                < rules.find("block drop in all").unwrap()
        );
    }
    // Port 22 stays open while the move waits for its confirmation, and only then.
    // Without state: a session open on it before pf was enabled (pf has no state for it,
    // and a stateful rule matches only a connection's first packet) goes on.
    assert!(
        file(&during, pf::ANCHOR_FILE).contains("pass in quick proto tcp from any to any port 22 no state\n"),
        "{}",
        file(&during, pf::ANCHOR_FILE)
    );
    assert!(!file(&after, pf::ANCHOR_FILE).contains("port 22 "));
    // The admin's address (trusted) reaches the new port the same way: the SSH session
    // that applies keeps flowing when pf is first enabled.
    assert!(
        file(&after, pf::ANCHOR_FILE)
            .contains("pass in quick proto tcp from <clawguard_trusted> to any port 2200 no state\n")
    );
    let expire =
        plist::Value::from_reader_xml(file(&after, "/Library/LaunchDaemons/com.clawguard.pf-expire.plist").as_bytes())
            .unwrap();
    let argv: Vec<&str> = expire.as_dictionary().unwrap()["ProgramArguments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_string().unwrap())
        .collect();
    assert_eq!(argv, ["/sbin/pfctl", "-a", "com.apple/clawguard", "-t", "clawguard_abuse", "-T", "expire", "7200"]);
    // Loaded now (undone by flushing the anchor), and at every boot by its LaunchDaemon.
    let load = after.commands.iter().find(|c| c.argv.first().map(String::as_str) == Some("/sbin/pfctl")).unwrap();
    assert_eq!(load.argv, ["/sbin/pfctl", "-E", "-a", "com.apple/clawguard", "-f", pf::ANCHOR_FILE]);
    assert_eq!(load.undo.as_deref().unwrap(), ["/sbin/pfctl", "-a", "com.apple/clawguard", "-F", "all"]);
    // The application firewall is on already here; stealth mode is not.
    let cmds = commands(&after);
    assert!(!cmds.iter().any(|c| c.contains("--setglobalstate")), "{cmds:?}");
    assert!(cmds.iter().any(|c| c.ends_with("socketfilterfw --setstealthmode on")), "{cmds:?}");
    // macOS's point releases too, not only the security responses (mSCP, CIS 1.4).
    assert!(
        cmds.iter().any(|c| c.contains("com.apple.SoftwareUpdate.plist AutomaticallyInstallMacOSUpdates -bool true")),
        "{cmds:?}"
    );
    // Off: turned on, and back off by a rollback. "Block all incoming" (2) is stronger
    // than on: left as it is, never weakened.
    let mut f = f;
    let Platform::MacOs(m) = &mut f.platform else { unreachable!() };
    m.alf_state = Some(0);
    let plan = layers::plan_for(&a, &f, Stage::Complete).unwrap();
    let on = plan.commands.iter().find(|c| c.argv.iter().any(|x| x == "--setglobalstate")).expect("turned on");
    assert_eq!(on.undo.as_ref().unwrap().last().map(String::as_str), Some("off"));
    let Platform::MacOs(m) = &mut f.platform else { unreachable!() };
    m.alf_state = Some(2);
    let plan = layers::plan_for(&a, &f, Stage::Complete).unwrap();
    assert!(!commands(&plan).iter().any(|c| c.contains("--setglobalstate")), "{:?}", commands(&plan));
    // launchd will not start a job whose log file cannot be opened: the directory first.
    let cmds = commands(&plan);
    let mkdir =
        cmds.iter().position(|c| c == "install -d -m 0755 /var/log/clawguard").expect("the log directory is made");
    let first_load = cmds.iter().position(|c| c.contains(" launchd load ")).expect("a daemon is loaded");
    assert!(mkdir < first_load, "{cmds:?}");
    // macOS 15 keeps the state out of com.apple.alf.plist: unread, it is turned on, and a
    // rollback does not turn off a firewall that may have been on.
    let Platform::MacOs(m) = &mut f.platform else { unreachable!() };
    (m.alf_state, m.alf_stealth) = (None, None);
    let plan = layers::plan_for(&a, &f, Stage::Complete).unwrap();
    for flag in ["--setglobalstate", "--setstealthmode"] {
        let on = plan.commands.iter().find(|c| c.argv.iter().any(|x| x == flag)).expect("turned on");
        assert_eq!(on.undo, None, "{flag}: a rollback would turn off what may have been on");
    }
    assert!(
        plan.warnings.iter().any(|w| w.text.contains("could not be read (not in com.apple.alf.plist since macOS 15"))
    );
    // What socketfilterfw prints, as people see it on macOS 14/15 and 26.
    use clawguard::host::platform::{alf_global_state, alf_stealth};
    assert_eq!(alf_global_state("Firewall is enabled. (State = 1)\n"), Some(1));
    assert_eq!(alf_global_state("Firewall is disabled. (State = 0)\n"), Some(0));
    assert_eq!(alf_global_state("Firewall is blocking all non-essential incoming connections. (State = 2)"), Some(2));
    assert_eq!(alf_global_state("garbage"), None);
    assert_eq!(alf_stealth("Firewall stealth mode is on\n"), Some(true));
    assert_eq!(alf_stealth("Stealth mode disabled\n"), Some(false));
    assert_eq!(alf_stealth(""), None);
}

#[test]
fn a_pf_conf_reset_by_an_update_keeps_clawguards_rules_and_one_without_apples_anchor_is_refused() {
    let root = mac("macos-remote-login");
    let r = root.path().to_str().unwrap();
    let o = run(&["apply", "--yes", "--root", r]);
    assert!(o.status.success(), "{}", cli::text(&o));
    // An update puts macOS's own pf.conf back (someone had added a line to it).
    let conf = root.path().join("private/etc/pf.conf");
    let apple = fs::read_to_string(&conf).unwrap();
    fs::write(&conf, format!("{apple}pass in all\n")).unwrap();
    fs::write(&conf, &apple).unwrap();
    let o = run(&["plan", "--root", r, "--no-color"]);
    assert!(no_file_changes(&cli::text(&o)), "nothing to redo after pf.conf was reset: {}", cli::text(&o));
    // A pf.conf that does not evaluate com.apple/* would load the rules and never use them.
    fs::write(&conf, apple.replace("anchor \"com.apple/*\"\n", "")).unwrap();
    let answers = root.path().join("a.toml");
    fs::write(&answers, "version = 1\n[sandbox]\nstate_dir = \"/opt/openclaw/state\"\nworkspace = \"/opt/openclaw/workspace\"\nconfig_dir = \"/opt/openclaw/config\"\n[firewall]\nextra_ports = [443]\n").unwrap();
    let o = run(&["apply", "--yes", "--root", r, "--answers", answers.to_str().unwrap()]);
    let t = cli::text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(t.contains("/etc/pf.conf does not evaluate `anchor \"com.apple/*\"`"), "{t}");
    assert!(
        !file_contains(&root.path().join("private/etc/pf.anchors/com.clawguard"), "port 443"),
        "nothing written on a refusal"
    );
}
