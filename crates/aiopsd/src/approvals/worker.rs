//! The worker: expires stale approvals, runs approved ones exactly once, drives the Slack
//! outbox. Every request outcome it causes goes through the same stages as a direct run.

use std::time::Duration;

use aiops_core::{ErrorCode, Intent, StageName};
use aiops_store::{ApprovalRecord, now_ms};

use crate::failure::Failure;
use crate::pipeline::{execute, replan};
use crate::run::{Halt, Run, Step};
use crate::{App, AppState};

/// Runs approved requests, expires stale approvals and drives the Slack outbox until
/// `stop` turns true. Wakes on `app.wake` and at least every `worker_interval_ms`.
pub async fn worker(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let interval = Duration::from_millis(state.config.approvals.worker_interval_ms);
    tracing::info!("approval worker started");
    loop {
        if let Err(e) = tick(&state).await {
            tracing::error!(error = %e.message, code = %e.code, "approval worker tick failed");
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
pub async fn tick(app: &App) -> Result<(), Failure> {
    let expired = app.store.expire_due(now_ms()).await?;
    for a in &expired {
        tracing::info!(approval_id = %a.id, "approval expired");
    }
    while let Some(a) = app.store.claim_approved().await? {
        if let Err(e) = run_approved(app, &a).await {
            // Close it rather than leave it `executing` until a restart. If the run had
            // already ended it, the compare-and-set refuses this and nothing changes.
            tracing::error!(approval_id = %a.id, code = %e.code, error = %e.message, "approved request failed in the worker");
            if let Err(again) = close(app, &a, e).await {
                tracing::error!(approval_id = %a.id, error = %again, "could not close the approval");
            }
        }
    }
    if app.config.slack.enabled {
        super::outbox::drain(app).await?;
    }
    Ok(())
}

/// Executes one claimed approval: current policy, a fresh plan that must hash the same,
/// then the same credentials → execute path as a direct run. The request's final stage
/// also ends the approval (succeeded, failed, or void), in one transaction.
async fn run_approved(app: &App, a: &ApprovalRecord) -> Result<(), Failure> {
    let Some(rec) = app.store.get_request(&a.request_id).await? else {
        return Err(Failure::not_found(format!(
            "request {} of approval {}",
            a.request_id, a.id
        )));
    };
    // The requester's roles as they are now: they may have changed while the approval waited.
    let caller = app.authenticator.current(&rec.caller);
    let mut run = Run::resume(app, &rec, caller).for_approval(&a.id);
    let result = approved_path(&mut run, a, rec.intent.clone()).await;
    crate::pipeline::finish(result, run).map(|_| ())
}

async fn approved_path(
    run: &mut Run<'_>,
    a: &ApprovalRecord,
    stored: Option<serde_json::Value>,
) -> Result<(), Halt> {
    let app = run.app;
    let intent = stored.and_then(|v| serde_json::from_value::<Intent>(v).ok());
    let checked = intent.and_then(|intent| {
        // The stored intent must still be a catalog action with valid parameters: the
        // catalog may have changed while the approval waited.
        let spec = app.catalog.get(intent.action)?.clone();
        app.catalog
            .validate(
                intent.action.as_str(),
                &intent.params,
                intent.parser,
                intent.confidence,
            )
            .ok()
            .filter(|v| v.params == intent.params)
            .map(|_| (intent, spec))
    });
    let Some((intent, spec)) = checked else {
        return run
            .step(StageName::Approve, async {
                Step::<()>::fail(
                    ErrorCode::ApprovalFailed,
                    "the stored intent is no longer a valid catalog action",
                )
            })
            .await;
    };
    let fresh = replan(run, &spec, &intent).await?;
    if fresh.hash != a.plan_hash {
        let reason = format!(
            "the plan changed after it was approved (approved {}, now {}); nothing was run. New plan:\n{}",
            &a.plan_hash[..12.min(a.plan_hash.len())],
            &fresh.hash[..12.min(fresh.hash.len())],
            fresh.diff
        );
        return run
            .step(StageName::Approve, async {
                Step::<()>::fail(ErrorCode::ApprovalVoid, reason)
            })
            .await;
    }
    execute(run, &spec, &intent, &fresh, false).await
}

/// Ends an approval whose run errored without recording its end; the request fails with
/// the error. Goes through the same recording path as every stage.
async fn close(app: &App, a: &ApprovalRecord, e: Failure) -> Result<(), Failure> {
    let Some(rec) = app.store.get_request(&a.request_id).await? else {
        return Err(Failure::not_found(format!("request {}", a.request_id)));
    };
    let caller = app.authenticator.current(&rec.caller);
    let mut run = Run::resume(app, &rec, caller).for_approval(&a.id);
    let result = run
        .step(StageName::Execute, async { Step::<()>::Fail(e) })
        .await;
    crate::pipeline::finish(result, run).map(|_| ())
}
