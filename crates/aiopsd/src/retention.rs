//! Payload retention in the background: every `[store] retention_interval_secs` (and once at
//! start-up) the payloads of final requests whose last change is older than
//! `payload_retention_days` are cleared, `retention_batch` requests per transaction, each
//! batch with its own `retention`/`pruned` audit event by the system
//! (`aiops_store::RequestStore::prune_payloads`). Between batches other writers get the
//! store, and a stop request ends the pass.

use std::time::Duration;

use aiops_store::now_ms;
use tokio::sync::watch;

use crate::failure::Failure;
use crate::{App, AppState};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Prunes every interval until `stop`; does nothing when retention is off (0 days).
pub async fn pruner(state: AppState, mut stop: watch::Receiver<bool>) {
    let config = &state.config.store;
    if config.payload_retention_days == 0 {
        return;
    }
    let mut every = tokio::time::interval(Duration::from_secs(config.retention_interval_secs));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {
                if let Err(e) = prune_once(&state, &stop).await {
                    tracing::warn!(code = %e.code, error = %e.message, "payload retention pass failed; retried next interval");
                }
            }
            _ = crate::serve::stopped(&mut stop) => break,
        }
    }
}

/// One pass: batches until one comes back short, or `stop` turns true. Returns how many
/// requests it cleared; 0 when retention is off.
pub async fn prune_once(app: &App, stop: &watch::Receiver<bool>) -> Result<u64, Failure> {
    let config = &app.config.store;
    if config.payload_retention_days == 0 {
        return Ok(0);
    }
    let cutoff = now_ms().saturating_sub(i64::from(config.payload_retention_days) * DAY_MS);
    let mut total = 0;
    loop {
        let report = app
            .store
            .prune_payloads(cutoff, config.retention_batch)
            .await?;
        total += report.count;
        if report.count > 0 {
            tracing::info!(
                count = report.count,
                cutoff = %report.cutoff,
                first_id = ?report.first_id,
                last_id = ?report.last_id,
                "request payloads pruned"
            );
        }
        if report.count < u64::from(config.retention_batch) || *stop.borrow() {
            return Ok(total);
        }
        // The writer lock is fair: requests waiting to commit go before the next batch.
        tokio::task::yield_now().await;
    }
}
