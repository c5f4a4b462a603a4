//! The real checkers (sshd, squid, fail2ban-client, docker-compose, logrotate) on the
//! rendered files, for every answer set on every fixture host — and on broken files, to
//! prove each check can fail. A checker that is missing fails these tests.

mod common;

use clawguard::layers;
use clawguard::plan::{Plan, Stage, Validator};
use clawguard::target::Root;
use clawguard::validate::{self, Outcome};

const CHECKERS: usize = 5;

fn plan_for(fixture: &str, set: usize) -> (tempfile::TempDir, Plan) {
    let root = common::fixture_root(fixture);
    let facts = common::facts(root.path(), None);
    let plan = layers::plan(&common::answer_sets()[set].1, &facts).unwrap();
    (root, plan)
}

fn outcomes(root: &std::path::Path, plan: &Plan) -> Vec<Outcome> {
    validate::run(plan, &Root::new(root)).unwrap()
}

fn result_for<'a>(outcomes: &'a [Outcome], path_end: &str) -> &'a Result<String, String> {
    &outcomes.iter().find(|o| o.file.ends_with(path_end)).unwrap_or_else(|| panic!("no check of {path_end}")).result
}

#[test]
fn every_answer_set_passes_every_checker_on_every_fixture() {
    for fixture in ["debian12-cloud", "ubuntu2404-socket", "no-keys"] {
        for (i, (set, _)) in common::answer_sets().iter().enumerate() {
            let (root, plan) = plan_for(fixture, i);
            let out = outcomes(root.path(), &plan);
            assert_eq!(out.len(), CHECKERS, "{fixture}/{set}: {out:#?}");
            for o in &out {
                assert!(
                    o.result.is_ok(),
                    "{fixture}/{set}: {} ({}) failed:\n{}",
                    o.file,
                    o.checker,
                    o.result.as_ref().unwrap_err()
                );
            }
        }
    }
}

fn break_file(plan: &mut Plan, path_end: &str, edit: impl Fn(&str) -> String) {
    let f = plan.files.iter_mut().find(|f| f.path.ends_with(path_end)).unwrap();
    f.content = edit(&f.content);
}

#[test]
fn sshd_refuses_an_unknown_cipher() {
    let (root, mut plan) = plan_for("debian12-cloud", 0);
    break_file(&mut plan, "00-clawguard.conf", |c| c.replace("Ciphers chacha20", "Ciphers bogus-cipher,chacha20"));
    let err = result_for(&outcomes(root.path(), &plan), "00-clawguard.conf").clone().unwrap_err();
    assert!(err.contains("sshd -t refused") && err.contains("bogus-cipher"), "{err}");
}

#[test]
fn a_drop_in_read_before_ours_is_neutralised_and_caught_when_it_is_not() {
    let root = common::fixture_root("debian12-cloud");
    std::fs::write(
        root.path().join("etc/ssh/sshd_config.d/00-aaa-legacy.conf"),
        "Port 22\nPasswordAuthentication yes\n",
    )
    .unwrap();
    let facts = common::facts(root.path(), None);
    // The final drop-in (after `confirm`): port 22 is no longer one it keeps.
    let mut plan = layers::plan_for(&common::answer_sets()[0].1, &facts, Stage::Complete).unwrap();
    let fixed = plan.file("/etc/ssh/sshd_config.d/00-aaa-legacy.conf").expect("the plan comments the lines out");
    assert!(
        fixed.content.contains("# disabled by clawguard") && !fixed.content.lines().any(|l| l == "Port 22"),
        "{}",
        fixed.content
    );
    assert!(outcomes(root.path(), &plan).iter().all(|o| o.result.is_ok()));

    // Without the neutralised copy, sshd -T shows port 22 too and password logins on.
    plan.files.retain(|f| !f.path.ends_with("00-aaa-legacy.conf"));
    let err = result_for(&outcomes(root.path(), &plan), "00-clawguard.conf").clone().unwrap_err();
    assert!(err.contains("port") && err.contains("passwordauthentication"), "{err}");
}

#[test]
fn squid_warnings_fail_the_check() {
    let (root, mut plan) = plan_for("debian12-cloud", 0);
    break_file(&mut plan, "proxy/squid.conf", |c| {
        c.replace("http_access deny all", "http_access deny all\nacl dup dstdomain .example.com sub.example.com")
    });
    let err = result_for(&outcomes(root.path(), &plan), "proxy/squid.conf").clone().unwrap_err();
    assert!(err.contains("WARNING") || err.contains("ERROR"), "{err}");
}

