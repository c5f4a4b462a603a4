//! The apply engine on temporary roots, backward: `rollback`, the automatic rollback of an
//! unconfirmed change, `confirm` from a new login, a kill between any two steps undone by
//! the watchdog alone, damaged records as loud errors, and what `status` says of each.
//! Commands go to a recording runner (`common::rig`).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::cli::{self, run, run_env};
use common::rig::{Rig, Tools, log_of, recording_runner, rendered, rig, s, wrapped_runner};

#[test]
fn rollback_returns_to_the_previous_generation() {
    let root = common::fixture_root("debian12-cloud");
    assert!(run(&["apply", "--yes", "--root", s(root.path())]).status.success());
    let first = rendered(root.path());
    let work = tempfile::tempdir().unwrap();
    let answers = work.path().join("a.toml");
    fs::write(&answers, "version = 1\n[ssh]\nport = 2200\n").unwrap();
    assert!(run(&["apply", "--yes", "--root", s(root.path()), "--answers", s(&answers)]).status.success());
    let dropin = root.path().join("etc/ssh/sshd_config.d/00-clawguard.conf");
    assert!(fs::read_to_string(&dropin).unwrap().contains("Port 2200"));
    let kept = || clawguard::answers::Answers::load(&root.path().join("etc/clawguard/answers.toml")).unwrap();
    assert_eq!(kept().ssh.port.get(), 2200);
    let o = run(&["rollback", "--root", s(root.path())]);
    assert!(o.status.success(), "{}", cli::text(&o));
    // The answers went back with what they describe.
    assert_eq!(kept().ssh.port.get(), 2222, "after the rollback the answers describe what was rolled back");
    assert!(cli::text(&o).contains("restored /etc/ssh/sshd_config.d/00-clawguard.conf"), "{}", cli::text(&o));
    assert_eq!(rendered(root.path()), first);
    let status = cli::text(&run(&["status", "--root", s(root.path())]));
    assert!(status.contains("generation 2 (rolled back"), "{status}");
}

#[test]
fn an_unconfirmed_change_rolls_back_by_itself() {
    let Rig { root, work, runner } = rig(Tools::None);
    let before = rendered(root.path());
    let t0 = Instant::now();
    let o = run_env(
        &["apply", "--yes", "--confirm-timeout", "2", "--runner", s(&runner), "--root", s(root.path())],
        &[("SSH_CONNECTION", "198.51.100.7 50000 10.0.0.5 22")],
    );
    assert!(o.status.success(), "{}", cli::text(&o));
    assert!(cli::text(&o).contains("sudo clawguard confirm") && cli::text(&o).contains("-p 2222"), "{}", cli::text(&o));
    let dropin = root.path().join("etc/ssh/sshd_config.d/00-clawguard.conf");
    let interim = fs::read_to_string(&dropin).unwrap();
    assert!(
        interim.contains("Port 2222\n") && interim.contains("\nPort 22\n"),
        "the old port stays during the move: {interim}"
    );
    assert!(cli::text(&run(&["status", "--root", s(root.path())])).contains("WAITING FOR CONFIRMATION"));

    common::wait("the automatic rollback", 20, || rendered(root.path()) == before);
    assert!(t0.elapsed() >= Duration::from_secs(2), "rolled back before the deadline");
    common::wait("the rollback record", 10, || root.path().join("var/lib/clawguard/last-rollback").exists());
    let status = cli::text(&run(&["status", "--root", s(root.path())]));
    assert!(status.contains("not confirmed within the time limit") && status.contains("verified: all"), "{status}");
    assert!(status.contains("No change is waiting"), "{status}");
    let log = log_of(work.path());
    assert!(log.contains("ufw --force disable") && log.contains("ufw delete limit 2222/tcp"), "{log}");
}

