//! Property tests over the answers, with the real checkers:
//! - an arbitrary string in any text field is either refused (with the field named) or
//!   renders files that the services' own checkers accept, and never carries a control
//!   character (a newline is a new directive in every format clawguard writes);
//! - whole answer sets drawn at random are either refused or render files every checker
//!   accepts.
//!
//! The cases are few (each accepted one runs real checkers); the generators lean towards
//! values that look valid with one dangerous character slipped in.

mod common;

use clawguard::answers::Answers;
use clawguard::plan::Layer;
use clawguard::target::Root;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Text fields: (path in the answers, a list of values, the layers whose files they reach,
/// a valid value the generator starts from).
const FIELDS: &[(&str, bool, &[Layer], &str)] = &[
    ("egress.allowed_hosts", true, &[Layer::Egress], "api.example.com"),
    ("egress.static_hosts", true, &[Layer::Egress, Layer::Sandbox], "api.example.com=203.0.113.5"),
    ("egress.proxy_image", false, &[Layer::Sandbox], "ubuntu/squid:6.1"),
    ("sandbox.image", false, &[Layer::Sandbox], "ghcr.io/org/agent:1.2"),
    ("sandbox.command", true, &[Layer::Sandbox], "--port=8080"),
    ("sandbox.state_dir", false, &[Layer::Sandbox], "/srv/agent/state"),
    ("sandbox.workspace", false, &[Layer::Sandbox], "/srv/agent/work"),
    ("sandbox.config_dir", false, &[Layer::Sandbox], "/srv/agent/config"),
    ("sandbox.project_dir", false, &[Layer::Sandbox, Layer::Egress], "/opt/agent"),
    ("sandbox.memory", false, &[Layer::Sandbox], "1536M"),
    ("sandbox.cpus", false, &[Layer::Sandbox], "1.5"),
    ("sandbox.cap_add", true, &[Layer::Sandbox], "NET_BIND_SERVICE"),
    ("sandbox.gateway_image", false, &[Layer::Sandbox], "alpine/socat:1.8"),
    ("credentials.services", true, &[Layer::Sandbox, Layer::Credentials], "github"),
    ("ssh.allowed_users", true, &[Layer::Ssh], "debian"),
    ("fail2ban.ignoreip", true, &[Layer::Firewall], "203.0.113.0/24"),
    ("monitoring.alert_webhook", false, &[Layer::Monitoring], "https://hooks.example.com/T0/B0/x?y=1"),
    ("monitoring.log_dir", false, &[Layer::Monitoring, Layer::Sandbox], "/var/log/agent"),
    ("monitoring.categories", true, &[Layer::Monitoring, Layer::Sandbox], "tools"),
    ("monitoring.check_time", false, &[Layer::Monitoring], "07:30"),
    ("backup.destination", false, &[Layer::Backup], "sftp:backup@backup.example.net:/srv/restic/h"),
    ("backup.schedule", false, &[Layer::Backup], "02:15"),
];

/// Characters and snippets that break configuration formats.
fn evil() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("\n"),
        Just("\r\n"),
        Just("\0"),
        Just("\t"),
        Just("#"),
        Just(" "),
        Just(";"),
        Just("\""),
        Just("'"),
        Just("${HOME}"),
        Just("$HOME"),
        Just("{{ x }}"),
        Just("{% x %}"),
        Just("%"),
        Just("\\"),
        Just(","),
        Just("*"),
        Just("!"),
        Just("/../"),
        Just("\u{2028}"),
        Just("\u{feff}"),
        Just("@"),
        Just("="),
        Just(":"),
    ]
}

/// The valid `seed` as is, with something dangerous slipped in somewhere, or anything.
fn text(seed: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just(seed.to_owned()),
        4 => (0..=seed.len(), evil()).prop_map(move |(at, e)| {
            let at = (0..=at).rev().find(|i| seed.is_char_boundary(*i)).unwrap_or(0);
            format!("{}{e}{}", &seed[..at], &seed[at..])
        }),
        1 => "[a-z0-9][a-z0-9./:=@_-]{0,24}".prop_map(String::from),
        1 => any::<String>(),
    ]
}

/// The default answers with `path` set to `value` (a one-element list for list fields).
fn with(path: &str, list: bool, value: &str) -> String {
    let mut table: toml::Table = toml::from_str(&Answers::default().to_toml()).unwrap();
    if path.starts_with("sandbox.command") {
        table["sandbox"].as_table_mut().unwrap().insert("profile".into(), "generic".into());
    }
    let (section, key) = path.split_once('.').unwrap();
    let v = toml::Value::String(value.to_owned());
    let v = if list { toml::Value::Array(vec![v]) } else { v };
    table[section].as_table_mut().unwrap().insert(key.into(), v);
    toml::to_string(&table).unwrap()
}

