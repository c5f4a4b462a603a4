//! Targets an attacker shaped: symlinks and `..` under `--root` and `--out`. Nothing
//! clawguard reads or writes as "the target's file" may resolve outside the target; a
//! managed file that is a symlink is refused, never read into a diff or a backup.

mod common;

use common::cli::{self, run};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A directory outside every target, with a "secret" in it.
fn outside() -> tempfile::TempDir {
    let d = tempfile::Builder::new().prefix("clawguard-outside-").tempdir().unwrap();
    fs::write(d.path().join("shadow"), "root:SECRET-HASH:19000:0:99999:7:::\n").unwrap();
    d
}

#[test]
fn render_refuses_dot_dot_in_the_output_and_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    for out_arg in [format!("{}/new/..", s(d.path())), format!("{}/a/../b", s(d.path()))] {
        let o = run(&["render", "--out", &out_arg]);
        assert_eq!(o.status.code(), Some(1), "{out_arg}: {}", cli::text(&o));
        assert!(cli::text(&o).contains("refusing to render into"), "{}", cli::text(&o));
    }
    assert_eq!(fs::read_dir(d.path()).unwrap().count(), 0, "something was written");
    // positive control: a plain new directory is rendered into
    let o = run(&["render", "--out", &format!("{}/new", s(d.path()))]);
    assert!(o.status.success(), "{}", cli::text(&o));
    assert!(d.path().join("new/etc/ssh/sshd_config.d/00-clawguard.conf").is_file());
}

#[test]
fn render_follows_a_symlinked_directory_only_inside_the_output() {
    let d = tempfile::tempdir().unwrap();
    let away = outside();
    let before = common::fingerprint(away.path());
    fs::create_dir_all(d.path().join("out")).unwrap();
    symlink(away.path(), d.path().join("out/etc")).unwrap();
    let o = run(&["render", "--out", s(&d.path().join("out"))]);
    assert!(o.status.success(), "{}", cli::text(&o));
    assert_eq!(common::fingerprint(away.path()), before, "render wrote through the symlink");
    // The link's target was taken inside the output.
    let inside = d.path().join("out").join(away.path().strip_prefix("/").unwrap());
    assert!(inside.join("ssh/sshd_config.d/00-clawguard.conf").is_file(), "{}", cli::text(&o));
}

#[test]
fn render_refuses_a_file_that_is_a_symlink() {
    let d = tempfile::tempdir().unwrap();
    let away = outside();
    let dropin = d.path().join("out/etc/ssh/sshd_config.d/00-clawguard.conf");
    fs::create_dir_all(dropin.parent().unwrap()).unwrap();
    symlink(away.path().join("shadow"), &dropin).unwrap();
    let o = run(&["render", "--out", s(&d.path().join("out"))]);
    assert_eq!(o.status.code(), Some(1), "{}", cli::text(&o));
    assert!(cli::text(&o).contains("is a symbolic link"), "{}", cli::text(&o));
    assert!(fs::read_to_string(away.path().join("shadow")).unwrap().contains("SECRET-HASH"));
    assert!(fs::symlink_metadata(&dropin).unwrap().file_type().is_symlink());
}

#[test]
fn apply_writes_through_symlinked_directories_only_inside_the_root() {
    let root = common::fixture_root("debian12-cloud");
    let away = outside();
    fs::create_dir_all(away.path().join("jail.d")).unwrap();
    let before = common::fingerprint(away.path());
    // /etc/fail2ban and clawguard's own state directory point outside the root.
    fs::remove_dir_all(root.path().join("etc/fail2ban")).ok();
    symlink(away.path(), root.path().join("etc/fail2ban")).unwrap();
    fs::create_dir_all(root.path().join("var/lib")).unwrap();
    symlink(away.path(), root.path().join("var/lib/clawguard")).unwrap();
    let o = run(&["apply", "--yes", "--root", s(root.path())]);
    assert!(o.status.success(), "{}", cli::text(&o));
    assert_eq!(common::fingerprint(away.path()), before, "apply wrote outside the root");
    let inside = root.path().join(away.path().strip_prefix("/").unwrap());
    assert!(inside.join("jail.d/zz-clawguard.local").is_file());
    assert!(inside.join("generations/000001/manifest.toml").is_file());
    // and it rolls back inside the root as well
    let o = run(&["rollback", "--root", s(root.path())]);
    assert!(o.status.success(), "{}", cli::text(&o));
    assert!(!inside.join("jail.d/zz-clawguard.local").exists());
    assert_eq!(common::fingerprint(away.path()), before);
}

