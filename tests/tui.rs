//! Every wizard screen at 80×24, drawn with ratatui's TestBackend and compared with a
//! snapshot: what the user sees, including a validation error and a long diff being
//! scrolled. The real binary in a real terminal is driven in `tests/tui_tmux.rs`.

mod common;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use clawguard::answers::Answers;
use clawguard::apply::{ApplyError, Report};
use clawguard::session::Loaded;
use clawguard::session::{Next, Outcome};
use clawguard::target::Root;
use clawguard::ui::tui::App;
use clawguard::ui::tui::app::Screen;
use clawguard::ui::tui::draw::draw;
use clawguard::ui::tui::progress::Progress;

const SESSION: &str = "198.51.100.7 50000 203.0.113.5 22";

fn app_on(root: &std::path::Path, dry_run: bool) -> App {
    let loaded = Loaded {
        root: Root::new(root),
        answers: Answers::default(),
        facts: common::facts(root, Some(SESSION)),
        source: "the built-in defaults".into(),
        ssh_connection: Some(SESSION.into()),
    };
    let mut app = App::new(loaded, dry_run);
    app.theme.color = false;
    app
}

fn app(dry_run: bool) -> (App, tempfile::TempDir) {
    let root = common::fixture_root("debian12-cloud");
    let app = app_on(root.path(), dry_run);
    (app, root)
}

fn screen_at(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| draw(app, f)).unwrap();
    t.backend().to_string()
}

fn screen(app: &App) -> String {
    screen_at(app, 80, 24)
}

fn key(app: &mut App, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn ctrl(app: &mut App, c: char) {
    app.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL));
}

#[test]
fn welcome_and_every_layer_screen() {
    let (mut app, _root) = app(true);
    insta::assert_snapshot!("welcome", screen(&app));
    key(&mut app, KeyCode::Enter);
    for i in 0..7 {
        assert_eq!(app.screen, Screen::Layer(i));
        insta::assert_snapshot!(format!("layer_{}", i + 1), screen(&app));
        key(&mut app, KeyCode::Enter);
    }
    assert_eq!(app.screen, Screen::Review);
    insta::assert_snapshot!("review_top", screen(&app));
}

#[test]
fn an_invalid_port_is_shown_next_to_the_field_and_enter_does_not_advance() {
    let (mut app, _root) = app(true);
    for _ in 0..3 {
        key(&mut app, KeyCode::Enter);
    }
    assert_eq!(app.screen, Screen::Layer(2));
    key(&mut app, KeyCode::Tab);
    ctrl(&mut app, 'u');
    typed(&mut app, "22a");
    let shown = screen(&app);
    assert!(shown.contains("\"22a\" is not a whole number"), "{shown}");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, Screen::Layer(2), "Enter advanced past an invalid port");
    insta::assert_snapshot!("ssh_invalid_port", screen(&app));
    // Fixing the field lets Enter go on.
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    typed(&mut app, "2200");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, Screen::Layer(3));
    assert_eq!(app.answers().ssh.port.get(), 2200);
}

#[test]
fn lists_take_and_drop_items_and_refuse_bad_ones() {
    let (mut app, _root) = app(true);
    for _ in 0..5 {
        key(&mut app, KeyCode::Enter);
    }
    assert_eq!(app.screen, Screen::Layer(4));
    key(&mut app, KeyCode::Tab);
    typed(&mut app, "http://evil.example");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, Screen::Layer(4));
    insta::assert_snapshot!("egress_bad_host", screen(&app));
    ctrl(&mut app, 'u');
    typed(&mut app, "api.telegram.org");
    key(&mut app, KeyCode::Enter);
    assert!(app.answers().egress.allowed_hosts.iter().any(|h| h.to_string() == "api.telegram.org"));
    // Select the first host and remove it.
    for _ in 0..6 {
        key(&mut app, KeyCode::Up);
    }
    key(&mut app, KeyCode::Delete);
    assert!(!app.answers().egress.allowed_hosts.iter().any(|h| h.to_string() == "api.anthropic.com"));
    assert_eq!(app.answers().egress.allowed_hosts.len(), 5);
}

#[test]
fn skipping_a_layer_says_what_is_left_unprotected() {
    let (mut app, _root) = app(true);
    for _ in 0..7 {
        key(&mut app, KeyCode::Enter);
    }
    assert_eq!(app.screen, Screen::Layer(6));
    key(&mut app, KeyCode::Char(' '));
    assert!(app.answers().skip.contains(&clawguard::answers::Layer::Backup));
    insta::assert_snapshot!("backup_skipped", screen(&app));
}

