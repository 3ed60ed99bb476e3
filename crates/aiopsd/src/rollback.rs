//! Rollback: undoing a change with a **new** request for its inverse, which goes through the
//! same policy, plan, approval, execution, verification and audit as any other.
//!
//! The inverse comes from the catalog (`inverse` rules of the action, fed with the change's
//! parameters and what its plan recorded as `before`), never from a parser. Before the new
//! request goes on, the original change is read back through its own verifier: if the world
//! no longer matches it, someone has changed it since, and the rollback is refused as a
//! conflict instead of overwriting their change. The two requests are linked in the audit
//! trail both ways: the rollback's intake row names the request it undoes, and the undone
//! request gets a `rollback`/`requested` row naming the rollback, committed together.

use std::time::Duration;

use aiops_api::{IntentResponse, RollbackRequest};
use aiops_core::{
    ActionSpec, Caller, ErrorCode, Intent, Plan, RequestStatus, Risk, StageName,
    VerificationOutcome,
};
use aiops_store::{AuditEvent, RequestRecord};
use serde_json::{Value, json};

use crate::App;
use crate::failure::Failure;
use crate::pipeline::{decide_and_act, finish, intake, typed};
use crate::run::{Halt, Record, Run, Step, StepOutcome};

/// Starts the rollback of request `id` as `caller`: a new request, answered like
/// `POST /api/v1/intent` (its `rollback_of` is `id`). Refused before any request exists when
/// there is nothing to undo (`not_reversible`), or a rollback of it is still in flight
/// (`conflict`).
pub async fn rollback(
    app: &App,
    id: &str,
    req: RollbackRequest,
    caller: Caller,
) -> Result<IntentResponse, Failure> {
    let original = app
        .store
        .get_request(id)
        .await?
        .ok_or_else(|| Failure::new(ErrorCode::NotFound, format!("no intent {id}")))?;
    let undo = Undo::of(app, original)?;
    undo.none_in_flight(app).await?;
    let mut run = Run::start(app, caller);
    run.resp.rollback_of = Some(undo.id.clone());
    let result = run_rollback(&mut run, &undo, req.dry_run).await;
    finish(result, run)
}

/// A change that can be undone, and its inverse.
struct Undo {
    id: String,
    spec: ActionSpec,
    intent: Intent,
    plan: Plan,
    execution: Value,
    inverse: Intent,
    inverse_spec: ActionSpec,
}

impl Undo {
    fn of(app: &App, rec: RequestRecord) -> Result<Undo, Failure> {
        let id = rec.id;
        let refused = |why: String| Failure::new(ErrorCode::NotReversible, why);
        if rec.pruned_at.is_some() {
            return Err(refused(format!(
                "request {id} was pruned by payload retention: its plan is gone, so its inverse is unknown"
            )));
        }
        if rec.status != RequestStatus::Success || rec.dry_run {
            let what = if rec.dry_run {
                "a dry run".to_string()
            } else {
                rec.status.to_string()
            };
            return Err(refused(format!(
                "request {id} is {what}: only a change that ran and succeeded can be rolled back"
            )));
        }
        let intent = rec
            .intent
            .and_then(|v| serde_json::from_value::<Intent>(v).ok());
        let plan = rec
            .plan
            .and_then(|v| serde_json::from_value::<Plan>(v).ok());
        let (Some(intent), Some(plan)) = (intent, plan) else {
            return Err(refused(format!(
                "request {id} has no stored intent and plan"
            )));
        };
        let spec =
            app.catalog.get(intent.action).cloned().ok_or_else(|| {
                refused(format!("`{}` is no longer in the catalog", intent.action))
            })?;
        if spec.risk == Risk::Read {
            return Err(refused(format!(
                "request {id} ({}) only read: there is nothing to roll back",
                intent.action
            )));
        }
        let before = plan.before.clone().unwrap_or(Value::Null);
        let inverse = app
            .catalog
            .inverse(intent.action, &intent.params, &before)
            .map_err(|why| {
                refused(format!(
                    "request {id} ({}) cannot be rolled back: {why}",
                    intent.action
                ))
            })?;
        let inverse_spec = app
            .catalog
            .get(inverse.action)
            .cloned()
            .ok_or_else(|| refused(format!("`{}` is not in the catalog", inverse.action)))?;
        Ok(Undo {
            id,
            spec,
            intent,
            plan,
            execution: rec.execution.unwrap_or(Value::Null),
            inverse,
            inverse_spec,
        })
    }

