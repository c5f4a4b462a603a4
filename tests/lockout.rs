//! The lockout guard against targets an attacker (or an old setup) shaped: apply must
//! refuse, change nothing and say why whenever sshd — as it will be configured — would not
//! let the allowed user in with a key; and apply when it would (the positive controls).

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use base64::Engine as _;

/// A well-formed key line of type `ty`.
fn key(ty: &str) -> String {
    let mut raw = (ty.len() as u32).to_be_bytes().to_vec();
    raw.extend(ty.as_bytes());
    raw.extend([0, 0, 0, 32]);
    raw.extend([9u8; 32]);
    format!("{ty} {} admin@laptop", base64::engine::general_purpose::STANDARD.encode(raw))
}

const FROM: &str = "198.51.100.7 50000 10.0.0.5 22";

fn apply(root: &Path, answers: Option<&str>) -> Output {
    let mut c = common::cli::command(&[]);
    c.args(["apply", "--yes", "--root", root.to_str().unwrap()])
        .env("SSH_CONNECTION", FROM)
        .env_remove(clawguard::target::CRASH_ENV)
        .env("NO_COLOR", "1");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("answers.toml");
    if let Some(a) = answers {
        fs::write(&file, a).unwrap();
        c.args(["--answers", file.to_str().unwrap()]);
    }
    c.output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A Debian 12 cloud root whose user `debian` has exactly `keys` in authorized_keys.
fn host(keys: &str) -> tempfile::TempDir {
    let root = common::fixture_root("debian12-cloud");
    let ak = root.path().join("home/debian/.ssh/authorized_keys");
    fs::write(&ak, keys).unwrap();
    fs::set_permissions(&ak, fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(&ak, Some(1000), Some(1000)).unwrap();
    root
}

/// Debian's `UsePAM yes` turned into `no` (the first value sshd reads wins).
fn no_pam(root: &Path) {
    let main = root.join("etc/ssh/sshd_config");
    let text = fs::read_to_string(&main).unwrap();
    assert!(text.contains("\nUsePAM yes\n"));
    fs::write(&main, text.replace("\nUsePAM yes\n", "\nUsePAM no\n")).unwrap();
}

fn add_sshd(root: &Path, lines: &str) {
    let main = root.join("etc/ssh/sshd_config");
    let text = fs::read_to_string(&main).unwrap();
    fs::write(&main, format!("{text}\n{lines}\n")).unwrap();
}

/// Apply is refused with a message containing `why`, and nothing on the target changed.
fn refused(root: &Path, answers: Option<&str>, why: &str) {
    let before = common::fingerprint(root);
    let o = apply(root, answers);
    assert_eq!(o.status.code(), Some(1), "not refused ({why}): {}", text(&o));
    assert!(text(&o).contains("would lock you out"), "{}", text(&o));
    assert!(text(&o).contains(why), "the reason `{why}` is not given: {}", text(&o));
    let after = common::fingerprint(root);
    let changed: Vec<&String> = before.keys().chain(after.keys()).filter(|k| before.get(*k) != after.get(*k)).collect();
    assert!(changed.is_empty(), "a refused apply changed the target ({why}): {changed:?}");
}

fn accepted(root: &Path, answers: Option<&str>) {
    let o = apply(root, answers);
    assert!(o.status.success(), "refused although the user can log in: {}", text(&o));
}

#[test]
fn root_as_the_only_allowed_user_is_refused_since_root_logins_are_off() {
    let root = host(&key("ssh-ed25519"));
    fs::create_dir_all(root.path().join("root/.ssh")).unwrap();
    fs::write(root.path().join("root/.ssh/authorized_keys"), key("ssh-ed25519")).unwrap();
    refused(root.path(), Some("version = 1\n[ssh]\nallowed_users = [\"root\"]\n"), "PermitRootLogin no");
    accepted(root.path(), Some("version = 1\n[ssh]\nallowed_users = [\"debian\"]\n"));
}

#[test]
fn lines_that_are_not_keys_do_not_count() {
    for (keys, why) in [
        ("# ssh-ed25519 AAAAC3 my old key\n", "nobody could log in"),
        ("see ssh-keygen(1) to make one\n", "is not a key"),
        ("ssh-ed25519 not-a-key\n", "not valid base64"),
        ("ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQ==\n", "not a ssh-ed25519 key"),
    ] {
        refused(host(keys).path(), None, why);
    }
    accepted(host(&format!("# my laptop\n{}\n", key("ssh-ed25519"))).path(), None);
}

#[test]
fn keys_sshd_will_not_accept_for_this_login_do_not_count() {
    let ed = key("ssh-ed25519");
    for (keys, why) in [
        (key("ssh-dss"), "ssh-dss is not accepted"),
        (format!("from=\"203.0.113.0/24\" {ed}"), "you connect from 198.51.100.7"),
        (format!("restrict,command=\"/usr/bin/rsync --server\" {ed}"), "forces the command"),
        (format!("expiry-time=\"20200101\" {ed}"), "expired"),
    ] {
        refused(host(&keys).path(), None, why);
    }
    accepted(host(&format!("from=\"198.51.100.0/24\" {ed}")).path(), None);
    // One good key among refused ones is enough (and the others are named).
    let root = host(&format!("{}\n{ed}\n", key("ssh-dss")));
    let o = apply(root.path(), None);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn sshds_own_settings_elsewhere_are_taken_into_account() {
    let ed = key("ssh-ed25519");
    for (lines, why) in [
        ("AuthorizedKeysFile /etc/ssh/keys/%u", "sshd reads keys only from `AuthorizedKeysFile /etc/ssh/keys/%u`"),
        ("AuthorizedKeysFile none", "sshd reads keys only from `AuthorizedKeysFile none`"),
        ("DenyUsers debian", "DenyUsers debian"),
        ("DenyUsers deb*@*", "DenyUsers deb*@*"),
        ("AllowGroups wheel", "AllowGroups wheel"),
        ("DenyGroups sudo", "DenyGroups sudo"),
        ("PubkeyAcceptedAlgorithms -ssh-ed25519", "ssh-ed25519 is not accepted"),
    ] {
        let root = host(&ed);
        add_sshd(root.path(), lines);
        refused(root.path(), None, why);
    }
    // positive control: the keys where AuthorizedKeysFile says, groups that match
    let root = host("");
    add_sshd(root.path(), "AuthorizedKeysFile /etc/ssh/keys/%u\nAllowGroups sudo");
    fs::create_dir_all(root.path().join("etc/ssh/keys")).unwrap();
    fs::write(root.path().join("etc/ssh/keys/debian"), &ed).unwrap();
    accepted(root.path(), None);
}

#[test]
fn a_home_the_user_cannot_enter_is_refused() {
    let root = host(&key("ssh-ed25519"));
    let home = root.path().join("home/debian");
    fs::set_permissions(&home, fs::Permissions::from_mode(0o000)).unwrap();
    refused(root.path(), None, "cannot read /home/debian/.ssh/authorized_keys");
    fs::set_permissions(&home, fs::Permissions::from_mode(0o750)).unwrap();
    accepted(root.path(), None);
}

#[test]
fn a_match_block_that_shuts_out_this_login_is_caught_by_sshd_itself() {
    // The admin connects from 198.51.100.7 (FROM): a Match block for that network denies
    // the user. clawguard names Match blocks; sshd -T -C, run for this very login, decides.
    for (network, refused) in [("198.51.100.0/24", true), ("203.0.113.0/24", false)] {
        let root = host(&key("ssh-ed25519"));
        add_sshd(root.path(), &format!("Match Address {network}\n    DenyUsers debian"));
        let before = common::fingerprint(root.path());
        let o = apply(root.path(), None);
        if refused {
            assert_eq!(o.status.code(), Some(1), "{}", text(&o));
            assert!(
                text(&o).contains("for a login of `debian` from 198.51.100.7, sshd itself")
                    && text(&o).contains("denies it (DenyUsers debian)"),
                "{}",
                text(&o)
            );
            assert_eq!(common::fingerprint(root.path()).len(), before.len(), "a refused apply wrote files");
        } else {
            assert!(o.status.success(), "another network's Match block: {}", text(&o));
        }
    }
}

#[test]
fn a_match_block_that_changes_logins_is_named() {
    let root = host(&key("ssh-ed25519"));
    add_sshd(root.path(), "Match Address 203.0.113.0/24\n    DenyUsers debian");
    let o = common::cli::command(&[])
        .args(["plan", "--root", root.path().to_str().unwrap()])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(text(&o).contains("sets `denyusers debian` inside a Match block"), "{}", text(&o));
}

#[test]
fn passwd_names_that_are_sshd_patterns_never_reach_allow_users() {
    let root = host(&key("ssh-ed25519"));
    let passwd = root.path().join("etc/passwd");
    let mut p = fs::read_to_string(&passwd).unwrap();
    p.push_str("*:x:1001:1001::/home/star:/bin/bash\nad,min:x:1002:1002::/home/star:/bin/bash\n");
    fs::write(&passwd, p).unwrap();
    fs::create_dir_all(root.path().join("home/star/.ssh")).unwrap();
    fs::write(root.path().join("home/star/.ssh/authorized_keys"), key("ssh-ed25519")).unwrap();
    let o = apply(root.path(), None);
    assert!(o.status.success(), "{}", text(&o));
    let dropin = fs::read_to_string(root.path().join("etc/ssh/sshd_config.d/00-clawguard.conf")).unwrap();
    let allow = dropin.lines().find(|l| l.starts_with("AllowUsers")).unwrap();
    assert_eq!(allow, "AllowUsers debian", "{dropin}");
}

#[test]
fn an_expired_or_locked_account_is_refused_as_sshd_would() {
    let shadow = |root: &Path, line: &str| {
        fs::write(root.join("etc/shadow"), format!("root:*:19000:0:99999:7:::\n{line}\n")).unwrap();
    };
    let root = host(&key("ssh-ed25519"));
    shadow(root.path(), "debian:!:19000:0:99999:7::19500:");
    refused(root.path(), None, "The account `debian` expired");
    // Locked: refused only where sshd does not use PAM (Debian's default uses it).
    let root = host(&key("ssh-ed25519"));
    shadow(root.path(), "debian:!:19000:0:99999:7:::");
    accepted(root.path(), None);
    let root = host(&key("ssh-ed25519"));
    shadow(root.path(), "debian:!:19000:0:99999:7:::");
    no_pam(root.path());
    refused(root.path(), None, "is locked in /etc/shadow");
    let root = host(&key("ssh-ed25519"));
    shadow(root.path(), "debian:*:19000:0:99999:7:::");
    no_pam(root.path());
    accepted(root.path(), None);
}
