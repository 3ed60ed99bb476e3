//! Start-up recovery: what a stopped process left half-done is settled before anything is
//! served, and never by running a change twice.
//!
//! 1. **The run area is reclaimed** ([`reclaim`]): what is left of executor runs of an
//!    earlier process is killed, and every run directory under `<data_dir>/run`, secret
//!    vars files included, is removed. `aiopsd serve` does this first thing, holding the
//!    data directory, before it opens the store ([`reclaim_before_start`]); [`recover`]
//!    does it again (a no-op then) for in-process callers of `serve_state`.
//! 2. **Requests stopped before they executed** fail as `interrupted` ("nothing was
//!    changed"), as do approvals the worker was re-planning (the store's
//!    `fail_interrupted`).
//! 3. **Executions stopped half-way are reconciled against the world**: each is
//!    re-planned with its executor's dry run (see `executors::reconcile` for what "the
//!    state before the plan" is per action) and ends, with its approval if it has one, as
//!    - `success`, "succeeded (verified after restart)", when the world already matches
//!      the plan;
//!    - `failed`, "interrupted, nothing applied", when it still matches the state the plan
//!      started from;
//!    - `failed`, "interrupted, state unknown", otherwise. That is an **alert**: the
//!      `aiops_reconciliations_total{outcome="state_unknown"}` counter, an error log line
//!      naming the request, and, for a request carried out under an approval, the
//!      approval's Slack message is updated to `failed` with the reason (the outbox marks
//!      it when the approval ends). A direct request has no Slack message to update.
//!
//!    The outcome ([`Reconciliation`]) is the outcome of the request's `recover` audit row,
//!    written in the same transaction as the request's end (the chain keeps verifying).
//!    Reconciling only reads the world, so a crash during recovery just reconciles again at
//!    the next start.
//!
//! With a shared store (Postgres, several replicas) steps 2 and 3 concern the requests of
//! replicas whose lease expired, and run periodically on every replica ([`settle`], driven
//! by `crate::replicas`); step 1 stays per process (each replica has its own run area).

use aiops_core::{
    ApprovalState, ErrorCode, Intent, Plan, Reconciliation, RequestStatus, StageName,
};
use aiops_exec::{Reclaimed, reclaim_run_area};
use aiops_store::{RequestRecord, RequestUpdate};
use serde_json::json;

use crate::config::Config;
use crate::executors::Reconciled;
use crate::failure::Failure;
use crate::lock::DataDirLock;
use crate::run::{Record, Run, Step, StepOutcome};
use crate::{App, StartError};

/// Kills leftovers of earlier runs and empties the run area. Only while holding the data
/// directory: the runs of a daemon serving it must not be touched.
pub fn reclaim(config: &Config) -> Result<Reclaimed, StartError> {
    let run_dir = config.run_dir();
    let reclaimed = reclaim_run_area(&run_dir).map_err(|e| StartError::RunArea(e.to_string()))?;
    if reclaimed != Reclaimed::default() {
        tracing::warn!(
            killed = reclaimed.killed,
            removed = reclaimed.removed,
            run_dir = %run_dir.display(),
            "reclaimed the run area of an earlier process"
        );
    }
    Ok(reclaimed)
}

/// `aiopsd serve`'s first step, before the store is opened: takes the data directory (a
/// second daemon stops here), reclaims the run area, and lets go again (`serve_state`
/// takes it for as long as it serves).
pub fn reclaim_before_start(config: &Config) -> Result<Reclaimed, StartError> {
    let _held = DataDirLock::acquire(&config.data_dir)?;
    reclaim(config)
}

/// Settles everything a previous process left half-done (see the module comment). Call
/// once, holding the data directory, before serving.
pub async fn recover(app: &App) -> Result<(), StartError> {
    reclaim(&app.config)?;
    settle(app).await
}

/// The store's part of [`recover`]: fails what dead processes left before it executed and
/// reconciles what they left executing. With a shared store (Postgres) "dead processes"
/// are the replicas whose lease expired, and `crate::replicas` calls this periodically; it
/// never touches the run area, which belongs to this process's live runs.
pub async fn settle(app: &App) -> Result<(), StartError> {
    let failed = app.store.fail_interrupted().await?;
    if !failed.is_empty() {
        tracing::warn!(count = failed.len(), ids = ?failed, "requests stopped before they executed were marked failed");
    }
    for rec in app.store.interrupted_executions().await? {
        reconcile(app, &rec)
            .await
            .map_err(|f| StartError::Recovery(format!("request {}: {}", rec.id, f.message)))?;
    }
    Ok(())
}

