//! The durable record of every request and the hash-chained audit log (sqlx).
//!
//! Every state change of a request is written together with its audit event in one
//! transaction, so the request table and the audit trail never disagree. Each audit row
//! carries the hash of the previous row; [`Store::verify_chain`] recomputes the chain.
//! The embedded default is a SQLite file; the trait lets a PostgreSQL store serve replicas.

#![forbid(unsafe_code)]

mod audit;
mod sqlite;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use audit::{AuditEvent, AuditRecord, ChainReport, GENESIS_HASH, event_hash};
pub use sqlite::SqliteStore;

/// Errors of the store. `code()` is stable.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("store query failed: {0}")]
    Query(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Unavailable(_) => "store_unavailable",
            StoreError::Query(_) => "store_error",
            StoreError::Migration(_) => "store_migration_failed",
            StoreError::NotFound(_) => "not_found",
            StoreError::Conflict(_) => "conflict",
            StoreError::Corrupt(_) => "store_corrupt",
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            sqlx::Error::RowNotFound => StoreError::NotFound("row".into()),
            other => StoreError::Query(other.to_string()),
        }
    }
}

/// Lifecycle of a request as stored. Terminal states never change again, except that a
/// `pending_approval` request moves on when its approval is decided.
pub mod status {
    pub const RECEIVED: &str = "received";
    pub const EXECUTING: &str = "executing";
    pub const SUCCESS: &str = "success";
    pub const DRY_RUN: &str = "dry_run";
    pub const PENDING_APPROVAL: &str = "pending_approval";
    pub const DENIED: &str = "denied";
    pub const UNRECOGNIZED: &str = "unrecognized";
    pub const ANSWERED: &str = "answered";
    pub const FAILED: &str = "failed";
}

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
    pub status: Option<&'static str>,
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
}

/// `executing → to` for an approval, with its reason.
#[derive(Debug, Clone)]
pub struct ApprovalEnd {
    pub approval_id: String,
    pub to: &'static str,
    pub reason: Option<String>,
}

/// A stored request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RequestRecord {
    pub id: String,
    pub created_at: String,
    pub updated_at: String,
    pub nl: String,
    pub dry_run: bool,
    pub caller: String,
    pub status: String,
    pub intent: Option<Value>,
    pub decision: Option<Value>,
    pub plan: Option<Value>,
    pub approval_id: Option<String>,
    pub execution: Option<Value>,
    pub error: Option<Value>,
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

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApprovalRecord {
    pub id: String,
    pub request_id: String,
    pub plan_hash: String,
    pub state: String,
    pub requester: String,
    pub approvals_required: u32,
    pub created_at: String,
    pub expires_at: String,
    pub updated_at: String,
    /// Why it was rejected, voided or failed.
    pub reason: Option<String>,
    /// The decisions recorded so far, in order.
    pub decisions: Vec<DecisionRecord>,
    pub slack_channel: Option<String>,
    pub slack_ts: Option<String>,
}

/// One human's decision on an approval.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DecisionRecord {
    pub approver: String,
    pub decision: String,
    pub channel: String,
    pub reason: Option<String>,
    pub at: String,
}

/// Approval states. `pending → approved | rejected | expired`, then
/// `approved → executing → succeeded | failed | void`.
pub mod approval_state {
    pub const PENDING: &str = "pending";
    pub const APPROVED: &str = "approved";
    pub const REJECTED: &str = "rejected";
    pub const EXPIRED: &str = "expired";
    pub const EXECUTING: &str = "executing";
    pub const SUCCEEDED: &str = "succeeded";
    pub const FAILED: &str = "failed";
    pub const VOID: &str = "void";
}

/// What a human decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approve,
    Reject,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Reject => "reject",
        }
    }
}

/// A decision as handed to the store.
#[derive(Debug, Clone)]
pub struct NewDecision {
    pub approval_id: String,
    pub approver: String,
    pub verdict: Verdict,
    /// `rest`, `cli`, `slack`.
    pub channel: String,
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
    /// The approval is no longer open (or this approver already decided otherwise).
    Closed { approval: ApprovalRecord },
    /// The decision arrived after the deadline; the approval is now `expired`.
    Expired { approval: ApprovalRecord },
}