#[test]
fn confirm_needs_a_new_login_on_the_new_port_and_completes_the_move() {
    let Rig { root, work, runner } = rig(Tools::None);
    let applied_from = "198.51.100.7 50000 10.0.0.5 22";
    let r = s(root.path());
    let before_all = rendered(root.path());
    let o = run_env(
        &["apply", "--yes", "--confirm-timeout", "60", "--runner", s(&runner), "--root", r],
        &[("SSH_CONNECTION", applied_from)],
    );
    assert!(o.status.success(), "{}", cli::text(&o));
    let confirm = |conn: Option<&str>| {
        let env: Vec<(&str, &str)> = conn.map(|c| vec![("SSH_CONNECTION", c)]).unwrap_or_default();
        run_env(&["confirm", "--runner", s(&runner), "--root", r], &env)
    };
    let o = confirm(None);
    assert_eq!(o.status.code(), Some(1));
    assert!(cli::text(&o).contains("from a new SSH login"), "{}", cli::text(&o));
    let o = confirm(Some(applied_from));
    assert!(cli::text(&o).contains("session that applied"), "{}", cli::text(&o));
    let o = confirm(Some("198.51.100.7 50001 10.0.0.5 22"));
    assert!(cli::text(&o).contains("not on the new port 2222"), "{}", cli::text(&o));

    let before = log_of(work.path()).len();
    let o = confirm(Some("198.51.100.7 50002 10.0.0.5 2222"));
    assert!(o.status.success(), "{}", cli::text(&o));
    // One report for the two steps it takes; only SSH and the firewall are touched (a
    // layer the apply left out is not tried again here, nor anything pulled or installed).
    assert_eq!(cli::text(&o).matches("Applied generation").count(), 1, "{}", cli::text(&o));
    let ran = log_of(work.path())[before..].to_owned();
    assert!(!ran.contains("docker") && !ran.contains("apt-get"), "confirm ran:\n{ran}");
    assert!(ran.contains("ufw delete") || ran.contains("ufw --force delete") || ran.contains("ufw"), "{ran}");
    let dropin = fs::read_to_string(root.path().join("etc/ssh/sshd_config.d/00-clawguard.conf")).unwrap();
    assert!(dropin.contains("Port 2222\n") && !dropin.contains("Port 22\n"), "{dropin}");
    assert!(cli::text(&run(&["status", "--root", r])).contains("No change is waiting"));
    // The watchdog saw the confirmation and did nothing.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!root.path().join("var/lib/clawguard/last-rollback").exists());
    let o = confirm(Some("198.51.100.7 50003 10.0.0.5 2222"));
    assert!(cli::text(&o).contains("nothing is waiting"), "{}", cli::text(&o));

    // One rollback takes the whole move back: the generation confirm wrote to complete it
    // goes with the apply it completes (the old port was reopened and the new one kept).
    let o = run(&["rollback", "--runner", s(&runner), "--root", r]);
    assert!(o.status.success(), "{}", cli::text(&o));
    assert!(cli::text(&o).contains("completed the SSH move of generation"), "{}", cli::text(&o));
    assert_eq!(rendered(root.path()), before_all, "{}", cli::text(&o));
}

#[test]
fn the_rollback_survives_the_apply_being_killed_with_its_terminal() {
    let Rig { root, work, runner } = rig(Tools::None);
    let before = rendered(root.path());
    // The apply runs in a session of its own, like a shell in a terminal; the whole
    // session is then killed, as when the SSH connection drops.
    let script = format!(
        "{} apply --yes --confirm-timeout 3 --runner {} --root {} > {}/out 2>&1; sleep 60",
        common::bin(),
        s(&runner),
        s(root.path()),
        s(work.path())
    );
    let mut session = Command::new("setsid").args(["sh", "-c", &script]).env_remove("SSH_CONNECTION").spawn().unwrap();
    let pending = root.path().join("var/lib/clawguard/pending.toml");
    common::wait("the apply to arm its rollback", 30, || pending.exists());
    common::wait("the apply to finish", 30, || {
        fs::read_to_string(work.path().join("out")).unwrap_or_default().contains("rolled back by itself")
    });
    let pgid = session.id().to_string();
    let t = Instant::now();
    assert!(Command::new("kill").args(["-9", "--", &format!("-{pgid}")]).status().unwrap().success());
    let _ = session.wait();
    assert!(t.elapsed() < Duration::from_secs(5), "the session was not killed");
    common::wait("the rollback after the kill", 30, || rendered(root.path()) == before);
    common::wait("the rollback record", 10, || root.path().join("var/lib/clawguard/last-rollback").exists());
}

