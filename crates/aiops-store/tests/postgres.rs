//! What only the PostgreSQL store has, against a real cluster (`bootstrap/postgres.sh`):
//! replica leases (renewed, expired, taken over; a replica presumed dead can write nothing
//! more), the server going away and coming back (503-class errors, nothing half-done), and
//! the password in the URL never reaching an error or a `Debug`.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use std::time::{Duration, Instant};

use aiops_core::{ApprovalState, RequestStatus, Verdict};
use aiops_store::{
    ApprovalStore, AuditEvent, Change, NewRequest, PgOptions, PostgresStore, Replicas,
    RequestStore, StoreError,
};
use common::{Backend, decide, mark_executing, pending, request, state_of, status_of};
use serde_json::json;

/// A store on `url` whose lease lives `ttl`.
async fn replica(url: &str, ttl: Duration) -> PostgresStore {
    PostgresStore::connect(
        url,
        PgOptions {
            lease_ttl: ttl,
            ..common::pg_options()
        },
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_replicas_work_is_taken_over_once_its_lease_expires_and_it_is_fenced() {
    let first = common::store(Backend::Postgres).await;
    let url = first.server().url().to_string();
    let ttl = Duration::from_millis(1500);
    let a = replica(&url, ttl).await;
    // b and c stay alive throughout (a lease longer than the test).
    let b = replica(&url, Duration::from_secs(30)).await;
    // Replica a: one request executing, one accepted, one approval being re-planned.
    request(&a, "executing", "alice").await;
    mark_executing(&a, "executing").await;
    request(&a, "received", "alice").await;
    let aid = pending(&a, "replanning", 1, 60_000).await;
    decide(&a, &aid, "bob", Verdict::Approve).await;
    assert_eq!(a.claim_approved().await.unwrap().unwrap().id, aid);

    // While a renews its lease, b takes nothing over, however long it waits.
    let started = Instant::now();
    while started.elapsed() < ttl * 2 {
        a.renew_lease().await.unwrap();
        assert!(b.fail_interrupted().await.unwrap().is_empty());
        assert!(b.interrupted_executions().await.unwrap().is_empty());
        tokio::time::sleep(ttl / 4).await;
    }
    assert_eq!(status_of(&b, "received").await, RequestStatus::Received);

    // a stops renewing (it died): once its lease expired, b takes its work over, once.
    tokio::time::sleep(ttl + Duration::from_millis(200)).await;
    assert_eq!(b.fail_interrupted().await.unwrap(), ["received"]);
    assert_eq!(status_of(&b, "received").await, RequestStatus::Failed);
    assert_eq!(state_of(&b, &aid).await, ApprovalState::Failed);
    let adopted = b.interrupted_executions().await.unwrap();
    assert_eq!(
        adopted.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["executing"]
    );
    assert!(b.fail_interrupted().await.unwrap().is_empty(), "only once");
    // A third replica finds nothing left: b holds it now, and b is alive.
    let c = replica(&url, Duration::from_secs(30)).await;
    assert!(c.fail_interrupted().await.unwrap().is_empty());
    assert!(c.interrupted_executions().await.unwrap().is_empty());

    // a was only presumed dead: it learns so, and can write nothing more.
    let err = a.renew_lease().await.unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost(_)), "{err:?}");
    assert_eq!(err.code(), "store_unavailable");
    let err = a
        .append_event(AuditEvent::new(None, "note", "late", json!({})))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost(_)), "{err:?}");
    assert!(a.ping().await.is_err());
    let report = b.verify_chain().await.unwrap();
    assert!(report.ok, "{report:?}");
    assert!(
        !b.events_for("executing")
            .await
            .unwrap()
            .iter()
            .any(|e| e.outcome == "late")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fenced_replica_cannot_commit_even_if_it_never_renewed() {
    // The fence is checked in the write transaction itself, not only by the heartbeat: a
    // replica paused past its lease and resumed writes nothing.
    let first = common::store(Backend::Postgres).await;
    let url = first.server().url().to_string();
    let a = replica(&url, Duration::from_millis(500)).await;
    let b = replica(&url, Duration::from_secs(30)).await;
    request(&a, "r1", "alice").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(b.fail_interrupted().await.unwrap(), ["r1"]);
    let err = a
        .commit(vec![Change::CreateRequest(
            NewRequest {
                id: "r2".into(),
                nl: "after the takeover".into(),
                dry_run: false,
                caller: "alice".into(),
            },
            AuditEvent::new(Some("r2"), "intake", "accepted", json!({})),
        )])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost(_)), "{err:?}");
    assert!(b.get_request("r2").await.unwrap().is_none());
    assert!(b.verify_chain().await.unwrap().ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_postgres_is_down_writes_fail_unavailable_and_nothing_is_half_done() {
    let s = common::store(Backend::Postgres).await;
    request(&*s, "before", "alice").await;
    let server = s.server();
    tokio::task::block_in_place(|| server.stop()).unwrap();

    let started = Instant::now();
    let err = s
        .commit(vec![
            Change::CreateRequest(
                NewRequest {
                    id: "during".into(),
                    nl: "while the database is down".into(),
                    dry_run: false,
                    caller: "alice".into(),
                },
                AuditEvent::new(Some("during"), "intake", "accepted", json!({})),
            ),
            Change::Append(AuditEvent::new(Some("during"), "note", "x", json!({}))),
        ])
        .await
        .unwrap_err();
    assert_eq!(err.code(), "store_unavailable", "{err:?}");
    // Bounded by the pool's acquire timeout (3 s in tests), not a hang.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(s.ping().await.unwrap_err().code(), "store_unavailable");
    assert_eq!(
        s.get_request("before").await.unwrap_err().code(),
        "store_unavailable"
    );

    tokio::task::block_in_place(|| server.restart()).unwrap();
    // The pool replaces its dead connections: the next writes go through.
    s.ping().await.unwrap();
    assert!(
        s.get_request("during").await.unwrap().is_none(),
        "nothing half-done"
    );
    request(&*s, "after", "alice").await;
    let report = s.verify_chain().await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.events, 2, "before and after, nothing of during");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_never_reaches_an_error_or_a_debug() {
    let s = common::store(Backend::Postgres).await;
    let server = s.server();
    let password = server.password();
    assert!(server.url().contains(&password));
    assert!(!format!("{:?}", s.postgres()).contains(&password));
    assert!(!format!("{server:?}").contains(&password));

    // A wrong password, a malformed URL, a server that is not there: none is echoed.
    let wrong = server.url().replace(&password, "not-the-password-4711");
    let err = PostgresStore::connect(&wrong, common::pg_options())
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("not-the-password-4711"), "{err}");
    assert_eq!(err.code(), "store_unavailable");
    let malformed = format!("postgres://aiops:{password}@127.0.0.1:notaport/aiops");
    let err = PostgresStore::connect(&malformed, common::pg_options())
        .await
        .unwrap_err();
    assert!(!err.to_string().contains(&password), "{err}");
    let closed = aiops_test_support::ports::closed_addr();
    let nowhere = format!("postgres://aiops:{password}@{closed}/aiops");
    let err = PostgresStore::connect(&nowhere, common::pg_options())
        .await
        .unwrap_err();
    assert!(!err.to_string().contains(&password), "{err}");
    assert_eq!(err.code(), "store_unavailable");
}
