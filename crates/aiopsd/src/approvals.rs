//! The approval gate: humans decide (REST, CLI, Slack), policy says who may, and a worker
//! executes approved requests after re-checking policy and re-planning.
//!
//! The worker is the only place an approved request runs. It claims approvals with a
//! compare-and-set in the store (so exactly one worker runs each, on any replica), and it
//! survives restarts: approvals are rows, not tasks. An approval whose plan hash no longer
//! matches a fresh plan, or that policy now denies, is void and nothing runs.

use std::time::Duration;

use aiops_core::{ApprovalState, Channel, Intent, Plan, RequestStatus, Verdict};
use aiops_policy::{ApproverInput, Caller};
use aiops_secrets::ExposeSecret;
use aiops_store::{
    ApprovalRecord, AuditEvent, DecisionOutcome, NewDecision, RequestUpdate, SlackResult, now_ms,
};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::{ANONYMOUS, Authenticated};
use crate::error::ApiError;
use crate::pipeline::{Run, execute};
use crate::slack;

/// An approval as clients see it, with what it approves.
pub async fn view(
    state: &AppState,
    a: &ApprovalRecord,
    with_plan: bool,
) -> Result<Value, ApiError> {
    let rec = state.store.get_request(&a.request_id).await?;
    let intent = rec
        .as_ref()
        .and_then(|r| r.intent.clone())
        .unwrap_or(Value::Null);
    let action = intent["action"].as_str().unwrap_or_default().to_string();
    let risk = state.catalog.get(&action).map(|s| s.risk);
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    state: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    const STATES: &[&str] = &[
        "pending",
        "approved",
        "rejected",
        "expired",
        "executing",
        "succeeded",
        "failed",
        "void",
    ];
    if let Some(s) = &q.state
        && !STATES.contains(&s.as_str())
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            format!("state must be one of {}", STATES.join(", ")),
        ));
    }
    let mut out = Vec::new();
    for a in state
        .store
        .list_approvals(q.state.as_deref().and_then(|s| s.parse().ok()))
        .await?
    {
        out.push(view(&state, &a, false).await?);
    }
    Ok(Json(json!({"approvals": out})))
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let a = state
        .store
        .get_approval(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no approval {id}")))?;
    Ok(Json(view(&state, &a, true).await?))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    #[serde(default)]
    reason: Option<String>,
    /// `rest` (default) or `cli`: which front end the human used.
    #[serde(default)]
    channel: Option<String>,
}

pub async fn approve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authenticated(caller): Authenticated,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    decide_http(
        &state,
        &id,
        &caller,
        decision_body(&body)?,
        Verdict::Approve,
    )
    .await
}

pub async fn reject(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authenticated(caller): Authenticated,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    decide_http(&state, &id, &caller, decision_body(&body)?, Verdict::Reject).await
}

/// The body is optional (`{"reason": ...}`); an empty body is no reason.
fn decision_body(bytes: &[u8]) -> Result<DecisionBody, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(DecisionBody::default());
    }
    serde_json::from_slice(bytes).map_err(|e| {
        if e.is_data() {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                format!("the body does not match the request schema: {e}"),
            )
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("the body is not valid JSON: {e}"),
            )
        }
    })
}

async fn decide_http(
    state: &AppState,
    id: &str,
    caller: &Caller,
    body: DecisionBody,
    verdict: Verdict,
) -> Result<Response, ApiError> {
    let channel = match body.channel.as_deref() {
        None | Some("rest") => Channel::Rest,
        Some("cli") => Channel::Cli,
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                format!("unknown channel `{other}` (rest or cli)"),
            ));
        }
    };
    if body
        .reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > 1000)
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "reason is longer than 1000 characters",
        ));
    }
    let (code, v) = decide(state, id, caller, channel, verdict, body.reason).await?;
    Ok((code, Json(v)).into_response())
}

