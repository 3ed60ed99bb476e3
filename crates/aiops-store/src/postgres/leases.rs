//! Replica leases and taking over what dead replicas left.
//!
//! A lease is a row (`replica_leases`) with an expiry in the database's clock, renewed by
//! the daemon's heartbeat ([`crate::Replicas::renew_lease`]). A replica owns the requests it
//! accepted and the approvals it claimed (`requests.owner`). Any replica, periodically,
//! takes over the requests whose owner has no lease any more: it deletes expired leases and,
//! in the same transaction (under the chain's head lock, so no write of the dead replica can
//! interleave), fails what never executed and adopts what was executing, for the daemon to
//! reconcile against the world. A replica that was only paused finds its lease gone and can
//! write nothing more (`PostgresStore::begin_write`).

use std::sync::atomic::Ordering;
use std::time::Duration;

use aiops_core::{ApprovalState, RequestStatus};
use serde_json::json;
use sqlx::PgPool;

use super::approvals::set_approval_state;
use super::requests::{append, apply_update};
use super::{PostgresStore, WriteTx};
use crate::audit::approval_event;
use crate::{AuditEvent, RequestUpdate, StoreError, now_rfc3339};

/// A request's owner has no lease: it died (its lease expired and was taken over), or the
/// request never had an owner (copied from SQLite). `r` is the request's alias.
const ORPHANED: &str = "NOT EXISTS (SELECT 1 FROM replica_leases l WHERE l.replica_id = r.owner)";

/// Who holds a lease: the host and process, for an operator reading the table.
fn holder() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    format!("{host} pid {}", std::process::id())
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub(super) async fn register(
    pool: &PgPool,
    replica: &str,
    ttl: Duration,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO replica_leases (replica_id, holder, started_at, expires_at)
         VALUES ($1, $2, clock_timestamp(), clock_timestamp() + make_interval(secs => $3::float8 / 1000))",
    )
    .bind(replica)
    .bind(holder())
    .bind(millis(ttl) as f64)
    .execute(pool)
    .await?;
    Ok(())
}

impl PostgresStore {
    pub(super) async fn renew(&self) -> Result<(), StoreError> {
        if self.lost.load(Ordering::Relaxed) {
            return Err(self.lease_lost());
        }
        let done = sqlx::query(
            "UPDATE replica_leases
             SET expires_at = clock_timestamp() + make_interval(secs => $2::float8 / 1000)
             WHERE replica_id = $1",
        )
        .bind(&self.replica)
        .bind(millis(self.options.lease_ttl) as f64)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            self.lost.store(true, Ordering::Relaxed);
            return Err(self.lease_lost());
        }
        Ok(())
    }

    /// Is there anything to take over? A read without the head lock, so that the periodic
    /// check costs the writers nothing when every replica is alive.
    async fn anything_orphaned(&self) -> Result<bool, StoreError> {
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM replica_leases
                            WHERE replica_id <> $1 AND expires_at < clock_timestamp())
                 OR EXISTS (SELECT 1 FROM requests r
                            WHERE r.status IN ($2, $3) AND r.owner IS DISTINCT FROM $1 AND {ORPHANED})
                 OR EXISTS (SELECT 1 FROM approvals a JOIN requests r ON r.id = a.request_id
                            WHERE a.state = $4 AND r.owner IS DISTINCT FROM $1 AND {ORPHANED})"
        );
        Ok(sqlx::query_scalar(&sql)
            .bind(&self.replica)
            .bind(RequestStatus::Received.as_str())
            .bind(RequestStatus::Executing.as_str())
            .bind(ApprovalState::Executing.as_str())
            .fetch_one(&self.pool)
            .await?)
    }

    /// Takes over the requests of replicas whose lease expired (see the module docs):
    /// fails those that never executed and the approvals that were being re-planned,
    /// adopts the executions for reconciliation. Returns the failed requests' ids.
    pub(super) async fn take_over(&self) -> Result<Vec<String>, StoreError> {
        if !self.anything_orphaned().await? {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        let dead: Vec<String> = sqlx::query_scalar(
            "DELETE FROM replica_leases WHERE replica_id <> $1 AND expires_at < clock_timestamp()
             RETURNING replica_id",
        )
        .bind(&self.replica)
        .fetch_all(&mut *tx)
        .await?;
        fail_replanning_approvals(&mut tx).await?;
        let failed = fail_received(&mut tx, &self.replica).await?;
        let adopted: Vec<String> = sqlx::query_scalar(&format!(
            "UPDATE requests r SET owner = $1, adopted = TRUE
             WHERE r.status = $2 AND {ORPHANED} RETURNING r.id"
        ))
        .bind(&self.replica)
        .bind(RequestStatus::Executing.as_str())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        if !dead.is_empty() || !failed.is_empty() || !adopted.is_empty() {
            tracing::warn!(
                replica = %self.replica,
                expired = ?dead,
                failed = ?failed,
                adopted = ?adopted,
                "took over the requests of replicas whose lease expired"
            );
        }
        Ok(failed)
    }
}