#[test]
fn review_scrolls_through_a_long_diff_and_jumps_to_the_layer() {
    let (mut app, _root) = app(true);
    app.go_review();
    // The summary first; `d` opens every diff.
    assert!(screen(&app).contains("summary (d: every diff)"), "{}", screen(&app));
    key(&mut app, KeyCode::Char('d'));
    for _ in 0..3 {
        key(&mut app, KeyCode::Char('n'));
    }
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    insta::assert_snapshot!("review_scrolled", screen(&app));
    key(&mut app, KeyCode::Enter);
    assert!(matches!(app.screen, Screen::Layer(_)), "{:?}", app.screen);
}

#[test]
fn help_quit_and_save_dialogs() {
    let (mut app, root) = app(true);
    key(&mut app, KeyCode::Char('?'));
    insta::assert_snapshot!("help", screen(&app));
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char(' ')); // skip the sandbox: the answers now differ
    key(&mut app, KeyCode::Char('q'));
    assert!(!app.quit, "q with unsaved answers must ask");
    insta::assert_snapshot!("quit_unsaved", screen(&app));
    key(&mut app, KeyCode::Char('n'));
    app.go_review();
    key(&mut app, KeyCode::Char('s'));
    let out = root.path().join("saved-answers.toml");
    if let Some(clawguard::ui::tui::app::Modal::Save { path, .. }) = &mut app.modal {
        path.clear();
    }
    typed(&mut app, out.to_str().unwrap());
    key(&mut app, KeyCode::Enter);
    let saved = Answers::load(&out).unwrap();
    assert_eq!(&saved, app.answers());
    assert!(!app.unsaved());
    key(&mut app, KeyCode::Char('q'));
    assert!(app.quit, "saved answers quit at once");
}

#[test]
fn apply_and_done_screens() {
    let (mut app, _root) = app(false);
    app.screen = Screen::Apply;
    let log = vec![
        "checking the new configuration with the services' own tools".to_owned(),
        "backing up into generation 1".into(),
        "running systemctl reload ssh".into(),
    ];
    app.apply = Some(Progress::shown(8, 3, "running systemctl reload ssh", log.clone(), None));
    let running = screen(&app);
    assert!(running.contains("▸ running systemctl reload ssh"), "{running}");
    insta::assert_snapshot!("apply_running", running);
    let failed = || ApplyError::StepFailed {
        step: "systemctl reload ssh".into(),
        status: "exit status 1".into(),
        output: String::new(),
        rolled_back: vec![
            "restored /etc/ssh/sshd_config.d/00-clawguard.conf".into(),
            "verified: all 1 file(s) of generation 1 are as before".into(),
        ],
    };
    app.apply = Some(Progress::shown(8, 3, "running systemctl reload ssh", log.clone(), Some(Err(failed()))));
    let shown = screen(&app);
    // The step that failed is marked so, and the rollback is said here, not after quitting.
    assert!(shown.contains("✗ running systemctl reload ssh") && !shown.contains("✓ running systemctl"), "{shown}");
    assert!(shown.contains("Rolled back: restored"), "{shown}");
    insta::assert_snapshot!("apply_failed", shown);
    let report = Report {
        generation: Some(1),
        written: vec!["/etc/ssh/sshd_config.d/00-clawguard.conf".into()],
        ran: vec!["systemctl reload ssh".into(), "ufw limit 2222/tcp comment 'clawguard: SSH'".into()],
        ..Report::default()
    };
    let next = Next {
        port: 2222,
        old_ports: vec![22],
        user: "debian".into(),
        host: Some("203.0.113.5".into()),
        deadline: 1_000_120,
        automatic: true,
        armed_with: Some("systemd-run timer".into()),
        clawguard: "clawguard".into(),
    };
    let outcome = Outcome { report, target: "/".into(), next: Some(next), kit: None };
    app.apply = Some(Progress::shown(8, 8, "done", log, Some(Ok(outcome))));
    app.screen = Screen::Done;
    app.now = Some(1_000_000);
    let done = screen(&app);
    // The address the admin came in on, not a placeholder.
    assert!(done.contains("ssh -o IdentitiesOnly=yes -p 2222 debian@203.0.113.5"), "{done}");
    assert!(done.contains("confirm within 120 s"), "{done}");
    // A login on the old port, after the move, waits for a timeout: the outcome says why.
    assert!(done.contains("set `Port 2222` there"), "{done}");
    insta::assert_snapshot!("done_with_countdown", done);
}

