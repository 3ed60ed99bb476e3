//! Many writers at once, against a real SQLite file and a real PostgreSQL cluster: every
//! kind of write from many tasks of one process, and two store instances (two daemons, two
//! replicas) on the same database. Nothing may fail: on SQLite, in-process writers queue on
//! the store's one write path and other processes wait on SQLite's lock (`busy_timeout`),
//! never "database is locked"; on Postgres, writers take turns on the chain's head lock.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

#[macro_use]
mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use aiops_core::{ApprovalState, RequestStatus, Verdict};
use aiops_store::{AuditEvent, RequestUpdate, SlackResult, Store, StoreError, now_ms};
use common::{Backend, all_approvals, decide, decision, pending, request, store};
use serde_json::json;
use tokio::task::JoinSet;

/// One worker's mix of writes, interleaving with the others'. Returns its first error.
async fn mixed_writes(s: Arc<dyn Store>, worker: usize) -> Result<(), StoreError> {
    for round in 0..6 {
        let id = format!("w{worker}-{round}");
        let now = now_ms();
        // replay guard (the write that used to bypass the serialised path)
        assert!(
            s.slack_nonce(&format!("v0={id}"), now, now - 300_000)
                .await?
        );
        assert!(
            !s.slack_nonce(&format!("v0={id}"), now, now - 300_000)
                .await?
        );
        // a direct request through to success
        request(&*s, &id, "alice").await;
        s.update_request(
            &id,
            RequestUpdate {
                status: Some(RequestStatus::Success),
                ..Default::default()
            },
            AuditEvent::new(Some(&id), "execute", "succeeded", json!({})),
        )
        .await?;
        // an approval: posted to Slack, refused to the requester, approved, re-clicked
        let aid = pending(&*s, &format!("{id}-a"), 1, 60_000).await;
        s.slack_result(
            &aid,
            SlackResult::Failed {
                now_ms: now,
                error: "rate limited".into(),
            },
        )
        .await?;
        s.slack_result(
            &aid,
            SlackResult::Posted {
                channel: "C1".into(),
                ts: id.clone(),
            },
        )
        .await?;
        s.decide_approval(&decision(&aid, "alice", Verdict::Approve))
            .await?;
        s.decide_approval(&decision(&aid, "bob", Verdict::Approve))
            .await?;
        s.decide_approval(&decision(&aid, "carol", Verdict::Reject))
            .await?;
        s.slack_result(&aid, SlackResult::Updated).await?;
        // whichever approved approval this worker claims, it finishes
        if let Some(claimed) = s.claim_approved().await? {
            s.finish_approval(
                &claimed.id,
                ApprovalState::Succeeded,
                None,
                RequestUpdate {
                    status: Some(RequestStatus::Success),
                    ..Default::default()
                },
                AuditEvent::new(Some(&claimed.request_id), "execute", "succeeded", json!({})),
            )
            .await?;
        }
        // and one that is rejected outright, plus a sweep and a note
        let rid = pending(&*s, &format!("{id}-r"), 2, 60_000).await;
        s.decide_approval(&decision(&rid, "bob", Verdict::Reject))
            .await?;
        s.expire_due(now_ms()).await?;
        s.append_event(AuditEvent::new(
            None,
            "note",
            "ok",
            json!({"worker": worker}),
        ))
        .await?;
        s.verify_chain().await?;
    }
    Ok(())
}

async fn concurrent_mixed_writes_never_fail_and_keep_one_chain(b: Backend) {
    let store = store(b).await;
    let s = store.arc();
    let mut tasks = JoinSet::new();
    for worker in 0..12 {
        tasks.spawn(mixed_writes(s.clone(), worker));
    }
    let mut errors = Vec::new();
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = done.unwrap() {
            errors.push(e.to_string());
        }
    }
    assert!(
        errors.is_empty(),
        "{} writes failed: {errors:?}",
        errors.len()
    );
    // Claims race the approvals of other workers; drain what is left so every approval ended.
    while let Some(a) = s.claim_approved().await.unwrap() {
        s.finish_approval(
            &a.id,
            ApprovalState::Succeeded,
            None,
            RequestUpdate::default(),
            AuditEvent::new(Some(&a.request_id), "execute", "succeeded", json!({})),
        )
        .await
        .unwrap();
    }
    let mut states = BTreeMap::<&str, usize>::new();
    for a in all_approvals(&*s, None).await {
        *states.entry(a.state.as_str()).or_default() += 1;
    }
    assert_eq!(
        states,
        BTreeMap::from([("rejected", 12 * 6), ("succeeded", 12 * 6)])
    );
    let report = s.verify_chain().await.unwrap();
    assert!(report.ok, "{report:?}");
}

async fn two_stores_on_one_database_claim_each_approval_exactly_once(b: Backend) {
    let first_store = store(b).await;
    let second_store = first_store.reopen().await;
    let (first, second) = (first_store.arc(), second_store.arc());
    const APPROVALS: usize = 40;
    for i in 0..APPROVALS {
        let aid = pending(&*first, &format!("r{i}"), 1, 60_000).await;
        decide(&*first, &aid, "bob", Verdict::Approve).await;
    }
    // Four workers per "daemon", each claiming until nothing is left.
    let mut tasks = JoinSet::new();
    for s in [
        &first, &second, &first, &second, &first, &second, &first, &second,
    ] {
        let s = s.clone();
        tasks.spawn(async move {
            let mut mine = Vec::new();
            while let Some(a) = s.claim_approved().await? {
                mine.push(a.id);
            }
            Ok::<_, StoreError>(mine)
        });
    }
    let mut claims = BTreeMap::<String, usize>::new();
    while let Some(done) = tasks.join_next().await {
        for id in done.unwrap().unwrap() {
            *claims.entry(id).or_default() += 1;
        }
    }
    assert_eq!(claims.len(), APPROVALS, "every approval was claimed");
    assert!(
        claims.values().all(|n| *n == 1),
        "claimed more than once: {claims:?}"
    );
    for s in [&first, &second] {
        assert_eq!(
            all_approvals(&**s, Some(ApprovalState::Executing))
                .await
                .len(),
            APPROVALS
        );
        let report = s.verify_chain().await.unwrap();
        assert!(report.ok, "{report:?}");
        assert_eq!(report.events, (APPROVALS * 4) as u64);
    }
}

both_backends!(
    concurrent_mixed_writes_never_fail_and_keep_one_chain,
    two_stores_on_one_database_claim_each_approval_exactly_once,
);
