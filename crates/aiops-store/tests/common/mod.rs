//! Helpers shared by the store's test files: a store on a fresh file, seeded requests and
//! approvals, decisions.

#![allow(dead_code, clippy::unwrap_used)] // each test file uses a different subset

use aiops_core::{ApprovalState, Channel, RequestStatus, Verdict};
use aiops_store::{
    ApprovalRecord, ApprovalStore, AuditEvent, DecisionOutcome, NewApproval, NewDecision,
    NewRequest, RequestRecord, RequestStore, RequestUpdate, SqliteStore, now_ms,
};
use serde_json::json;

/// A store on a new file in a new directory (below a folder `open` must create).
pub async fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("data/aiops.db"))
        .await
        .unwrap();
    (dir, s)
}

/// Accepts request `id` from `caller`.
pub async fn request(s: &SqliteStore, id: &str, caller: &str) {
    s.create_request(
        &NewRequest {
            id: id.into(),
            nl: format!("change {id}"),
            dry_run: false,
            caller: caller.into(),
        },
        AuditEvent::new(Some(id), "intake", "accepted", json!({})),
    )
    .await
    .unwrap();
}

/// Marks request `id` `executing`, as the pipeline does right before an executor runs.
pub async fn mark_executing(s: &SqliteStore, id: &str) {
    s.update_request(
        id,
        RequestUpdate {
            status: Some(RequestStatus::Executing),
            ..Default::default()
        },
        AuditEvent::new(Some(id), "execute", "started", json!({})),
    )
    .await
    .unwrap();
}

pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// A request by alice waiting for `required` approvers, expiring in `ttl_ms`; returns the
/// approval's id (`a-<id>`).
pub async fn pending(s: &SqliteStore, id: &str, required: u32, ttl_ms: i64) -> String {
    request(s, id, "alice").await;
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

/// A store on a new file holding one pending approval (request `r1` by alice, see
/// [`pending`]), and the approval's id.
pub async fn store_with_pending(
    required: u32,
    ttl_ms: i64,
) -> (tempfile::TempDir, SqliteStore, String) {
    let (dir, s) = store().await;
    let aid = pending(&s, "r1", required, ttl_ms).await;
    (dir, s, aid)
}

pub fn decision(aid: &str, who: &str, verdict: Verdict) -> NewDecision {
    NewDecision {
        approval_id: aid.into(),
        approver: who.into(),
        auth: aiops_core::AuthMethod::Bearer,
        verdict,
        channel: Channel::Rest,
        reason: None,
        now_ms: now_ms(),
    }
}

/// Records `who`'s `verdict` on approval `aid` now, through the REST channel.
pub async fn decide(s: &SqliteStore, aid: &str, who: &str, verdict: Verdict) -> DecisionOutcome {
    s.decide_approval(&decision(aid, who, verdict))
        .await
        .unwrap()
}

/// What a decision returned: its kind (`recorded`, `unchanged`, `closed`, `expired`) and
/// the approval as it is now.
pub fn outcome(out: DecisionOutcome) -> (&'static str, ApprovalRecord) {
    match out {
        DecisionOutcome::Recorded { approval } => ("recorded", approval),
        DecisionOutcome::Unchanged { approval } => ("unchanged", approval),
        DecisionOutcome::Closed { approval } => ("closed", approval),
        DecisionOutcome::Expired { approval } => ("expired", approval),
    }
}

/// The `error.message` a failed or denied request carries.
pub fn error_message(r: &RequestRecord) -> String {
    r.error.as_ref().unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The stored status of request `id` (which must exist).
pub async fn status_of(s: &SqliteStore, id: &str) -> RequestStatus {
    s.get_request(id).await.unwrap().unwrap().status
}

/// The stored state of approval `aid` (which must exist).
pub async fn state_of(s: &SqliteStore, aid: &str) -> ApprovalState {
    s.get_approval(aid).await.unwrap().unwrap().state
}

/// Every approval (in `state` when given), oldest first, walking the pages.
pub async fn all_approvals(s: &SqliteStore, state: Option<ApprovalState>) -> Vec<ApprovalRecord> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = s
            .list_approvals(&aiops_store::ApprovalQuery {
                state,
                limit: 100,
                after,
            })
            .await
            .unwrap();
        out.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return out,
        }
    }
}