#[test]
fn keys_are_typed_masked_and_never_shown() {
    let (mut app, root) = app(true);
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, Screen::Layer(1));
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Tab);
    typed(&mut app, "sk-very-secret");
    let shown = screen(&app);
    assert!(!shown.contains("sk-very-secret") && shown.contains("••••••••••••••"), "{shown}");
    insta::assert_snapshot!("credentials_typing_a_key", shown);
    key(&mut app, KeyCode::Enter);
    let shown = screen(&app);
    assert!(shown.contains("entered, stored on apply") && !shown.contains("sk-very-secret"), "{shown}");
    app.go_review();
    let shown = screen(&app);
    assert!(shown.contains("Keys entered for anthropic") && !shown.contains("sk-very-secret"), "{shown}");
    assert!(!root.path().join("etc/clawguard/vault").exists(), "a dry run stored a key");
}

#[test]
fn applying_from_the_wizard_stores_the_keys_in_the_vault() {
    let (mut app, root) = app(false);
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Tab);
    typed(&mut app, "sk-ant-wizard-key");
    key(&mut app, KeyCode::Enter);
    app.go_review();
    key(&mut app, KeyCode::Char('a'));
    let t = std::time::Instant::now();
    while app.screen == Screen::Apply {
        assert!(t.elapsed() < std::time::Duration::from_secs(60), "apply did not finish");
        std::thread::sleep(std::time::Duration::from_millis(50));
        app.tick();
    }
    assert_eq!(app.screen, Screen::Done, "{}", screen(&app));
    let sealed = std::fs::read(root.path().join("etc/clawguard/vault/anthropic.age")).unwrap();
    assert!(!String::from_utf8_lossy(&sealed).contains("sk-ant-wizard-key"));
    assert!(app.req.keys.is_empty(), "the wizard still holds the key");
    let compose = std::fs::read_to_string(root.path().join("opt/clawguard/agent/docker-compose.yml")).unwrap();
    assert!(compose.contains(r#"secrets: ["anthropic","openclaw-gateway"]"#), "{compose}");
    assert!(root.path().join("etc/clawguard/answers.toml").exists());
}

#[test]
fn a_text_field_edits_in_the_middle() {
    let (mut app, _root) = app(true);
    for _ in 0..3 {
        key(&mut app, KeyCode::Enter);
    }
    key(&mut app, KeyCode::Tab);
    // "2222": two left, Backspace removes the second 2, "0" goes in its place -> "2022".
    key(&mut app, KeyCode::Left);
    key(&mut app, KeyCode::Left);
    key(&mut app, KeyCode::Backspace);
    typed(&mut app, "0");
    assert_eq!(app.layers.fields[2][1].text, "2022");
    assert_eq!(app.answers().ssh.port.get(), 2022);
    // Home, Delete: "022"; End, "5": "0225".
    key(&mut app, KeyCode::Home);
    key(&mut app, KeyCode::Delete);
    key(&mut app, KeyCode::End);
    typed(&mut app, "5");
    assert_eq!(app.layers.fields[2][1].text, "0225");
    assert_eq!(app.answers().ssh.port.get(), 225);
}

#[test]
fn a_question_mark_and_a_q_are_typed_into_a_text_field() {
    let (mut app, _root) = app(true);
    for _ in 0..6 {
        key(&mut app, KeyCode::Enter);
    }
    assert_eq!(app.screen, Screen::Layer(5));
    let webhook = app.layers.forms[5].fields.iter().position(|f| f.key == "monitoring.alert_webhook").unwrap();
    while app.layers.focus != webhook {
        key(&mut app, KeyCode::Tab);
    }
    typed(&mut app, "https://ntfy.example.net/q?topic=box&quiet=1");
    assert!(app.modal.is_none() && !app.quit, "? or q was taken as a command");
    assert_eq!(
        app.answers().monitoring.alert_webhook.as_ref().map(|u| u.to_string()).as_deref(),
        Some("https://ntfy.example.net/q?topic=box&quiet=1")
    );
    // F1 still opens Help there, and Help lists the keys that work on that field.
    key(&mut app, KeyCode::F(1));
    let help = screen(&app);
    assert!(help.contains("F1") && help.contains("^U") && help.contains("clear"), "{help}");
    // On a toggle `?` is Help and `q` asks to quit, as the footer says.
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('u'));
    key(&mut app, KeyCode::BackTab);
    while app.layers.takes_text(5) {
        key(&mut app, KeyCode::BackTab);
    }
    let footer = screen(&app);
    assert!(footer.contains("F1/?") && footer.contains(" q "), "{footer}");
    key(&mut app, KeyCode::Char('?'));
    assert_eq!(app.modal, Some(clawguard::ui::tui::app::Modal::Help));
}

