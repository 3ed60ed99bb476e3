//! Rules parser cost per sentence: `RulesParser::outcome` (what the parse stage runs) over the
//! crate's own case table (`tests/cases.jsonl`), recognised and unrecognised sentences
//! apart and mixed. `cargo bench -p aiops-parser --bench parse`; results go to
//! `BENCHMARKS.md`.
//!
//! The cases are read relative to this crate (`CARGO_MANIFEST_DIR`), never from an absolute
//! path, and a missing or empty table stops the bench: a benchmark of nothing is not a number.

use std::hint::black_box;
use std::path::Path;

use aiops_parser::RulesParser;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// The sentences of `tests/cases.jsonl`, split by what the table expects of them.
struct Sentences {
    recognized: Vec<String>,
    unrecognized: Vec<String>,
}

fn sentences() -> Sentences {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut out = Sentences {
        recognized: Vec::new(),
        unrecognized: Vec::new(),
    };
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let case: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), n + 1));
        let nl = case["nl"]
            .as_str()
            .unwrap_or_else(|| panic!("{}:{}: no nl", path.display(), n + 1))
            .to_string();
        if case["expect"] == "unrecognized" {
            out.unrecognized.push(nl);
        } else {
            out.recognized.push(nl);
        }
    }
    assert!(
        !out.recognized.is_empty() && !out.unrecognized.is_empty(),
        "{} must hold recognised and unrecognised sentences",
        path.display()
    );
    out
}

/// Parses every sentence of `set` once per iteration; throughput is sentences per second,
/// so criterion's time per iteration divided by the set's size is the time per sentence.
fn bench_set(c: &mut Criterion, name: &str, set: &[String]) {
    let mut group = c.benchmark_group("rules_parser");
    group.throughput(Throughput::Elements(set.len() as u64));
    group.bench_function(format!("{name} ({} sentences)", set.len()), |b| {
        b.iter(|| {
            for nl in set {
                black_box(RulesParser::outcome(black_box(nl)));
            }
        })
    });
    group.finish();
}

fn bench(c: &mut Criterion) {
    let s = sentences();
    let mixed: Vec<String> = s
        .recognized
        .iter()
        .chain(&s.unrecognized)
        .cloned()
        .collect();
    bench_set(c, "recognized", &s.recognized);
    bench_set(c, "unrecognized", &s.unrecognized);
    bench_set(c, "mixed", &mixed);

    // One sentence per iteration, cycling through the mix: the per-call figure directly.
    let mut group = c.benchmark_group("rules_parser");
    let mut i = 0usize;
    group.bench_function("one sentence (cycling through the mix)", |b| {
        b.iter(|| {
            i = (i + 1) % mixed.len();
            RulesParser::outcome(black_box(&mixed[i]))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
