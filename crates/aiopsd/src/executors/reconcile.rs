//! What an interrupted execution did, found by re-planning it against the world (never by
//! running it again). Used by start-up recovery (`crate::recovery`).
//!
//! A plan's diff is the difference between the world at planning and the world the action
//! wants, computed by the executor's own dry run. So, re-planning after a crash:
//! - **no change left** → the world already matches the plan
//!   ([`Reconciliation::VerifiedAfterRestart`]);
//! - **the same change still to make** (the same diff, which shows the same starting state)
//!   → the world still matches the state the plan started from
//!   ([`Reconciliation::NothingApplied`]);
//! - **anything else** (another diff, or re-planning fails) → [`Reconciliation::StateUnknown`].
//!
//! Per action, "the state before the plan" is what its dry run shows:
//! - `dns.create_a_record` / `dns.delete_record`: the record set of the name and type, as
//!   the `aiops_nsupdate` check mode reads it from the server (its diff shows it before
//!   and after). An RFC 2136 update is atomic, so a run leaves either state.
//! - `k8s.scale_deployment`, `k8s.expose_service`: the fields the patch or apply would
//!   change (the server-side dry run's diff). `k8s.restart_deployment` sets a new restart
//!   time on every run, so re-planning never says "nothing left": an interrupted restart is
//!   `nothing applied` (the old annotation is still there) or `state unknown`.
//!   `k8s.delete_pod`: the pod the plan names, by uid; gone (or replaced by a pod of the
//!   same name with another uid) means the delete is verified.
//! - `ansible.run_playbook`: a playbook's check mode does not witness what a run of it did
//!   (command and shell tasks are skipped in check mode, and a task may change what later
//!   ones see), so an interrupted playbook run is always `state unknown`.
//! - Read-only actions change nothing: `nothing applied` (their answer was lost).

use aiops_core::Reconciliation;
use serde_json::{Value, json};

use super::PlanOutput;
use crate::failure::Failure;
use aiops_core::Plan;

/// What reconciling one interrupted execution found, and why.
#[derive(Debug, Clone)]
pub struct Reconciled {
    pub outcome: Reconciliation,
    /// One sentence an operator can act on (no secrets: diffs are scrubbed by executors).
    pub evidence: String,
    /// The re-plan's `{changes, diff}`, when there was one.
    pub replan: Option<Value>,
}

impl Reconciled {
    pub fn new(outcome: Reconciliation, evidence: impl Into<String>) -> Self {
        Reconciled {
            outcome,
            evidence: evidence.into(),
            replan: None,
        }
    }

    /// The action cannot be checked: `state unknown`, saying why.
    pub fn unverifiable(why: impl Into<String>) -> Self {
        Self::new(Reconciliation::StateUnknown, why)
    }

    /// Compares a fresh plan (`replanned`) with the plan the interrupted execution ran.
    pub fn by_replan(plan: &Plan, replanned: Result<PlanOutput, Failure>) -> Self {
        let now = match replanned {
            Ok(now) => now,
            Err(f) => {
                return Self::unverifiable(format!(
                    "re-planning after the restart failed ({}): {}",
                    f.code, f.message
                ));
            }
        };
        let (outcome, evidence) = if !now.changes {
            (
                Reconciliation::VerifiedAfterRestart,
                "re-planning after the restart finds nothing left to change: the world matches the plan",
            )
        } else if plan.changes && now.diff == plan.diff {
            (
                Reconciliation::NothingApplied,
                "re-planning after the restart finds the same change still to make: the world is as it was when planned",
            )
        } else {
            (
                Reconciliation::StateUnknown,
                "re-planning after the restart finds a different change to make: the world matches neither the plan nor the state it was planned from",
            )
        };
        Reconciled {
            outcome,
            evidence: evidence.to_string(),
            replan: Some(json!({"changes": now.changes, "diff": now.diff})),
        }
    }
}

#[cfg(test)]
mod tests {
    use aiops_core::{ActionId, ErrorCode, Intent, ParserKind, Target};
    use serde_json::Map;

    use super::*;

    fn plan(diff: &str, changes: bool) -> Plan {
        let intent = Intent {
            action: ActionId::DnsCreateARecord,
            params: Map::new(),
            parser: ParserKind::Rules,
            confidence: 1.0,
        };
        Plan::new(&intent, Target::None, diff.into(), changes)
    }

    fn now(diff: &str, changes: bool) -> Result<PlanOutput, Failure> {
        Ok(PlanOutput {
            diff: diff.into(),
            changes,
            state: None,
            before: None,
        })
    }

    #[test]
    fn a_replan_tells_applied_from_untouched_from_unknown() {
        let add = plan("+ web.local. 3600 IN A 192.0.2.10", true);
        let cases = [
            (
                now("no changes", false),
                Reconciliation::VerifiedAfterRestart,
            ),
            (
                now("+ web.local. 3600 IN A 192.0.2.10", true),
                Reconciliation::NothingApplied,
            ),
            (
                now(
                    "- web.local. 3600 IN A 192.0.2.99\n+ web.local. 3600 IN A 192.0.2.10",
                    true,
                ),
                Reconciliation::StateUnknown,
            ),
            (
                Err(Failure::new(ErrorCode::DnsUnavailable, "down")),
                Reconciliation::StateUnknown,
            ),
        ];
        for (replanned, expected) in cases {
            let r = Reconciled::by_replan(&add, replanned);
            assert_eq!(r.outcome, expected, "{r:?}");
            assert!(!r.evidence.is_empty());
        }
        // A plan that changed nothing: still nothing to change is verified; a change to
        // make now means the world moved.
        let noop = plan("no changes", false);
        assert_eq!(
            Reconciled::by_replan(&noop, now("no changes", false)).outcome,
            Reconciliation::VerifiedAfterRestart
        );
        assert_eq!(
            Reconciled::by_replan(&noop, now("- a\n+ b", true)).outcome,
            Reconciliation::StateUnknown
        );
    }
}
