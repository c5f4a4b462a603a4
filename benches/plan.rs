//! How long planning takes: probing a fixture root, building the plan for all seven
//! layers on the default answers, and the diff preview against the root. Validators are
//! not included (they run external programs). Target: under 20 ms for probe + plan.

use std::path::Path;

use clawguard::answers::Answers;
use clawguard::host::{self, Root};
use clawguard::layers;
use clawguard::plan::preview;
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
    c.bench_function("parse answers (example file)", |b| {
        b.iter(|| Answers::parse(clawguard::answers::EXAMPLE, "example").unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
