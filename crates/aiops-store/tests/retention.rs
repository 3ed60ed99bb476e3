//! Payload retention against a real SQLite file and a real PostgreSQL cluster: final requests past the cutoff lose their
//! payload and keep what lists and audit links need, requests that can still move on are
//! untouched, the audit chain still verifies and records each pass, and batches are bounded.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

#[macro_use]
mod common;

use aiops_core::{Actor, RequestStatus};
use aiops_store::{AuditEvent, RequestQuery, RequestRecord, RequestUpdate, Store, now_ms};
use common::{Backend, TestStore, mark_executing, pending, request, store};
use serde_json::{Value, json};

/// Request `id` that ended `status` with every payload column filled.
async fn finished(s: &dyn Store, id: &str, status: RequestStatus) {
    request(s, id, "alice").await;
    s.update_request(
        id,
        RequestUpdate {
            status: Some(status),
            intent: Some(json!({"action": "dns.create_a_record", "params": {"name": "x.local", "ip": "10.0.0.9"}})),
            decision: Some(json!({"outcome": "allow", "reasons": ["lab zone"]})),
            plan: Some(json!({"action": "dns.create_a_record", "diff": "+ x.local A 10.0.0.9", "hash": format!("{id}-hash")})),
            execution: Some(json!({"output": "updated x.local"})),
            context: Some(json!([{"doc": "dns.md", "chunk_id": "c1"}])),
            error: (status == RequestStatus::Failed)
                .then(|| json!({"code": "executor_failed", "message": "nsupdate refused x.local 10.0.0.9"})),
            ..Default::default()
        },
        AuditEvent::new(Some(id), "execute", status.as_str(), json!({"changed": true})),
    )
    .await
    .unwrap();
}

async fn get(s: &dyn Store, id: &str) -> RequestRecord {
    s.get_request(id).await.unwrap().unwrap()
}

/// Every audit row, in chain order.
async fn chain(s: &TestStore) -> Vec<(Option<String>, String, String, Value, String)> {
    s.audit_rows()
        .await
        .into_iter()
        .map(|r| {
            (
                r.request_id,
                r.stage,
                r.outcome,
                serde_json::from_str(&r.data).unwrap(),
                r.actor,
            )
        })
        .collect()
}