/// ufw as the commands in a runner's log leave it (a replay of what was asked, to check
/// the order of a rollback; the real ufw runs in `tests/netns.rs`).
#[derive(Debug, Clone, PartialEq)]
struct UfwModel {
    enabled: bool,
    input: String,
    rules: std::collections::BTreeSet<String>,
}

impl UfwModel {
    fn apply(&mut self, line: &str) {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            ["ufw", "--force", "enable"] => self.enabled = true,
            ["ufw", "--force", "disable"] => self.enabled = false,
            ["ufw", "default", policy, "incoming"] => self.input = policy.to_string(),
            ["ufw", "delete", action, port, ..] => {
                self.rules.remove(&format!("{action} {port}"));
            }
            ["ufw", action @ ("allow" | "limit" | "deny"), port, ..] => {
                self.rules.insert(format!("{action} {port}"));
            }
            _ => {}
        }
    }
    /// Whether a new connection to `port` gets through.
    fn lets_in(&self, port: u16) -> bool {
        !self.enabled
            || self.input == "allow"
            || self.rules.contains(&format!("allow {port}/tcp"))
            || self.rules.contains(&format!("limit {port}/tcp"))
    }
}

#[test]
fn a_kill_between_any_two_steps_is_undone_by_the_watchdog_alone_without_cutting_ssh() {
    // The dangerous host: ufw already on, incoming allowed, sshd on 22. The apply is killed
    // (its terminal gone) before each command, and after each command ran but before the
    // journal knew; nobody runs clawguard again. The watchdog armed before the first write
    // must bring everything back, and no command of the recovery may leave port 22 shut.
    let work = tempfile::tempdir().unwrap();
    let runner = recording_runner(work.path());
    let prepare = |root: &Path| {
        common::fake_tools(root);
        fs::create_dir_all(root.join("etc/ufw")).unwrap();
        fs::create_dir_all(root.join("etc/default")).unwrap();
        fs::write(root.join("etc/ufw/ufw.conf"), "ENABLED=yes\n").unwrap();
        fs::write(root.join("etc/default/ufw"), "DEFAULT_INPUT_POLICY=\"ACCEPT\"\nDEFAULT_OUTPUT_POLICY=\"ACCEPT\"\n")
            .unwrap();
    };
    let start = UfwModel { enabled: true, input: "allow".into(), rules: Default::default() };
    let clean = common::fixture_root("debian12-cloud");
    prepare(clean.path());
    let o = run(&["apply", "--yes", "--confirm-timeout", "0", "--runner", s(&runner), "--root", s(clean.path())]);
    assert!(o.status.success(), "{}", cli::text(&o));
    let journal = fs::read_to_string(clean.path().join("var/lib/clawguard/journal")).unwrap();
    let ran: Vec<usize> =
        journal.lines().filter_map(|l| l.split_once(' ').unwrap().1.strip_prefix("ran ")?.parse().ok()).collect();
    assert!(ran.len() >= 5, "{journal}");
    let mut labels: Vec<String> = vec!["armed 1".into()];
    for i in &ran {
        labels.push(format!("run {i}"));
        labels.push(format!("did {i}"));
    }

    let check = |label: &String| {
        let root = common::fixture_root("debian12-cloud");
        prepare(root.path());
        // Files only: directories a rollback leaves (empty) do not matter. The vault's
        // keys are not configuration: a key stored by the apply (OpenClaw's generated
        // gateway token) stays after a rollback, as a typed one does.
        let files = |root: &Path| -> BTreeMap<String, (u32, Vec<u8>)> {
            common::fingerprint(&root.join("etc"))
                .into_iter()
                .filter(|(p, (mode, _))| mode & 0o170000 != 0o040000 && !p.starts_with("clawguard/vault/"))
                .collect()
        };
        let before = files(root.path());
        let w = tempfile::tempdir().unwrap();
        let runner = recording_runner(w.path());
        let o = common::cli::command(&[])
            .args(["apply", "--yes", "--confirm-timeout", "2", "--runner", s(&runner), "--root", s(root.path())])
            .env_remove("SSH_CONNECTION")
            .env(clawguard::target::CRASH_ENV, label)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(137), "did not stop at {label}: {}", cli::text(&o));
        let crashed_at = log_of(w.path()).lines().count();
        common::wait(&format!("the watchdog's rollback after a kill at `{label}`"), 30, || {
            root.path().join("var/lib/clawguard/last-rollback").exists()
        });
        let now = files(root.path());
        let differ: Vec<&String> = before.keys().chain(now.keys()).filter(|k| before.get(*k) != now.get(*k)).collect();
        assert!(differ.is_empty(), "after a kill at `{label}` and the recovery, these differ: {differ:?}");
        let log = log_of(w.path());
        let mut ufw = start.clone();
        for (n, line) in log.lines().enumerate() {
            ufw.apply(line);
            assert!(
                n < crashed_at || ufw.lets_in(22),
                "after a kill at `{label}`, the recovery's `{line}` shut port 22:\n{log}"
            );
        }
        assert_eq!(ufw, start, "ufw after a kill at `{label}` and the recovery:\n{log}");
        let status = cli::text(&run(&["status", "--root", s(root.path())]));
        assert!(status.contains("verified: all") && !status.contains("INTERRUPTED"), "{label}: {status}");
        assert!(status.contains("No change is waiting"), "{label}: {status}");
    };
    std::thread::scope(|scope| {
        let check = &check;
        let handles: Vec<_> =
            labels.chunks(labels.len().div_ceil(4)).map(|c| scope.spawn(move || c.iter().for_each(check))).collect();
        for h in handles {
            h.join().unwrap();
        }
    });
}

