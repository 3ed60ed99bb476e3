//! Rows to records: audit rows (with their exact stored text, which the chain hashes) and
//! approvals with their decisions. Requests, approvals and decisions map with
//! `sqlx::FromRow` (see `crate::records`); enum columns parse through `crate::column`.

use serde_json::Value;
use sqlx::SqliteConnection;

use crate::{ApprovalRecord, AuditRecord, DecisionRecord, StoreError};

/// An audit row as stored.
#[derive(sqlx::FromRow)]
pub(super) struct AuditRow {
    pub seq: i64,
    pub at: String,
    pub request_id: Option<String>,
    pub stage: String,
    pub outcome: String,
    /// The exact canonical JSON text the row's hash covers.
    pub data: String,
    /// Canonical JSON of the actor; empty on rows from before rows named one.
    pub actor: String,
    pub prev_hash: String,
    pub hash: String,
}

impl From<AuditRow> for AuditRecord {
    fn from(r: AuditRow) -> Self {
        // A tampered row may hold text that is not JSON; show it rather than fail the read.
        let data = serde_json::from_str(&r.data).unwrap_or(Value::String(r.data));
        AuditRecord {
            seq: r.seq,
            at: r.at,
            request_id: r.request_id,
            stage: r.stage,
            outcome: r.outcome,
            data,
            actor: serde_json::from_str(&r.actor).ok(),
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

pub(super) async fn load_approval(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<Option<ApprovalRecord>, StoreError> {
    let Some(mut approval) =
        sqlx::query_as::<_, ApprovalRecord>("SELECT * FROM approvals WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
    else {
        return Ok(None);
    };
    approval.decisions = sqlx::query_as::<_, DecisionRecord>(
        "SELECT approver, decision, channel, reason, at FROM approval_decisions
         WHERE approval_id = $1 ORDER BY at, approver",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(approval))
}

/// The request an approval belongs to; `NotFound` if there is no such approval.
pub(super) async fn request_of(
    conn: &mut SqliteConnection,
    approval_id: &str,
) -> Result<String, StoreError> {
    sqlx::query_scalar("SELECT request_id FROM approvals WHERE id = $1")
        .bind(approval_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("approval {approval_id}")))
}

/// The approvals with these ids, in this order (ids that vanished are skipped).
pub(super) async fn load_approvals(
    conn: &mut SqliteConnection,
    ids: Vec<String>,
) -> Result<Vec<ApprovalRecord>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(a) = load_approval(conn, &id).await? {
            out.push(a);
        }
    }
    Ok(out)
}

/// An RFC 3339 timestamp in milliseconds since the Unix epoch.
pub(super) fn rfc3339_ms(text: &str) -> Result<i64, StoreError> {
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| StoreError::Query(format!("bad timestamp {text}: {e}")))?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| StoreError::Query(format!("timestamp out of range: {text}")))
}
