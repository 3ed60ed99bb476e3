//! Lists that page by key: approvals oldest first, requests newest first. A page is one
//! range scan of an index ending in the id (migration 0007), starting after the cursor's id,
//! never an OFFSET: rows written while a client pages neither shift nor repeat the rows it
//! has yet to see, and a deep page costs what the first one does. A page reads one row more
//! than its limit to know whether another follows, so the last page says so itself.

use std::collections::HashMap;

use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::SqliteStore;
use crate::paging::{DecisionRow, cursor_id, page_of, probe};
use crate::{
    ApprovalQuery, ApprovalRecord, CursorList, DecisionRecord, Page, RequestQuery, RequestSummary,
    StoreError,
};

/// Fills in the decisions of `approvals` with one query (not one per approval).
async fn attach_decisions(
    conn: &mut SqliteConnection,
    approvals: &mut [ApprovalRecord],
) -> Result<(), StoreError> {
    if approvals.is_empty() {
        return Ok(());
    }
    let mut sql = QueryBuilder::<Sqlite>::new(
        "SELECT approval_id, approver, decision, channel, reason, at FROM approval_decisions
         WHERE approval_id IN (",
    );
    let mut ids = sql.separated(", ");
    for a in approvals.iter() {
        ids.push_bind(&a.id);
    }
    sql.push(") ORDER BY at, approver");
    let rows: Vec<DecisionRow> = sql.build_query_as().fetch_all(&mut *conn).await?;
    let mut by_approval: HashMap<String, Vec<DecisionRecord>> = HashMap::new();
    for row in rows {
        by_approval
            .entry(row.approval_id)
            .or_default()
            .push(row.decision);
    }
    for a in approvals {
        a.decisions = by_approval.remove(&a.id).unwrap_or_default();
    }
    Ok(())
}

impl SqliteStore {
    pub(super) async fn approvals_page(
        &self,
        q: &ApprovalQuery,
    ) -> Result<Page<ApprovalRecord>, StoreError> {
        let limit = q.limit.max(1);
        let after = cursor_id(q.after.as_ref(), CursorList::Approvals)?;
        let mut sql = QueryBuilder::<Sqlite>::new("SELECT * FROM approvals WHERE 1 = 1");
        if let Some(state) = q.state {
            sql.push(" AND state = ").push_bind(state.as_str());
        }
        if let Some(after) = after {
            sql.push(" AND id > ").push_bind(after);
        }
        sql.push(" ORDER BY id LIMIT ").push_bind(probe(limit));
        // One read transaction: the approvals and their decisions are one snapshot (WAL).
        let mut tx = self.pool.begin().await?;
        let rows: Vec<ApprovalRecord> = sql.build_query_as().fetch_all(&mut *tx).await?;
        let mut page = page_of(rows, limit, CursorList::Approvals, |a| &a.id);
        attach_decisions(&mut tx, &mut page.items).await?;
        tx.commit().await?;
        Ok(page)
    }

    pub(super) async fn requests_page(
        &self,
        q: &RequestQuery,
    ) -> Result<Page<RequestSummary>, StoreError> {
        let limit = q.limit.max(1);
        let before = cursor_id(q.cursor.as_ref(), CursorList::Requests)?;
        // The action: kept by pruning, else read from the intent (a column that is not JSON
        // reads as none rather than failing the whole page).
        let mut sql = QueryBuilder::<Sqlite>::new(
            "SELECT id, created_at, updated_at, status, caller, dry_run, pruned_at,
                    COALESCE(kept_action,
                             CASE WHEN json_valid(intent) THEN json_extract(intent, '$.action') END)
                        AS action
             FROM requests WHERE 1 = 1",
        );
        if let Some(status) = q.status {
            sql.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(caller) = &q.caller {
            sql.push(" AND caller = ").push_bind(caller);
        }
        if let Some(before) = before {
            sql.push(" AND id < ").push_bind(before);
        }
        sql.push(" ORDER BY id DESC LIMIT ").push_bind(probe(limit));
        let rows: Vec<RequestSummary> = sql.build_query_as().fetch_all(&self.pool).await?;
        Ok(page_of(rows, limit, CursorList::Requests, |r| &r.id))
    }
}
