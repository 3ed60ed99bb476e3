//! The store against a real SQLite file and a real PostgreSQL cluster: atomic request +
//! audit writes, the hash chain, and that tampering of any kind is detected.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

#[macro_use]
mod common;

use aiops_core::{Actor, AuthMethod, RequestStatus};
use aiops_store::{AuditEvent, ChainReport, RequestUpdate, Store};
use common::{Backend, TestStore, error_message, mark_executing, request, status_of, store};
use serde_json::json;

/// A request that was accepted and succeeded: two audit rows.
async fn seed(s: &dyn Store, id: &str) {
    request(s, id, "anonymous").await;
    s.update_request(
        id,
        RequestUpdate {
            status: Some(RequestStatus::Success),
            execution: Some(json!({"changed": true})),
            ..Default::default()
        },
        AuditEvent::new(Some(id), "execute", "succeeded", json!({"changed": true})).by(Actor {
            user: "alice".into(),
            auth: AuthMethod::Bearer,
        }),
    )
    .await
    .unwrap();
}

async fn requests_and_events_round_trip(b: Backend) {
    let s = store(b).await;
    seed(&*s, "r1").await;
    let r = s.get_request("r1").await.unwrap().unwrap();
    assert_eq!(r.status, RequestStatus::Success);
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

async fn every_row_names_its_actor_and_the_hash_covers_it(b: Backend) {
    let s = store(b).await;
    seed(&*s, "r1").await;
    let ev = s.events_for("r1").await.unwrap();
    // The store's own events are the daemon's; the caller's are the caller's.
    assert_eq!(ev[0].actor, Some(Actor::system()));
    assert_eq!(
        ev[1].actor,
        Some(Actor {
            user: "alice".into(),
            auth: AuthMethod::Bearer
        })
    );
    // Rewriting who did it breaks the chain at that row.
    let r = tamper(
        &s,
        r#"UPDATE audit_events SET actor = '{"auth":"bearer","user":"mallory"}' WHERE seq = 2"#,
    )
    .await;
    assert!(!r.ok);
    assert_eq!(r.first_bad_seq, Some(2));
}

async fn rows_from_before_actors_still_verify(b: Backend) {
    let s = store(b).await;
    seed(&*s, "r1").await;
    // Rewrite the chain as an older version wrote it: no actor column value, hashes
    // without one. It must verify, and the rows read back without an actor.
    let mut prev = aiops_store::GENESIS_HASH.to_string();
    for row in s.audit_rows().await {
        let hash = aiops_store::event_hash(aiops_store::HashedRow {
            prev_hash: &prev,
            seq: row.seq,
            at: &row.at,
            request_id: row.request_id.as_deref(),
            stage: &row.stage,
            outcome: &row.outcome,
            data: &row.data,
            actor: "",
        });
        s.exec(&format!(
            "UPDATE audit_events SET actor = '', prev_hash = '{prev}', hash = '{hash}' WHERE seq = {}",
            row.seq
        ))
        .await;
        prev = hash;
    }
    let r = tamper(&s, &format!("UPDATE audit_head SET hash = '{prev}'")).await;
    assert!(r.ok, "{r:?}");
    assert!(
        s.events_for("r1")
            .await
            .unwrap()
            .iter()
            .all(|e| e.actor.is_none())
    );
    // New rows after them name their actor and the chain still verifies.
    seed(&*s, "r2").await;
    assert!(s.verify_chain().await.unwrap().ok);
}

/// Runs `sql` against the database behind the store's back, then verifies the chain.
async fn tamper(s: &TestStore, sql: &str) -> ChainReport {
    s.exec(sql).await;
    s.verify_chain().await.unwrap()
}

async fn chain_verifies_and_detects_each_kind_of_tampering(b: Backend) {
    let s = store(b).await;
    seed(&*s, "r1").await;
    seed(&*s, "r2").await;
    let report = s.verify_chain().await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.events, 4);

    // 1. change a row's content
    let r = tamper(
        &s,
        "UPDATE audit_events SET outcome = 'denied' WHERE seq = 2",
    )
    .await;
    assert!(!r.ok);
    assert_eq!(r.first_bad_seq, Some(2));
    let r = tamper(
        &s,
        "UPDATE audit_events SET outcome = 'succeeded' WHERE seq = 2",
    )
    .await;
    assert!(r.ok);

    // 2. change the data and recompute that row's own hash: the next row's prev_hash breaks
    let row = s.audit_rows().await.remove(1);
    let forged = aiops_store::event_hash(aiops_store::HashedRow {
        prev_hash: &row.prev_hash,
        seq: 2,
        at: &row.at,
        request_id: Some("r1"),
        stage: "execute",
        outcome: "succeeded",
        data: r#"{"changed":false}"#,
        actor: &row.actor,
    });
    s.exec(&format!(
        "UPDATE audit_events SET data = '{{\"changed\":false}}', hash = '{forged}' WHERE seq = 2"
    ))
    .await;
    let r = s.verify_chain().await.unwrap();
    assert!(!r.ok);
    assert_eq!(r.first_bad_seq, Some(3));
}