#[test]
fn damaged_records_are_a_loud_error_never_an_empty_default() {
    let Rig { root, work: _work, runner } = rig(Tools::None);
    let r = s(root.path());
    let o = run(&["apply", "--yes", "--confirm-timeout", "600", "--runner", s(&runner), "--root", r]);
    assert!(o.status.success(), "{}", cli::text(&o));
    let state = root.path().join("var/lib/clawguard");
    // positive control
    assert!(cli::text(&run(&["status", "--root", r])).contains("WAITING FOR CONFIRMATION"));

    fs::write(state.join("pending.toml"), "generation = [not toml").unwrap();
    let o = run(&["status", "--root", r]);
    assert_ne!(o.status.code(), Some(0), "{}", cli::text(&o));
    assert!(
        cli::text(&o).contains("DAMAGED") && cli::text(&o).contains("pending.toml is damaged"),
        "{}",
        cli::text(&o)
    );
    let o = run(&["check", "--no-alert", "--root", r]);
    assert_eq!(o.status.code(), Some(3), "{}", cli::text(&o));
    assert!(cli::text(&o).contains("pending.toml is damaged"), "{}", cli::text(&o));
    let o = run(&["confirm", "--runner", s(&runner), "--root", r]);
    assert_eq!(o.status.code(), Some(1), "{}", cli::text(&o));
    assert!(cli::text(&o).contains("damaged") && !cli::text(&o).contains("nothing is waiting"), "{}", cli::text(&o));
    let o = run(&["apply", "--yes", "--confirm-timeout", "0", "--runner", s(&runner), "--root", r]);
    assert_eq!(o.status.code(), Some(1), "{}", cli::text(&o));
    assert!(cli::text(&o).contains("damaged"), "{}", cli::text(&o));

    // A damaged manifest: every command that reads the records says so.
    let manifest = state.join("generations/000002/manifest.toml");
    fs::write(&manifest, "number = \"two\"\n").unwrap();
    for args in [vec!["status", "--root", r], vec!["rollback", "--runner", s(&runner), "--root", r]] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", cli::text(&o));
        assert!(cli::text(&o).contains("manifest") || cli::text(&o).contains("000002"), "{args:?}: {}", cli::text(&o));
    }
    let o = run(&["check", "--no-alert", "--root", r]);
    assert_eq!(o.status.code(), Some(3), "{}", cli::text(&o));
    assert!(cli::text(&o).contains("cannot be read"), "{}", cli::text(&o));
}

