//! The approval state machine as a pure function: what one human decision does to an
//! approval, and which state changes exist at all. No I/O: the store loads an approval, asks
//! [`decide`], and persists the answer with a compare-and-set, so every store (and every
//! replica) applies the same rules.

use std::collections::BTreeSet;

use crate::{ApprovalState, Verdict};

/// One recorded decision, as the state machine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ballot<'a> {
    pub approver: &'a str,
    pub verdict: Verdict,
}

/// What the state machine needs to know about an approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalView<'a> {
    pub state: ApprovalState,
    /// Who asked for the change; they never decide it themselves.
    pub requester: &'a str,
    /// How many distinct approvers must agree (N of the M who may).
    pub approvals_required: u32,
    /// The deadline in milliseconds since the Unix epoch; a decision at or after it expires
    /// the approval instead of counting.
    pub expires_at_ms: i64,
    /// The decisions recorded so far.
    pub ballots: Vec<Ballot<'a>>,
}

impl<'a> ApprovalView<'a> {
    /// The distinct humans who approved, the requester never among them.
    pub fn approvers(&self) -> BTreeSet<&'a str> {
        self.ballots
            .iter()
            .filter(|b| b.verdict == Verdict::Approve && b.approver != self.requester)
            .map(|b| b.approver)
            .collect()
    }
}

/// What one decision does to an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Record the ballot; the approval moves to `to`, which stays `Pending` while more
    /// approvers are needed.
    Record { to: ApprovalState },
    /// This approver already gave this verdict (a double click): nothing changes.
    Unchanged,
    /// The decision is refused: nothing is recorded and nothing changes.
    Refused(Refusal),
    /// The deadline has passed: the approval expires (`pending → expired`) and the ballot is
    /// not recorded.
    Expire,
}

/// Why a decision was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The approval is no longer open; it is in this state.
    NotOpen(ApprovalState),
    /// This approver already decided otherwise, and a decision cannot be changed.
    DecidedOtherwise,
    /// The requester may not decide their own request (policy says so too; this holds even
    /// when a policy forgets it).
    Requester,
}

impl Transition {
    /// The approval's state after this transition, given its state before.
    pub fn state_after(self, before: ApprovalState) -> ApprovalState {
        match self {
            Transition::Record { to } => to,
            Transition::Expire => ApprovalState::Expired,
            Transition::Unchanged | Transition::Refused(_) => before,
        }
    }
}

/// Whether an approval may move from `from` to `to`:
/// `pending → approved | rejected | expired`, `approved → executing`,
/// `executing → succeeded | failed | void`. Nothing else, and never back.
pub fn can_transition(from: ApprovalState, to: ApprovalState) -> bool {
    use ApprovalState::{Approved, Executing, Expired, Failed, Pending, Rejected, Succeeded, Void};
    matches!(
        (from, to),
        (Pending, Approved | Rejected | Expired)
            | (Approved, Executing)
            | (Executing, Succeeded | Failed | Void)
    )
}

/// What `approver` deciding `verdict` at `now_ms` does to `a`.
///
/// In order: the same approver again is idempotent (same verdict: unchanged; another verdict:
/// refused, in any state); the requester is refused; a closed approval refuses; a decision
/// at or after the deadline expires it; a rejection rejects at once; an approval approves
/// once `approvals_required` distinct approvers (this one included) agreed.
pub fn decide(a: &ApprovalView<'_>, approver: &str, verdict: Verdict, now_ms: i64) -> Transition {
    if let Some(prev) = a.ballots.iter().find(|b| b.approver == approver) {
        return if prev.verdict == verdict {
            Transition::Unchanged
        } else {
            Transition::Refused(Refusal::DecidedOtherwise)
        };
    }
    if approver == a.requester {
        return Transition::Refused(Refusal::Requester);
    }
    if !a.state.is_open() {
        return Transition::Refused(Refusal::NotOpen(a.state));
    }
    if now_ms >= a.expires_at_ms {
        return Transition::Expire;
    }
    let to = match verdict {
        Verdict::Reject => ApprovalState::Rejected,
        Verdict::Approve => {
            let mut approvers = a.approvers();
            approvers.insert(approver);
            let agreed = u32::try_from(approvers.len()).unwrap_or(u32::MAX);
            if agreed >= a.approvals_required {
                ApprovalState::Approved
            } else {
                ApprovalState::Pending
            }
        }
    };
    Transition::Record { to }
}

#[cfg(test)]
mod tests {
    use strum::VariantArray;

    use super::*;

    const DEADLINE: i64 = 10_000;

