//! How long planning takes: probing a fixture root, building the plan for all seven
//! layers on the default answers, and the diff preview against the root. Validators are
//! not included (they run external programs). Target: under 20 ms for probe + plan.

use std::path::Path;

use clawguard::answers::Answers;
use clawguard::host;
use clawguard::layers;
use clawguard::plan::preview;
use clawguard::target::Root;
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let root = Root::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/debian12-cloud"));
    let answers = Answers::default();
    let facts = host::probe(&root, None);
    c.bench_function("probe", |b| b.iter(|| host::probe(&root, None)));
    c.bench_function("plan all layers (defaults)", |b| b.iter(|| layers::plan(&answers, &facts).unwrap()));
    c.bench_function("probe + plan + preview", |b| {
        b.iter(|| {
            let facts = host::probe(&root, None);
            let plan = layers::plan(&answers, &facts).unwrap();
            preview::preview(&plan, &root).change_count()
        })
    });
    // The same on a Mac's layout (the local accounts are binary property lists in dslocal,
    // each LaunchDaemon a plist rendered through the plist crate).
    let mac = Root::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/macos-remote-login"));
    let mac_answers = Answers::defaults_for(clawguard::target::Kind::MacOs);
    c.bench_function("macOS: probe + plan + preview", |b| {
        b.iter(|| {
            let facts = host::probe(&mac, None);
            let plan = layers::plan(&mac_answers, &facts).unwrap();
            preview::preview(&plan, &mac).change_count()
        })
    });
    // A no-op re-apply: everything is already applied, so apply recovers nothing, probes,
    // plans, compares, and stops. Target: under 1.5 s.
    let applied = tempfile::tempdir().unwrap();
    copy(root.dir(), applied.path());
    let target = Root::new(applied.path());
    // The front ends' one apply path: probe, plan, compare, stop.
    let request = || clawguard::session::Request {
        answers: answers.clone(),
        facts: host::probe(&target, None),
        root: target.clone(),
        runner: clawguard::target::Runner::Skip,
        stage: clawguard::plan::Stage::Complete,
        keys: Default::default(),
        confirm_timeout: 0,
        force: false,
        ssh_connection: None,
        then: Default::default(),
        only: None,
        completes: None,
    };
    clawguard::session::run(&request(), &mut |_| {}).unwrap();
    c.bench_function("no-op re-apply (all layers)", |b| {
        b.iter(|| {
            let outcome = clawguard::session::run(&request(), &mut |_| {}).unwrap();
            assert!(outcome.report.generation.is_none());
        })
    });
    // The daily check on the applied root (the services are not asked: no runner).
    c.bench_function("check (applied root)", |b| {
        b.iter(|| {
            let facts = host::probe(&target, None);
            clawguard::check::run(&answers, &facts, &target, &clawguard::target::Runner::Skip).unwrap().len()
        })
    });
    // A busy day of the agent's proxy: 100 000 requests, one in ten refused.
    let log: String = (0..100_000)
        .map(|i| {
            if i % 10 == 0 {
                format!("1764331200.{i:03}      0 172.18.0.3 TCP_DENIED/403 3451 GET http://h{}.evil.test/x - HIER_NONE/- text/html\n", i % 50)
            } else {
                format!("1764331200.{i:03}     12 172.18.0.3 TCP_TUNNEL/200 4512 CONNECT api.openai.com:443 - HIER_DIRECT/10.0.0.2 -\n")
            }
        })
        .collect();
    c.bench_function("count refused requests (100 000 log lines)", |b| {
        b.iter(|| clawguard::check::proxy::refused(&log).len())
    });
    // `plan --validate`: every service's own checker on every rendered file, side by side
    // (sshd -t/-T, squid -k parse, fail2ban-client -t/-d, docker-compose config, logrotate).
    // Target: at most 1 s.
    let full = layers::plan(&answers, &facts).unwrap();
    let mut group = c.benchmark_group("validate");
    group.sample_size(10);
    group.bench_function("all layers, real checkers", |b| {
        b.iter(|| {
            let outcomes = clawguard::validate::run(&full, &root).unwrap();
            assert!(outcomes.iter().all(|o| o.result.is_ok()), "{outcomes:?}");
        })
    });
    group.finish();
    c.bench_function("parse answers (example file)", |b| {
        b.iter(|| Answers::parse(clawguard::answers::EXAMPLE, "example").unwrap())
    });
    // The allow-list's overlap check was quadratic (22 s for 50 000 hosts).
    let hosts: Vec<String> = (0..50_000).map(|i| format!("\"h{i}.example.com\"")).collect();
    let many = format!("version = 1\n[egress]\nallowed_hosts = [{}]\n", hosts.join(","));
    c.bench_function("parse answers with 50 000 allowed hosts", |b| b.iter(|| Answers::parse(&many, "many").unwrap()));
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
