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
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use clawguard::answers::Answers;
use clawguard::host::platform::{DockerRuntime, Platform};
use clawguard::layers::{self, launchd, pf};
use clawguard::plan::{Plan, Stage, Validator};

/// A copy of a macOS fixture with the owners and modes a Mac has (git keeps neither).
fn mac(name: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix(&format!("clawguard-{name}-")).tempdir().unwrap();
    common::copy_tree(&common::fixtures().join(name), dir.path());
    let chown = |p: &str, uid: u32, gid: u32| {
        let out = Command::new("chown").args(["-R", &format!("{uid}:{gid}")]).arg(dir.path().join(p)).output().unwrap();
        assert!(out.status.success(), "chown {p}: {}", String::from_utf8_lossy(&out.stderr));
    };
    chown("Users/alice", 501, 20);
    chown("opt/homebrew", 501, 80);
    let mode = |p: &str, m: u32| fs::set_permissions(dir.path().join(p), fs::Permissions::from_mode(m)).unwrap();
    mode("Users/alice", 0o750);
    mode("Users/alice/.ssh", 0o700);
    mode("Users/alice/.ssh/authorized_keys", 0o600);
    mode("private/var/db/dslocal", 0o700);
    dir
}

fn facts(root: &Path, ssh: Option<&str>) -> clawguard::host::Facts {
    common::facts(root, ssh)
}

fn defaults() -> Answers {
    Answers::defaults_for(clawguard::target::Kind::MacOs)
}

fn answers(toml: &str) -> Answers {
    let mut a = defaults();
    let parsed = Answers::parse(&format!("version = 1\n{toml}"), "test").unwrap();
    // The sandbox's paths stay the Mac's defaults unless the snippet sets them.
    if !toml.contains("state_dir") {
        let mut p = parsed;
        p.sandbox.state_dir = a.sandbox.state_dir.clone();
        p.sandbox.workspace = a.sandbox.workspace.clone();
        p.sandbox.config_dir = a.sandbox.config_dir.clone();
        a = p;
    } else {
        a = parsed;
    }
    a
}

fn file<'a>(plan: &'a Plan, path: &str) -> &'a str {
    &plan.file(path).unwrap_or_else(|| panic!("{path} is not in the plan: {:?}", paths(plan))).content
}

fn paths(plan: &Plan) -> Vec<&str> {
    plan.files.iter().map(|f| f.path.as_str()).collect()
}

fn commands(plan: &Plan) -> Vec<String> {
    plan.commands.iter().map(|c| c.argv.join(" ")).collect()
}

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

/// A plan's report in which every file is unchanged.
fn no_file_changes(report: &str) -> bool {
    report.contains("(unchanged)") && !report.contains("(new file") && !report.contains("(changed")
}

fn file_contains(p: &Path, needle: &str) -> bool {
    fs::read_to_string(p).is_ok_and(|t| t.contains(needle))
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
            "/opt/clawguard/agent/squid.conf",
            "api.example.org",
            "/opt/clawguard/agent/squid.conf",
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
