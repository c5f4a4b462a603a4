//! Every wizard screen at 80×24, drawn with ratatui's TestBackend and compared with a
//! snapshot: what the user sees, including a validation error and a long diff being
//! scrolled. The real binary in a real terminal is driven in `tests/tui_tmux.rs`.

mod common;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use clawguard::answers::Answers;
use clawguard::apply::{Pending, Report};
use clawguard::host::Root;
use clawguard::ui::tui::App;
use clawguard::ui::tui::app::{ApplyView, Screen};
use clawguard::ui::tui::draw::draw;

fn app(dry_run: bool) -> (App, tempfile::TempDir) {
    let root = common::fixture_root("debian12-cloud");
    let facts = common::facts(root.path(), Some("198.51.100.7 50000 203.0.113.5 22"));
    let mut app = App::new(Answers::default(), facts, Root::new(root.path()), dry_run, "the built-in defaults".into());
    app.color = false;
    (app, root)
}

fn screen(app: &App) -> String {
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    t.draw(|f| draw(app, f)).unwrap();
    t.backend().to_string()
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
    assert_eq!(app.answers.ssh.port.get(), 2200);
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
    assert!(app.answers.egress.allowed_hosts.iter().any(|h| h.to_string() == "api.telegram.org"));
    // Select the first host and remove it.
    for _ in 0..6 {
        key(&mut app, KeyCode::Up);
    }
    key(&mut app, KeyCode::Delete);
    assert!(!app.answers.egress.allowed_hosts.iter().any(|h| h.to_string() == "api.anthropic.com"));
    assert_eq!(app.answers.egress.allowed_hosts.len(), 5);
}

#[test]
fn skipping_a_layer_says_what_is_left_unprotected() {
    let (mut app, _root) = app(true);
    for _ in 0..7 {
        key(&mut app, KeyCode::Enter);
    }
    assert_eq!(app.screen, Screen::Layer(6));
    key(&mut app, KeyCode::Char(' '));
    assert!(app.answers.skip.contains(&clawguard::answers::Layer::Backup));
    insta::assert_snapshot!("backup_skipped", screen(&app));
}

#[test]
fn review_scrolls_through_a_long_diff_and_jumps_to_the_layer() {
    let (mut app, _root) = app(true);
    app.go_review();
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
    assert_eq!(saved, app.answers);
    assert!(!app.unsaved());
    key(&mut app, KeyCode::Char('q'));
    assert!(app.quit, "saved answers quit at once");
}

#[test]
fn apply_and_done_screens() {
    let (mut app, _root) = app(false);
    app.screen = Screen::Apply;
    app.apply = Some(ApplyView {
        rx: None,
        total: 8,
        done: 3,
        current: "writing /etc/ssh/sshd_config.d/00-clawguard.conf".into(),
        log: vec![
            "checking the new configuration with the services' own tools".into(),
            "backing up into generation 1".into(),
            "writing /etc/ssh/sshd_config.d/00-clawguard.conf".into(),
        ],
        result: None,
    });
    insta::assert_snapshot!("apply_running", screen(&app));
    if let Some(v) = &mut app.apply {
        v.result = Some(Err("step `systemctl reload ssh` failed (exit status 1)\nRolled back: restored /etc/ssh/sshd_config.d/00-clawguard.conf; verified: all 1 file(s) of generation 1 are as before".into()));
    }
    insta::assert_snapshot!("apply_failed", screen(&app));
    let report = Report {
        generation: Some(1),
        written: vec!["/etc/ssh/sshd_config.d/00-clawguard.conf".into()],
        ran: vec!["systemctl reload ssh".into(), "ufw limit 2222/tcp comment 'clawguard: SSH'".into()],
        pending: Some(Pending {
            generation: 1,
            deadline: 1_000_120,
            new_port: Some(2222),
            old_ports: vec![22],
            applied_from: None,
        }),
        ..Report::default()
    };
    if let Some(v) = &mut app.apply {
        v.result = Some(Ok(report));
    }
    app.screen = Screen::Done;
    app.now = Some(1_000_000);
    insta::assert_snapshot!("done_with_countdown", screen(&app));
    assert_eq!(app.countdown(), Some(120));
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
    assert!(app.secrets.is_empty(), "the wizard still holds the key");
    let compose = std::fs::read_to_string(root.path().join("opt/clawguard/agent/docker-compose.yml")).unwrap();
    assert!(compose.contains(r#"secrets: ["anthropic"]"#), "{compose}");
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
    assert_eq!(app.fields[2][1].text, "2022");
    assert_eq!(app.answers.ssh.port.get(), 2022);
    // Home, Delete: "022"; End, "5": "0225".
    key(&mut app, KeyCode::Home);
    key(&mut app, KeyCode::Delete);
    key(&mut app, KeyCode::End);
    typed(&mut app, "5");
    assert_eq!(app.fields[2][1].text, "0225");
    assert_eq!(app.answers.ssh.port.get(), 225);
}
