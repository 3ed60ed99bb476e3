//! Cost of the two pure steps every request goes through in this crate:
//!
//! - `catalog_validate`: [`Catalog::validate`] (normalise, fill defaults, JSON Schema check)
//!   on typical intents: every example of the shipped catalog (what a parser hands over, so
//!   each action's schema is exercised), a name that needs normalising, and a rejection
//!   (unknown parameter) whose error messages are built.
//! - `plan_hash`: [`plan_hash`] (canonical JSON + SHA-256) and [`Plan::new`] (target to JSON,
//!   the hash, the copies a plan holds) on the same intents with a dry-run diff.
//!
//! `cargo bench -p aiops-core --bench catalog`; results go to `BENCHMARKS.md`.

use std::hint::black_box;

use aiops_core::{Catalog, Intent, ParserKind, Plan, plan_hash};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Map, Value, json};

/// Managed zones for [`Catalog::target`], as the shipped policy data names them.
fn zones() -> Vec<String> {
    vec!["corp.example.com".to_string(), "local".to_string()]
}

/// `(action, params)` as a parser proposes them: every example of the shipped catalog.
fn catalog_examples(catalog: &Catalog) -> Vec<(String, Map<String, Value>)> {
    let out: Vec<_> = catalog
        .actions()
        .flat_map(|spec| {
            spec.examples
                .iter()
                .map(|ex| (spec.name.as_str().to_string(), ex.params.clone()))
        })
        .collect();
    assert!(!out.is_empty(), "the shipped catalog has no examples");
    out
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("expected an object, got {other}"),
    }
}

fn validate(c: &mut Criterion) {
    let catalog = Catalog::embedded().expect("the shipped catalog loads");
    let examples = catalog_examples(&catalog);

    let mut group = c.benchmark_group("catalog_validate");
    group.throughput(Throughput::Elements(examples.len() as u64));
    group.bench_function(
        format!("every catalog example ({} intents)", examples.len()),
        |b| {
            b.iter(|| {
                for (action, params) in &examples {
                    black_box(
                        catalog
                            .validate(action, black_box(params), ParserKind::Rules, 0.95)
                            .expect("a catalog example validates"),
                    );
                }
            })
        },
    );
    group.throughput(Throughput::Elements(1));

    let scale = object(json!({"name": "web", "namespace": "shop", "replicas": 5}));
    group.bench_function("k8s.scale_deployment", |b| {
        b.iter(|| {
            catalog
                .validate(
                    "k8s.scale_deployment",
                    black_box(&scale),
                    ParserKind::Rules,
                    0.95,
                )
                .expect("valid")
        })
    });

    // Upper case and a trailing dot: normalised before the schema sees it; ttl defaulted.
    let record = object(json!({"name": "App.Corp.Example.COM.", "ip": "10.20.30.40"}));
    group.bench_function("dns.create_a_record (normalised, default filled)", |b| {
        b.iter(|| {
            catalog
                .validate(
                    "dns.create_a_record",
                    black_box(&record),
                    ParserKind::Rules,
                    0.95,
                )
                .expect("valid")
        })
    });

    let unknown = object(json!({"name": "web", "replicas": 5, "force": true}));
    group.bench_function("rejected (unknown parameter)", |b| {
        b.iter(|| {
            catalog
                .validate(
                    "k8s.scale_deployment",
                    black_box(&unknown),
                    ParserKind::Rules,
                    0.95,
                )
                .expect_err("an unknown parameter is refused")
        })
    });
    group.finish();
}

/// The intents of the catalog's examples, validated, with a target and a dry-run diff.
fn plans_input(catalog: &Catalog) -> Vec<(Intent, aiops_core::Target, String)> {
    let zones = zones();
    catalog_examples(catalog)
        .into_iter()
        .map(|(action, params)| {
            let intent = catalog
                .validate(&action, &params, ParserKind::Rules, 0.95)
                .expect("a catalog example validates");
            let target = catalog.target(&intent, &zones);
            let diff = format!(
                "--- current\n+++ planned\n@@ {action} @@\n+ {}\n",
                serde_json::to_string(&intent.params).expect("params serialise")
            );
            (intent, target, diff)
        })
        .collect()
}

fn hashing(c: &mut Criterion) {
    let catalog = Catalog::embedded().expect("the shipped catalog loads");
    let plans = plans_input(&catalog);
    // plan_hash's own inputs, converted once: the hash alone.
    let raw: Vec<(&'static str, Value, Value, &str)> = plans
        .iter()
        .map(|(intent, target, diff)| {
            (
                intent.action.as_str(),
                Value::Object(intent.params.clone()),
                serde_json::to_value(target).expect("target serialises"),
                diff.as_str(),
            )
        })
        .collect();

    let mut group = c.benchmark_group("plan_hash");
    group.throughput(Throughput::Elements(plans.len() as u64));
    group.bench_function(format!("plan_hash ({} intents)", raw.len()), |b| {
        b.iter(|| {
            for (action, params, target, diff) in &raw {
                black_box(plan_hash(action, params, target, diff));
            }
        })
    });
    group.bench_function(format!("Plan::new ({} intents)", plans.len()), |b| {
        b.iter(|| {
            for (intent, target, diff) in &plans {
                black_box(Plan::new(intent, target.clone(), diff.clone(), true));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, validate, hashing);
criterion_main!(benches);