    fn view(required: u32, ballots: &[(&'static str, Verdict)]) -> ApprovalView<'static> {
        ApprovalView {
            state: ApprovalState::Pending,
            requester: "alice",
            approvals_required: required,
            expires_at_ms: DEADLINE,
            ballots: ballots
                .iter()
                .map(|&(approver, verdict)| Ballot { approver, verdict })
                .collect(),
        }
    }

    #[test]
    fn one_approver_approves_and_a_rejection_rejects() {
        assert_eq!(
            decide(&view(1, &[]), "bob", Verdict::Approve, 0),
            Transition::Record {
                to: ApprovalState::Approved
            }
        );
        assert_eq!(
            decide(
                &view(2, &[("bob", Verdict::Approve)]),
                "carol",
                Verdict::Reject,
                0
            ),
            Transition::Record {
                to: ApprovalState::Rejected
            }
        );
    }

    #[test]
    fn n_of_m_counts_distinct_approvers() {
        let first = decide(&view(2, &[]), "bob", Verdict::Approve, 0);
        assert_eq!(
            first,
            Transition::Record {
                to: ApprovalState::Pending
            }
        );
        assert_eq!(
            first.state_after(ApprovalState::Pending),
            ApprovalState::Pending
        );
        // the same approver again counts once
        assert_eq!(
            decide(
                &view(2, &[("bob", Verdict::Approve)]),
                "bob",
                Verdict::Approve,
                0
            ),
            Transition::Unchanged
        );
        assert_eq!(
            decide(
                &view(2, &[("bob", Verdict::Approve)]),
                "carol",
                Verdict::Approve,
                0
            ),
            Transition::Record {
                to: ApprovalState::Approved
            }
        );
        let three = view(3, &[("bob", Verdict::Approve), ("carol", Verdict::Approve)]);
        assert_eq!(three.approvers().len(), 2);
        assert_eq!(
            decide(&three, "dave", Verdict::Approve, 0).state_after(ApprovalState::Pending),
            ApprovalState::Approved
        );
    }

    #[test]
    fn the_requester_neither_decides_nor_counts() {
        assert_eq!(
            decide(&view(1, &[]), "alice", Verdict::Approve, 0),
            Transition::Refused(Refusal::Requester)
        );
        assert_eq!(
            decide(&view(1, &[]), "alice", Verdict::Reject, 0),
            Transition::Refused(Refusal::Requester)
        );
        // a ballot by the requester (stored before this rule) does not count toward N
        let legacy = view(2, &[("alice", Verdict::Approve)]);
        assert!(legacy.approvers().is_empty());
        assert_eq!(
            decide(&legacy, "bob", Verdict::Approve, 0),
            Transition::Record {
                to: ApprovalState::Pending
            }
        );
    }

    #[test]
    fn a_changed_mind_is_refused_in_any_state() {
        let mut a = view(2, &[("bob", Verdict::Approve)]);
        for state in ApprovalState::VARIANTS {
            a.state = *state;
            assert_eq!(
                decide(&a, "bob", Verdict::Reject, 0),
                Transition::Refused(Refusal::DecidedOtherwise)
            );
            assert_eq!(
                decide(&a, "bob", Verdict::Approve, 0),
                Transition::Unchanged
            );
        }
    }

    #[test]
    fn closed_approvals_refuse_new_approvers() {
        let mut a = view(1, &[]);
        for state in ApprovalState::VARIANTS
            .iter()
            .filter(|s| **s != ApprovalState::Pending)
        {
            a.state = *state;
            let t = decide(&a, "bob", Verdict::Approve, 0);
            assert_eq!(t, Transition::Refused(Refusal::NotOpen(*state)));
            assert_eq!(t.state_after(*state), *state);
        }
    }

    #[test]
    fn a_decision_at_or_after_the_deadline_expires_it() {
        let a = view(1, &[]);
        assert_eq!(
            decide(&a, "bob", Verdict::Approve, DEADLINE - 1),
            Transition::Record {
                to: ApprovalState::Approved
            }
        );
        for now in [DEADLINE, DEADLINE + 1] {
            for verdict in [Verdict::Approve, Verdict::Reject] {
                let t = decide(&a, "bob", verdict, now);
                assert_eq!(t, Transition::Expire);
                assert_eq!(
                    t.state_after(ApprovalState::Pending),
                    ApprovalState::Expired
                );
            }
        }
        // an already-expired approval is closed, not expired again
        let mut expired = a.clone();
        expired.state = ApprovalState::Expired;
        assert_eq!(
            decide(&expired, "bob", Verdict::Approve, DEADLINE),
            Transition::Refused(Refusal::NotOpen(ApprovalState::Expired))
        );
    }

    #[test]
    fn only_forward_transitions_exist() {
        use ApprovalState::*;
        let allowed = [
            (Pending, Approved),
            (Pending, Rejected),
            (Pending, Expired),
            (Approved, Executing),
            (Executing, Succeeded),
            (Executing, Failed),
            (Executing, Void),
        ];
        for from in ApprovalState::VARIANTS {
            for to in ApprovalState::VARIANTS {
                assert_eq!(
                    can_transition(*from, *to),
                    allowed.contains(&(*from, *to)),
                    "{from} -> {to}"
                );
            }
        }
    }
}