#[test]
fn ctrl_c_during_an_apply_does_not_end_it_halfway() {
    let (mut app, _root) = app(false);
    app.screen = Screen::Apply;
    app.apply = Some(Progress::shown(8, 3, "writing /etc/ssh/sshd_config.d/00-clawguard.conf", vec![], None));
    ctrl(&mut app, 'c');
    key(&mut app, KeyCode::Char('q'));
    assert!(!app.quit, "Ctrl-C or q ended the wizard in the middle of an apply");
    assert!(screen(&app).contains("half done"), "{}", screen(&app));
    // Once it ended, Ctrl-C quits.
    app.apply = Some(Progress::shown(8, 8, "", vec![], Some(Err(ApplyError::Vanished))));
    ctrl(&mut app, 'c');
    assert!(app.quit);
}

#[test]
fn the_review_leads_with_what_makes_apply_refuse_and_wraps_long_lines() {
    let root = common::fixture_root("no-keys");
    let mut app = app_on(root.path(), false);
    app.go_review();
    let shown = screen_at(&app, 80, 24);
    let top: Vec<&str> = shown.lines().take(6).collect();
    assert!(top.iter().any(|l| l.contains("Apply refuses")), "{shown}");
    assert!(top.iter().any(|l| l.contains("DANGER:")), "{shown}");
    // The DANGER's advice is on screen in full, wrapped, not cut at the edge.
    assert!(shown.contains("ssh-copy-id"), "{shown}");
    key(&mut app, KeyCode::Char('a'));
    assert_eq!(app.screen, Screen::Review, "apply started despite the DANGER");
    assert!(screen(&app).contains("Cannot apply"), "{}", screen(&app));
}

#[test]
fn the_footer_keeps_each_hint_whole_at_100_columns() {
    let (mut app, _root) = app(true);
    key(&mut app, KeyCode::Enter);
    for width in [80u16, 100, 120] {
        let shown = screen_at(&app, width, 24);
        let footer: Vec<&str> = shown.lines().rev().skip(1).take(2).collect();
        for (k, does) in clawguard::ui::tui::bindings::hints(&app.bindings()) {
            let whole = format!("{k}  {does}");
            let present = footer.iter().any(|l| l.contains(&whole));
            let cut = footer.iter().any(|l| l.trim_end().ends_with(k)) && !present;
            assert!(!cut, "`{whole}` is broken across the footer at {width} columns:\n{}", footer.join("\n"));
        }
    }
}

#[test]
fn the_welcome_tells_unknown_keys_and_an_inactive_firewall_apart() {
    let (mut app, _root) = app(true);
    for u in &mut app.req.facts.users {
        u.keys = None;
    }
    app.req.facts.tools.ufw = true;
    app.req.facts.ufw.enabled = false;
    let shown = screen_at(&app, 120, 30);
    assert!(!shown.contains("No normal user has an SSH key"), "{shown}");
    assert!(shown.contains("cannot see the keys of debian without root"), "{shown}");
    assert!(shown.contains("ufw is installed but not active"), "{shown}");
}

#[test]
fn the_credentials_screen_shows_how_narrow_each_key_should_be_and_its_rotation() {
    let root = common::fixture_root("debian12-cloud");
    let vault = clawguard::vault::Vault::new(&Root::new(root.path()));
    let id = |n: &str| -> clawguard::answers::Ident { n.parse().unwrap() };
    vault.set(&id("anthropic"), b"sk-ant-old").unwrap();
    vault.rotate(&id("anthropic"), b"sk-ant-new").unwrap();
    vault.set(&id("openai"), b"sk-oai").unwrap();
    let old = root.path().join("etc/clawguard/vault/openai.age");
    assert!(std::process::Command::new("touch").args(["-d", "100 days ago"]).arg(&old).status().unwrap().success());
    let mut app = app_on(root.path(), true);
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Tab);
    let shown = screen_at(&app, 120, 30);
    assert!(shown.contains("anthropic      ROTATING: revoke the old key"), "{shown}");
    assert!(shown.contains("openai         100 days old, ROTATE"), "{shown}");
    assert!(shown.contains("narrowest key: a key in a workspace of its own"), "{shown}");
    key(&mut app, KeyCode::Down);
    let shown = screen_at(&app, 120, 30);
    assert!(shown.contains("narrowest key: a project key limited to the models"), "{shown}");
    assert!(!shown.contains("sk-"), "{shown}");
}

