//! Rows to records on Postgres: approvals with their decisions.

use sqlx::PgConnection;

use crate::{ApprovalRecord, DecisionRecord, StoreError};

pub(super) async fn load_approval(
    conn: &mut PgConnection,
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
    conn: &mut PgConnection,
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
    conn: &mut PgConnection,
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
