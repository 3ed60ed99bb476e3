//! Payload retention: clearing what old, finished requests carried (the sentence, intent,
//! policy decision, plan and diff, executor output, retrieved context, the error's message),
//! keeping what lists and audit links need (id, status, caller, timestamps, dry_run, approval
//! id, action, plan hash, error code). One pass is one transaction on the one write path:
//! at most `limit` requests cleared and one `retention`/`pruned` audit event by the system,
//! so the chain records every pruning and a large backlog holds the writer for one bounded
//! batch at a time. Audit rows are never touched: the chain verifies as before.

use aiops_core::{RequestStatus, StageName};
use serde_json::json;
use sqlx::{QueryBuilder, Sqlite};
use strum::VariantArray;

use super::SqliteStore;
use super::requests::append;
use crate::PRUNED_MESSAGE;
use crate::clock::rfc3339_of;
use crate::{AuditEvent, PruneReport, StoreError, now_rfc3339};

impl SqliteStore {
    pub(super) async fn prune(
        &self,
        before_ms: i64,
        limit: u32,
    ) -> Result<PruneReport, StoreError> {
        let cutoff = rfc3339_of(before_ms)?;
        // Stored timestamps drop trailing zeros of the fraction, so text order is time order
        // only between different seconds: the index scans up to the second after the cutoff's
        // (every earlier time sorts below it), and `julianday` decides within that second.
        let scan_below = rfc3339_of((before_ms.div_euclid(1000) + 1).saturating_mul(1000))?;
        let mut sql = QueryBuilder::<Sqlite>::new("UPDATE requests SET pruned_at = ");
        sql.push_bind(now_rfc3339())
            .push(
                ", kept_action = COALESCE(kept_action,
                     CASE WHEN json_valid(intent) THEN json_extract(intent, '$.action') END),
                   kept_plan_hash = COALESCE(kept_plan_hash,
                     CASE WHEN json_valid(plan) THEN json_extract(plan, '$.hash') END),
                   error = CASE WHEN json_valid(error)
                     THEN json_object('code', json_extract(error, '$.code'), 'message', ",
            )
            .push_bind(PRUNED_MESSAGE)
            .push(
                ") END,
                   nl = '', intent = NULL, decision = NULL, plan = NULL, execution = NULL,
                   context = NULL
                 WHERE id IN (
                   -- The partial index of unpruned rows, named so that a pass never falls
                   -- back to the status index and walks the history it already pruned.
                   SELECT id FROM requests INDEXED BY requests_unpruned
                   WHERE pruned_at IS NULL AND updated_at < ",
            )
            .push_bind(scan_below)
            .push(" AND julianday(updated_at) < julianday(")
            .push_bind(&cutoff)
            .push(")")
            // Final statuses only: a request that can still move on keeps what it needs.
            .push(" AND status IN (");
        let mut finals = sql.separated(", ");
        for status in RequestStatus::VARIANTS.iter().filter(|s| s.is_terminal()) {
            finals.push_bind(status.as_str());
        }
        sql.push(") ORDER BY updated_at, id LIMIT ")
            .push_bind(i64::from(limit.max(1)))
            .push(") RETURNING id");
        let mut tx = self.begin_write().await?;
        let mut ids: Vec<String> = sql.build_query_scalar().fetch_all(&mut *tx).await?;
        ids.sort();
        let report = PruneReport {
            cutoff,
            count: ids.len() as u64,
            first_id: ids.first().cloned(),
            last_id: ids.last().cloned(),
        };
        // Nothing cleared, nothing recorded: an idle pass leaves no row in the chain.
        if report.count == 0 {
            return Ok(report);
        }
        let event = AuditEvent::new(None, StageName::Retention.as_str(), "pruned", json!(report));
        append(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(report)
    }
}
