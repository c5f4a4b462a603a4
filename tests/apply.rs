//! The apply engine on temporary roots, forward: idempotence, every crash point, hand
//! edits, the lockout guard, a failing step, the agent's layers failing alone, a bare
//! host's packages. Commands go to a recording runner (`common::rig`); the way back —
//! rollback, the watchdog, confirm — is `tests/rollback.rs`; the real sshd, ufw and
//! fail2ban are driven in `tests/netns.rs`.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::cli::{self, run};
use common::rig::{Rig, Tools, log_of, recording_runner, rendered, rig, s, wrapped_runner};

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
    let squid = root.path().join("opt/clawguard/agent/proxy/squid.conf");
    let edited = fs::read_to_string(&squid).unwrap().replace("http_access deny all", "http_access allow all");
    fs::write(&squid, &edited).unwrap();
    let work = tempfile::tempdir().unwrap();
    let answers = work.path().join("a.toml");
    fs::write(&answers, "version = 1\n[egress]\nallowed_hosts = [\"api.anthropic.com\", \"api.telegram.org\"]\n")
        .unwrap();

    let o = run(&["apply", "--yes", "--root", s(root.path()), "--answers", s(&answers)]);
    assert_eq!(o.status.code(), Some(1), "{}", cli::text(&o));
    let text = cli::text(&o);
    assert!(text.contains("edited by hand") && text.contains("/opt/clawguard/agent/proxy/squid.conf"), "{text}");
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
    let backup = root.path().join("var/lib/clawguard/generations/000002/backup/opt/clawguard/agent/proxy/squid.conf");
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
