//! Payload retention on Postgres: the same pass as the SQLite store's (final requests that
//! last changed before the cutoff lose their payload and keep their action, plan hash and
//! error code; one transaction and one `retention`/`pruned` event per batch; audit rows are
//! never touched).

use aiops_core::{RequestStatus, StageName};
use serde_json::json;
use sqlx::{Postgres, QueryBuilder};
use strum::VariantArray;

use super::PostgresStore;
use super::requests::append;
use crate::clock::rfc3339_of;
use crate::{AuditEvent, PRUNED_MESSAGE, PruneReport, StoreError, now_rfc3339};

impl PostgresStore {
    pub(super) async fn prune(
        &self,
        before_ms: i64,
        limit: u32,
    ) -> Result<PruneReport, StoreError> {
        let cutoff = rfc3339_of(before_ms)?;
        // As in SQLite: stored timestamps drop trailing zeros of the fraction, so text order
        // (byte order, COLLATE "C") is time order only between different seconds. The index
        // scans up to the second after the cutoff's, and the cast decides within it.
        let scan_below = rfc3339_of((before_ms.div_euclid(1000) + 1).saturating_mul(1000))?;
        let mut sql = QueryBuilder::<Postgres>::new("UPDATE requests SET pruned_at = ");
        sql.push_bind(now_rfc3339())
            .push(
                ", kept_action = COALESCE(kept_action, intent ->> 'action'),
                   kept_plan_hash = COALESCE(kept_plan_hash, plan ->> 'hash'),
                   error = CASE WHEN error IS NOT NULL
                     THEN json_build_object('code', error -> 'code', 'message', ",
            )
            .push_bind(PRUNED_MESSAGE)
            .push(
                "::text) END,
                   nl = '', intent = NULL, decision = NULL, plan = NULL, execution = NULL,
                   context = NULL
                 WHERE id IN (
                   SELECT id FROM requests
                   WHERE pruned_at IS NULL AND updated_at < ",
            )
            .push_bind(scan_below)
            .push(" AND updated_at::timestamptz < ")
            .push_bind(&cutoff)
            .push("::timestamptz")
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
