//! The real binary in a real terminal (tmux): the wizard in --dry-run and --plain mode
//! driven by keys, read back from the screen; the fixture root must be unchanged.

mod common;

use std::fs;

use common::tmux::Tmux;

fn wizard(root: &std::path::Path, extra: &str) -> Tmux {
    Tmux::start(&format!("NO_COLOR=1 {} --dry-run --root {} {extra}", common::bin(), root.display()), 80, 24)
}

#[test]
fn dry_run_wizard_changes_the_port_adds_a_host_and_shows_the_diff() {
    let root = common::fixture_root("debian12-cloud");
    let before = common::fingerprint(root.path());
    let t = wizard(root.path(), "");
    t.wait_for("Press Enter to start", 10);
    t.keys(&["Enter"]);
    t.wait_for("1. Agent sandbox", 5);
    t.keys(&["Enter"]);
    t.wait_for("2. Credentials", 5);
    t.keys(&["Enter"]);
    t.wait_for("3. SSH", 5);

    // An invalid port: the error is next to the field and Enter stays.
    t.keys(&["Tab", "C-u"]);
    t.text("22a");
    let s = t.wait_for("is not a whole number", 5);
    assert!(s.contains("SSH port") && s.contains("22a"), "{s}");
    t.keys(&["Enter"]);
    let s = t.wait_for("Fix the field marked in red", 5);
    assert!(s.contains("3. SSH"), "Enter advanced past an invalid port:\n{s}");

    t.keys(&["C-u"]);
    t.text("2200");
    t.keys(&["Enter"]);
    t.wait_for("4. Firewall", 5);
    t.keys(&["Enter"]);
    t.wait_for("5. Egress", 5);
    t.keys(&["Tab"]);
    t.text("api.telegram.org");
    t.keys(&["Enter"]);
    t.wait_for("- api.telegram.org", 5);
    t.keys(&["Enter"]);
    t.wait_for("6. Monitoring", 5);
    t.keys(&["Enter"]);
    t.wait_for("7. Backup", 5);
    t.keys(&["Enter"]);
    t.wait_for("Review", 5);

    // The review opens on one screen that says what changes, layer by layer, at 80x24.
    let first = t.wait_for("summary (d: every diff)", 5);
    assert!(first.contains("3. SSH: ") && first.contains("SSH moves to port 2200"), "{first}");
    assert!(first.contains("7. Backup and recovery:") && first.contains("change(s) in all"), "one screen:\n{first}");
    // `d`: every diff. Page through the whole review; collect what was on screen.
    t.keys(&["d"]);
    t.wait_for("every diff", 5);
    let mut seen = t.screen();
    for _ in 0..45 {
        t.keys(&["PageDown"]);
        seen.push_str(&t.screen());
    }
    assert!(seen.contains("+Port 2200"), "no `Port 2200` in the review:\n{seen}");
    assert!(
        seen.contains("+acl allowed_hosts dstdomain -n api.telegram.org"),
        "the new host is not in the squid diff:\n{seen}"
    );

    // Resize: the wizard redraws at the new size and back.
    t.resize(100, 30);
    t.wait_for("Review", 5);
    t.resize(80, 24);
    t.wait_for("Review", 5);

    // Quit asks (the answers are unsaved), then restores the terminal.
    t.keys(&["q"]);
    t.wait_for("Quit anyway?", 5);
    t.keys(&["y"]);
    let s = t.wait_for("[exited]", 10);
    assert!(s.contains("Quit without saving; nothing was written."), "{s}");
    assert_eq!(before, common::fingerprint(root.path()), "the dry run changed the fixture root");
}

#[test]
fn ctrl_c_restores_the_terminal() {
    let root = common::fixture_root("debian12-cloud");
    let t = wizard(root.path(), "");
    t.wait_for("Press Enter to start", 10);
    t.keys(&["C-c"]);
    let s = t.wait_for("[exited]", 10);
    assert!(!s.contains("Press Enter to start"), "the wizard's screen was left behind:\n{s}");
}

