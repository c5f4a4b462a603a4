//! The wizard's speed: time to the first frame (state built from answers and host facts,
//! drawn at 80×24) and the time of one keystroke plus its frame, on a layer screen and on
//! the review. Targets: first frame under 50 ms, a frame under 5 ms.

use std::path::Path;

use clawguard::answers::Answers;
use clawguard::host::{self, Facts};
use clawguard::session::Loaded;
use clawguard::target::Root;
use clawguard::ui::tui::App;
use clawguard::ui::tui::draw::draw;
use criterion::{Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn wizard(root: &Root, facts: Facts) -> App {
    let loaded = Loaded {
        root: root.clone(),
        answers: Answers::default(),
        facts,
        source: "defaults".into(),
        ssh_connection: None,
    };
    App::new(loaded, true)
}

fn bench(c: &mut Criterion) {
    let root = Root::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/debian12-cloud"));
    c.bench_function("first frame (probe + state + draw 80x24)", |b| {
        b.iter(|| {
            let facts = host::probe(&root, None);
            let app = wizard(&root, facts);
            let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
            t.draw(|f| draw(&app, f)).unwrap();
        })
    });
    let facts = host::probe(&root, None);
    let mut app = wizard(&root, facts.clone());
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    for _ in 0..3 {
        app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    }
    app.on_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
    c.bench_function("keystroke + frame (typing the SSH port)", |b| {
        b.iter(|| {
            app.on_key(KeyEvent::new(KeyCode::Char('2'), KeyModifiers::NONE));
            app.on_key(KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE));
            t.draw(|f| draw(&app, f)).unwrap();
        })
    });
    let mut review = wizard(&root, facts);
    review.go_review();
    c.bench_function("keystroke + frame (scrolling the review)", |b| {
        b.iter(|| {
            review.on_key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE));
            t.draw(|f| draw(&review, f)).unwrap();
        })
    });
    c.bench_function("building the review (plan + diffs)", |b| b.iter(|| review.go_review()));
}

criterion_group!(benches, bench);
criterion_main!(benches);