fn checked(answers: &Answers, layers: &[Layer], root: &std::path::Path) -> Result<(), String> {
    let facts = common::facts(root, None);
    let plan = clawguard::layers::plan(answers, &facts).map_err(|e| format!("plan: {e}"))?;
    for f in &plan.files {
        if let Some(c) = f.content.chars().find(|c| c.is_control() && *c != '\n') {
            return Err(format!("{} carries the control character {c:?}", f.path));
        }
    }
    let outcomes =
        clawguard::validate::run_for(&plan, &Root::new(root), |f| f.layer.is_some_and(|l| layers.contains(&l)))
            .map_err(|e| e.to_string())?;
    for o in outcomes {
        if let Err(why) = o.result {
            return Err(format!("{} ({}) refused:\n{why}", o.file, o.checker));
        }
    }
    Ok(())
}

#[test]
fn any_text_in_any_field_is_refused_or_renders_files_the_checkers_accept() {
    let root = common::fixture_root("debian12-cloud");
    let mut runner = TestRunner::new(Config { cases: 24, failure_persistence: None, ..Config::default() });
    for (path, list, layers, seed) in FIELDS {
        // Positive control: the seed itself is accepted and goes through the checkers.
        let a = Answers::parse(&with(path, *list, seed), "seed").unwrap_or_else(|e| panic!("{path} seed: {e}"));
        checked(&a, layers, root.path()).unwrap_or_else(|e| panic!("{path} seed: {e}"));
        runner
            .run(&text(seed), |value| {
                let toml = with(path, *list, &value);
                match Answers::parse(&toml, "property") {
                    Err(e) => {
                        let e = e.to_string();
                        prop_assert!(e.contains(path), "the error for {path} = {value:?} does not name the field: {e}");
                        prop_assert!(!e.contains('\n') || e.lines().count() < 4, "a sprawling error: {e}");
                    }
                    Ok(a) => {
                        prop_assert!(
                            !value.chars().any(char::is_control),
                            "{path} accepted a control character: {value:?}"
                        );
                        if let Err(why) = checked(&a, layers, root.path()) {
                            prop_assert!(false, "{path} = {value:?} was accepted and renders: {why}");
                        }
                    }
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{path}: {e}"));
    }
}

/// Whole answer sets from valid-looking parts.
fn answer_set() -> impl Strategy<Value = String> {
    let host = "[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9-]{0,10}){1,3}";
    (
        1024u16..65535,
        proptest::collection::vec(host, 0..6),
        proptest::collection::vec(1u16..65535, 0..3),
        1u32..10,
        0u32..3600,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        "[1-9][0-9]{0,2}[MG]",
        1u32..16,
    )
        .prop_map(|(port, hosts, extra, tries, alive, limit, tunnel, kex, memory, cpus)| {
            let hosts: Vec<String> = hosts.iter().map(|h| format!("{h:?}")).collect();
            let extra: Vec<String> = extra.iter().filter(|p| **p != port).map(|p| p.to_string()).collect();
            format!(
                "version = 1\n[sandbox]\nmemory = \"{memory}\"\ncpus = \"{cpus}\"\n[ssh]\nport = {port}\nmax_auth_tries = {tries}\nclient_alive_interval = {alive}\ngateway_tunnel = {tunnel}\nclassic_kex = {kex}\n[firewall]\nlimit_ssh = {limit}\nextra_ports = [{}]\n[egress]\nallowed_hosts = [{}]\n",
                extra.join(", "),
                hosts.join(", ")
            )
        })
}

#[test]
fn accepted_answer_sets_render_files_every_checker_accepts() {
    let root = common::fixture_root("debian12-cloud");
    let mut runner = TestRunner::new(Config { cases: 16, failure_persistence: None, ..Config::default() });
    let every = [Layer::Sandbox, Layer::Ssh, Layer::Firewall, Layer::Egress, Layer::Monitoring];
    runner
        .run(&answer_set(), |toml| {
            if let Ok(a) = Answers::parse(&toml, "property")
                && let Err(why) = checked(&a, &every, root.path())
            {
                prop_assert!(false, "accepted answers render a refused file:\n{toml}\n{why}");
            }
            Ok(())
        })
        .unwrap();
}