#[test]
fn review_saves_the_answers_for_reuse() {
    let root = common::fixture_root("debian12-cloud");
    let work = tempfile::tempdir().unwrap();
    let saved = work.path().join("answers.toml");
    let t = wizard(root.path(), "");
    t.wait_for("Press Enter to start", 10);
    for _ in 0..8 {
        t.keys(&["Enter"]);
    }
    t.wait_for("Review", 5);
    t.keys(&["s"]);
    t.wait_for("Save answers", 5);
    for _ in 0..20 {
        t.keys(&["BSpace"]);
    }
    t.text(saved.to_str().unwrap());
    t.keys(&["Enter"]);
    t.wait_for("Answers saved to", 5);
    let loaded = clawguard::answers::Answers::load(&saved).unwrap();
    assert_eq!(loaded, clawguard::answers::Answers::default());
}

#[test]
fn plain_mode_asks_line_by_line_and_ends_with_the_same_diff() {
    let root = common::fixture_root("debian12-cloud");
    let before = common::fingerprint(root.path());
    let work = tempfile::tempdir().unwrap();
    let saved = work.path().join("plain-answers.toml");
    let t = Tmux::start(
        &format!("NO_COLOR=1 {} --plain --dry-run --root {}", common::bin(), root.path().display()),
        100,
        30,
    );
    // Answer each prompt as it comes: the SSH port, the allowed hosts, the save path; Enter
    // (the default) for every other question. A prompt is waiting when the count of
    // prompt lines grew past those answered and the last one still shows its help line.
    let mut answered = 0;
    let mut added: Vec<&str> = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        assert!(std::time::Instant::now() < deadline, "plain mode did not finish:\n{}", t.history());
        let all = t.history();
        if all.contains("[exited]") {
            break;
        }
        let lines: Vec<&str> = all.lines().collect();
        let prompts: Vec<usize> = (0..lines.len()).filter(|i| lines[*i].starts_with("? ")).collect();
        let waiting = prompts.len() == answered + 1
            && prompts.last().is_some_and(|i| lines[i + 1..].iter().any(|l| l.starts_with('[')));
        if !waiting {
            std::thread::sleep(std::time::Duration::from_millis(50));
            continue;
        }
        let prompt = lines[*prompts.last().unwrap()];
        if prompt.starts_with("? SSH port") {
            t.text("2200");
        } else if prompt.starts_with("? Agent:") {
            t.keys(&["Down"]); // generic, which takes a command
        } else if prompt.starts_with("? Allowed hosts:") || prompt.starts_with("? Command (generic):") {
            t.text("y");
        } else if prompt.starts_with("? Add to Allowed hosts") && !added.contains(&"host") {
            t.text("api.telegram.org");
            added.push("host");
        } else if prompt.starts_with("? Add to Command (generic)") && !added.contains(&"arg") {
            // One item with a comma in it: one argument, not two.
            t.text("--allowed=a,b");
            added.push("arg");
        } else if prompt.starts_with("? Show every file's diff") {
            t.text("y");
        } else if prompt.starts_with("? Save the answers") {
            t.text(saved.to_str().unwrap());
        }
        t.keys(&["Enter"]);
        answered += 1;
    }
    let all = t.history();
    assert!(answered > 20, "only {answered} prompts answered:\n{all}");
    assert!(all.contains("+Port 2200"), "{all}");
    assert!(all.contains("+acl allowed_hosts dstdomain -n api.telegram.org"), "{all}");
    let loaded = clawguard::answers::Answers::load(&saved).unwrap();
    assert_eq!(loaded.ssh.port.get(), 2200);
    let args: Vec<String> = loaded.sandbox.command.iter().map(|a| a.to_string()).collect();
    assert_eq!(args, ["--allowed=a,b"], "a list item with a comma was split:\n{all}");
    assert!(loaded.egress.allowed_hosts.iter().any(|h| h.to_string() == "api.telegram.org"));
    assert_eq!(loaded.egress.allowed_hosts.len(), 6, "the hosts kept are all still there");
    assert_eq!(before, common::fingerprint(root.path()));
}

