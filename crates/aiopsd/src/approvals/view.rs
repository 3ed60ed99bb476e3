//! Approvals as clients see them: with the request they approve.

use aiops_core::{ApprovalState, Verdict};
use aiops_store::ApprovalRecord;
use serde_json::{Value, json};

use crate::App;
use crate::failure::Failure;

/// An approval with what it approves (`plan` only when asked for).
pub type ApprovalDetail = Value;

/// The approval `a` with its request: action, risk, parameters, sentence, approvers.
pub async fn detail(app: &App, a: &ApprovalRecord, with_plan: bool) -> Result<ApprovalDetail, Failure> {
    let rec = app.store.get_request(&a.request_id).await?;
    let intent = rec
        .as_ref()
        .and_then(|r| r.intent.clone())
        .unwrap_or(Value::Null);
    let action = intent["action"].as_str().unwrap_or_default().to_string();
    let risk = app.catalog.get_named(&action).map(|s| s.risk);
    let approvers: Vec<&str> = a
        .decisions
        .iter()
        .filter(|d| d.decision == Verdict::Approve)
        .map(|d| d.approver.as_str())
        .collect();
    let mut v = json!({
        "id": a.id,
        "request_id": a.request_id,
        "state": a.state,
        "action": action,
        "risk": risk,
        "params": intent["params"],
        "nl": rec.as_ref().map(|r| r.nl.clone()),
        "requester": a.requester,
        "approvals_required": a.approvals_required,
        "approvers": approvers,
        "decisions": a.decisions,
        "created_at": a.created_at,
        "expires_at": a.expires_at,
        "plan_hash": a.plan_hash,
        "reason": a.reason,
        "request_status": rec.as_ref().map(|r| r.status),
    });
    if with_plan {
        v["plan"] = rec.and_then(|r| r.plan).unwrap_or(Value::Null);
    }
    Ok(v)
}

/// Every approval in `state` (all when `None`), newest last.
pub async fn list(app: &App, state: Option<ApprovalState>) -> Result<Vec<ApprovalDetail>, Failure> {
    let mut out = Vec::new();
    for a in app.store.list_approvals(state).await? {
        out.push(detail(app, &a, false).await?);
    }
    Ok(out)
}
