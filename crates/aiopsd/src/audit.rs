//! The audit chain, verified in the background: every `[audit] verify_interval_secs` an
//! incremental verify recomputes the rows written since the last checkpoint and, when they
//! verify, leaves a new checkpoint. So checkpoints follow the chain's head, and the
//! verification an operator asks for (`GET /api/v1/audit/verify`) costs the events since the
//! last pass, not the whole history.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::AppState;

/// `[audit]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Seconds between background verifications; 0 turns them off (verification then runs
    /// only when asked, and checkpoints only move then). Hourly keeps the rows each pass
    /// recomputes to one hour's events.
    pub verify_interval_secs: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            verify_interval_secs: 3600,
        }
    }
}

/// Verifies the chain every interval until `stop`; a chain that does not verify is logged
/// as an error each time (and counted in `aiops_audit_verifications_total{outcome}`).
pub async fn verifier(state: AppState, mut stop: watch::Receiver<bool>) {
    let secs = state.config.audit.verify_interval_secs;
    if secs == 0 {
        return;
    }
    let mut every = tokio::time::interval(Duration::from_secs(secs));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {
                verify_once(&state).await;
            }
            _ = crate::serve::stopped(&mut stop) => break,
        }
    }
}

/// One background pass: an incremental verify, counted and logged. `Some(ok)` when the
/// chain could be read (`ok`: it verifies, and a new checkpoint holds its head), `None` when
/// it could not be read now (the store's error is logged; the next pass tries again).
pub async fn verify_once(state: &AppState) -> Option<bool> {
    match state.store.verify_incremental().await {
        Ok(report) if report.ok => {
            state.metrics.count_verification(true);
            tracing::info!(
                mode = report.mode.as_str(),
                from_seq = report.from_seq,
                checked = report.checked,
                events = report.events,
                "audit chain verified"
            );
            Some(true)
        }
        Ok(report) => {
            state.metrics.count_verification(false);
            tracing::error!(
                first_bad_seq = ?report.first_bad_seq,
                reason = ?report.reason,
                mode = report.mode.as_str(),
                "audit chain does not verify"
            );
            Some(false)
        }
        Err(e) => {
            tracing::warn!(error = %e, "audit chain could not be verified now");
            None
        }
    }
}
