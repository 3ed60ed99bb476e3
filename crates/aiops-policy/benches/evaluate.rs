//! Policy evaluation cost: the shipped `PolicyEngine::evaluate` (one prepared engine cloned per
//! evaluation), against the alternatives it was chosen over (one engine behind a mutex, a
//! fresh engine per call). `cargo bench -p aiops-policy`; results go to `BENCHMARKS.md`.

use std::path::Path;
use std::sync::Mutex;

use aiops_policy::{Caller, ParserKind, PolicyEngine, PolicyInput, Stage};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

fn policies() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

fn typed_input(i: u32) -> PolicyInput {
    PolicyInput {
        action: aiops_policy::ActionId::K8sScaleDeployment,
        risk: aiops_policy::Risk::Change,
        params: json!({"namespace": "default", "name": format!("web{i}"), "replicas": i % 100}),
        dry_run: false,
        stage: Stage::Decide,
        caller: Caller::new("u", vec![], aiops_policy::AuthMethod::Bearer),
        parser: ParserKind::Rules,
        confidence: 0.95,
    }
}

fn raw_engine() -> regorus::Engine {
    let dir = policies();
    let mut engine = regorus::Engine::new();
    engine
        .add_policy_from_file(dir.join("aiops.rego"))
        .expect("policy parses");
    engine
        .add_data(regorus::Value::from_json_file(dir.join("data.json")).expect("data"))
        .expect("data loads");
    engine
}

fn raw_input(i: u32) -> regorus::Value {
    serde_json::from_value(serde_json::to_value(typed_input(i)).expect("input")).expect("value")
}

fn bench(c: &mut Criterion) {
    let engine = PolicyEngine::load(&policies()).expect("shipped policies load");
    let mut i = 0u32;
    c.bench_function("evaluate (shipped: prepared engine cloned per call)", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            engine.evaluate(&typed_input(i)).expect("a decision")
        })
    });

    let shared = Mutex::new(raw_engine());
    c.bench_function("one engine behind a mutex", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let mut e = shared.lock().expect("lock");
            e.set_input(raw_input(i));
            e.eval_rule("data.aiops.decision".into())
                .expect("a decision")
        })
    });

    c.bench_function("fresh engine per call", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let mut e = raw_engine();
            e.set_input(raw_input(i));
            e.eval_rule("data.aiops.decision".into())
                .expect("a decision")
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