async fn old_final_requests_lose_their_payload_and_the_chain_still_verifies(b: Backend) {
    let s = store(b).await;
    finished(&*s, "r1-success", RequestStatus::Success).await;
    finished(&*s, "r2-failed", RequestStatus::Failed).await;
    finished(&*s, "r3-dry-run", RequestStatus::DryRun).await;
    // Requests that can still move on.
    request(&*s, "r4-received", "bob").await;
    request(&*s, "r5-executing", "bob").await;
    mark_executing(&*s, "r5-executing").await;
    let approval = pending(&*s, "r6-pending", 1, 3_600_000).await;
    let cutoff = now_ms();
    // A final request after the cutoff keeps its payload.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    finished(&*s, "r7-recent", RequestStatus::Success).await;

    let untouched = ["r4-received", "r5-executing", "r6-pending", "r7-recent"];
    let mut before = Vec::new();
    for id in untouched {
        before.push(get(&*s, id).await);
    }
    let originals = [
        get(&*s, "r1-success").await,
        get(&*s, "r2-failed").await,
        get(&*s, "r3-dry-run").await,
    ];
    let rows_before = chain(&s).await;

    let report = s.prune_payloads(cutoff, 100).await.unwrap();
    assert_eq!(report.count, 3, "{report:?}");
    assert_eq!(report.first_id.as_deref(), Some("r1-success"));
    assert_eq!(report.last_id.as_deref(), Some("r3-dry-run"));

    for was in &originals {
        let now = get(&*s, &was.id).await;
        // Cleared.
        assert_eq!(now.nl, "");
        assert_eq!(
            (
                &now.intent,
                &now.decision,
                &now.plan,
                &now.execution,
                &now.context
            ),
            (&None, &None, &None, &None, &None),
            "{now:?}"
        );
        assert!(now.pruned_at.is_some());
        // Kept: what lists and audit links need.
        assert_eq!(
            (
                &now.id,
                now.status,
                &now.caller,
                &now.created_at,
                &now.updated_at,
                now.dry_run
            ),
            (
                &was.id,
                was.status,
                &was.caller,
                &was.created_at,
                &was.updated_at,
                was.dry_run
            )
        );
        assert_eq!(now.action(), Some("dns.create_a_record"));
        assert_eq!(now.plan_hash(), Some(format!("{}-hash", was.id).as_str()));
        assert_eq!(now.action(), was.action());
        assert_eq!(now.plan_hash(), was.plan_hash());
    }
    // The error keeps its code; its message (which may quote the sentence) goes.
    let failed = get(&*s, "r2-failed").await;
    assert_eq!(failed.error.as_ref().unwrap()["code"], "executor_failed");
    assert!(!failed.error.unwrap().to_string().contains("10.0.0.9"));
    assert_eq!(get(&*s, "r1-success").await.error, None);

    for (id, was) in untouched.iter().zip(&before) {
        assert_eq!(&get(&*s, id).await, was, "{id} changed");
    }
    assert_eq!(
        s.get_approval(&approval).await.unwrap().unwrap().request_id,
        "r6-pending"
    );

    // The audit rows are as they were, plus one event for the pass, by the system.
    let rows = chain(&s).await;
    assert_eq!(rows.len(), rows_before.len() + 1);
    assert_eq!(rows[..rows_before.len()], rows_before[..]);
    let (request_id, stage, outcome, data, actor) = rows.last().unwrap().clone();
    assert_eq!(
        (request_id, stage.as_str(), outcome.as_str()),
        (None, "retention", "pruned")
    );
    assert_eq!(data["count"], 3);
    assert_eq!(data["cutoff"], report.cutoff);
    assert_eq!(data["first_id"], "r1-success");
    assert_eq!(data["last_id"], "r3-dry-run");
    let actor: Actor = serde_json::from_str(&actor).unwrap();
    assert_eq!(actor, Actor::system());
    let verified = s.verify_chain().await.unwrap();
    assert!(verified.ok, "{verified:?}");
    assert_eq!(verified.events, rows.len() as u64);

    // A second pass finds nothing and records nothing.
    let again = s.prune_payloads(cutoff, 100).await.unwrap();
    assert_eq!((again.count, again.first_id), (0, None));
    assert_eq!(chain(&s).await.len(), rows.len());
    assert!(s.verify_chain().await.unwrap().ok);

    // Lists still show the pruned requests, with their action and when they were pruned.
    let page = s
        .list_requests(&RequestQuery {
            status: None,
            caller: Some("alice".into()),
            limit: 50,
            cursor: None,
        })
        .await
        .unwrap();
    let r1 = page.items.iter().find(|r| r.id == "r1-success").unwrap();
    assert_eq!(r1.action.as_deref(), Some("dns.create_a_record"));
    assert!(r1.pruned_at.is_some());
    let r7 = page.items.iter().find(|r| r.id == "r7-recent").unwrap();
    assert!(r7.pruned_at.is_none());
}

async fn a_backlog_is_pruned_in_bounded_batches_each_audited(b: Backend) {
    let s = store(b).await;
    for n in 0..5 {
        finished(&*s, &format!("r{n}"), RequestStatus::Success).await;
    }
    let cutoff = now_ms() + 1;
    let mut batches = Vec::new();
    loop {
        let r = s.prune_payloads(cutoff, 2).await.unwrap();
        let done = r.count < 2;
        batches.push((r.count, r.first_id.unwrap(), r.last_id.unwrap()));
        if done {
            break;
        }
    }
    // Oldest change first.
    let batch = |n, first: &str, last: &str| (n, first.to_string(), last.to_string());
    assert_eq!(
        batches,
        [
            batch(2, "r0", "r1"),
            batch(2, "r2", "r3"),
            batch(1, "r4", "r4")
        ]
    );
    let passes: Vec<u64> = chain(&s)
        .await
        .into_iter()
        .filter(|(_, stage, ..)| stage == "retention")
        .map(|(.., data, _)| data["count"].as_u64().unwrap())
        .collect();
    assert_eq!(passes, [2, 2, 1]);
    assert!(s.verify_chain().await.unwrap().ok);
    for n in 0..5 {
        assert!(get(&*s, &format!("r{n}")).await.pruned_at.is_some());
    }
    assert_eq!(s.prune_payloads(cutoff, 2).await.unwrap().count, 0);
}

both_backends!(
    old_final_requests_lose_their_payload_and_the_chain_still_verifies,
    a_backlog_is_pruned_in_bounded_batches_each_audited,
);
