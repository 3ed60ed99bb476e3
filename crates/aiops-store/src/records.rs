//! The values the store takes and gives back: requests, approvals, decisions, Slack results.

use aiops_core::{ApprovalState, Channel, RequestStatus, Verdict};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::AuditEvent;
use crate::column::Text;

/// A new request, as accepted by the API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewRequest {
    pub id: String,
    pub nl: String,
    pub dry_run: bool,
    pub caller: String,
}

/// Fields to change on a request; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct RequestUpdate {
    pub status: Option<RequestStatus>,
    pub intent: Option<Value>,
    pub decision: Option<Value>,
    pub plan: Option<Value>,
    pub approval_id: Option<String>,
    pub execution: Option<Value>,
    pub error: Option<Value>,
    pub context: Option<Value>,
    /// Ends the request's executing approval in the same transaction, so the request and its
    /// approval never disagree about how it ended.
    pub approval_end: Option<ApprovalEnd>,
    /// Refused model answers of this request's parse, stored with the stage's event.
    pub quarantine: Vec<aiops_core::Quarantined>,
}

/// One change a request's run records: the request's new state (if any) and the audit row
/// that says why. A run buffers its changes between durability points and hands them to
/// [`crate::RequestStore::commit`], which applies them in order, atomically: all or none.
#[derive(Debug, Clone)]
pub enum Change {
    /// Inserts an accepted request (status `received`).
    CreateRequest(NewRequest, AuditEvent),
    /// Applies the set fields to a request (quarantined answers, the approval's end).
    Update(String, RequestUpdate, AuditEvent),
    /// Creates a pending approval, links it and sets its request `pending_approval`.
    CreateApproval(NewApproval, RequestUpdate, AuditEvent),
    /// Appends an event that changes no request (a refused decision, a note).
    Append(AuditEvent),
}

/// What a store's [`crate::RequestStore::commit`] has done since it opened: commits
/// (durability points of runs) and the transactions that carried them. Fewer transactions than
/// commits means group commit shared syncs between concurrent runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitStats {
    pub commits: u64,
    pub transactions: u64,
}

/// A stored refused model answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantineRecord {
    pub id: i64,
    /// RFC 3339.
    pub at: String,
    pub request_id: Option<String>,
    #[serde(flatten)]
    pub entry: aiops_core::Quarantined,
}

/// `executing → to` for an approval, with its reason.
#[derive(Debug, Clone)]
pub struct ApprovalEnd {
    pub approval_id: String,
    pub to: ApprovalState,
    pub reason: Option<String>,
}

/// A stored request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, sqlx::FromRow)]
pub struct RequestRecord {
    pub id: String,
    pub created_at: String,
    pub updated_at: String,
    pub nl: String,
    pub dry_run: bool,
    pub caller: String,
    #[sqlx(try_from = "Text")]
    pub status: RequestStatus,
    #[sqlx(json(nullable))]
    pub intent: Option<Value>,
    #[sqlx(json(nullable))]
    pub decision: Option<Value>,
    #[sqlx(json(nullable))]
    pub plan: Option<Value>,
    pub approval_id: Option<String>,
    #[sqlx(json(nullable))]
    pub execution: Option<Value>,
    #[sqlx(json(nullable))]
    pub error: Option<Value>,
    #[sqlx(json(nullable))]
    pub context: Option<Value>,
}

/// A new approval waiting for a human.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewApproval {
    pub id: String,
    pub request_id: String,
    pub plan_hash: String,
    pub requester: String,
    pub approvals_required: u32,
    /// RFC 3339.
    pub expires_at: String,
}

/// A stored approval with its decisions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, sqlx::FromRow)]
pub struct ApprovalRecord {
    pub id: String,
    pub request_id: String,
    pub plan_hash: String,
    #[sqlx(try_from = "Text")]
    pub state: ApprovalState,
    pub requester: String,
    pub approvals_required: u32,
    pub created_at: String,
    pub expires_at: String,
    pub updated_at: String,
    /// Why it was rejected, voided or failed.
    pub reason: Option<String>,
    /// The decisions recorded so far, in order.
    #[sqlx(skip)]
    pub decisions: Vec<DecisionRecord>,
    pub slack_channel: Option<String>,
    pub slack_ts: Option<String>,
}

/// One human's decision on an approval.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, sqlx::FromRow)]
pub struct DecisionRecord {
    pub approver: String,
    #[sqlx(try_from = "Text")]
    pub decision: Verdict,
    #[sqlx(try_from = "Text")]
    pub channel: Channel,
    pub reason: Option<String>,
    pub at: String,
}

/// A decision as handed to the store.
#[derive(Debug, Clone)]
pub struct NewDecision {
    pub approval_id: String,
    pub approver: String,
    /// How the approver authenticated (named in the audit row).
    pub auth: aiops_core::AuthMethod,
    pub verdict: Verdict,
    pub channel: Channel,
    pub reason: Option<String>,
    pub now_ms: i64,
}

/// The result of recording a decision.
#[derive(Debug, Clone, PartialEq)]
pub enum DecisionOutcome {
    /// Recorded; the approval is now in `state` (still `pending` while more approvers are needed).
    Recorded { approval: ApprovalRecord },
    /// This approver already made this same decision: nothing changed.
    Unchanged { approval: ApprovalRecord },
    /// The approval is no longer open, or this approver may not decide it (they already
    /// decided otherwise, or they asked for the change).
    Closed { approval: ApprovalRecord },
    /// The decision arrived after the deadline; the approval is now `expired`.
    Expired { approval: ApprovalRecord },
}

/// The result of one Slack call for an approval's message.
#[derive(Debug, Clone)]
pub enum SlackResult {
    Posted {
        channel: String,
        ts: String,
    },
    Updated,
    /// Retried after an exponential backoff (2 s, 4 s, … capped at about 8.5 min).
    Failed {
        now_ms: i64,
        error: String,
    },
}
