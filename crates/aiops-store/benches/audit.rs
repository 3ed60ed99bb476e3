//! The audit log's costs on a real SQLite file (WAL, `synchronous=FULL`):
//! - `audit_append`: one durable commit of one event, and eight concurrent ones (group commit
//!   shares the sync: compare the per-commit time);
//! - `audit_verify`: a full verify and an incremental one (1 000 events after a checkpoint)
//!   at 10k, 100k and 1M events, timed directly (criterion would repeat a 1M-row verify
//!   dozens of times) and printed as JSON lines.
//!
//! `cargo bench -p aiops-store --bench audit`; results go to `BENCHMARKS.md`. Set
//! `AIOPS_BENCH_MAX_EVENTS` to stop the verify series earlier (default 1 000 000).

use std::sync::Arc;
use std::time::Instant;

use aiops_store::{AuditEvent, Change, RequestStore, SqliteStore};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

fn event(i: usize) -> Change {
    Change::Append(AuditEvent::new(
        Some(&format!("01JREQUEST{i:016}")),
        "decide",
        "allow",
        json!({"outcome": "allow", "reasons": ["zone is managed"], "policy_revision": "0123456789abcdef"}),
    ))
}

async fn open(dir: &tempfile::TempDir) -> Arc<SqliteStore> {
    Arc::new(
        SqliteStore::open(&dir.path().join("aiops.db"))
            .await
            .expect("store opens"),
    )
}

fn append(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = rt.block_on(open(&dir));
    let mut group = c.benchmark_group("audit_append");
    group.sample_size(30);
    group.bench_function("one_durable_commit", |b| {
        b.iter(|| rt.block_on(store.commit(vec![event(0)])).expect("commit"));
    });
    group.bench_function("eight_concurrent_commits", |b| {
        b.iter(|| {
            rt.block_on(async {
                let commits: Vec<_> = (0..8)
                    .map(|i| {
                        let s = store.clone();
                        tokio::spawn(async move { s.commit(vec![event(i)]).await })
                    })
                    .collect();
                for c in commits {
                    c.await.expect("task").expect("commit");
                }
            })
        });
    });
    group.finish();
}

/// Grows the chain to `events` rows, in commits of 10 000.
async fn grow(store: &SqliteStore, from: usize, to: usize) {
    let mut at = from;
    while at < to {
        let n = (to - at).min(10_000);
        store
            .commit((at..at + n).map(event).collect())
            .await
            .expect("commit");
        at += n;
    }
}

fn verify(_c: &mut Criterion) {
    let max: usize = std::env::var("AIOPS_BENCH_MAX_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = rt.block_on(open(&dir));
    let mut len = 0;
    for size in [10_000usize, 100_000, 1_000_000] {
        if size > max {
            break;
        }
        rt.block_on(grow(&store, len, size));
        len = size;
        let started = Instant::now();
        let full = rt.block_on(store.verify_chain()).expect("verify");
        let full_secs = started.elapsed().as_secs_f64();
        assert!(full.ok && full.events as usize == len, "{full:?}");
        // The full verify left a checkpoint at the head; 1 000 events come after it.
        rt.block_on(grow(&store, len, len + 1000));
        len += 1000;
        let started = Instant::now();
        let inc = rt.block_on(store.verify_incremental()).expect("verify");
        let inc_secs = started.elapsed().as_secs_f64();
        assert!(inc.ok && inc.checked == 1000, "{inc:?}");
        println!(
            "{}",
            json!({"bench": "audit_verify", "events": size, "full_ms": full_secs * 1e3,
                   "incremental_1000_ms": inc_secs * 1e3, "full_rows_per_s": (size as f64 / full_secs).round()})
        );
    }
}

criterion_group!(benches, append, verify);
criterion_main!(benches);