#[test]
fn without_a_terminal_the_wizard_says_to_use_answers() {
    let o = common::cli::command(&[]).args(["--dry-run"]).stdin(std::process::Stdio::null()).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not a terminal") && err.contains("--answers"), "{err}");
    let _ = fs::metadata("/");
}

/// Whether a screen capture has colour (foreground or background) escape sequences.
fn has_colour(escaped: &str) -> bool {
    escaped.split("\x1b[").skip(1).any(|seq| {
        let params = seq.split('m').next().unwrap_or("");
        params.split(';').any(|p| p.len() == 2 && (p.starts_with('3') || p.starts_with('4')) && p != "39" && p != "49")
    })
}

#[test]
fn no_color_is_honoured() {
    let root = common::fixture_root("debian12-cloud");
    let plain = wizard(root.path(), "");
    plain.wait_for("Press Enter to start", 10);
    assert!(!has_colour(&plain.screen_escaped()), "colours with NO_COLOR:\n{:?}", plain.screen_escaped());
    let coloured = Tmux::start(&format!("{} --dry-run --root {}", common::bin(), root.path().display()), 80, 24);
    coloured.wait_for("Press Enter to start", 10);
    assert!(has_colour(&coloured.screen_escaped()), "control: no colours without NO_COLOR");
}

/// A refused apply in the wizard: the failed step and what was (not) done are on the
/// Apply screen, the error is on the terminal after quitting, and the exit is non-zero.
#[test]
fn a_failed_apply_is_shown_where_it_happens_and_the_exit_says_so() {
    let root = common::fixture_root("debian12-cloud");
    // A managed path that is a directory: apply refuses it before writing anything.
    fs::create_dir_all(root.path().join("etc/ssh/sshd_config.d/00-clawguard.conf")).unwrap();
    let t = Tmux::start(
        &format!("NO_COLOR=1 {} --root {}; echo \"exit=$?\"", common::bin(), root.path().display()),
        100,
        30,
    );
    t.wait_for("Press Enter to start", 10);
    for _ in 0..8 {
        t.keys(&["Enter"]);
    }
    t.wait_for("Press a to apply", 10);
    t.keys(&["a"]);
    let s = t.wait_for("Stopped:", 20);
    assert!(s.contains("is not a regular file") && s.contains("Nothing was changed"), "{s}");
    assert!(s.contains("Esc") && s.contains("back to review"), "{s}");
    t.keys(&["q"]);
    let s = t.wait_for("[exited]", 10);
    assert!(s.contains("exit=1"), "a failed apply exited 0:\n{s}");
    assert!(s.contains("refusing to apply"), "the error is gone once the wizard exits:\n{s}");
}

/// A backup destination whose host key was never seen: restic starts ssh, which would ask
/// on the terminal and take its foreground (the wizard stopped, q and Ctrl-C dead). No
/// child of the wizard may own the terminal: the test fails, the wizard says why, and q
/// still quits. The backup server is a real sshd in a namespace of the test's.
#[test]
fn a_failing_sftp_test_leaves_the_wizard_responsive() {
    let mut v = common::vps::Vps::new("debian12-cloud");
    v.start_sshd();
    common::wait("sshd on port 22", 10, || v.port_open(22));
    let root = common::fixture_root("debian12-cloud");
    let answers = root.path().join("answers.toml");
    fs::write(
        &answers,
        format!("version = 1\n[backup]\ndestination = \"sftp:debian@{}:/home/debian/backup\"\n", v.vps_ip),
    )
    .unwrap();
    let t = wizard(root.path(), &format!("--answers {}", answers.display()));
    t.wait_for("Press Enter to start", 10);
    t.keys(&["Enter"]);
    for screen in ["1. Agent sandbox", "2. Credentials", "3. SSH", "4. Firewall", "5. Egress", "6. Monitoring"] {
        t.wait_for(screen, 5);
        t.keys(&["Enter"]);
    }
    t.wait_for("7. Backup", 5);
    t.keys(&["C-t"]);
    let s = t.wait_for("✗", 40);
    assert!(!s.contains("Are you sure you want to continue connecting"), "ssh asked on the wizard's terminal:\n{s}");
    assert!(s.contains("Host key verification failed") || s.contains("sftp"), "the reason is not said:\n{s}");
    // The wizard still answers its keys (the answers are unchanged: q quits at once).
    t.keys(&["q"]);
    let s = t.wait_for("[exited]", 10);
    assert!(s.contains("Nothing was written"), "{s}");
}

