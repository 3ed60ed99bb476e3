//! One human decision, whatever the channel. Policy decides who may; the store applies
//! the approval state machine by compare-and-set.

use aiops_core::{ApprovalState, Caller, Channel, ErrorCode, Intent, StageName, Verdict};
use aiops_policy::ApproverInput;
use aiops_store::{DecisionOutcome, NewDecision, now_ms};
use serde_json::{Value, json};

use aiops_api::ApprovalDetail;

use super::view::detail;
use crate::App;
use crate::failure::Failure;
use crate::run::{Halt, Record, Run, Step, StepOutcome, Write};

/// What became of a decision.
#[derive(Debug, Clone)]
pub enum DecisionReply {
    /// Recorded; the approval may have moved on (approved, rejected).
    Recorded { approval: ApprovalDetail },
    /// This approver already made this same decision: nothing changed.
    Unchanged {
        message: String,
        approval: ApprovalDetail,
    },
    /// The approval is no longer open, or this approver already decided otherwise.
    Closed {
        code: ErrorCode,
        message: String,
        state: ApprovalState,
    },
}

/// Records `caller`'s `verdict` on approval `id`.
pub async fn decide(
    app: &App,
    id: &str,
    caller: &Caller,
    channel: Channel,
    verdict: Verdict,
    reason: Option<String>,
) -> Result<DecisionReply, Failure> {
    let a = app
        .store
        .get_approval(id)
        .await?
        .ok_or_else(|| Failure::not_found(format!("no approval {id}")))?;
    if caller.is_anonymous() {
        return Err(Failure::new(
            ErrorCode::Unauthorized,
            "deciding an approval needs an identity (a bearer token)",
        ));
    }
    let rec = app
        .store
        .get_request(&a.request_id)
        .await?
        .ok_or_else(|| Failure::not_found(format!("no request {}", a.request_id)))?;
    let Some(intent) = rec
        .intent
        .clone()
        .and_then(|v| serde_json::from_value::<Intent>(v).ok())
    else {
        return Err(Failure::new(
            ErrorCode::StoreCorrupt,
            "the request has no intent",
        ));
    };
    let risk = app
        .catalog
        .get(intent.action)
        .map(|s| s.risk)
        .unwrap_or(aiops_core::Risk::Destructive);
    let allowed = app.policy.evaluate_approver(&ApproverInput {
        approver: caller.clone(),
        requester: a.requester.clone(),
        action: intent.action,
        risk,
        params: Value::Object(intent.params.clone()),
    })?;
    let mut run = Run::resume(app, &rec, caller.clone());
    if !allowed.allowed {
        let data = json!({"approval_id": a.id, "by": caller.user, "channel": channel,
                          "decision": verdict, "reasons": allowed.reasons});
        run.step(StageName::Approve, async {
            Step::Next(
                (),
                // Durable before the refusal is answered.
                Record::new(StepOutcome::Refused, data)
                    .write(Write::Append)
                    .durable(),
            )
        })
        .await
        .map_err(halt_failure)?;
        return Err(Failure::new(
            ErrorCode::Forbidden,
            allowed.reasons.join("; "),
        ));
    }
    let outcome = run
        .decide(NewDecision {
            approval_id: a.id.clone(),
            approver: caller.user.clone(),
            auth: caller.auth,
            verdict,
            channel,
            reason,
            now_ms: now_ms(),
        })
        .await
        .map_err(halt_failure)?;
    app.wake.notify_one();
    Ok(match outcome {
        DecisionOutcome::Recorded { approval } => DecisionReply::Recorded {
            approval: detail(app, &approval, false).await?,
        },
        DecisionOutcome::Unchanged { approval } => DecisionReply::Unchanged {
            message: format!("{} already recorded this decision", caller.user),
            approval: detail(app, &approval, false).await?,
        },
        DecisionOutcome::Closed { approval } => {
            let message = if approval.state == ApprovalState::Pending {
                format!(
                    "{} already decided otherwise on approval {}; a decision cannot be changed",
                    caller.user, approval.id
                )
            } else {
                format!("approval {} is {}", approval.id, approval.state)
            };
            DecisionReply::Closed {
                code: ErrorCode::ApprovalClosed,
                message,
                state: approval.state,
            }
        }
        DecisionOutcome::Expired { approval } => DecisionReply::Closed {
            code: ErrorCode::ApprovalExpired,
            message: format!(
                "approval {} expired at {}",
                approval.id, approval.expires_at
            ),
            state: approval.state,
        },
    })
}

/// A decision never ends its request through a halt; a store failure is the only one.
fn halt_failure(h: Halt) -> Failure {
    match h {
        Halt::Store(f) => f,
        Halt::Ended => Failure::internal("the decision ended its request unexpectedly"),
    }
}