/// The daemon's view of its store. One implementation per database.
#[async_trait::async_trait]
pub trait Store: Send + Sync {
    /// `sqlite`, `postgres`.
    fn kind(&self) -> &'static str;
    async fn ping(&self) -> Result<(), StoreError>;
    /// Inserts an accepted request and its intake event atomically.
    async fn create_request(&self, req: &NewRequest, event: AuditEvent) -> Result<(), StoreError>;
    /// Applies `update` to a request and appends `event`, atomically.
    async fn update_request(
        &self,
        id: &str,
        update: RequestUpdate,
        event: AuditEvent,
    ) -> Result<(), StoreError>;
    /// Creates an approval, links it to its request and sets the request pending, atomically.
    async fn create_approval(
        &self,
        approval: &NewApproval,
        update: RequestUpdate,
        event: AuditEvent,
    ) -> Result<(), StoreError>;
    async fn get_request(&self, id: &str) -> Result<Option<RequestRecord>, StoreError>;
    async fn get_approval(&self, id: &str) -> Result<Option<ApprovalRecord>, StoreError>;
    /// The audit events of one request, in chain order.
    async fn events_for(&self, request_id: &str) -> Result<Vec<AuditRecord>, StoreError>;
    /// Appends an event that belongs to no state change (start-up, recovery notes).
    async fn append_event(&self, event: AuditEvent) -> Result<(), StoreError>;
    /// Recomputes the whole chain.
    async fn verify_chain(&self) -> Result<ChainReport, StoreError>;
    async fn list_approvals(&self, state: Option<&str>) -> Result<Vec<ApprovalRecord>, StoreError>;
    /// Records a decision atomically: refuses closed or expired approvals, is idempotent per
    /// approver, and moves `pending` to `approved` once enough distinct approvers agreed, or
    /// to `rejected` on the first rejection. Appends the audit event(s) in the same transaction.
    async fn decide_approval(&self, d: &NewDecision) -> Result<DecisionOutcome, StoreError>;
    /// Moves one `approved` approval to `executing` (compare-and-set: exactly one worker
    /// wins, on any replica) and returns it.
    async fn claim_approved(&self) -> Result<Option<ApprovalRecord>, StoreError>;
    /// Ends an executing approval (`succeeded`, `failed` or `void`), updates its request and
    /// appends `event`, atomically; marks the Slack message for an update.
    async fn finish_approval(
        &self,
        id: &str,
        state: &'static str,
        reason: Option<String>,
        update: RequestUpdate,
        event: AuditEvent,
    ) -> Result<(), StoreError>;
    /// Expires every pending approval whose deadline has passed; their requests fail with
    /// `approval_expired`. Returns the expired approvals.
    async fn expire_due(&self, now_ms: i64) -> Result<Vec<ApprovalRecord>, StoreError>;
    /// Approvals whose Slack message is due to be posted (never posted, next attempt due).
    async fn slack_posts_due(&self, now_ms: i64) -> Result<Vec<ApprovalRecord>, StoreError>;
    /// Approvals whose Slack message must be updated after a state change.
    async fn slack_updates_due(&self, now_ms: i64) -> Result<Vec<ApprovalRecord>, StoreError>;
    /// Records the outcome of a Slack call: `posted` (channel and ts) / `updated`, or a
    /// failure with the time of the next attempt. Posting is audited.
    async fn slack_result(&self, id: &str, result: SlackResult) -> Result<(), StoreError>;
    /// Remembers an accepted Slack signature; `false` when it was seen before (a replay).
    /// Forgets signatures older than `forget_before_ms`.
    async fn slack_nonce(
        &self,
        signature: &str,
        now_ms: i64,
        forget_before_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Marks requests that were executing when the process died as failed (never re-runs
    /// them: the change may or may not have happened). Returns their ids.
    async fn fail_interrupted(&self) -> Result<Vec<String>, StoreError>;
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

/// Milliseconds since the Unix epoch, the unit of every deadline the store compares.
pub fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}
