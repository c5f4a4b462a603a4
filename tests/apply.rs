//! The apply engine on temporary roots: idempotence, every crash point, hand edits, the
//! lockout guard, a failing step, `rollback`, and confirm-or-rollback. Commands go to a
//! recording runner (a script that logs each command); the real sshd, ufw and fail2ban
//! are driven in `tests/netns.rs`.

mod common;

use common::cli::{self, run, run_env};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// What most tests here start from: the Debian 12 cloud fixture, a work directory, and a
/// recording runner in it.
struct Rig {
    root: tempfile::TempDir,
    work: tempfile::TempDir,
    runner: PathBuf,
}

/// Whether the fixture gets stand-ins for the services' tools (`common::fake_tools`) or
/// has none of them, as a bare host (the plan installs them first).
enum Tools {
    Fake,
    None,
}

fn rig(tools: Tools) -> Rig {
    let root = common::fixture_root("debian12-cloud");
    if let Tools::Fake = tools {
        common::fake_tools(root.path());
    }
    let work = tempfile::tempdir().unwrap();
    let runner = recording_runner(work.path());
    Rig { root, work, runner }
}

/// A runner that logs every command it gets to `<dir>/runner.log`, answers `ss` as if sshd
/// listened on the port, and fails a command whose text is a line of `<dir>/fail-on`.
fn recording_runner(dir: &Path) -> PathBuf {
    let script = dir.join("runner.sh");
    let log = dir.join("runner.log");
    let fail = dir.join("fail-on");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$*\" >> {log}\nif [ -f {fail} ] && grep -qxF -- \"$*\" {fail}; then echo 'simulated failure' >&2; exit 3; fi\ncase \"$1\" in ss) echo \"LISTEN 0 128 0.0.0.0:${{3##*:}} 0.0.0.0:* users:((\\\"sshd\\\",pid=1,fd=3))\";; esac\nexit 0\n",
            log = log.display(),
            fail = fail.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// A runner that does `first` (shell lines that may answer for the runner), then hands the
/// command to the recording runner `runner`.
fn wrapped_runner(dir: &Path, name: &str, first: &str, runner: &Path) -> PathBuf {
    let script = dir.join(name);
    fs::write(&script, format!("#!/bin/sh\n{first}\nexec {} \"$@\"\n", runner.display())).unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    script
}

fn log_of(dir: &Path) -> String {
    fs::read_to_string(dir.join("runner.log")).unwrap_or_default()
}

/// The content of every file the default plan for a fresh Debian 12 cloud image manages,
/// as it is now on `root`.
fn rendered(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let fresh = common::fixture_root("debian12-cloud");
    let plan =
        clawguard::layers::plan(&clawguard::answers::Answers::default(), &common::facts(fresh.path(), None)).unwrap();
    plan.files.iter().map(|f| (f.path.clone(), fs::read(root.join(f.path.trim_start_matches('/'))).ok())).collect()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn applying_twice_changes_nothing_the_second_time() {
    let root = common::fixture_root("debian12-cloud");
    let o = run(&["apply", "--yes", "--root", s(root.path())]);
    assert!(o.status.success(), "{}", cli::text(&o));
    assert!(cli::text(&o).contains("Applied generation 1"), "{}", cli::text(&o));
    assert!(
        cli::text(&o).contains("skipped ufw limit 2222/tcp"),
        "commands are listed, not run, under --root: {}",
        cli::text(&o)
    );
    let after_first = common::fingerprint(root.path());
    let o = run(&["apply", "--yes", "--root", s(root.path())]);
    assert!(o.status.success(), "{}", cli::text(&o));
    assert!(cli::text(&o).contains("0 files changed"), "{}", cli::text(&o));
    assert_eq!(after_first, common::fingerprint(root.path()), "the second apply wrote something");
    let status = cli::text(&run(&["status", "--root", s(root.path())]));
    assert!(status.contains("generation 1 (applied") && !status.contains("generation 2"), "{status}");
}

#[test]
fn apply_without_yes_and_without_a_terminal_refuses() {
    let root = common::fixture_root("debian12-cloud");
    let before = common::fingerprint(root.path());
    let o = run(&["apply", "--root", s(root.path())]);
    assert_eq!(o.status.code(), Some(1));
    assert!(cli::text(&o).contains("--yes"), "{}", cli::text(&o));
    assert_eq!(before, common::fingerprint(root.path()));
}

/// Kills the apply at every step boundary the journal of a clean run shows, then re-runs:
/// each file is always entirely old or entirely new, and the re-run ends where a clean
/// run ends.
#[test]
fn a_crash_at_any_step_leaves_each_file_old_or_new_and_the_rerun_recovers() {
    let work = tempfile::tempdir().unwrap();
    let runner = recording_runner(work.path());
    let args = |root: &Path| -> Vec<String> {
        ["apply", "--yes", "--confirm-timeout", "0", "--runner", s(&runner), "--root", s(root)]
            .iter()
            .map(|a| a.to_string())
            .collect()
    };
    let clean = common::fixture_root("debian12-cloud");
    let before = rendered(clean.path());
    let o = common::cli::command(&[]).args(args(clean.path())).env_remove("SSH_CONNECTION").output().unwrap();
    assert!(o.status.success(), "{}", cli::text(&o));
    let after = rendered(clean.path());
    let journal = fs::read_to_string(clean.path().join("var/lib/clawguard/journal")).unwrap();
    let labels: Vec<String> =
        journal.lines().map(|l| l.split_once(' ').unwrap().1.to_owned()).filter(|l| !l.starts_with("rolled")).collect();
    assert!(labels.len() > 30, "too few boundaries: {labels:?}");
    assert!(labels.iter().any(|l| l.starts_with("write ")) && labels.iter().any(|l| l.starts_with("ran ")));

    let check = |label: &String| {
        let root = common::fixture_root("debian12-cloud");
        let o = common::cli::command(&[])
            .args(args(root.path()))
            .env_remove("SSH_CONNECTION")
            .env(clawguard::target::CRASH_ENV, label)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(137), "did not stop at {label}: {}", cli::text(&o));
        for (path, now) in rendered(root.path()) {
            assert!(
                now == before[&path] || now == after[&path],
                "after a crash at `{label}`, {path} is neither old nor new"
            );
        }
        let o = common::cli::command(&[]).args(args(root.path())).env_remove("SSH_CONNECTION").output().unwrap();
        assert!(o.status.success(), "re-run after a crash at `{label}` failed: {}", cli::text(&o));
        // Generation 1 installs the packages, generation 2 writes and activates.
        if !label.starts_with("commit ") {
            let g = if labels.iter().position(|l| l == label) < labels.iter().position(|l| l == "commit 1") {
                1
            } else {
                2
            };
            let want = format!("recovered: generation {g} was interrupted");
            assert!(cli::text(&o).contains(&want), "{label}: {}", cli::text(&o));
        }
        assert_eq!(rendered(root.path()), after, "after a crash at `{label}` and a re-run");
        let status = cli::text(&run(&["status", "--root", s(root.path())]));
        assert!(!status.contains("INTERRUPTED"), "{label}: {status}");
        let leftovers: Vec<_> = walk_names(root.path()).into_iter().filter(|n| n.contains(".clawguard-tmp-")).collect();
        assert!(leftovers.is_empty(), "{label}: temp files left: {leftovers:?}");
    };
    std::thread::scope(|scope| {
        let (a, b) = labels.split_at(labels.len() / 2);
        let h = scope.spawn(|| a.iter().for_each(check));
        b.iter().for_each(check);
        h.join().unwrap();
    });
}

fn walk_names(dir: &Path) -> Vec<String> {
    common::fingerprint(dir).into_keys().collect()
}

#[test]
fn a_hand_edited_file_is_a_conflict_and_stays_as_the_user_wrote_it() {
    let root = common::fixture_root("debian12-cloud");
    assert!(run(&["apply", "--yes", "--root", s(root.path())]).status.success());
    let squid = root.path().join("opt/clawguard/agent/squid.conf");
    let edited = fs::read_to_string(&squid).unwrap().replace("http_access deny all", "http_access allow all");
    fs::write(&squid, &edited).unwrap();
    let work = tempfile::tempdir().unwrap();
    let answers = work.path().join("a.toml");
    fs::write(&answers, "version = 1\n[egress]\nallowed_hosts = [\"api.anthropic.com\", \"api.telegram.org\"]\n")
        .unwrap();

    let o = run(&["apply", "--yes", "--root", s(root.path()), "--answers", s(&answers)]);
    assert_eq!(o.status.code(), Some(1), "{}", cli::text(&o));
    let text = cli::text(&o);
    assert!(text.contains("edited by hand") && text.contains("/opt/clawguard/agent/squid.conf"), "{text}");
    assert!(
        text.contains("-http_access allow all") && text.contains("+http_access deny all"),
        "the diff is shown: {text}"
    );
    assert!(text.contains("--force"), "{text}");
    assert_eq!(fs::read_to_string(&squid).unwrap(), edited, "the hand edit was overwritten");

    let o = run(&["apply", "--yes", "--force", "--root", s(root.path()), "--answers", s(&answers)]);
    assert!(o.status.success(), "{}", cli::text(&o));
    let now = fs::read_to_string(&squid).unwrap();
    assert!(now.contains("api.telegram.org") && now.contains("http_access deny all"));
    let backup = root.path().join("var/lib/clawguard/generations/000002/backup/opt/clawguard/agent/squid.conf");
    assert_eq!(fs::read_to_string(backup).unwrap(), edited, "the edit is kept in the backup");
}

#[test]
fn an_apply_that_would_lock_the_user_out_is_refused_and_changes_nothing() {
    let root = common::fixture_root("no-keys");
    let before = common::fingerprint(root.path());
    let o = run(&["apply", "--yes", "--root", s(root.path())]);
    assert_eq!(o.status.code(), Some(1));
    let text = cli::text(&o);
    assert!(text.contains("would lock you out") && text.contains("nobody could log in"), "{text}");
    assert_eq!(before, common::fingerprint(root.path()));

    // A named user that exists but has no key is refused too.
    let root = common::fixture_root("ubuntu2404-socket");
    let work = tempfile::tempdir().unwrap();
    let answers = work.path().join("a.toml");
    fs::write(&answers, "version = 1\n[ssh]\nallowed_users = [\"ops\"]\n").unwrap();
    let before = common::fingerprint(root.path());
    let o = run(&["apply", "--yes", "--root", s(root.path()), "--answers", s(&answers)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        cli::text(&o).contains("lets `ops` log in") && cli::text(&o).contains("/home/ops/.ssh/authorized_keys"),
        "{}",
        cli::text(&o)
    );
    assert_eq!(before, common::fingerprint(root.path()));
}

#[test]
fn a_failing_step_rolls_everything_back() {
    let Rig { root, work, runner } = rig(Tools::None);
    fs::write(work.path().join("fail-on"), "systemctl enable --now clawguard-check.timer").unwrap();
    let before = rendered(root.path());
    let o = run(&["apply", "--yes", "--confirm-timeout", "0", "--runner", s(&runner), "--root", s(root.path())]);
    assert_eq!(o.status.code(), Some(1));
    let text = cli::text(&o);
    assert!(
        text.contains("step `systemctl enable --now clawguard-check.timer` failed")
            && text.contains("simulated failure"),
        "{text}"
    );
    assert!(text.contains("verified: all"), "{text}");
    assert_eq!(rendered(root.path()), before, "files not restored");
    let log = log_of(work.path());
    assert!(log.contains("ufw --force disable"), "ufw is turned off again:\n{log}");
    let undo_limit = log.find("ufw delete limit 2222/tcp").expect("the ufw rule is taken back");
    let undo_allow = log.find("ufw delete allow 22/tcp").expect("the old-port rule is taken back");
    assert!(undo_limit < undo_allow, "undo runs in reverse order:\n{log}");
    assert!(
        log.lines().filter(|l| *l == "systemctl reload ssh").count() == 2,
        "sshd reloaded again after the restore:\n{log}"
    );
}

#[test]
fn a_bare_host_gets_its_packages_before_the_checks_and_no_image_leaves_out_only_the_agent() {
    // The fixture has none of the tools: the plan installs them first, then checks.
    let Rig { root, work, runner } = rig(Tools::None);
    let args = ["apply", "--yes", "--confirm-timeout", "0", "--runner", s(&runner), "--root", s(root.path())];

    // A readiness problem that needs no package (the new SSH port cannot be checked)
    // refuses before anything is installed.
    fs::write(work.path().join("fail-on"), "ss -Htlnp sport = :2222\n").unwrap();
    let before = common::fingerprint(root.path());
    let o = run(&args);
    let text = cli::text(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("cannot tell whether port 2222 is free") && text.contains("Nothing was changed"), "{text}");
    assert!(!log_of(work.path()).contains("apt-get"), "{}", log_of(work.path()));
    assert_eq!(common::fingerprint(root.path()), before);

    // A checker's refusal comes after the install (the checkers come with the packages):
    // no configuration is written, and the packages stay for the next run.
    fs::remove_file(work.path().join("fail-on")).unwrap();
    let bad = root.path().join("etc/ssh/sshd_config.d/10-broken.conf");
    fs::write(&bad, "NoSuchKeyword yes\n").unwrap();
    let before = common::fingerprint(root.path());
    let o = run(&args);
    let text = cli::text(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("sshd -t refused the assembled config"), "{text}");
    assert!(text.contains("The packages the plan needs were installed (generation 1) and stay"), "{text}");
    let log = log_of(work.path());
    let at = |needle: &str| log.find(needle).unwrap_or_else(|| panic!("`{needle}` not run:\n{log}"));
    assert!(at("apt-get update") < at("apt-get install"), "{log}");
    assert!(at("apt-get install") < at("docker info"), "installed before the engine is checked:\n{log}");
    assert!(log.contains("python3-systemd") && log.contains("logrotate"), "what the layers need to work:\n{log}");
    assert!(!log.contains(" squid"), "no squid package on the host:\n{log}");
    assert!(!log.contains("apt-get remove"), "{log}");
    assert!(!log.lines().any(|l| l.starts_with("ufw ") || l.starts_with("systemctl")), "nothing activated:\n{log}");
    let after = common::fingerprint(root.path());
    let changed: Vec<&String> = after
        .keys()
        .chain(before.keys())
        .filter(|k| !k.starts_with("var/lib/clawguard") && before.get(*k) != after.get(*k))
        .collect();
    assert!(changed.is_empty(), "changed: {changed:?}");
    fs::remove_file(&bad).unwrap();

    // No agent image: the hardening is applied without the agent, which says how to get it.
    fs::write(
        work.path().join("fail-on"),
        "docker image inspect --format {{.Id}} ghcr.io/openclaw/openclaw:2026.9.6\ndocker pull -q ghcr.io/openclaw/openclaw:2026.9.6\n",
    )
    .unwrap();
    let o = run(&args);
    let text = cli::text(&o);
    assert_eq!(o.status.code(), Some(4), "{text}");
    assert!(
        text.contains("the image `ghcr.io/openclaw/openclaw:2026.9.6` is not on this host and cannot be pulled"),
        "{text}"
    );
    assert!(text.contains("docker build -t openclaw:local"), "says how to build it instead: {text}");
    assert!(root.path().join("etc/ssh/sshd_config.d/00-clawguard.conf").exists(), "{text}");
    assert!(!root.path().join("opt/clawguard/agent/docker-compose.yml").exists(), "{text}");
}

#[test]
fn a_failing_agent_start_takes_back_only_the_agent_and_keeps_the_hardening() {
    let Rig { root, work, runner } = rig(Tools::Fake);
    let up = "docker-compose -p clawguard-agent -f /opt/clawguard/agent/docker-compose.yml up -d";
    fs::write(work.path().join("fail-on"), format!("{up}\n")).unwrap();
    let o = run(&["apply", "--yes", "--confirm-timeout", "0", "--runner", s(&runner), "--root", s(root.path())]);
    let text = cli::text(&o);
    assert_eq!(o.status.code(), Some(4), "{text}");
    assert!(text.contains("NOT APPLIED: 1. Agent sandbox and 5. Egress allow-list"), "{text}");
    assert!(text.contains("simulated failure") && !text.contains("Traceback"), "{text}");
    let has = |p: &str| root.path().join(p.trim_start_matches('/')).exists();
    assert!(has("/etc/ssh/sshd_config.d/00-clawguard.conf"), "SSH hardening stays");
    assert!(has("/etc/fail2ban/jail.d/zz-clawguard.local"), "the jail stays");
    assert!(!has("/opt/clawguard/agent/docker-compose.yml") && !has("/opt/clawguard/agent/squid.conf"), "{text}");
    let log = log_of(work.path());
    assert!(!log.contains("ufw --force disable"), "the firewall stays on:\n{log}");
    assert!(log.contains("ufw --force enable"), "{log}");
    // A later rollback takes back the rest, and leaves the given-up layers alone.
    let o = run(&["rollback", "--root", s(root.path())]);
    assert!(o.status.success(), "{}", cli::text(&o));
    assert!(!has("/etc/ssh/sshd_config.d/00-clawguard.conf"), "{}", cli::text(&o));
}

#[test]
fn an_agent_uid_or_gid_with_power_on_the_host_is_refused() {
    let root = common::fixture_root("debian12-cloud");
    let work = tempfile::tempdir().unwrap();
    let answers = work.path().join("a.toml");
    let before = common::fingerprint(root.path());
    for (ids, why) in [
        ("uid = 1000\ngid = 1000", "The agent's uid 1000 is the login user `debian`"),
        ("uid = 64000\ngid = 27", "The agent's gid 27 is the group `sudo`"),
        ("uid = 64000\ngid = 998", "The agent's gid 998 is the group `docker`"),
    ] {
        fs::write(&answers, format!("version = 1\n[sandbox]\n{ids}\n")).unwrap();
        let o = run(&["apply", "--yes", "--root", s(root.path()), "--answers", s(&answers)]);
        let text = cli::text(&o);
        assert_eq!(o.status.code(), Some(1), "{text}");
        assert!(text.contains("refusing to apply") && text.contains(why), "{text}");
        assert!(text.contains("set sandbox.uid and sandbox.gid to a number no account uses"), "{text}");
        assert_eq!(common::fingerprint(root.path()), before, "nothing written for {ids}");
        // The plan shows the same as a DANGER, and the default is a uid of its own.
        let plan = cli::text(&run(&["plan", "--root", s(root.path()), "--answers", s(&answers)]));
        assert!(plan.contains("DANGER:") && plan.contains(why), "{plan}");
    }
    let plan = cli::text(&run(&["plan", "--root", s(root.path())]));
    assert!(plan.contains("user: \"64000:64000\"") && !plan.contains("The agent's uid"), "{plan}");
}

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

#[test]
fn a_second_apply_while_one_holds_the_lock_is_refused() {
    let root = common::fixture_root("debian12-cloud");
    let state = root.path().join("var/lib/clawguard");
    fs::create_dir_all(&state).unwrap();
    let f = fs::OpenOptions::new().create(true).truncate(false).write(true).open(state.join("lock")).unwrap();
    f.lock().unwrap();
    let o = run(&["apply", "--yes", "--root", s(root.path())]);
    assert_eq!(o.status.code(), Some(1));
    assert!(cli::text(&o).contains("another clawguard apply"), "{}", cli::text(&o));
    drop(f);
    assert!(run(&["apply", "--yes", "--root", s(root.path())]).status.success());
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

/// A backup destination that does not answer yet: `backup init` fails, and only the backup
/// layer is taken back — the SSH and firewall hardening stay, the answers (with the
/// destination typed) are saved for the next run, the outcome says what was not applied.
#[test]
fn a_failing_backup_init_takes_back_only_the_backup_layer() {
    let Rig { root, work, runner } = rig(Tools::Fake);
    let answers = work.path().join("a.toml");
    fs::write(&answers, "version = 1\n[backup]\ndestination = \"rest:https://backup.example:8000/host1\"\n").unwrap();
    let args = ["apply", "--yes", "--confirm-timeout", "0", "--runner", s(&runner), "--root", s(root.path())];
    // Control: a run that succeeds, to learn how `backup init` is called here.
    let clean = common::fixture_root("debian12-cloud");
    common::fake_tools(clean.path());
    let clean_work = tempfile::tempdir().unwrap();
    let clean_runner = recording_runner(clean_work.path());
    let o = run(&[
        "apply",
        "--yes",
        "--confirm-timeout",
        "0",
        "--runner",
        s(&clean_runner),
        "--root",
        s(clean.path()),
        "--answers",
        s(&answers),
    ]);
    assert!(o.status.success() || o.status.code() == Some(4), "{}", cli::text(&o));
    let init = log_of(clean_work.path())
        .lines()
        .find(|l| l.ends_with(" backup init"))
        .expect("apply runs backup init")
        .to_owned();
    fs::write(work.path().join("fail-on"), format!("{init}\n")).unwrap();

    let mut with_answers = args.to_vec();
    with_answers.extend(["--answers", s(&answers)]);
    let o = run(&with_answers);
    let text = cli::text(&o);
    assert_eq!(o.status.code(), Some(4), "{text}");
    assert!(text.contains("NOT APPLIED: 7. Backup") && text.contains("simulated failure"), "{text}");
    let has = |p: &str| root.path().join(p.trim_start_matches('/')).exists();
    assert!(has("/etc/ssh/sshd_config.d/00-clawguard.conf"), "SSH hardening stays:\n{text}");
    assert!(has("/etc/fail2ban/jail.d/zz-clawguard.local"), "the jail stays:\n{text}");
    assert!(!has("/etc/clawguard/backup.env"), "the backup layer's files are taken back:\n{text}");
    let saved = fs::read_to_string(root.path().join("etc/clawguard/answers.toml")).unwrap();
    assert!(saved.contains("rest:https://backup.example:8000/host1"), "the answers typed are kept:\n{saved}");
    assert!(!log_of(work.path()).contains("ufw --force disable"), "the firewall stays on");
}

/// Ctrl-C in the middle of an apply that changed SSH: the apply stops, and says that the
/// change stays until the armed rollback takes it back (or the user does), not nothing.
#[test]
fn ctrl_c_during_an_apply_says_what_is_left_waiting() {
    let Rig { root, work, runner } = rig(Tools::None);
    // fail2ban's reload takes its time, long after the rollback is armed.
    let slow = wrapped_runner(work.path(), "slow.sh", "case \"$*\" in *fail2ban*) sleep 20;; esac", &runner);
    let child = common::cli::command(&[])
        .args(["apply", "--yes", "--confirm-timeout", "600", "--runner", s(&slow), "--root", s(root.path())])
        .env_remove("SSH_CONNECTION")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    common::wait("the apply to reach fail2ban", 30, || log_of(work.path()).contains("fail2ban"));
    let t = Instant::now();
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let o = child.wait_with_output().unwrap();
    assert!(t.elapsed() < Duration::from_secs(10), "Ctrl-C did not stop the apply");
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(130), "{text}");
    assert!(text.contains("clawguard apply was interrupted") && text.contains("sudo clawguard rollback"), "{text}");
    // What it says is so: a change is waiting, and the rollback takes it back.
    assert!(cli::text(&run(&["status", "--root", s(root.path())])).contains("waiting"), "status");
    let o = run(&["rollback", "--runner", s(&runner), "--root", s(root.path())]);
    assert!(o.status.success(), "{}", cli::text(&o));
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

/// OpenClaw's readiness is retried while the gateway starts, but not when it cannot run at
/// all (an image without `node`: exit 126): the agent is left out at once, with the reason,
/// instead of after four minutes.
#[test]
fn a_readiness_check_that_cannot_run_is_not_retried() {
    let Rig { root, work, runner } = rig(Tools::Fake);
    let no_node = wrapped_runner(
        work.path(),
        "no-node.sh",
        "case \"$*\" in *' exec -T agent node '*) echo 'exec: \"node\": executable file not found in $PATH' >&2; exit 126;; esac",
        &runner,
    );
    let t = Instant::now();
    let o = run(&["apply", "--yes", "--confirm-timeout", "0", "--runner", s(&no_node), "--root", s(root.path())]);
    let text = cli::text(&o);
    assert_eq!(o.status.code(), Some(4), "{text}");
    assert!(text.contains("NOT APPLIED: 1. Agent sandbox") && text.contains("executable file not found"), "{text}");
    assert!(t.elapsed() < Duration::from_secs(60), "retried for {:?}", t.elapsed());
}
