//! Measures the two ways to share a prepared regorus engine between threads, to justify
//! `PolicyEngine`'s choice (clone the prepared engine per evaluation). Prints timings; asserts
//! nothing about time. Run with `--nocapture` to see the numbers.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

const ITERATIONS: u32 = 300;

fn prepared_engine() -> regorus::Engine {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let mut engine = regorus::Engine::new();
    engine
        .add_policy(
            "aiops.rego".into(),
            std::fs::read_to_string(dir.join("aiops.rego")).unwrap(),
        )
        .unwrap();
    engine
        .add_data(regorus::Value::from_json_file(dir.join("data.json")).unwrap())
        .unwrap();
    engine.set_input(regorus::Value::new_object());
    engine.eval_rule("data.aiops.decision".into()).unwrap();
    engine
}

fn input(i: u32) -> regorus::Value {
    serde_json::from_value(serde_json::json!({
        "action": "k8s.scale_deployment", "risk": "change",
        "params": {"namespace": "default", "name": format!("web{i}"), "replicas": i % 100},
        "dry_run": false, "stage": "decide", "caller": {"user": "u", "roles": []}
    }))
    .unwrap()
}

fn outcome(v: &regorus::Value) -> String {
    v["outcome"].as_string().unwrap().to_string()
}

#[test]
fn engine_sharing_timing() {
    let template = prepared_engine();

    let shared = Mutex::new(template.clone());
    let start = Instant::now();
    for i in 0..ITERATIONS {
        let mut engine = shared.lock().unwrap();
        engine.set_input(input(i));
        let v = engine.eval_rule("data.aiops.decision".into()).unwrap();
        assert_eq!(outcome(&v), "allow");
    }
    let mutex = start.elapsed() / ITERATIONS;

    let start = Instant::now();
    for i in 0..ITERATIONS {
        let mut engine = template.clone();
        engine.set_input(input(i));
        let v = engine.eval_rule("data.aiops.decision".into()).unwrap();
        assert_eq!(outcome(&v), "allow");
    }
    let clone = start.elapsed() / ITERATIONS;

    let start = Instant::now();
    for _ in 0..ITERATIONS {
        let _engine = template.clone();
    }
    let clone_only = start.elapsed() / ITERATIONS;

    let start = Instant::now();
    for i in 0..20 {
        let mut engine = prepared_engine();
        engine.set_input(input(i));
        engine.eval_rule("data.aiops.decision".into()).unwrap();
    }
    let fresh = start.elapsed() / 20;

    // Two threads evaluating at once: the mutex serialises them, clones run in parallel.
    let threads = 2;
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for i in 0..ITERATIONS {
                    let mut engine = shared.lock().unwrap();
                    engine.set_input(input(i));
                    engine.eval_rule("data.aiops.decision".into()).unwrap();
                }
            });
        }
    });
    let mutex_par = start.elapsed() / (ITERATIONS * threads);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for i in 0..ITERATIONS {
                    let mut engine = template.clone();
                    engine.set_input(input(i));
                    engine.eval_rule("data.aiops.decision".into()).unwrap();
                }
            });
        }
    });
    let clone_par = start.elapsed() / (ITERATIONS * threads);

    println!(
        "{threads} threads, wall time per evaluation: mutex {mutex_par:?}, clone {clone_par:?}"
    );
    println!(
        "per evaluation: mutex {mutex:?}, clone+eval {clone:?} (clone alone {clone_only:?}), \
         fresh engine {fresh:?}"
    );
}