#[test]
fn the_egress_screen_lists_refused_hosts_and_allows_one_with_a_key() {
    let root = common::fixture_root("debian12-cloud");
    // What the proxy refused, where the daily check reads it: its log volume on the host.
    let log = root.path().join("var/lib/docker/volumes/clawguard-agent_proxy-logs/_data/access.log");
    fs::create_dir_all(log.parent().unwrap()).unwrap();
    fs::write(
        &log,
        "1796600000.000      0 172.20.0.3 TCP_DENIED/200 0 CONNECT evil.example:443 - HIER_NONE/- - bump -\n\
         1796600100.000      0 172.20.0.3 TCP_DENIED/200 0 CONNECT 203.0.113.9:443 - HIER_NONE/- - bump -\n\
         1796600200.000      0 172.20.0.3 TCP_DENIED/200 0 CONNECT api.mistral.ai:443 - HIER_NONE/- - bump -\n\
         1796600300.000      0 172.20.0.3 TCP_DENIED/200 0 CONNECT api.mistral.ai:443 - HIER_NONE/- - bump -\n",
    )
    .unwrap();
    let before = common::fingerprint(root.path());
    let t = wizard(root.path(), "");
    t.wait_for("Press Enter to start", 10);
    t.keys(&["Enter"]);
    for n in ["2. Credentials", "3. SSH", "4. Firewall", "5. Egress"] {
        t.keys(&["Enter"]);
        t.wait_for(n, 5);
    }
    // Newest first: the model API the user forgot, then the address, then the stranger.
    t.keys(&["Tab", "Tab"]);
    let s = t.wait_for("a allow", 5);
    let at = |what: &str| s.find(what).unwrap_or_else(|| panic!("{what} is not on the screen:\n{s}"));
    assert!(at("api.mistral.ai") < at("203.0.113.9"), "{s}");
    assert!(s.contains("api.mistral.ai                    2×  last 12-06 23:38"), "{s}");
    t.keys(&["a"]);
    let s = t.wait_for("- api.mistral.ai", 5);
    assert!(s.matches("api.mistral.ai").count() == 1, "allowed: in the list, off the refused ones:\n{s}");
    // An address cannot be allowed (names only); dismissing it keeps nothing in a dry run.
    t.keys(&["a"]);
    t.wait_for("is an address: the allow-list takes names only", 5);
    t.keys(&["d"]);
    let s = t.wait_for("a dry run keeps no decision", 5);
    assert!(!s.contains("│      203.0.113.9") && s.contains("│      evil.example"), "{s}");
    assert!(s.contains("- api.mistral.ai"), "{s}");
    // The allowed host is in the plan: squid.conf names it.
    for n in ["6. Monitoring", "7. Backup", "Review"] {
        t.keys(&["Enter"]);
        t.wait_for(n, 5);
    }
    t.keys(&["d"]);
    let mut seen = String::new();
    for _ in 0..60 {
        seen.push_str(&t.screen());
        if seen.contains("dstdomain -n api.mistral.ai") {
            break;
        }
        t.keys(&["PageDown"]);
    }
    assert!(seen.contains("dstdomain -n api.mistral.ai"), "the review's squid.conf does not allow it:\n{seen}");
    assert_eq!(common::fingerprint(root.path()), before, "a dry run wrote to the target");
}
