//! Group commit against a real SQLite file: runs' commits that arrive together share one
//! transaction (one sync to disk), each still lands or fails on its own, all or none of its
//! changes, and the chain stays one valid chain.
//!
//! To make commits arrive together deterministically, a second connection holds SQLite's
//! write lock (as another daemon on the same file would) while the commits queue, and lets
//! go once every one of them is waiting for the writer.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use std::sync::Arc;

use aiops_core::RequestStatus;
use aiops_store::{
    AuditEvent, Change, NewRequest, RequestStore, RequestUpdate, SqliteStore, StoreError,
};
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
async fn commit_together(
    dir: &std::path::Path,
    s: &Arc<SqliteStore>,
    commits: Vec<Vec<Change>>,
) -> Vec<Result<(), StoreError>> {
    let url = format!("sqlite://{}", dir.join("data/aiops.db").display());
    let mut blocker = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut blocker)
        .await
        .unwrap();
    let mut tasks = JoinSet::new();
    for (i, changes) in commits.into_iter().enumerate() {
        let s = s.clone();
        tasks.spawn(async move { (i, s.commit(changes).await) });
    }
    // On this single-threaded runtime every spawned task runs up to its wait for the writer
    // before the test task is polled again.
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
    sqlx::query("COMMIT").execute(&mut blocker).await.unwrap();
    let mut results: Vec<(usize, Result<(), StoreError>)> = tasks.join_all().await;
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

#[tokio::test(flavor = "current_thread")]
async fn concurrent_runs_share_one_sync_and_keep_one_chain() {
    let (dir, s) = common::store().await;
    let s = Arc::new(s);
    let before = s.commit_stats();
    let commits = (0..40).map(|i| run_changes(&format!("r{i}"))).collect();
    let results = commit_together(dir.path(), &s, commits).await;
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

#[tokio::test(flavor = "current_thread")]
async fn a_failing_commit_is_rolled_back_alone_all_of_it() {
    let (dir, s) = common::store().await;
    let s = Arc::new(s);
    let mut broken = run_changes("broken");
    // Its last change names a request that does not exist: the whole commit must fail,
    // its request and its first rows included.
    broken.push(Change::Update(
        "missing".into(),
        RequestUpdate::default(),
        AuditEvent::new(Some("missing"), "plan", "planned", json!({})),
    ));
    let commits = vec![run_changes("a"), broken, run_changes("b")];
    let results = commit_together(dir.path(), &s, commits).await;
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

#[tokio::test(flavor = "current_thread")]
async fn an_empty_commit_writes_nothing() {
    let (_dir, s) = common::store().await;
    s.commit(Vec::new()).await.unwrap();
    assert_eq!(s.commit_stats().transactions, 0);
    assert_eq!(s.verify_chain().await.unwrap().events, 0);
}