async fn deleting_rows_is_detected(b: Backend) {
    let s = store(b).await;
    seed(&*s, "r1").await;
    seed(&*s, "r2").await;
    let r = tamper(&s, "DELETE FROM audit_events WHERE seq = 4").await;
    assert!(!r.ok, "truncating the tail must be detected");
    let r = tamper(&s, "DELETE FROM audit_events WHERE seq = 2").await;
    assert!(!r.ok);
    assert_eq!(r.first_bad_seq, Some(2));
}

async fn interrupted_executions_are_left_for_reconciliation_not_rerun(b: Backend) {
    let s = store(b).await;
    request(&*s, "r1", "a").await;
    mark_executing(&*s, "r1").await;
    request(&*s, "r0", "a").await;
    // The process stops; the next one settles what it left.
    let s = s.restart().await;
    // Stopped before executing: failed, nothing was changed.
    assert_eq!(s.fail_interrupted().await.unwrap(), ["r0"]);
    let r0 = s.get_request("r0").await.unwrap().unwrap();
    assert_eq!(r0.status, RequestStatus::Failed);
    assert!(error_message(&r0).contains("nothing was changed"));
    // Stopped while executing: listed for the daemon to reconcile, not failed blindly.
    let executing = s.interrupted_executions().await.unwrap();
    assert_eq!(
        executing.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["r1"]
    );
    assert_eq!(executing[0].status, RequestStatus::Executing);
    assert!(s.fail_interrupted().await.unwrap().is_empty());
    assert!(s.verify_chain().await.unwrap().ok);
}

async fn concurrent_writers_keep_one_chain(b: Backend) {
    let s = store(b).await;
    let s = s.arc();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = s.clone();
        tasks.push(tokio::spawn(
            async move { seed(&*s, &format!("r{i}")).await },
        ));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let r = s.verify_chain().await.unwrap();
    assert!(r.ok, "{r:?}");
    assert_eq!(r.events, 40);
}

async fn data_survives_reopen(b: Backend) {
    let first = store(b).await;
    seed(&*first, "r1").await;
    let s = first.reopen().await;
    drop(first);
    assert_eq!(status_of(&*s, "r1").await, RequestStatus::Success);
    assert!(s.verify_chain().await.unwrap().ok);
}

async fn quarantined_answers_are_stored_with_their_stage_and_listed_newest_first(b: Backend) {
    let s = store(b).await;
    request(&*s, "q1", "alice").await;
    let entry = |i: usize| aiops_core::Quarantined {
        parser: aiops_core::ParserKind::Llm,
        model: format!("tiny:{i}"),
        prompt_revision: "rev1".into(),
        raw_output: format!("{{\"action\": \"k8s.delete_pod\", \"n\": {i}}}"),
        reason: aiops_core::QuarantineReason::Ungrounded,
        detail: format!("`name` {i} is not in the sentence"),
    };
    s.update_request(
        "q1",
        RequestUpdate {
            status: Some(RequestStatus::Unrecognized),
            quarantine: (0..3).map(entry).collect(),
            ..Default::default()
        },
        AuditEvent::new(
            Some("q1"),
            "parse",
            "unrecognized",
            json!({"quarantined": 3}),
        ),
    )
    .await
    .unwrap();
    let all = s.list_quarantine(None, 10).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].entry, entry(2), "newest first");
    assert_eq!(all[2].entry, entry(0));
    assert!(all.iter().all(|q| q.request_id.as_deref() == Some("q1")));
    // Pages: two, then the rest.
    let page = s.list_quarantine(None, 2).await.unwrap();
    assert_eq!(page.len(), 2);
    let rest = s.list_quarantine(Some(page[1].id), 2).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].entry, entry(0));
    assert!(s.verify_chain().await.unwrap().ok);
}

async fn a_failed_stage_write_stores_no_quarantine_either(b: Backend) {
    let s = store(b).await;
    // No such request: the update fails, and its quarantine rows go with it.
    let err = s
        .update_request(
            "missing",
            RequestUpdate {
                quarantine: vec![aiops_core::Quarantined {
                    parser: aiops_core::ParserKind::Llm,
                    model: "m".into(),
                    prompt_revision: "r".into(),
                    raw_output: "{}".into(),
                    reason: aiops_core::QuarantineReason::Malformed,
                    detail: "d".into(),
                }],
                ..Default::default()
            },
            AuditEvent::new(Some("missing"), "parse", "unrecognized", json!({})),
        )
        .await;
    assert!(err.is_err());
    assert!(s.list_quarantine(None, 10).await.unwrap().is_empty());
}

both_backends!(
    requests_and_events_round_trip,
    every_row_names_its_actor_and_the_hash_covers_it,
    rows_from_before_actors_still_verify,
    chain_verifies_and_detects_each_kind_of_tampering,
    deleting_rows_is_detected,
    interrupted_executions_are_left_for_reconciliation_not_rerun,
    concurrent_writers_keep_one_chain,
    data_survives_reopen,
    quarantined_answers_are_stored_with_their_stage_and_listed_newest_first,
    a_failed_stage_write_stores_no_quarantine_either,
);
