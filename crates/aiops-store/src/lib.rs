//! The durable record of every request and the hash-chained audit log (sqlx).
//!
//! Every state change of a request is written together with its audit event in one
//! transaction, so the request table and the audit trail never disagree. Each audit row
//! carries the hash of the previous row; [`RequestStore::verify_chain`] recomputes the chain.
//! The daemon holds one `Arc<dyn Store>`; [`Store`] is the sum of three narrow traits
//! ([`RequestStore`], [`ApprovalStore`], [`SlackOutbox`]), so a part that needs only one of
//! them can say so; [`Replicas`] says how the store is shared between processes. The
//! embedded default is a SQLite file ([`SqliteStore`]); [`PostgresStore`] serves several
//! replicas on one database. Approval rules live in `aiops_core::approval`; stores only
//! persist them.

#![forbid(unsafe_code)]

mod audit;
mod chain;
mod clock;
mod column;
mod error;
mod paging;
mod postgres;
mod records;
mod sqlite;
mod traits;

pub use aiops_core::VerifyMode;
pub use audit::{AuditEvent, AuditRecord, ChainReport, GENESIS_HASH, HashedRow, event_hash};
pub use error::StoreError;
pub use postgres::{ImportReport, PgOptions, PostgresStore};
pub use records::{
    ApprovalEnd, ApprovalQuery, ApprovalRecord, Change, CommitStats, Cursor, CursorList,
    DecisionOutcome, DecisionRecord, NewApproval, NewDecision, NewRequest, Page, PruneReport,
    QuarantineRecord, RequestQuery, RequestRecord, RequestSummary, RequestUpdate, SlackResult,
};
pub use sqlite::SqliteStore;
pub use traits::{ApprovalStore, Replicas, RequestStore, SlackOutbox, Store};

/// Milliseconds since the Unix epoch, the unit of every deadline the store compares.
pub fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The message a pruned request's error keeps in place of its own.
pub(crate) const PRUNED_MESSAGE: &str = "removed by payload retention";

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}
