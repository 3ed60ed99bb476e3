//! Verification: after a change ran, its executor re-reads the world through its own read
//! path (the authoritative DNS server, the API server, a check-mode playbook run) and the
//! reading is compared with the plan. An executor that says "ok" is not the proof; this is.
//!
//! The world may take a while to converge (a rollout, a secondary DNS server catching up),
//! so a reading that does not match yet is taken again, with exponential backoff, until the
//! action's settle time (catalog `verify.settle_ms`, capped by `[verify] max_settle_ms`)
//! has passed. The last reading is final:
//! - it matches: `verified`;
//! - it differs: `diverged` (the request fails though the executor said ok);
//! - it was still settling, or could not be read: `unverified`, with the reason.
//!
//! DNS is read from the authoritative server the update was sent to, not a recursive
//! resolver: no cache stands between the change and the reading, so a record's TTL does not
//! delay it; the TTL is compared like the addresses.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aiops_core::{ActionSpec, Intent, Plan, Verification, VerificationOutcome};
use backon::{ExponentialBuilder, Retryable};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::App;
use crate::failure::Failure;

/// `[verify]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct VerifyConfig {
    /// Upper bound of any action's settle time (ms): how long a request may wait for the
    /// world to match before its verification is final.
    pub max_settle_ms: u64,
    /// The first pause between readings (ms); it doubles up to `max_interval_ms`.
    pub interval_ms: u64,
    pub max_interval_ms: u64,
}

impl Default for VerifyConfig {
    fn default() -> Self {
        VerifyConfig {
            max_settle_ms: 120_000,
            interval_ms: 250,
            max_interval_ms: 5_000,
        }
    }
}

/// One reading of the world after a change, against its plan.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// The world matches the plan.
    Matches { evidence: Value },
    /// The world differs: one `what: planned -> found` line per difference.
    Differs { diff: Vec<String>, evidence: Value },
    /// Matches so far but has not settled (a rollout in progress); `why` says what is awaited.
    Settling { why: String, evidence: Value },
    /// This executor cannot read this action back (final at once: asking again won't help).
    NoReadPath(String),
}

/// A reading that is not final yet, or could not be taken: what backon retries.
enum NotYet {
    Observed(Observation),
    Unreadable(Failure),
}

/// How long `spec`'s changes may take to settle here: the catalog's settle time, capped by
/// `[verify] max_settle_ms` (zero for an action without a verifier).
pub fn settle_of(app: &App, spec: &ActionSpec) -> Duration {
    let ms = spec.verify.as_ref().map_or(0, |v| v.settle_ms);
    Duration::from_millis(ms.min(app.config.verify.max_settle_ms))
}

/// Verifies a change that ran: readings until one matches or `settle` is over (zero: one
/// reading). `execution` is what the executor reported. Never fails: a world that cannot
/// be read is `unverified`, with the reason.
pub async fn verify(
    app: &App,
    spec: &ActionSpec,
    intent: &Intent,
    plan: &Plan,
    execution: &Value,
    settle: Duration,
) -> Verification {
    let cfg = &app.config.verify;
    let attempts = AtomicU32::new(0);
    let read = || async {
        attempts.fetch_add(1, Ordering::Relaxed);
        match app.executors.observe(spec, intent, plan, execution).await {
            Ok(Observation::Matches { evidence }) => Ok(evidence),
            Ok(other) => Err(NotYet::Observed(other)),
            Err(f) => Err(NotYet::Unreadable(f)),
        }
    };
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(cfg.interval_ms))
        .with_max_delay(Duration::from_millis(
            cfg.max_interval_ms.max(cfg.interval_ms),
        ))
        .with_total_delay(Some(settle))
        .without_max_times();
    let result = read
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|e| !matches!(e, NotYet::Observed(Observation::NoReadPath(_))))
        .await;
    let (outcome, reason, diff, evidence) = match result {
        Ok(evidence) => (VerificationOutcome::Verified, None, None, evidence),
        Err(NotYet::Observed(Observation::Differs { diff, evidence })) => (
            VerificationOutcome::Diverged,
            Some("the world read back differs from the plan".to_string()),
            Some(diff.join("\n")),
            evidence,
        ),
        Err(NotYet::Observed(Observation::Settling { why, evidence })) => (
            VerificationOutcome::Unverified,
            Some(format!(
                "not settled within {} ms: {why}",
                settle.as_millis()
            )),
            None,
            evidence,
        ),
        Err(NotYet::Observed(Observation::NoReadPath(why))) => (
            VerificationOutcome::Unverified,
            Some(why),
            None,
            Value::Null,
        ),
        Err(NotYet::Unreadable(f)) => (
            VerificationOutcome::Unverified,
            Some(format!("the world could not be read back: {}", f.message)),
            None,
            json!({"error": {"code": f.code, "message": f.message}}),
        ),
        // backon only stops on Ok or on the last Err.
        Err(NotYet::Observed(Observation::Matches { evidence })) => {
            (VerificationOutcome::Verified, None, None, evidence)
        }
    };
    Verification {
        outcome,
        reason,
        diff,
        evidence,
        at: now_rfc3339(),
        attempts: attempts.load(Ordering::Relaxed),
    }
}

/// Now, as the audit rows write times.
fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