#[test]
fn the_watchdog_rolls_back_when_the_pending_record_is_damaged() {
    let Rig { root, work: _work, runner } = rig(Tools::None);
    let before = rendered(root.path());
    let o = run(&["apply", "--yes", "--confirm-timeout", "3", "--runner", s(&runner), "--root", s(root.path())]);
    assert!(o.status.success(), "{}", cli::text(&o));
    fs::write(root.path().join("var/lib/clawguard/pending.toml"), "\u{0}\u{0}garbage").unwrap();
    common::wait("the rollback despite the damaged record", 30, || rendered(root.path()) == before);
    common::wait("the rollback record", 10, || root.path().join("var/lib/clawguard/last-rollback").exists());
    let text = fs::read_to_string(root.path().join("var/lib/clawguard/last-rollback")).unwrap();
    assert!(text.contains("cannot be read") && text.contains("verified: all"), "{text}");
}

#[test]
fn an_emptied_journal_takes_back_every_command_not_none() {
    let Rig { root, work, runner } = rig(Tools::Fake);
    let r = s(root.path());
    let o = run_env(
        &["apply", "--yes", "--confirm-timeout", "0", "--runner", s(&runner), "--root", r],
        &[(clawguard::target::CRASH_ENV, "did 5")],
    );
    assert_eq!(o.status.code(), Some(137), "{}", cli::text(&o));
    fs::write(root.path().join("var/lib/clawguard/journal"), "").unwrap();
    let crashed_at = log_of(work.path()).len();
    let o = run(&["rollback", "--runner", s(&runner), "--root", r]);
    let text = cli::text(&o);
    assert!(text.contains("the journal has no record of generation 1"), "{text}");
    let recovery = &log_of(work.path())[crashed_at..];
    for undo in ["ufw --force disable", "ufw delete limit 2222/tcp", "ufw delete allow 22/tcp"] {
        assert!(recovery.contains(undo), "`{undo}` not run:\n{recovery}");
    }
}

#[test]
fn a_rollback_whose_undo_fails_says_so_and_exits_non_zero() {
    let Rig { root, work, runner } = rig(Tools::Fake);
    let r = s(root.path());
    let o = run(&["apply", "--yes", "--confirm-timeout", "0", "--runner", s(&runner), "--root", r]);
    assert!(o.status.success(), "{}", cli::text(&o));
    fs::write(work.path().join("fail-on"), "ufw --force disable\n").unwrap();
    let o = run(&["rollback", "--runner", s(&runner), "--root", r]);
    assert_eq!(o.status.code(), Some(1), "{}", cli::text(&o));
    let text = cli::text(&o);
    assert!(text.contains("FAILED to run ufw --force disable") && text.contains("NOT verified"), "{text}");
    assert!(!text.contains("verified: all"), "{text}");
    // positive control: the same rollback with nothing failing is verified and exits 0
    let root = common::fixture_root("debian12-cloud");
    common::fake_tools(root.path());
    fs::remove_file(work.path().join("fail-on")).unwrap();
    let r = s(root.path());
    assert!(run(&["apply", "--yes", "--confirm-timeout", "0", "--runner", s(&runner), "--root", r]).status.success());
    let o = run(&["rollback", "--runner", s(&runner), "--root", r]);
    assert!(o.status.success() && cli::text(&o).contains("verified: all"), "{}", cli::text(&o));
}

