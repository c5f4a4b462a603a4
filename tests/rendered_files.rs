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