#[test]
fn a_managed_file_that_links_to_a_secret_is_refused_not_shown_or_copied() {
    let root = common::fixture_root("debian12-cloud");
    let away = outside();
    let dropin = root.path().join("etc/ssh/sshd_config.d/00-clawguard.conf");
    fs::create_dir_all(dropin.parent().unwrap()).unwrap();
    symlink(away.path().join("shadow"), &dropin).unwrap();

    let o = run(&["plan", "--root", s(root.path())]);
    assert!(!cli::text(&o).contains("SECRET-HASH"), "the plan showed the link's target: {}", cli::text(&o));
    assert!(cli::text(&o).contains("REFUSED"), "{}", cli::text(&o));

    let before = common::fingerprint(root.path());
    let o = run(&["apply", "--yes", "--root", s(root.path())]);
    assert_eq!(o.status.code(), Some(1), "{}", cli::text(&o));
    assert!(
        cli::text(&o).contains("00-clawguard.conf is a symbolic link") && cli::text(&o).contains("Nothing was changed"),
        "{}",
        cli::text(&o)
    );
    assert!(!cli::text(&o).contains("SECRET-HASH"));
    assert_eq!(common::fingerprint(root.path()), before, "a refused apply wrote something");

    // A link inside the root to another file of the root is refused the same way: a
    // rollback would turn it into a copy.
    fs::remove_file(&dropin).unwrap();
    fs::write(root.path().join("etc/ssh/mine.conf"), "Port 22\n").unwrap();
    symlink("../mine.conf", &dropin).unwrap();
    let o = run(&["apply", "--yes", "--root", s(root.path())]);
    assert_eq!(o.status.code(), Some(1), "{}", cli::text(&o));
    assert!(cli::text(&o).contains("is a symbolic link"), "{}", cli::text(&o));

    // positive control: once the link is gone, the same target applies
    fs::remove_file(&dropin).unwrap();
    let o = run(&["apply", "--yes", "--root", s(root.path())]);
    assert!(o.status.success(), "{}", cli::text(&o));
}

#[test]
fn check_reports_a_managed_file_replaced_by_a_symlink() {
    let root = common::fixture_root("debian12-cloud");
    let o = run(&["apply", "--yes", "--root", s(root.path())]);
    assert!(o.status.success(), "{}", cli::text(&o));
    let o = run(&["check", "--no-alert", "--root", s(root.path())]);
    let clean = cli::text(&o);
    assert!(!clean.contains("symbolic link"), "{clean}");
    let away = outside();
    let dropin = root.path().join("etc/ssh/sshd_config.d/00-clawguard.conf");
    fs::remove_file(&dropin).unwrap();
    symlink(away.path().join("shadow"), &dropin).unwrap();
    let o = run(&["check", "--no-alert", "--root", s(root.path())]);
    assert_eq!(o.status.code(), Some(3), "{}", cli::text(&o));
    assert!(
        cli::text(&o).contains("is a symbolic link") && !cli::text(&o).contains("SECRET-HASH"),
        "{}",
        cli::text(&o)
    );
}