#[test]
fn a_rollback_disables_what_it_enabled_and_does_not_reload_what_it_removed() {
    let Rig { root, work, runner } = rig(Tools::Fake);
    let r = s(root.path());
    let o = run(&["apply", "--yes", "--confirm-timeout", "0", "--runner", s(&runner), "--root", r]);
    assert!(o.status.success(), "{}", cli::text(&o));
    let applied = log_of(work.path()).len();
    let o = run(&["rollback", "--runner", s(&runner), "--root", r]);
    assert!(o.status.success(), "{}", cli::text(&o));
    let rollback = log_of(work.path())[applied..].to_owned();
    for want in ["systemctl disable --now clawguard-check.timer", "systemctl disable --now clawguard-secrets.service"] {
        assert!(rollback.contains(want), "`{want}` missing:\n{rollback}");
    }
    // Nothing acts on files the rollback removed (they were all new here) …
    for never in ["fail2ban-client status sshd", "kill -s HUP proxy", "systemctl enable"] {
        assert!(!rollback.contains(never), "`{never}` after the rollback:\n{rollback}");
    }
    // … while services that read a directory of drop-ins re-read it.
    assert!(rollback.contains("systemctl reload ssh"), "{rollback}");
    // ufw's default had never been set on this host (not installed): the package's own
    // default (deny) stays, it is never turned into allow.
    assert!(!rollback.contains("ufw default allow incoming"), "{rollback}");
    assert!(rollback.contains("ufw --force disable"), "{rollback}");
}

#[test]
fn status_says_which_commands_of_a_failed_generation_ran() {
    let Rig { root, work, runner } = rig(Tools::Fake);
    fs::write(work.path().join("fail-on"), "systemctl reload-or-restart fail2ban\n").unwrap();
    let r = s(root.path());
    let o = run(&["apply", "--yes", "--confirm-timeout", "0", "--runner", s(&runner), "--root", r]);
    assert_eq!(o.status.code(), Some(1), "{}", cli::text(&o));
    let status = cli::text(&run(&["status", "--root", r]));
    assert!(status.contains("ran, then taken back: ufw --force enable"), "{status}");
    assert!(status.contains("FAILED or interrupted: systemctl reload-or-restart fail2ban"), "{status}");
    assert!(status.contains("not run: systemctl reload ssh"), "{status}");
    assert!(!status.contains("  ran: "), "{status}");
}

#[test]
fn without_an_automatic_rollback_the_port_move_still_waits_for_confirm() {
    let Rig { root, work: _work, runner } = rig(Tools::None);
    let r = s(root.path());
    let o = run_env(
        &["apply", "--yes", "--confirm-timeout", "0", "--runner", s(&runner), "--root", r],
        &[("SSH_CONNECTION", "198.51.100.7 50000 10.0.0.5 22")],
    );
    assert!(o.status.success(), "{}", cli::text(&o));
    assert!(cli::text(&o).contains("Nothing rolls back by itself"), "{}", cli::text(&o));
    let dropin = root.path().join("etc/ssh/sshd_config.d/00-clawguard.conf");
    assert!(fs::read_to_string(&dropin).unwrap().contains("\nPort 22\n"), "the old port stays during the move");
    let status = cli::text(&run(&["status", "--root", r]));
    assert!(status.contains("no automatic rollback") && status.contains("WAITING FOR CONFIRMATION"), "{status}");
    // Nothing rolls back by itself …
    std::thread::sleep(Duration::from_secs(2));
    assert!(!root.path().join("var/lib/clawguard/last-rollback").exists());
    // … and a login on the new port completes the move.
    let o = run_env(
        &["confirm", "--runner", s(&runner), "--root", r],
        &[("SSH_CONNECTION", "198.51.100.7 50001 10.0.0.5 2222")],
    );
    assert!(o.status.success(), "{}", cli::text(&o));
    let text = fs::read_to_string(&dropin).unwrap();
    assert!(text.contains("Port 2222\n") && !text.contains("Port 22\n"), "{text}");
    assert!(cli::text(&run(&["status", "--root", r])).contains("No change is waiting"));
}