/// Reconciles one request caught `executing` and records how it ended.
async fn reconcile(app: &App, rec: &RequestRecord) -> Result<(), Failure> {
    let found = find(app, rec).await;
    let outcome = found.outcome;
    app.metrics.count_reconciliation(outcome);
    match outcome {
        Reconciliation::StateUnknown => tracing::error!(
            request_id = %rec.id,
            evidence = %found.evidence,
            "ALERT: an execution interrupted by the last stop left the world in an unknown state; an operator must check it"
        ),
        _ => tracing::warn!(
            request_id = %rec.id,
            outcome = outcome.as_str(),
            evidence = %found.evidence,
            "reconciled an execution interrupted by the last stop"
        ),
    }
    let caller = app.authenticator.current(&rec.caller);
    let mut run = Run::resume(app, rec, caller);
    if let Some(aid) = executing_approval(app, rec).await? {
        run = run.for_approval(&aid);
    }
    let record = record(rec, &found);
    let result = run
        .step(StageName::Recover, async move {
            Step::<()>::End(outcome.status(), record)
        })
        .await;
    crate::pipeline::finish(result, run).map(|_| ())
}

/// What the world says about the request's execution.
async fn find(app: &App, rec: &RequestRecord) -> Reconciled {
    let intent = rec
        .intent
        .clone()
        .and_then(|v| serde_json::from_value::<Intent>(v).ok());
    let plan = rec
        .plan
        .clone()
        .and_then(|v| serde_json::from_value::<Plan>(v).ok());
    let (Some(intent), Some(plan)) = (intent, plan) else {
        return Reconciled::unverifiable("the stored request has no readable intent and plan");
    };
    let Some(spec) = app.catalog.get(intent.action) else {
        return Reconciled::unverifiable(format!(
            "`{}` is no longer a catalog action",
            intent.action
        ));
    };
    app.executors.reconcile(spec, &intent, &plan).await
}

/// The request's approval, when it is still `executing` (it then ends with the request).
async fn executing_approval(app: &App, rec: &RequestRecord) -> Result<Option<String>, Failure> {
    let Some(aid) = &rec.approval_id else {
        return Ok(None);
    };
    Ok(app
        .store
        .get_approval(aid)
        .await?
        .filter(|a| a.state == ApprovalState::Executing)
        .map(|a| a.id))
}

/// The `recover` row and the request's end: the execution says what was found; a failure
/// carries an `interrupted` error whose message says which.
fn record(rec: &RequestRecord, found: &Reconciled) -> Record {
    let outcome = found.outcome;
    let plan_hash = rec
        .plan
        .as_ref()
        .and_then(|p| p.get("hash"))
        .cloned()
        .unwrap_or_default();
    let data = json!({
        "reconciliation": outcome,
        "summary": outcome.summary(),
        "evidence": found.evidence,
        "plan_hash": plan_hash,
        "replan_changes": found.replan.as_ref().and_then(|r| r.get("changes")).cloned(),
    });
    let execution = json!({
        "reconciliation": outcome,
        "summary": outcome.summary(),
        "evidence": found.evidence,
        "replan": found.replan,
        "changed": matches!(outcome, Reconciliation::VerifiedAfterRestart)
            && rec.plan.as_ref().and_then(|p| p.get("changes")) == Some(&json!(true)),
    });
    let error = (outcome.status() == RequestStatus::Failed).then(|| {
        let message = match outcome {
            Reconciliation::NothingApplied => format!(
                "interrupted, nothing applied: the daemon stopped while this request was executing, and {}. It was not retried.",
                found.evidence
            ),
            _ => format!(
                "interrupted, state unknown: the daemon stopped while this request was executing, and {}. It was not retried; check the target by hand.",
                found.evidence
            ),
        };
        json!({"code": ErrorCode::Interrupted, "message": message})
    });
    Record::new(StepOutcome::from(outcome), data).update(RequestUpdate {
        execution: Some(execution),
        error,
        ..Default::default()
    })
}
