//! Any one layer can be skipped and what is applied still works: for each of the seven
//! single skips, every rendered file passes its service's own checker, nothing refers to a
//! file or unit the plan does not write, and the warnings say what is really left open.

mod common;

use clawguard::answers::{Answers, Layer};
use clawguard::target::Root;
use clawguard::{layers, validate};

#[test]
fn each_single_skip_leaves_valid_files_no_dangling_reference_and_true_warnings() {
    let root = common::fixture_root("debian12-cloud");
    common::fake_tools(root.path());
    let facts = common::facts(root.path(), Some("203.0.113.9 50000 10.0.0.5 22"));
    for skipped in Layer::ALL {
        let text = format!("version = 1\nskip = [\"{}\"]\n", skip_name(skipped));
        let a = Answers::parse(&text, "test").unwrap_or_else(|e| panic!("{skipped}: {e}"));
        let plan = layers::plan(&a, &facts).unwrap();
        let what = format!("with {skipped} skipped");
        assert!(plan.files.iter().all(|f| f.layer != Some(skipped)), "{what}: a file of the skipped layer is written");
        assert!(plan.commands.iter().all(|c| c.layer != skipped), "{what}: a command of the skipped layer runs");
        assert!(plan.warnings.iter().any(|w| w.layer == skipped && w.text.starts_with("Skipped.")), "{what}");

        // The services' own checkers accept every file.
        for o in validate::run(&plan, &Root::new(root.path())).unwrap() {
            assert!(o.result.is_ok(), "{what}: {} ({}) refused: {:?}", o.file, o.checker, o.result);
        }
        let written = |p: &str| plan.files.iter().any(|f| f.path == p);
        let compose = plan.files.iter().find(|f| f.path.ends_with("/docker-compose.yml"));
        // Every `./path` the compose project names is a file the plan writes next to it, or a
        // directory (the proxy's, mounted whole) holding files the plan writes.
        let written_in = |d: &str| plan.files.iter().any(|f| f.path.starts_with(&format!("{d}/")));
        if let Some(c) = compose {
            let dir = c.path.rsplit_once('/').unwrap().0;
            for word in c.content.split(['"', '[', ']', ' ', ',', ':', '\n']) {
                if let Some(rel) = word.strip_prefix("./") {
                    let path = format!("{dir}/{rel}");
                    assert!(written(&path) || written_in(&path), "{what}: compose names ./{rel}, which nothing writes");
                }
            }
            let egress_on = skipped != Layer::Egress;
            assert_eq!(c.content.contains("  proxy:"), egress_on, "{what}: the proxy sidecar");
            assert_eq!(c.content.contains("HTTP_PROXY"), egress_on, "{what}: proxy variables");
            assert_eq!(c.content.contains("internal: true"), egress_on, "{what}: the internal network");
        }
        // Every command that names a managed path or a unit refers to one the plan writes.
        for c in &plan.commands {
            for arg in &c.argv {
                if arg.ends_with("docker-compose.yml") {
                    assert!(written(arg), "{what}: `{}` names {arg}, which nothing writes", c.argv.join(" "));
                }
                if let Some(unit) = arg.strip_suffix(".timer").or(arg.strip_suffix(".service"))
                    && unit.starts_with("clawguard-")
                {
                    assert!(
                        plan.files.iter().any(|f| f.path.ends_with(arg.as_str())),
                        "{what}: `{}` enables a unit nothing writes",
                        c.argv.join(" ")
                    );
                }
            }
        }
        // No file mentions a clawguard path the plan does not write.
        for f in &plan.files {
            for p in ["/etc/clawguard/RECOVERY.md", "agent-logging.env", "squid.conf"] {
                if f.content.contains(p) && !f.path.ends_with(p) {
                    assert!(plan.files.iter().any(|g| g.path.ends_with(p)), "{what}: {} names {p}", f.path);
                }
            }
        }
        match skipped {
            // sshd stays on 22: the firewall keeps exactly that open (and only that).
            Layer::Ssh => {
                let ufw: Vec<String> =
                    plan.commands.iter().map(|c| c.argv.join(" ")).filter(|c| c.starts_with("ufw")).collect();
                assert!(ufw.iter().any(|c| c.starts_with("ufw limit 22/tcp")), "{what}: {ufw:?}");
                assert!(!ufw.iter().any(|c| c.contains("2222")), "{what}: a port sshd does not listen on: {ufw:?}");
                let jail = plan.files.iter().find(|f| f.path.ends_with("zz-clawguard.local")).unwrap();
                assert!(jail.content.contains("port = 22\n"), "{what}:\n{}", jail.content);
                assert!(plan.ssh_move.is_none(), "{what}");
            }
            Layer::Sandbox => {
                assert!(compose.is_none());
                assert!(
                    plan.warnings.iter().any(|w| w.layer == Layer::Egress && w.text.contains("nothing is written")),
                    "{what}"
                );
            }
            _ => {}
        }
    }
}

fn skip_name(l: Layer) -> &'static str {
    match l {
        Layer::Sandbox => "sandbox",
        Layer::Credentials => "credentials",
        Layer::Ssh => "ssh",
        Layer::Firewall => "firewall",
        Layer::Egress => "egress",
        Layer::Monitoring => "monitoring",
        Layer::Backup => "backup",
    }
}
