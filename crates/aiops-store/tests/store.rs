//! The store against a real SQLite file: atomic request + audit writes, the hash chain, and
//! that tampering of any kind is detected.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use aiops_store::{AuditEvent, NewRequest, RequestUpdate, SqliteStore, Store, status};
use serde_json::json;

async fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("data/aiops.db"))
        .await
        .unwrap();
    (dir, s)
}

async fn seed(s: &SqliteStore, id: &str) {
    s.create_request(
        &NewRequest {
            id: id.into(),
            nl: "add a record".into(),
            dry_run: false,
            caller: "anonymous".into(),
        },
        AuditEvent::new(Some(id), "intake", "accepted", json!({"nl_len": 12})),
    )
    .await
    .unwrap();
    s.update_request(
        id,
        RequestUpdate {
            status: Some(status::SUCCESS),
            execution: Some(json!({"changed": true})),
            ..Default::default()
        },
        AuditEvent::new(Some(id), "execute", "succeeded", json!({"changed": true})),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn requests_and_events_round_trip() {
    let (_d, s) = store().await;
    seed(&s, "r1").await;
    let r = s.get_request("r1").await.unwrap().unwrap();
    assert_eq!(r.status, "success");
    assert_eq!(r.execution, Some(json!({"changed": true})));
    assert_eq!(r.intent, None);
    let ev = s.events_for("r1").await.unwrap();
    assert_eq!(
        ev.iter().map(|e| e.stage.as_str()).collect::<Vec<_>>(),
        ["intake", "execute"]
    );
    assert_eq!(ev[1].prev_hash, ev[0].hash);
    assert!(s.get_request("nope").await.unwrap().is_none());
    let err = s
        .update_request(
            "nope",
            RequestUpdate::default(),
            AuditEvent::new(None, "x", "y", json!({})),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_found");
    // the failed update appended nothing
    assert_eq!(s.verify_chain().await.unwrap().events, 2);
}

#[tokio::test]
async fn chain_verifies_and_detects_each_kind_of_tampering() {
    let (_d, s) = store().await;
    seed(&s, "r1").await;
    seed(&s, "r2").await;
    let report = s.verify_chain().await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.events, 4);

    // 1. change a row's content
    sqlx::query("UPDATE audit_events SET outcome = 'denied' WHERE seq = 2")
        .execute(s.pool())
        .await
        .unwrap();
    let r = s.verify_chain().await.unwrap();
    assert!(!r.ok);
    assert_eq!(r.first_bad_seq, Some(2));
    sqlx::query("UPDATE audit_events SET outcome = 'succeeded' WHERE seq = 2")
        .execute(s.pool())
        .await
        .unwrap();
    assert!(s.verify_chain().await.unwrap().ok);

    // 2. change the data and recompute that row's own hash: the next row's prev_hash breaks
    let (prev, at): (String, String) =
        sqlx::query_as("SELECT prev_hash, at FROM audit_events WHERE seq = 2")
            .fetch_one(s.pool())
            .await
            .unwrap();
    let forged = aiops_store::event_hash(
        &prev,
        2,
        &at,
        Some("r1"),
        "execute",
        "succeeded",
        r#"{"changed":false}"#,
    );
    sqlx::query("UPDATE audit_events SET data = '{\"changed\":false}', hash = $1 WHERE seq = 2")
        .bind(&forged)
        .execute(s.pool())
        .await
        .unwrap();
    let r = s.verify_chain().await.unwrap();
    assert!(!r.ok);
    assert_eq!(r.first_bad_seq, Some(3));
}

#[tokio::test]
async fn deleting_rows_is_detected() {
    let (_d, s) = store().await;
    seed(&s, "r1").await;
    seed(&s, "r2").await;
    sqlx::query("DELETE FROM audit_events WHERE seq = 4")
        .execute(s.pool())
        .await
        .unwrap();
    let r = s.verify_chain().await.unwrap();
    assert!(!r.ok, "truncating the tail must be detected");
    sqlx::query("DELETE FROM audit_events WHERE seq = 2")
        .execute(s.pool())
        .await
        .unwrap();
    let r = s.verify_chain().await.unwrap();
    assert!(!r.ok);
    assert_eq!(r.first_bad_seq, Some(2));
}

#[tokio::test]
async fn interrupted_executions_are_failed_not_rerun() {
    let (_d, s) = store().await;
    s.create_request(
        &NewRequest {
            id: "r1".into(),
            nl: "x".into(),
            dry_run: false,
            caller: "a".into(),
        },
        AuditEvent::new(Some("r1"), "intake", "accepted", json!({})),
    )
    .await
    .unwrap();
    s.update_request(
        "r1",
        RequestUpdate {
            status: Some(status::EXECUTING),
            ..Default::default()
        },
        AuditEvent::new(Some("r1"), "execute", "started", json!({})),
    )
    .await
    .unwrap();
    s.create_request(
        &NewRequest {
            id: "r0".into(),
            nl: "y".into(),
            dry_run: false,
            caller: "a".into(),
        },
        AuditEvent::new(Some("r0"), "intake", "accepted", json!({})),
    )
    .await
    .unwrap();
    assert_eq!(s.fail_interrupted().await.unwrap(), ["r0", "r1"]);
    let r0 = s.get_request("r0").await.unwrap().unwrap();
    assert_eq!(r0.status, "failed");
    assert!(
        r0.error.unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("nothing was changed")
    );
    let r = s.get_request("r1").await.unwrap().unwrap();
    assert_eq!(r.status, "failed");
    assert_eq!(r.error.unwrap()["code"], "interrupted");
    assert!(s.fail_interrupted().await.unwrap().is_empty());
    assert!(s.verify_chain().await.unwrap().ok);
}

#[tokio::test]
async fn concurrent_writers_keep_one_chain() {
    let (_d, s) = store().await;
    let s = std::sync::Arc::new(s);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = s.clone();
        tasks.push(tokio::spawn(
            async move { seed(&s, &format!("r{i}")).await },
        ));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let r = s.verify_chain().await.unwrap();
    assert!(r.ok, "{r:?}");
    assert_eq!(r.events, 40);
}

#[tokio::test]
async fn data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aiops.db");
    {
        let s = SqliteStore::open(&path).await.unwrap();
        seed(&s, "r1").await;
    }
    let s = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        s.get_request("r1").await.unwrap().unwrap().status,
        "success"
    );
    assert!(s.verify_chain().await.unwrap().ok);
}
