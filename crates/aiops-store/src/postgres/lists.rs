//! Keyset-paged lists on Postgres (as the SQLite store's: an index ending in the id, a
//! range scan after the cursor's id, never OFFSET). Ids compare in byte order (`COLLATE
//! "C"`, migration 0001), as ULIDs sort.

use std::collections::HashMap;

use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::PostgresStore;
use crate::paging::{DecisionRow, cursor_id, page_of, probe};
use crate::{
    ApprovalQuery, ApprovalRecord, CursorList, DecisionRecord, Page, RequestQuery, RequestSummary,
    StoreError,
};

/// Fills in the decisions of `approvals` with one query (not one per approval).
async fn attach_decisions(
    conn: &mut PgConnection,
    approvals: &mut [ApprovalRecord],
) -> Result<(), StoreError> {
    if approvals.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = approvals.iter().map(|a| a.id.as_str()).collect();
    let rows: Vec<DecisionRow> = sqlx::query_as(
        "SELECT approval_id, approver, decision, channel, reason, at FROM approval_decisions
         WHERE approval_id = ANY($1) ORDER BY at, approver",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
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

impl PostgresStore {
    pub(super) async fn approvals_page(
        &self,
        q: &ApprovalQuery,
    ) -> Result<Page<ApprovalRecord>, StoreError> {
        let limit = q.limit.max(1);
        let after = cursor_id(q.after.as_ref(), CursorList::Approvals)?;
        let mut sql = QueryBuilder::<Postgres>::new("SELECT * FROM approvals WHERE TRUE");
        if let Some(state) = q.state {
            sql.push(" AND state = ").push_bind(state.as_str());
        }
        if let Some(after) = after {
            sql.push(" AND id > ").push_bind(after);
        }
        sql.push(" ORDER BY id LIMIT ").push_bind(probe(limit));
        // One snapshot: the approvals and their decisions.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
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
        // The action: kept by pruning, else read from the intent (`->>` answers NULL for a
        // document that is not an object).
        let mut sql = QueryBuilder::<Postgres>::new(
            "SELECT id, created_at, updated_at, status, caller, dry_run, pruned_at,
                    COALESCE(kept_action, intent ->> 'action') AS action
             FROM requests WHERE TRUE",
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
