//! Snapshots of every rendered file, for three answer sets on a Debian 12 cloud image.
//! A change to a template shows up here as a reviewable diff (`cargo insta review`).

mod common;

use clawguard::layers;

#[test]
fn every_rendered_file_matches_its_snapshot() {
    let root = common::fixture_root("debian12-cloud");
    let facts = common::facts(root.path(), Some("198.51.100.7 50000 203.0.113.5 22"));
    for (set, answers) in common::answer_sets() {
        let plan = layers::plan(&answers, &facts).unwrap();
        assert!(plan.files.len() >= 10, "{set}: only {} files", plan.files.len());
        for f in &plan.files {
            let name = format!("{set}{}", f.path.replace('/', "__"));
            insta::assert_snapshot!(name, &f.content);
        }
    }
}

#[test]
fn no_answer_reaches_a_file_unescaped() {
    // The generic set has a command argument with quotes: it must arrive JSON-quoted.
    let root = common::fixture_root("debian12-cloud");
    let facts = common::facts(root.path(), None);
    let answers = &common::answer_sets()[1].1;
    let plan = layers::plan(answers, &facts).unwrap();
    let compose = plan.file("/opt/agent/docker-compose.yml").unwrap();
    assert!(
        compose.content.contains(r#"command: ["agent","--serve","--name","it's \"quoted\""]"#),
        "{}",
        compose.content
    );
}

/// Every job systemd runs to its end has a time limit: a oneshot that hangs (a FIFO where
/// a log should be, an engine that never answers) would otherwise hold its unit for ever,
/// and the daily check would silently never run again.
#[test]
fn every_oneshot_unit_has_a_time_limit() {
    let root = common::fixture_root("debian12-cloud");
    let facts = common::facts(root.path(), None);
    let mut seen = 0;
    for (set, answers) in common::answer_sets() {
        let plan = layers::plan(&answers, &facts).unwrap();
        for f in plan.files.iter().filter(|f| f.path.ends_with(".service") && f.content.contains("Type=oneshot")) {
            seen += 1;
            let limit = f.content.lines().find_map(|l| l.strip_prefix("TimeoutStartSec="));
            assert!(
                limit.is_some_and(|v| v != "infinity" && v != "0"),
                "{set}: {} has no time limit:\n{}",
                f.path,
                f.content
            );
        }
    }
    assert!(seen >= 6, "only {seen} oneshot units were looked at");
}
