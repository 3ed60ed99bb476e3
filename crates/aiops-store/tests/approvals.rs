//! The approval state machine in the store, against a real SQLite file and a real
//! PostgreSQL cluster: compare-and-set
//! transitions, idempotent decisions, distinct approvers, expiry, exactly-once claiming.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

#[macro_use]
mod common;

use aiops_core::{ApprovalState, RequestStatus, Verdict};
use aiops_store::{
    ApprovalEnd, AuditEvent, DecisionOutcome, RequestUpdate, Store, StoreError, now_ms,
};
use common::{
    Backend, all_approvals, decide, decision, error_message, mark_executing, outcome, pending,
    state_of, status_of, store, store_with_pending,
};
use serde_json::json;

async fn approve_is_idempotent_and_closes_once(b: Backend) {
    let (s, aid) = store_with_pending(b, 1, 60_000).await;
    let (kind, approval) = outcome(decide(&*s, &aid, "bob", Verdict::Approve).await);
    assert_eq!(
        (kind, approval.state),
        ("recorded", ApprovalState::Approved)
    );
    // a double click is a no-op that says so
    let again = decide(&*s, &aid, "bob", Verdict::Approve).await;
    assert!(
        matches!(again, DecisionOutcome::Unchanged { .. }),
        "{again:?}"
    );
    // someone else deciding a closed approval gets the current state
    let (kind, approval) = outcome(decide(&*s, &aid, "carol", Verdict::Reject).await);
    assert_eq!((kind, approval.state), ("closed", ApprovalState::Approved));
    assert_eq!(approval.decisions.len(), 1);
    assert!(s.verify_chain().await.unwrap().ok);
}

async fn distinct_approvers_are_counted(b: Backend) {
    let (s, aid) = store_with_pending(b, 2, 60_000).await;
    decide(&*s, &aid, "bob", Verdict::Approve).await;
    decide(&*s, &aid, "bob", Verdict::Approve).await;
    assert_eq!(state_of(&*s, &aid).await, ApprovalState::Pending);
    decide(&*s, &aid, "carol", Verdict::Approve).await;
    let a = s.get_approval(&aid).await.unwrap().unwrap();
    assert_eq!(a.state, ApprovalState::Approved);
    assert_eq!(
        a.decisions
            .iter()
            .map(|d| d.approver.as_str())
            .collect::<Vec<_>>(),
        ["bob", "carol"]
    );
}

async fn the_requester_cannot_decide_their_own_request(b: Backend) {
    let (s, aid) = store_with_pending(b, 1, 60_000).await;
    let (kind, approval) = outcome(decide(&*s, &aid, "alice", Verdict::Approve).await);
    assert_eq!((kind, approval.state), ("closed", ApprovalState::Pending));
    assert!(approval.decisions.is_empty());
    assert_eq!(s.verify_chain().await.unwrap().events, 2);
}

async fn reject_denies_the_request(b: Backend) {
    let (s, aid) = store_with_pending(b, 2, 60_000).await;
    let mut d = decision(&aid, "bob", Verdict::Reject);
    d.reason = Some("not during business hours".into());
    s.decide_approval(&d).await.unwrap();
    let a = s.get_approval(&aid).await.unwrap().unwrap();
    assert_eq!(a.state, ApprovalState::Rejected);
    let r = s.get_request("r1").await.unwrap().unwrap();
    assert_eq!(r.status, RequestStatus::Denied);
    assert!(error_message(&r).contains("not during business hours"));
    assert!(s.claim_approved().await.unwrap().is_none());
}

async fn late_decisions_expire_the_approval(b: Backend) {
    let (s, aid) = store_with_pending(b, 1, -1).await;
    let (kind, approval) = outcome(decide(&*s, &aid, "bob", Verdict::Approve).await);
    assert_eq!((kind, approval.state), ("expired", ApprovalState::Expired));
    assert_eq!(
        s.get_request("r1").await.unwrap().unwrap().error.unwrap()["code"],
        "approval_expired"
    );
    // the sweeper finds others
    let aid2 = pending(&*s, "r2", 1, -1).await;
    let swept = s.expire_due(now_ms()).await.unwrap();
    assert_eq!(
        swept.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        [aid2.as_str()]
    );
    assert!(s.expire_due(now_ms()).await.unwrap().is_empty());
    assert_eq!(
        all_approvals(&*s, Some(ApprovalState::Expired)).await.len(),
        2
    );
    assert_eq!(all_approvals(&*s, None).await.len(), 2);
    assert!(
        all_approvals(&*s, Some(ApprovalState::Pending))
            .await
            .is_empty()
    );
    assert!(s.verify_chain().await.unwrap().ok);
}

