//! Commits of concurrent runs: each lands or fails on its own, all or none of its changes,
//! and the chain stays one valid chain (both backends). On SQLite, commits that arrive
//! together share one transaction (one sync to disk: group commit); Postgres commits each
//! in its own transaction, concurrently, taking turns on the chain's head lock.
//!
//! To make commits arrive together deterministically, a second connection holds the write
//! lock (SQLite's, as another daemon on the same file would; on Postgres the chain head's
//! row lock) while the commits queue, and lets go once every one of them is waiting.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

#[macro_use]
mod common;

use std::sync::Arc;

use aiops_core::RequestStatus;
use aiops_store::{AuditEvent, Change, NewRequest, RequestUpdate, Store, StoreError};
use common::{Backend, TestStore};
use serde_json::json;
use sqlx::Connection;
use tokio::task::JoinSet;

/// The changes of one run that does not execute: intake, two stages, its end.
fn run_changes(id: &str) -> Vec<Change> {
    let event = |stage: &str, outcome: &str| AuditEvent::new(Some(id), stage, outcome, json!({}));
    vec![
        Change::CreateRequest(
            NewRequest {
                id: id.into(),
                nl: format!("sentence {id}"),
                dry_run: false,
                caller: "alice".into(),
            },
            event("intake", "accepted"),
        ),
        Change::Update(
            id.into(),
            RequestUpdate::default(),
            event("retrieve", "skipped"),
        ),
        Change::Update(
            id.into(),
            RequestUpdate {
                status: Some(RequestStatus::Unrecognized),
                ..Default::default()
            },
            event("parse", "unrecognized"),
        ),
    ]
}

/// Runs `commits` while another connection holds the database's write lock, and releases it
/// once every commit has been queued. Returns each commit's result, in order.
async fn commit_together(s: &TestStore, commits: Vec<Vec<Change>>) -> Vec<Result<(), StoreError>> {
    let n = commits.len();
    let spawn = |store: Arc<dyn Store>| {
        let mut tasks = JoinSet::new();
        for (i, changes) in commits.into_iter().enumerate() {
            let s = store.clone();
            tasks.spawn(async move { (i, s.commit(changes).await) });
        }
        tasks
    };
    let tasks = match s.backend() {
        Backend::Sqlite => {
            let url = format!("sqlite://{}", s.dir().join("data/aiops.db").display());
            let mut blocker = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut blocker)
                .await
                .unwrap();
            let tasks = spawn(s.arc());
            // On a single-threaded runtime every spawned task runs up to its wait for the
            // writer before the test task is polled again.
            for _ in 0..4 {
                tokio::task::yield_now().await;
            }
            sqlx::query("COMMIT").execute(&mut blocker).await.unwrap();
            tasks
        }
        Backend::Postgres => {
            let mut blocker = sqlx::PgConnection::connect(s.server().url()).await.unwrap();
            sqlx::query("BEGIN").execute(&mut blocker).await.unwrap();
            sqlx::query("SELECT 1 FROM audit_head WHERE id = 1 FOR UPDATE")
                .execute(&mut blocker)
                .await
                .unwrap();
            let tasks = spawn(s.arc());
            // Every commit waits for the head's row lock (the pool has enough connections
            // for these few): the server says so. Asked on a connection of its own, outside
            // the blocker's transaction: within one transaction `pg_stat_activity` is a
            // snapshot taken at its first read, which would never see the later waiters.
            let mut observer = sqlx::PgConnection::connect(s.server().url()).await.unwrap();
            loop {
                let waiting: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM pg_stat_activity
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                )
                .fetch_one(&mut observer)
                .await
                .unwrap();
                if waiting as usize >= n {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            sqlx::query("COMMIT").execute(&mut blocker).await.unwrap();
            tasks
        }
    };
    let mut results: Vec<(usize, Result<(), StoreError>)> = tasks.join_all().await;
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

#[tokio::test(flavor = "current_thread")]
async fn concurrent_runs_share_one_sync_and_keep_one_chain() {
    let s = common::store(Backend::Sqlite).await;
    let before = s.commit_stats();
    let commits = (0..40).map(|i| run_changes(&format!("r{i}"))).collect();
    let results = commit_together(&s, commits).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    let after = s.commit_stats();
    assert_eq!(after.commits - before.commits, 40);
    // The first commit may have been taken alone before the others queued behind the lock;
    // everything after it shares one transaction.
    assert!(
        after.transactions - before.transactions <= 2,
        "40 commits took {} transactions",
        after.transactions - before.transactions
    );
    for i in 0..40 {
        let id = format!("r{i}");
        let rec = s.get_request(&id).await.unwrap().expect("stored");
        assert_eq!(rec.status, RequestStatus::Unrecognized);
        let stages: Vec<String> = s
            .events_for(&id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.stage)
            .collect();
        assert_eq!(stages, ["intake", "retrieve", "parse"]);
    }
    let report = s.verify_chain().await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.events, 120);
}

async fn a_failing_commit_is_rolled_back_alone_all_of_it(b: Backend) {
    let s = common::store(b).await;
    let mut broken = run_changes("broken");
    // Its last change names a request that does not exist: the whole commit must fail,
    // its request and its first rows included.
    broken.push(Change::Update(
        "missing".into(),
        RequestUpdate::default(),
        AuditEvent::new(Some("missing"), "plan", "planned", json!({})),
    ));
    let commits = vec![run_changes("a"), broken, run_changes("b")];
    let results = commit_together(&s, commits).await;
    assert!(results[0].is_ok(), "{results:?}");
    assert!(
        matches!(results[1], Err(StoreError::NotFound(_))),
        "{results:?}"
    );
    assert!(results[2].is_ok(), "{results:?}");

    assert!(s.get_request("broken").await.unwrap().is_none());
    assert!(s.events_for("broken").await.unwrap().is_empty());
    for id in ["a", "b"] {
        assert_eq!(s.events_for(id).await.unwrap().len(), 3, "{id}");
    }
    let report = s.verify_chain().await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.events, 6);
    assert_eq!(s.commit_stats().commits, 2);
}

async fn an_empty_commit_writes_nothing(b: Backend) {
    let s = common::store(b).await;
    s.commit(Vec::new()).await.unwrap();
    assert_eq!(s.commit_stats().transactions, 0);
    assert_eq!(s.verify_chain().await.unwrap().events, 0);
}

both_backends!(
    a_failing_commit_is_rolled_back_alone_all_of_it,
    an_empty_commit_writes_nothing,
);
