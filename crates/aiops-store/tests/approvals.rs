//! The approval state machine in the store, against a real SQLite file: compare-and-set
//! transitions, idempotent decisions, distinct approvers, expiry, exactly-once claiming.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use aiops_store::{
    AuditEvent, DecisionOutcome, NewApproval, NewDecision, NewRequest, RequestUpdate, SqliteStore,
    Store, Verdict, approval_state, now_ms,
};
use serde_json::json;

async fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("aiops.db"))
        .await
        .unwrap();
    (dir, s)
}

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

async fn pending(s: &SqliteStore, id: &str, required: u32, ttl_ms: i64) -> String {
    s.create_request(
        &NewRequest {
            id: id.into(),
            nl: "delete x".into(),
            dry_run: false,
            caller: "alice".into(),
        },
        AuditEvent::new(Some(id), "intake", "accepted", json!({})),
    )
    .await
    .unwrap();
    let aid = format!("a-{id}");
    s.create_approval(
        &NewApproval {
            id: aid.clone(),
            request_id: id.into(),
            plan_hash: "h".repeat(64),
            requester: "alice".into(),
            approvals_required: required,
            expires_at: rfc3339(now_ms() + ttl_ms),
        },
        RequestUpdate::default(),
        AuditEvent::new(Some(id), "approve", "pending", json!({})),
    )
    .await
    .unwrap();
    aid
}

fn decision(aid: &str, who: &str, verdict: Verdict) -> NewDecision {
    NewDecision {
        approval_id: aid.into(),
        approver: who.into(),
        verdict,
        channel: "rest".into(),
        reason: None,
        now_ms: now_ms(),
    }
}

#[tokio::test]
async fn approve_is_idempotent_and_closes_once() {
    let (_d, s) = store().await;
    let aid = pending(&s, "r1", 1, 60_000).await;
    let out = s
        .decide_approval(&decision(&aid, "bob", Verdict::Approve))
        .await
        .unwrap();
    let DecisionOutcome::Recorded { approval } = out else {
        panic!("{out:?}")
    };
    assert_eq!(approval.state, approval_state::APPROVED);
    // a double click is a no-op that says so
    let again = s
        .decide_approval(&decision(&aid, "bob", Verdict::Approve))
        .await
        .unwrap();
    assert!(
        matches!(again, DecisionOutcome::Unchanged { .. }),
        "{again:?}"
    );
    // someone else deciding a closed approval gets the current state
    let late = s
        .decide_approval(&decision(&aid, "carol", Verdict::Reject))
        .await
        .unwrap();
    let DecisionOutcome::Closed { approval } = late else {
        panic!("{late:?}")
    };
    assert_eq!(approval.state, approval_state::APPROVED);
    assert_eq!(approval.decisions.len(), 1);
    assert!(s.verify_chain().await.unwrap().ok);
}

#[tokio::test]
async fn distinct_approvers_are_counted() {
    let (_d, s) = store().await;
    let aid = pending(&s, "r1", 2, 60_000).await;
    s.decide_approval(&decision(&aid, "bob", Verdict::Approve))
        .await
        .unwrap();
    s.decide_approval(&decision(&aid, "bob", Verdict::Approve))
        .await
        .unwrap();
    assert_eq!(
        s.get_approval(&aid).await.unwrap().unwrap().state,
        approval_state::PENDING
    );
    s.decide_approval(&decision(&aid, "carol", Verdict::Approve))
        .await
        .unwrap();
    let a = s.get_approval(&aid).await.unwrap().unwrap();
    assert_eq!(a.state, approval_state::APPROVED);
    assert_eq!(
        a.decisions
            .iter()
            .map(|d| d.approver.as_str())
            .collect::<Vec<_>>(),
        ["bob", "carol"]
    );
}

#[tokio::test]
async fn reject_denies_the_request() {
    let (_d, s) = store().await;
    let aid = pending(&s, "r1", 2, 60_000).await;
    let mut d = decision(&aid, "bob", Verdict::Reject);
    d.reason = Some("not during business hours".into());
    s.decide_approval(&d).await.unwrap();
    let a = s.get_approval(&aid).await.unwrap().unwrap();
    assert_eq!(a.state, approval_state::REJECTED);
    let r = s.get_request("r1").await.unwrap().unwrap();
    assert_eq!(r.status, "denied");
    assert!(
        r.error.unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("not during business hours")
    );
    assert!(s.claim_approved().await.unwrap().is_none());
}