/// Records one human decision, whatever the channel. Policy decides who may.
pub async fn decide(
    state: &AppState,
    id: &str,
    caller: &Caller,
    channel: Channel,
    verdict: Verdict,
    reason: Option<String>,
) -> Result<(StatusCode, Value), ApiError> {
    let a = state
        .store
        .get_approval(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no approval {id}")))?;
    if caller.user == ANONYMOUS {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "deciding an approval needs an identity (a bearer token)",
        ));
    }
    let rec = state
        .store
        .get_request(&a.request_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no request {}", a.request_id)))?;
    let intent: Option<Intent> = rec
        .intent
        .clone()
        .and_then(|v| serde_json::from_value(v).ok());
    let Some(intent) = intent else {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store_corrupt",
            "the request has no intent",
        ));
    };
    let risk = state
        .catalog
        .get(&intent.action)
        .map(|s| s.risk)
        .unwrap_or(aiops_core::Risk::Destructive);
    let verdict_of_policy = state
        .policy
        .evaluate_approver(&ApproverInput {
            approver: caller.clone(),
            requester: a.requester.clone(),
            action: intent.action.clone(),
            risk,
            params: Value::Object(intent.params.clone()),
        })
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "policy_error",
                e.to_string(),
            )
        })?;
    if !verdict_of_policy.allowed {
        state
            .store
            .append_event(AuditEvent::new(
                Some(&a.request_id),
                "approve",
                "refused",
                json!({"approval_id": a.id, "by": caller.user, "channel": channel, "decision": verdict.as_str(), "reasons": verdict_of_policy.reasons}),
            ))
            .await?;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            verdict_of_policy.reasons.join("; "),
        ));
    }
    let outcome = state
        .store
        .decide_approval(&NewDecision {
            approval_id: a.id.clone(),
            approver: caller.user.clone(),
            verdict,
            channel,
            reason,
            now_ms: now_ms(),
        })
        .await?;
    tracing::info!(approval_id = %a.id, by = %caller.user, channel = channel.as_str(), decision = verdict.as_str(), outcome = ?std::mem::discriminant(&outcome), "approval decision");
    state.wake.notify_one();
    Ok(match outcome {
        DecisionOutcome::Recorded { approval } => (
            StatusCode::OK,
            json!({"changed": true, "approval": view(state, &approval, false).await?}),
        ),
        DecisionOutcome::Unchanged { approval } => (
            StatusCode::OK,
            json!({"changed": false, "message": format!("{} already recorded this decision", caller.user), "approval": view(state, &approval, false).await?}),
        ),
        DecisionOutcome::Closed { approval } => {
            let message = if approval.state == ApprovalState::Pending {
                format!(
                    "{} already decided otherwise on approval {}; a decision cannot be changed",
                    caller.user, approval.id
                )
            } else {
                format!("approval {} is {}", approval.id, approval.state)
            };
            (
                StatusCode::CONFLICT,
                json!({"error": {"code": "approval_closed", "message": message}, "state": approval.state}),
            )
        }
        DecisionOutcome::Expired { approval } => (
            StatusCode::CONFLICT,
            json!({"error": {"code": "approval_expired", "message": format!("approval {} expired at {}", approval.id, approval.expires_at)}, "state": approval.state}),
        ),
    })
}

/// Runs approved requests, expires stale approvals and drives the Slack outbox until
/// `stop` turns true. Wakes on `state.wake` and at least every `worker_interval_ms`.
pub async fn worker(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let interval = Duration::from_millis(state.config.approvals.worker_interval_ms);
    tracing::info!("approval worker started");
    loop {
        if let Err(e) = tick(&state).await {
            tracing::error!(error = %e.body.message, code = %e.body.code, "approval worker tick failed");
        }
        tokio::select! {
            _ = state.wake.notified() => {}
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            break;
        }
    }
    tracing::info!("approval worker stopped");
}

/// One pass of the worker. Public so tests can drive it step by step.
pub async fn tick(state: &AppState) -> Result<(), ApiError> {
    let expired = state.store.expire_due(now_ms()).await?;
    for a in &expired {
        tracing::info!(approval_id = %a.id, "approval expired");
    }
    while let Some(a) = state.store.claim_approved().await? {
        if let Err(e) = run_approved(state, a.clone()).await {
            // Close it rather than leave it `executing` until a restart. If the run had
            // already ended it, the compare-and-set refuses this and nothing changes.
            tracing::error!(approval_id = %a.id, code = %e.body.code, error = %e.body.message, "approved request failed in the worker");
            let reason = format!("{}: {}", e.body.code, e.body.message);
            let _ = state
                .store
                .finish_approval(
                    &a.id,
                    ApprovalState::Failed,
                    Some(reason.clone()),
                    RequestUpdate {
                        status: Some(RequestStatus::Failed),
                        error: Some(json!({"code": e.body.code, "message": e.body.message})),
                        ..Default::default()
                    },
                    AuditEvent::new(
                        Some(&a.request_id),
                        "approve",
                        ApprovalState::Failed.as_str(),
                        json!({"approval_id": a.id, "reason": reason}),
                    ),
                )
                .await;
        }
    }
    if state.config.slack.enabled {
        slack_outbox(state).await?;
    }
    Ok(())
}

/// Executes one claimed approval: current policy, a fresh plan that must hash the same,
/// then the same credentials → execute path as a direct run.
async fn run_approved(state: &AppState, a: ApprovalRecord) -> Result<(), ApiError> {
    let Some(rec) = state.store.get_request(&a.request_id).await? else {
        return Err(ApiError::not_found(format!(
            "request {} of approval {}",
            a.request_id, a.id
        )));
    };
    let intent: Option<Intent> = rec
        .intent
        .clone()
        .and_then(|v| serde_json::from_value(v).ok());
    let spec = intent
        .as_ref()
        .and_then(|i| state.catalog.get(&i.action).cloned());
    let (Some(intent), Some(spec)) = (intent, spec) else {
        return close(
            state,
            &a,
            ApprovalState::Failed,
            "the stored intent is not a catalog action",
            "approval_failed",
        )
        .await;
    };
    // The requester's roles as they are now: they may have changed while the approval waited.
    let caller = state.identities.current(&rec.caller);
    let target = state.catalog.target(&intent, &state.zones);
    let fresh = match state.executors.plan(&spec, &intent, &target).await {
        Ok(p) => Plan::new(&intent, target, p.diff, p.changes).with_executor_state(p.state),
        Err(f) => {
            // The request fails and the approval with it, in one transaction.
            Run::resume(state, &rec, caller)
                .for_approval(&a.id)
                .fail("plan", std::time::Instant::now(), f)
                .await?;
            return Ok(());
        }
    };
    if fresh.hash != a.plan_hash {
        let reason = format!(
            "the plan changed after it was approved (approved {}, now {}); nothing was run. New plan:\n{}",
            &a.plan_hash[..12.min(a.plan_hash.len())],
            &fresh.hash[..12],
            fresh.diff
        );
        return close(state, &a, ApprovalState::Void, &reason, "approval_void").await;
    }
    // credentials → policy re-check → execute, as for a direct run; the final stage event
    // also ends the approval (succeeded, failed, or void when policy now denies).
    let run = Run::resume(state, &rec, caller).for_approval(&a.id);
    execute(run, &spec, &intent, &fresh, false).await?;
    Ok(())
}