async fn an_approved_request_is_claimed_exactly_once(b: Backend) {
    let s = store(b).await;
    let store = s.arc();
    let aid = pending(&*s, "r1", 1, 60_000).await;
    decide(&*s, &aid, "bob", Verdict::Approve).await;
    let mut claims = Vec::new();
    for _ in 0..8 {
        let s = store.clone();
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
    assert_eq!(state_of(&*s, &aid).await, ApprovalState::Executing);
    // a restart now fails it rather than running it again
    let s = s.restart().await;
    s.fail_interrupted().await.unwrap();
    assert_eq!(state_of(&*s, &aid).await, ApprovalState::Failed);
    assert!(s.claim_approved().await.unwrap().is_none());
}

async fn slack_signatures_are_single_use(b: Backend) {
    let s = store(b).await;
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

/// Ends request `r1` as `status` together with its executing approval `aid` (`to`).
async fn end_together(
    s: &dyn Store,
    aid: &str,
    status: RequestStatus,
    to: ApprovalState,
) -> Result<(), StoreError> {
    s.update_request(
        "r1",
        RequestUpdate {
            status: Some(status),
            approval_end: Some(ApprovalEnd {
                approval_id: aid.into(),
                to,
                reason: None,
            }),
            ..Default::default()
        },
        AuditEvent::new(Some("r1"), "execute", to.as_str(), json!({})),
    )
    .await
}

async fn the_request_and_its_approval_end_together(b: Backend) {
    let (s, aid) = store_with_pending(b, 1, 60_000).await;
    decide(&*s, &aid, "bob", Verdict::Approve).await;
    s.claim_approved().await.unwrap().unwrap();
    end_together(&*s, &aid, RequestStatus::Success, ApprovalState::Succeeded)
        .await
        .unwrap();
    assert_eq!(status_of(&*s, "r1").await, RequestStatus::Success);
    assert_eq!(state_of(&*s, &aid).await, ApprovalState::Succeeded);
    // Ending it again is a conflict, and nothing of that failed transaction is kept.
    let err = end_together(&*s, &aid, RequestStatus::Failed, ApprovalState::Failed)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "conflict");
    assert_eq!(status_of(&*s, "r1").await, RequestStatus::Success);
    assert!(s.verify_chain().await.unwrap().ok);
}

async fn an_approval_caught_executing_with_its_request_waits_for_reconciliation(b: Backend) {
    let (s, aid) = store_with_pending(b, 1, 60_000).await;
    decide(&*s, &aid, "bob", Verdict::Approve).await;
    s.claim_approved().await.unwrap().unwrap();
    mark_executing(&*s, "r1").await;
    let s = s.restart().await;
    // A restart does not fail it blindly: the request is listed for reconciliation and
    // its approval stays executing, to end with it.
    assert!(s.fail_interrupted().await.unwrap().is_empty());
    assert_eq!(state_of(&*s, &aid).await, ApprovalState::Executing);
    let executing = s.interrupted_executions().await.unwrap();
    assert_eq!(executing.len(), 1);
    assert_eq!(executing[0].approval_id.as_deref(), Some(aid.as_str()));
    end_together(&*s, &aid, RequestStatus::Failed, ApprovalState::Failed)
        .await
        .unwrap();
    assert_eq!(state_of(&*s, &aid).await, ApprovalState::Failed);
    assert!(s.interrupted_executions().await.unwrap().is_empty());
    assert!(s.claim_approved().await.unwrap().is_none());
    assert!(s.verify_chain().await.unwrap().ok);
}

async fn only_state_machine_transitions_are_stored(b: Backend) {
    let (s, aid) = store_with_pending(b, 1, 60_000).await;
    decide(&*s, &aid, "bob", Verdict::Approve).await;
    s.claim_approved().await.unwrap().unwrap();
    // executing → pending does not exist: refused before anything is written
    let err = s
        .finish_approval(
            &aid,
            ApprovalState::Pending,
            None,
            RequestUpdate::default(),
            AuditEvent::new(Some("r1"), "approve", "pending", json!({})),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "conflict");
    assert_eq!(state_of(&*s, &aid).await, ApprovalState::Executing);
    assert!(s.verify_chain().await.unwrap().ok);
}

async fn an_unknown_stored_state_is_corrupt_data(b: Backend) {
    let (s, aid) = store_with_pending(b, 1, 60_000).await;
    s.exec(&format!(
        "UPDATE approvals SET state = 'maybe' WHERE id = '{aid}'"
    ))
    .await;
    let err = s.get_approval(&aid).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    s.exec("UPDATE requests SET status = 'limbo' WHERE id = 'r1'")
        .await;
    let err = s.get_request("r1").await.unwrap_err();
    assert_eq!(err.code(), "store_corrupt", "{err}");
}

both_backends!(
    approve_is_idempotent_and_closes_once,
    distinct_approvers_are_counted,
    the_requester_cannot_decide_their_own_request,
    reject_denies_the_request,
    late_decisions_expire_the_approval,
    an_approved_request_is_claimed_exactly_once,
    slack_signatures_are_single_use,
    the_request_and_its_approval_end_together,
    an_approval_caught_executing_with_its_request_waits_for_reconciliation,
    only_state_machine_transitions_are_stored,
    an_unknown_stored_state_is_corrupt_data,
);