#[tokio::test]
async fn late_decisions_expire_the_approval() {
    let (_d, s) = store().await;
    let aid = pending(&s, "r1", 1, -1).await;
    let out = s
        .decide_approval(&decision(&aid, "bob", Verdict::Approve))
        .await
        .unwrap();
    let DecisionOutcome::Expired { approval } = out else {
        panic!("{out:?}")
    };
    assert_eq!(approval.state, approval_state::EXPIRED);
    assert_eq!(
        s.get_request("r1").await.unwrap().unwrap().error.unwrap()["code"],
        "approval_expired"
    );
    // the sweeper finds others
    let aid2 = pending(&s, "r2", 1, -1).await;
    let swept = s.expire_due(now_ms()).await.unwrap();
    assert_eq!(
        swept.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        [aid2.as_str()]
    );
    assert!(s.expire_due(now_ms()).await.unwrap().is_empty());
    assert!(s.verify_chain().await.unwrap().ok);
}

#[tokio::test]
async fn an_approved_request_is_claimed_exactly_once() {
    let (_d, s) = store().await;
    let s = std::sync::Arc::new(s);
    let aid = pending(&s, "r1", 1, 60_000).await;
    s.decide_approval(&decision(&aid, "bob", Verdict::Approve))
        .await
        .unwrap();
    let mut claims = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        claims.push(tokio::spawn(
            async move { s.claim_approved().await.unwrap() },
        ));
    }
    let mut won = 0;
    for c in claims {
        if c.await.unwrap().is_some() {
            won += 1;
        }
    }
    assert_eq!(won, 1);
    assert_eq!(
        s.get_approval(&aid).await.unwrap().unwrap().state,
        approval_state::EXECUTING
    );
    // a restart now fails it rather than running it again
    s.fail_interrupted().await.unwrap();
    assert_eq!(
        s.get_approval(&aid).await.unwrap().unwrap().state,
        approval_state::FAILED
    );
    assert!(s.claim_approved().await.unwrap().is_none());
}

#[tokio::test]
async fn slack_signatures_are_single_use() {
    let (_d, s) = store().await;
    let now = now_ms();
    assert!(s.slack_nonce("v0=abc", now, now - 300_000).await.unwrap());
    assert!(!s.slack_nonce("v0=abc", now, now - 300_000).await.unwrap());
    // forgotten once outside the window (the timestamp check refuses those anyway)
    assert!(
        s.slack_nonce("v0=abc", now + 400_000, now + 100_000)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn the_request_and_its_approval_end_together() {
    let (_d, s) = store().await;
    let aid = pending(&s, "r1", 1, 60_000).await;
    s.decide_approval(&decision(&aid, "bob", Verdict::Approve))
        .await
        .unwrap();
    s.claim_approved().await.unwrap().unwrap();
    s.update_request(
        "r1",
        RequestUpdate {
            status: Some("success"),
            approval_end: Some(aiops_store::ApprovalEnd {
                approval_id: aid.clone(),
                to: approval_state::SUCCEEDED,
                reason: None,
            }),
            ..Default::default()
        },
        AuditEvent::new(Some("r1"), "execute", "succeeded", json!({})),
    )
    .await
    .unwrap();
    assert_eq!(
        s.get_request("r1").await.unwrap().unwrap().status,
        "success"
    );
    assert_eq!(
        s.get_approval(&aid).await.unwrap().unwrap().state,
        approval_state::SUCCEEDED
    );
    // Ending it again is a conflict, and nothing of that failed transaction is kept.
    let err = s
        .update_request(
            "r1",
            RequestUpdate {
                status: Some("failed"),
                approval_end: Some(aiops_store::ApprovalEnd {
                    approval_id: aid.clone(),
                    to: approval_state::FAILED,
                    reason: None,
                }),
                ..Default::default()
            },
            AuditEvent::new(Some("r1"), "execute", "failed", json!({})),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "conflict");
    assert_eq!(
        s.get_request("r1").await.unwrap().unwrap().status,
        "success"
    );
    assert!(s.verify_chain().await.unwrap().ok);
}
