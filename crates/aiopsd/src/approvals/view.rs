//! Approvals as clients see them: with the request they approve.

use aiops_api::{ApprovalDetail, ApprovalRecordView, DecisionRecordView};
use aiops_core::{Plan, Verdict};
use aiops_store::{ApprovalQuery, ApprovalRecord, DecisionRecord, Page};
use serde_json::Value;

use crate::App;
use crate::failure::Failure;

/// The approval `a` with its request: action, risk, parameters, sentence, approvers
/// (`plan` only when asked for).
pub async fn detail(
    app: &App,
    a: &ApprovalRecord,
    with_plan: bool,
) -> Result<ApprovalDetail, Failure> {
    let rec = app.store.get_request(&a.request_id).await?;
    let intent = rec
        .as_ref()
        .and_then(|r| r.intent.clone())
        .unwrap_or(Value::Null);
    // The action outlives payload retention; the parameters and the sentence do not.
    let action = rec
        .as_ref()
        .and_then(|r| r.action())
        .unwrap_or_default()
        .to_string();
    let risk = app.catalog.get_named(&action).map(|s| s.risk);
    let approvers = a
        .decisions
        .iter()
        .filter(|d| d.decision == Verdict::Approve)
        .map(|d| d.approver.clone())
        .collect();
    Ok(ApprovalDetail {
        id: a.id.clone(),
        request_id: a.request_id.clone(),
        state: a.state,
        action,
        risk,
        params: intent["params"].clone(),
        nl: rec
            .as_ref()
            .filter(|r| r.pruned_at.is_none())
            .map(|r| r.nl.clone()),
        requester: a.requester.clone(),
        approvals_required: a.approvals_required,
        approvers,
        decisions: a.decisions.iter().map(decision_view).collect(),
        created_at: a.created_at.clone(),
        expires_at: a.expires_at.clone(),
        plan_hash: a.plan_hash.clone(),
        reason: a.reason.clone(),
        request_status: rec.as_ref().map(|r| r.status),
        plan: with_plan.then(|| {
            rec.and_then(|r| r.plan)
                .and_then(|p| serde_json::from_value::<Plan>(p).ok())
        }),
    })
}

fn decision_view(d: &DecisionRecord) -> DecisionRecordView {
    DecisionRecordView {
        approver: d.approver.clone(),
        decision: d.decision,
        channel: d.channel,
        reason: d.reason.clone(),
        at: d.at.clone(),
    }
}

/// The stored approval as `GET /api/v1/intents/{id}` shows it.
pub fn record_view(a: &ApprovalRecord) -> ApprovalRecordView {
    ApprovalRecordView {
        id: a.id.clone(),
        request_id: a.request_id.clone(),
        plan_hash: a.plan_hash.clone(),
        state: a.state,
        requester: a.requester.clone(),
        approvals_required: a.approvals_required,
        created_at: a.created_at.clone(),
        expires_at: a.expires_at.clone(),
        updated_at: a.updated_at.clone(),
        reason: a.reason.clone(),
        decisions: a.decisions.iter().map(decision_view).collect(),
        slack_channel: a.slack_channel.clone(),
        slack_ts: a.slack_ts.clone(),
    }
}

/// One page of approvals, oldest first, as `query` asks.
pub async fn list(app: &App, query: &ApprovalQuery) -> Result<Page<ApprovalDetail>, Failure> {
    let page = app.store.list_approvals(query).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for a in &page.items {
        items.push(detail(app, a, false).await?);
    }
    Ok(Page {
        items,
        next: page.next,
    })
}
