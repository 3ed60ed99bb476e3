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
    /// Marks requests that were executing when the process died as failed (never re-runs
    /// them: the change may or may not have happened). Returns their ids.
    async fn fail_interrupted(&self) -> Result<Vec<String>, StoreError>;
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}
