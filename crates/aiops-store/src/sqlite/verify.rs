//! Verifying the audit chain, fully or from the latest checkpoint, streaming the rows (a
//! chain of millions of rows is never held in memory), and recording a checkpoint when a
//! verification succeeds.

use futures_util::TryStreamExt;
use sqlx::SqliteConnection;

use super::SqliteStore;
use crate::audit::GENESIS_HASH;
use crate::chain::{AuditRow, Walk};
use crate::{ChainReport, StoreError, now_rfc3339};
use aiops_core::VerifyMode;

/// Walks the rows after `walk`'s start and the head, in one read snapshot.
async fn walk_rows(conn: &mut SqliteConnection, mut walk: Walk) -> Result<ChainReport, StoreError> {
    {
        let mut rows =
            sqlx::query_as::<_, AuditRow>("SELECT * FROM audit_events WHERE seq > $1 ORDER BY seq")
                .bind(walk.start_seq())
                .fetch(&mut *conn);
        while let Some(row) = rows.try_next().await? {
            if let Err(bad) = walk.step(row) {
                return Ok(bad);
            }
        }
    }
    let head: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_optional(&mut *conn)
            .await?;
    Ok(walk.finish(head))
}

impl SqliteStore {
    /// Verifies the chain in `mode`; records a checkpoint at the head when it verifies.
    /// Incremental without any checkpoint yet is a full verify.
    pub(super) async fn verify(&self, mode: VerifyMode) -> Result<ChainReport, StoreError> {
        // One read transaction: the rows and the head are one snapshot (WAL), without holding
        // up writers.
        let mut tx = self.pool.begin().await?;
        let checkpoint: Option<(i64, String)> = match mode {
            VerifyMode::Full => None,
            VerifyMode::Incremental => {
                sqlx::query_as("SELECT seq, hash FROM audit_checkpoints ORDER BY seq DESC LIMIT 1")
                    .fetch_optional(&mut *tx)
                    .await?
            }
        };
        let report = match checkpoint {
            None => walk_rows(&mut tx, Walk::new(VerifyMode::Full, 0, GENESIS_HASH.into())).await?,
            Some((seq, hash)) => {
                let stored: Option<String> =
                    sqlx::query_scalar("SELECT hash FROM audit_events WHERE seq = $1")
                        .bind(seq)
                        .fetch_optional(&mut *tx)
                        .await?;
                let walk = Walk::new(VerifyMode::Incremental, seq, hash.clone());
                if stored.as_deref() == Some(hash.as_str()) {
                    walk_rows(&mut tx, walk).await?
                } else {
                    let reason = format!(
                        "row {seq} no longer has the hash its checkpoint recorded: rows up to it were changed or removed (a full verify says where)"
                    );
                    ChainReport {
                        events: 0,
                        ..walk.report(Some((seq, reason)))
                    }
                }
            }
        };
        tx.commit().await?;
        if report.ok && report.events > 0 {
            self.record_checkpoint(&report).await?;
        }
        Ok(report)
    }

    /// Records that the chain verified up to its head (nothing if a checkpoint is there).
    async fn record_checkpoint(&self, report: &ChainReport) -> Result<(), StoreError> {
        let seq = i64::try_from(report.events)
            .map_err(|_| StoreError::Corrupt("audit chain length".into()))?;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO audit_checkpoints (seq, hash, at, mode) VALUES ($1, $2, $3, $4)
             ON CONFLICT (seq) DO NOTHING",
        )
        .bind(seq)
        .bind(&report.head)
        .bind(now_rfc3339())
        .bind(report.mode.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }
}
