//! Verifying the audit chain, fully or from the latest checkpoint, streaming the rows (a
//! chain of millions of rows is never held in memory), and recording a checkpoint when a
//! verification succeeds.

use futures_util::TryStreamExt;
use sqlx::SqliteConnection;

use super::SqliteStore;
use super::rows::AuditRow;
use crate::audit::{GENESIS_HASH, HashedRow, event_hash};
use crate::{ChainReport, StoreError, now_rfc3339};
use aiops_core::VerifyMode;

/// Recomputes rows one after another from a known point.
struct Walk {
    mode: VerifyMode,
    from_seq: i64,
    prev: String,
    expected_seq: i64,
    checked: u64,
}

impl Walk {
    fn new(mode: VerifyMode, from_seq: i64, from_hash: String) -> Self {
        Walk {
            mode,
            from_seq,
            prev: from_hash,
            expected_seq: from_seq + 1,
            checked: 0,
        }
    }

    fn report(&self, bad: Option<(i64, String)>) -> ChainReport {
        let (first_bad_seq, reason) = bad.unzip();
        ChainReport {
            ok: first_bad_seq.is_none(),
            events: u64::try_from(self.expected_seq - 1).unwrap_or(0),
            head: self.prev.clone(),
            first_bad_seq,
            reason,
            mode: self.mode,
            from_seq: self.from_seq,
            checked: self.checked,
        }
    }

    /// The next row: `Err` is the report of the first bad one.
    fn step(&mut self, row: AuditRow) -> Result<(), ChainReport> {
        if row.seq != self.expected_seq {
            let reason = format!(
                "row {} is missing (next row is {})",
                self.expected_seq, row.seq
            );
            return Err(self.report(Some((self.expected_seq, reason))));
        }
        if row.prev_hash != self.prev {
            let reason = "prev_hash does not match the previous row".to_string();
            return Err(self.report(Some((row.seq, reason))));
        }
        let recomputed = event_hash(HashedRow {
            prev_hash: &row.prev_hash,
            seq: row.seq,
            at: &row.at,
            request_id: row.request_id.as_deref(),
            stage: &row.stage,
            outcome: &row.outcome,
            data: &row.data,
            actor: &row.actor,
        });
        if recomputed != row.hash {
            let reason = "row content does not match its hash".to_string();
            return Err(self.report(Some((row.seq, reason))));
        }
        self.prev = row.hash;
        self.expected_seq += 1;
        self.checked += 1;
        Ok(())
    }

    /// The end of the rows: the head row must name the last one.
    fn finish(self, head: Option<(i64, String)>) -> ChainReport {
        let (head_seq, head_hash) = head.unwrap_or((0, GENESIS_HASH.to_string()));
        let last = self.expected_seq - 1;
        if head_seq != last || head_hash != self.prev {
            let reason = format!("chain ends at row {last} but the head says row {head_seq}");
            return self.report(Some((self.expected_seq, reason)));
        }
        self.report(None)
    }
}

/// Walks the rows after `walk`'s start and the head, in one read snapshot.
async fn walk_rows(conn: &mut SqliteConnection, mut walk: Walk) -> Result<ChainReport, StoreError> {
    {
        let mut rows =
            sqlx::query_as::<_, AuditRow>("SELECT * FROM audit_events WHERE seq > $1 ORDER BY seq")
                .bind(walk.from_seq)
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