#[test]
fn the_backup_screen_tests_the_destination_before_apply() {
    let root = common::fixture_root("debian12-cloud");
    let test = |destination: &str| {
        let mut app = app_on(root.path(), true);
        let text = format!("version = 1\n[backup]\ndestination = \"{destination}\"\nallow_same_machine = true\n");
        app.req.answers = Answers::parse(&text, "test").unwrap();
        app.go_layer(6);
        let shown = screen_at(&app, 120, 30);
        assert!(shown.contains("^T") && shown.contains("test destination"), "{shown}");
        ctrl(&mut app, 't');
        let t = std::time::Instant::now();
        loop {
            app.tick();
            match &app.status {
                Some((_, s)) if !s.starts_with("Testing") => break,
                _ => assert!(t.elapsed() < std::time::Duration::from_secs(60), "the test never answered"),
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let shown = screen_at(&app, 120, 30);
        (app.status.clone().unwrap(), shown)
    };
    let ((failed, said), shown) = test("rest:http://127.0.0.1:9/repo");
    assert!(failed && said.contains("cannot be reached"), "{said}");
    assert!(shown.contains("cannot be reached"), "{shown}");
    let ((failed, said), _) = test("/srv/backups/repo");
    assert!(!failed && said.contains("created when you apply"), "{said}");
    assert!(!root.path().join("srv/backups/repo").exists(), "the test wrote to the destination");
}

/// The Done screen after a large apply, at 80×24 and 120×40: what the user must do next —
/// the time left, the login to try, `sudo clawguard confirm` — is always in view, pinned
/// under the rest, which scrolls. Once the confirmation arrived (its record gone, the
/// generation committed), the countdown gives way to that; a rollback is said as such.
#[test]
fn the_done_screen_keeps_the_next_step_in_view_and_scrolls_the_rest() {
    let (mut app, root) = app(false);
    let report = Report {
        generation: Some(1),
        written: (0..60).map(|i| format!("/etc/clawguard/file-{i:02}.conf")).collect(),
        ran: (0..20).map(|i| format!("systemctl restart unit-{i}")).collect(),
        ..Report::default()
    };
    let next = Next {
        port: 2222,
        old_ports: vec![22],
        user: "debian".into(),
        host: Some("203.0.113.5".into()),
        deadline: 1_000_113,
        automatic: true,
        armed_with: Some("systemd-run timer".into()),
        clawguard: "clawguard".into(),
    };
    let outcome = Outcome { report, target: "/".into(), next: Some(next), kit: None };
    app.apply = Some(Progress::shown(8, 8, "done", Vec::new(), Some(Ok(outcome))));
    app.screen = Screen::Done;
    app.now = Some(1_000_000);
    for (w, h) in [(80, 24), (120, 40)] {
        let s = screen_at(&app, w, h);
        assert!(s.contains("confirm within 113 s"), "{w}x{h}:\n{s}");
        assert!(
            s.contains("ssh -o IdentitiesOnly=yes -p 2222 debian@203.0.113.5") && s.contains("sudo clawguard confirm"),
            "{w}x{h}:\n{s}"
        );
        assert!(s.contains("Done — ↑↓ scroll"), "{w}x{h}:\n{s}");
    }
    let top = screen(&app);
    assert!(top.contains("Applied generation 1"), "{top}");
    for _ in 0..3 {
        key(&mut app, KeyCode::PageDown);
    }
    let scrolled = screen(&app);
    assert!(!scrolled.contains("Applied generation 1") && scrolled.contains("file-3"), "{scrolled}");
    assert!(scrolled.contains("sudo clawguard confirm"), "the next step scrolled away:\n{scrolled}");

    // Confirmed from a new login: no record waits, the generation is committed.
    let state = root.path().join("var/lib/clawguard/generations/1");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("manifest.toml"), "number = 1\ncreated = 1\nfiles = []\ncommands = []\n").unwrap();
    std::fs::write(state.join("committed"), "").unwrap();
    app.tick();
    let confirmed = screen(&app);
    assert!(confirmed.contains("Confirmed from a new login") && !confirmed.contains("confirm within"), "{confirmed}");
}