    /// One rollback at a time: a second one while the first waits for approval would undo
    /// the change twice.
    async fn none_in_flight(&self, app: &App) -> Result<(), Failure> {
        for rollback_id in rollback_ids(&app.store.events_for(&self.id).await?) {
            if let Some(r) = app.store.get_request(&rollback_id).await?
                && !r.status.is_terminal()
            {
                return Err(Failure::new(
                    ErrorCode::Conflict,
                    format!(
                        "rollback {rollback_id} of request {} is still {}; decide it first",
                        self.id, r.status
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The rollbacks a request's audit rows name, oldest first.
pub fn rollback_ids(events: &[aiops_store::AuditRecord]) -> Vec<String> {
    events
        .iter()
        .filter(|e| {
            e.stage == StageName::Rollback.as_str() && e.outcome == StepOutcome::Requested.as_str()
        })
        .filter_map(|e| {
            e.data
                .get("rollback_id")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect()
}

/// The request a rollback undoes, from its intake row.
pub fn rollback_of(events: &[aiops_store::AuditRecord]) -> Option<String> {
    events
        .iter()
        .find(|e| e.stage == StageName::Intake.as_str())
        .and_then(|e| {
            e.data
                .get("rollback_of")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
}

async fn run_rollback(run: &mut Run<'_>, undo: &Undo, dry_run: bool) -> Result<(), Halt> {
    let app = run.app;
    // The undone request's side of the link, committed with this request's first point.
    run.note(
        AuditEvent::new(
            Some(&undo.id),
            StageName::Rollback.as_str(),
            StepOutcome::Requested.as_str(),
            json!({"rollback_id": run.id(), "action": undo.inverse.action, "dry_run": dry_run}),
        )
        .by(run.caller.actor()),
    );
    let nl = format!(
        "roll back {}: {} {}",
        undo.id,
        undo.inverse.action,
        Value::Object(undo.inverse.params.clone())
    );
    intake(run, nl, dry_run, Some(&undo.id)).await?;
    run.step(StageName::Rollback, still_in_place(app, undo))
        .await?;
    typed(run, &undo.inverse, json!({"rollback_of": undo.id})).await?;
    decide_and_act(run, &undo.inverse, &undo.inverse_spec, dry_run).await
}

/// The original change read back once: it must still be what the world holds, or undoing
/// it would overwrite whoever changed it since.
async fn still_in_place(app: &App, undo: &Undo) -> Step<()> {
    let v = crate::verify::verify(
        app,
        &undo.spec,
        &undo.intent,
        &undo.plan,
        &undo.execution,
        Duration::ZERO,
    )
    .await;
    let data = json!({
        "checked": undo.id,
        "outcome": v.outcome,
        "reason": v.reason,
        "diff": v.diff,
        "evidence": v.evidence,
    });
    let (code, message, outcome) = match v.outcome {
        VerificationOutcome::Verified => {
            return Step::Next((), Record::new(StepOutcome::Verified, data));
        }
        VerificationOutcome::Diverged => (
            ErrorCode::Conflict,
            format!(
                "the world has moved on since request {} ran ({}); rolling back now would overwrite that, not undo {}",
                undo.id,
                v.diff.as_deref().unwrap_or_default().replace('\n', "; "),
                undo.id
            ),
            StepOutcome::Conflict,
        ),
        VerificationOutcome::Unverified => (
            ErrorCode::ExecutorUnavailable,
            format!(
                "cannot check that request {}'s change is still in place: {}",
                undo.id,
                v.reason.as_deref().unwrap_or("unreadable")
            ),
            StepOutcome::Unverified,
        ),
    };
    Step::End(
        RequestStatus::Failed,
        Record::new(outcome, data).update(aiops_store::RequestUpdate {
            error: Some(json!({"code": code, "message": message})),
            ..Default::default()
        }),
    )
}