/// Ends an approval without running anything; the request fails with `code`.
async fn close(
    state: &AppState,
    a: &ApprovalRecord,
    to: ApprovalState,
    reason: &str,
    code: &str,
) -> Result<(), ApiError> {
    tracing::warn!(approval_id = %a.id, to = to.as_str(), reason, "approval closed without execution");
    let update = RequestUpdate {
        status: Some(RequestStatus::Failed),
        error: Some(json!({"code": code, "message": reason})),
        ..Default::default()
    };
    state
        .store
        .finish_approval(
            &a.id,
            to,
            Some(reason.to_string()),
            update,
            AuditEvent::new(
                Some(&a.request_id),
                "approve",
                to.as_str(),
                json!({"approval_id": a.id, "reason": reason}),
            ),
        )
        .await?;
    Ok(())
}

/// Posts new approvals to Slack and updates messages after state changes. Failures are
/// retried with exponential backoff; the approval stays actionable by REST and CLI meanwhile.
async fn slack_outbox(state: &AppState) -> Result<(), ApiError> {
    let now = now_ms();
    let posts = state.store.slack_posts_due(now).await?;
    let updates = state.store.slack_updates_due(now).await?;
    if posts.is_empty() && updates.is_empty() {
        return Ok(());
    }
    let token = match state.secrets.read(&state.config.slack.secret_path).await {
        Ok(s) => s.field("bot_token").map(|t| t.expose_secret().to_string()),
        Err(e) => {
            tracing::warn!(error = %e, "slack bot token unavailable");
            None
        }
    };
    for (a, is_post) in posts
        .iter()
        .map(|a| (a, true))
        .chain(updates.iter().map(|a| (a, false)))
    {
        let Some(token) = token.as_deref() else {
            state
                .store
                .slack_result(
                    &a.id,
                    SlackResult::Failed {
                        now_ms: now,
                        error: "no bot token".into(),
                    },
                )
                .await?;
            continue;
        };
        let rec = state.store.get_request(&a.request_id).await?;
        let action = rec
            .as_ref()
            .and_then(|r| r.intent.as_ref())
            .and_then(|i| i["action"].as_str())
            .unwrap_or_default()
            .to_string();
        let diff = rec
            .as_ref()
            .and_then(|r| r.plan.as_ref())
            .and_then(|p| p["diff"].as_str())
            .unwrap_or_default()
            .to_string();
        let outcome = rec.as_ref().and_then(|r| {
            r.error
                .as_ref()
                .and_then(|e| e["message"].as_str().map(str::to_string))
                .or_else(|| {
                    r.execution
                        .as_ref()
                        .and_then(|x| x["result"].as_str().map(str::to_string))
                })
                .map(|o| format!("{}: {o}", r.status))
        });
        let view = slack::MessageView {
            approval: a,
            nl: rec.as_ref().map(|r| r.nl.as_str()).unwrap_or_default(),
            action: &action,
            diff: &diff,
            outcome: outcome.as_deref(),
        };
        let result = if is_post {
            let msg = slack::message(&state.config.slack.channel, &view);
            state
                .slack
                .call("chat.postMessage", token, &msg)
                .await
                .map(|v| SlackResult::Posted {
                    channel: v["channel"]
                        .as_str()
                        .unwrap_or(&state.config.slack.channel)
                        .to_string(),
                    ts: v["ts"].as_str().unwrap_or_default().to_string(),
                })
        } else {
            let channel = a
                .slack_channel
                .clone()
                .unwrap_or_else(|| state.config.slack.channel.clone());
            let mut msg = slack::message(&channel, &view);
            msg["ts"] = json!(a.slack_ts);
            state
                .slack
                .call("chat.update", token, &msg)
                .await
                .map(|_| SlackResult::Updated)
        };
        let result = result.unwrap_or_else(|error| SlackResult::Failed { now_ms: now, error });
        state.store.slack_result(&a.id, result).await?;
    }
    Ok(())
}

/// Failure of the Slack front end, as an API error.
pub fn slack_refused(reason: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        format!("slack request refused: {reason}"),
    )
}
