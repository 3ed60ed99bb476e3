//! The two ways to share a prepared regorus engine between threads, measured to justify
//! `PolicyEngine`'s choice (clone the prepared engine per evaluation): a mutex around one
//! engine against a clone per evaluation, alone and from two threads at once, with the
//! cost of a clone and of preparing a fresh engine for scale.
//!
//! `cargo bench -p aiops-policy --bench engine_sharing`.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

const THREADS: u32 = 2;

fn prepared_engine() -> regorus::Engine {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let mut engine = regorus::Engine::new();
    let policy = std::fs::read_to_string(dir.join("aiops.rego")).expect("aiops.rego");
    engine
        .add_policy("aiops.rego".into(), policy)
        .expect("policy");
    let data = regorus::Value::from_json_file(dir.join("data.json")).expect("data.json");
    engine.add_data(data).expect("data");
    engine.set_input(regorus::Value::new_object());
    engine
        .eval_rule("data.aiops.decision".into())
        .expect("a first evaluation prepares the engine");
    engine
}

fn input(i: u32) -> regorus::Value {
    serde_json::from_value(serde_json::json!({
        "action": "k8s.scale_deployment", "risk": "change",
        "params": {"namespace": "default", "name": format!("web{i}"), "replicas": i % 100},
        "dry_run": false, "stage": "decide", "caller": {"user": "u", "roles": []}
    }))
    .expect("input")
}

/// One evaluation; it must allow (a wrong answer would make the timing meaningless).
fn evaluate(engine: &mut regorus::Engine, i: u32) {
    engine.set_input(input(i));
    let v = engine
        .eval_rule("data.aiops.decision".into())
        .expect("evaluates");
    assert_eq!(v["outcome"].as_string().expect("outcome").as_ref(), "allow");
}

/// Wall time of `iters` evaluations per thread from `THREADS` threads, per evaluation.
fn parallel(iters: u64, each: impl Fn(u32) + Sync) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| (0..iters).for_each(|i| each(i as u32)));
        }
    });
    start.elapsed() / THREADS
}

fn sharing(c: &mut Criterion) {
    let template = prepared_engine();
    let shared = Mutex::new(template.clone());
    let mut g = c.benchmark_group("policy_engine_sharing");
    g.bench_function("mutex, one thread", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            evaluate(&mut shared.lock().expect("lock"), i)
        })
    });
    g.bench_function("clone per evaluation, one thread", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            evaluate(&mut template.clone(), i)
        })
    });
    g.bench_function("mutex, two threads", |b| {
        b.iter_custom(|iters| parallel(iters, |i| evaluate(&mut shared.lock().expect("lock"), i)))
    });
    g.bench_function("clone per evaluation, two threads", |b| {
        b.iter_custom(|iters| parallel(iters, |i| evaluate(&mut template.clone(), i)))
    });
    g.bench_function("clone alone", |b| b.iter(|| template.clone()));
    g.bench_function("fresh engine", |b| b.iter(prepared_engine));
    g.finish();
}

criterion_group!(benches, sharing);
criterion_main!(benches);