/// A reload is not undone: the rollback runs it again with the old files, and `status`
/// says how that went — a failure there is not "taken back".
#[test]
fn status_says_how_a_reload_went_again_after_the_rollback() {
    let Rig { root, work, runner } = rig(Tools::Fake);
    // sshd reloads once, and refuses the second time (after the rollback).
    let mark = work.path().join("reloaded");
    let once = wrapped_runner(
        work.path(),
        "once.sh",
        &format!(
            "if [ \"$*\" = 'systemctl reload ssh' ]; then if [ -f {m} ]; then echo 'ssh refused the reload' >&2; exit 1; fi; touch {m}; fi",
            m = mark.display()
        ),
        &runner,
    );
    fs::write(work.path().join("fail-on"), "systemctl enable --now clawguard-check.timer\n").unwrap();
    let r = s(root.path());
    let o = run(&["apply", "--yes", "--confirm-timeout", "0", "--runner", s(&once), "--root", r]);
    assert_eq!(o.status.code(), Some(1), "{}", cli::text(&o));
    let log = log_of(work.path());
    assert!(log.contains("systemctl enable --now clawguard-check.timer"), "the failing step ran:\n{log}");
    let status = cli::text(&run(&["status", "--root", r]));
    assert!(
        status.contains("ran; run again with the old files after the rollback, and that FAILED: systemctl reload ssh"),
        "{status}"
    );
    assert!(!status.contains("ran, then taken back: systemctl reload ssh"), "{status}");
    assert!(status.contains("ran, then taken back: ufw --force enable"), "{status}");
}

#[test]
fn gvisor_joins_the_engines_settings_and_a_rollback_takes_it_out_again() {
    let root = common::fixture_root("debian12-cloud");
    let settings = root.path().join("etc/docker/daemon.json");
    fs::create_dir_all(settings.parent().unwrap()).unwrap();
    let before = "{\n  \"log-driver\": \"journald\"\n}\n";
    fs::write(&settings, before).unwrap();
    assert!(run(&["apply", "--yes", "--root", s(root.path())]).status.success());
    assert_eq!(fs::read_to_string(&settings).unwrap(), before, "runc (the default) leaves the engine's file alone");
    let work = tempfile::tempdir().unwrap();
    let answers = work.path().join("a.toml");
    fs::write(&answers, "version = 1\n[sandbox]\nruntime = \"runsc\"\n").unwrap();
    let o = run(&["apply", "--yes", "--root", s(root.path()), "--answers", s(&answers)]);
    assert!(o.status.success(), "{}", cli::text(&o));
    let v: serde_json::Value = serde_json::from_str(&fs::read_to_string(&settings).unwrap()).unwrap();
    assert_eq!(v["log-driver"], "journald", "the user's own settings stay");
    assert_eq!(v["runtimes"]["runsc"]["path"], "/usr/bin/runsc");
    let compose = fs::read_to_string(root.path().join("opt/clawguard/agent/docker-compose.yml")).unwrap();
    assert!(compose.contains("runtime: \"runsc\""), "{compose}");
    let o = run(&["rollback", "--root", s(root.path())]);
    assert!(o.status.success(), "{}", cli::text(&o));
    assert_eq!(fs::read_to_string(&settings).unwrap(), before, "the rollback did not take gVisor out of daemon.json");
}