#[test]
fn a_planted_temporary_file_cannot_redirect_a_write() {
    let root = common::fixture_root("debian12-cloud");
    let away = outside();
    let before = common::fingerprint(away.path());
    // Temporary names carry a pid: plant links for every pid this test could get.
    let dir = root.path().join("etc/ssh/sshd_config.d");
    fs::create_dir_all(&dir).unwrap();
    let max: u32 = fs::read_to_string("/proc/sys/kernel/pid_max").unwrap().trim().parse().unwrap();
    let me = std::process::id();
    for pid in me..(me + 400).min(max) {
        symlink(away.path().join("shadow"), dir.join(format!(".clawguard-tmp-{pid}-00-clawguard.conf.tmp"))).unwrap();
    }
    let o = run(&["apply", "--yes", "--root", s(root.path())]);
    assert!(o.status.success(), "{}", cli::text(&o));
    assert_eq!(common::fingerprint(away.path()), before, "a write followed a planted link");
    assert!(fs::symlink_metadata(dir.join("00-clawguard.conf")).unwrap().is_file());
}

#[test]
fn clawguards_own_records_are_never_read_or_written_through_a_link() {
    let root = common::fixture_root("debian12-cloud");
    let away = outside();
    let before = common::fingerprint(away.path());
    let state = root.path().join("var/lib/clawguard");
    fs::create_dir_all(state.join("generations")).unwrap();
    // The journal and the lock point at a file outside; the generations directory too.
    symlink(away.path().join("shadow"), state.join("journal")).unwrap();
    symlink(away.path().join("shadow"), state.join("lock")).unwrap();
    let o = run(&["apply", "--yes", "--root", s(root.path())]);
    assert_ne!(o.status.code(), Some(0), "an apply went on with planted links: {}", cli::text(&o));
    assert_eq!(common::fingerprint(away.path()), before, "clawguard wrote through a planted link");
    assert!(!cli::text(&o).contains("SECRET-HASH"), "{}", cli::text(&o));

    // A pending record that points at a secret: an error, and the secret is not shown.
    fs::remove_file(state.join("journal")).unwrap();
    fs::remove_file(state.join("lock")).unwrap();
    symlink(away.path().join("shadow"), state.join("pending.toml")).unwrap();
    let o = run(&["status", "--root", s(root.path())]);
    assert_ne!(o.status.code(), Some(0), "{}", cli::text(&o));
    assert!(!cli::text(&o).contains("SECRET-HASH"), "status showed the link's target: {}", cli::text(&o));

    // positive control: without the links the same target applies
    fs::remove_file(state.join("pending.toml")).unwrap();
    let o = run(&["apply", "--yes", "--root", s(root.path())]);
    assert!(o.status.success(), "{}", cli::text(&o));
}

#[test]
fn the_checks_records_are_never_read_or_written_through_a_link() {
    let root = common::fixture_root("debian12-cloud");
    let o = run(&["apply", "--yes", "--root", s(root.path())]);
    assert!(o.status.success(), "{}", cli::text(&o));
    let away = outside();
    let before = common::fingerprint(away.path());
    let state = root.path().join("var/lib/clawguard");
    let vault_record = state.join("credentials-written.toml");
    for f in [state.join("seen.toml"), state.join("last-alert.toml"), vault_record.clone()] {
        let _ = fs::remove_file(&f);
        symlink(away.path().join("shadow"), &f).unwrap();
    }
    let o = run(&["check", "--root", s(root.path())]);
    let text = cli::text(&o);
    assert_eq!(o.status.code(), Some(3), "{text}");
    assert_eq!(common::fingerprint(away.path()), before, "the check wrote through a planted link");
    assert!(!text.contains("SECRET-HASH"), "the check showed a link's target: {text}");
    assert!(text.contains("What the last check saw") && text.contains("cannot be read"), "{text}");
    assert!(text.contains("What the last alert said cannot be read"), "{text}");
    assert!(text.contains("credentials-written.toml"), "the vault's record: {text}");
    // What the check records is written anew as a file, not through the link.
    assert!(fs::symlink_metadata(state.join("seen.toml")).unwrap().is_file());
}