/// Approvals caught `executing` while the dead worker was re-planning (their request never
/// reached `executing`): failed, never re-run (as `SqliteStore::fail_interrupted`).
async fn fail_replanning_approvals(tx: &mut WriteTx) -> Result<(), StoreError> {
    const REASON: &str = "interrupted by a restart";
    let rows: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT a.id, a.request_id FROM approvals a JOIN requests r ON r.id = a.request_id
         WHERE a.state = $1 AND r.status <> $2 AND {ORPHANED} ORDER BY a.id"
    ))
    .bind(ApprovalState::Executing.as_str())
    .bind(RequestStatus::Executing.as_str())
    .fetch_all(&mut **tx)
    .await?;
    for (id, request_id) in &rows {
        set_approval_state(
            tx,
            id,
            ApprovalState::Executing,
            ApprovalState::Failed,
            Some(REASON),
        )
        .await?;
        sqlx::query(
            "UPDATE requests SET status = $2, updated_at = $3, error = $4::json
             WHERE id = $1 AND status = $5",
        )
        .bind(request_id)
        .bind(RequestStatus::Failed.as_str())
        .bind(now_rfc3339())
        .bind(json!({"code": "interrupted", "message": "the daemon stopped while this approved request was being prepared; it was not retried"}).to_string())
        .bind(RequestStatus::PendingApproval.as_str())
        .execute(&mut **tx)
        .await?;
        append(
            tx,
            &approval_event(
                request_id,
                "failed",
                json!({"approval_id": id, "reason": REASON}),
            ),
        )
        .await?;
    }
    Ok(())
}

/// Requests a dead replica accepted but never executed: failed, nothing was changed.
async fn fail_received(tx: &mut WriteTx, replica: &str) -> Result<Vec<String>, StoreError> {
    let ids: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT r.id FROM requests r WHERE r.status = $1 AND {ORPHANED} ORDER BY r.id FOR UPDATE"
    ))
    .bind(RequestStatus::Received.as_str())
    .fetch_all(&mut **tx)
    .await?;
    let error = json!({"code": "interrupted", "message": "the daemon stopped before this request was executed; nothing was changed"});
    for id in &ids {
        apply_update(
            tx,
            id,
            &RequestUpdate {
                status: Some(RequestStatus::Failed),
                error: Some(error.clone()),
                ..Default::default()
            },
        )
        .await?;
        sqlx::query("UPDATE requests SET owner = $2 WHERE id = $1")
            .bind(id)
            .bind(replica)
            .execute(&mut **tx)
            .await?;
        append(
            tx,
            &AuditEvent::new(Some(id), "recover", "failed", error.clone()),
        )
        .await?;
    }
    Ok(ids)
}