/// A proxy image whose squid has no OpenSSL (Debian's and Ubuntu's `squid`, GnuTLS: what
/// `ubuntu/squid` runs) cannot hold a tunnel to its TLS name. Debian's own GnuTLS squid,
/// fed the file as the proxy image is fed it, is refused with what to set instead; this
/// machine's squid-openssl, on the same file, passes (the control).
#[test]
fn a_squid_without_openssl_is_refused_with_what_to_set_instead() {
    let tree = std::env::var("CLAWGUARD_SQUID_GNUTLS").expect(
        "CLAWGUARD_SQUID_GNUTLS names Debian's `squid` package unpacked (GnuTLS); scripts/test unpacks it, as root",
    );
    let gnutls = std::path::Path::new(&tree).join("usr/sbin/squid");
    let version = |bin: &str| common::cli::text(&std::process::Command::new(bin).arg("-v").output().unwrap());
    let v = version(gnutls.to_str().unwrap());
    assert!(v.contains("--with-gnutls") && !v.contains("--with-openssl"), "not the GnuTLS squid: {v}");
    assert!(version("/usr/sbin/squid").contains("--with-openssl"), "the control needs squid-openssl");

    let (_root, plan) = plan_for("debian12-cloud", 0);
    let conf = plan.files.iter().find(|f| f.path.ends_with("proxy/squid.conf")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("squid.conf");
    std::fs::write(&file, validate::without_tunnel_cert(&conf.content)).unwrap();
    let parse = |bin: &str| {
        let o = std::process::Command::new(bin).args(["-k", "parse", "-f"]).arg(&file).output().unwrap();
        (o.status.code().unwrap(), common::cli::text(&o))
    };

    let (rc, out) = parse(gnutls.to_str().unwrap());
    let err = validate::squid_verdict(rc, &out, "ubuntu/squid:6.1").unwrap_err();
    assert!(
        err.contains("`ubuntu/squid:6.1` is built without OpenSSL")
            && err.contains(clawguard::answers::PROXY_IMAGE)
            && err.contains("ssl-bump"),
        "{err}"
    );
    let (rc, out) = parse("/usr/sbin/squid");
    validate::squid_verdict(rc, &out, clawguard::answers::PROXY_IMAGE).unwrap();
}

#[test]
fn fail2ban_values_are_checked_as_resolved() {
    let (root, mut plan) = plan_for("debian12-cloud", 0);
    // fail2ban only warns about `three`; the resolved-value check must catch it.
    break_file(&mut plan, "zz-clawguard.local", |c| c.replace("maxretry = 3", "maxretry = three"));
    let err = result_for(&outcomes(root.path(), &plan), "zz-clawguard.local").clone().unwrap_err();
    assert!(err.contains("maxretry"), "{err}");
}

#[test]
fn compose_refuses_a_bad_value() {
    let (root, mut plan) = plan_for("debian12-cloud", 0);
    break_file(&mut plan, "docker-compose.yml", |c| c.replace("read_only: true", "read_only: maybe"));
    let err = result_for(&outcomes(root.path(), &plan), "docker-compose.yml").clone().unwrap_err();
    assert!(err.contains("config refused"), "{err}");
}

#[test]
fn logrotate_refuses_an_unknown_directive() {
    let (root, mut plan) = plan_for("debian12-cloud", 0);
    break_file(&mut plan, "clawguard-agent", |c| c.replace("missingok", "missingok\n    frobnicate"));
    let err = result_for(&outcomes(root.path(), &plan), "logrotate.d/clawguard-agent").clone().unwrap_err();
    assert!(err.contains("logrotate"), "{err}");
}

#[test]
fn the_sshd_check_compares_every_intended_value() {
    let (_, plan) = plan_for("debian12-cloud", 1);
    let Some(Validator::Sshd { expect, .. }) =
        &plan.file("/etc/ssh/sshd_config.d/00-clawguard.conf").unwrap().validator
    else {
        panic!("no sshd validator")
    };
    for key in [
        "port",
        "passwordauthentication",
        "permitrootlogin",
        "maxauthtries",
        "allowusers",
        "clientaliveinterval",
        "clientalivecountmax",
        "ciphers",
        "macs",
        "kexalgorithms",
    ] {
        assert!(expect.iter().any(|(k, _)| k == key), "{key} not compared");
    }
}
