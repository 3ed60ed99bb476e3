use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};
use tokio::sync::Mutex;

use crate::audit::{AuditEvent, AuditRecord, ChainReport, GENESIS_HASH, event_hash};
use crate::{
    ApprovalRecord, NewApproval, NewRequest, RequestRecord, RequestUpdate, Store, StoreError,
    now_rfc3339, status,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The embedded store: one SQLite file (WAL, synchronous=FULL so an acknowledged request
/// survives power loss too).
pub struct SqliteStore {
    pool: SqlitePool,
    /// Appending to the chain reads the head and writes the next row; SQLite has one writer
    /// anyway, so serialising here avoids busy-retries on the lock upgrade.
    chain: Mutex<()>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and runs migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        Self::connect(options).await
    }

    /// Opens a `sqlite:` URL (e.g. `sqlite::memory:` in tests).
    pub async fn open_url(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(e.to_string()))?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        Self::connect(options).await
    }

    async fn connect(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(SqliteStore {
            pool,
            chain: Mutex::new(()),
        })
    }

    /// For tests that tamper with rows on purpose.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn append(
        tx: &mut Transaction<'_, Sqlite>,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_optional(&mut **tx)
            .await?;
        let (prev_seq, prev_hash): (i64, String) = match head {
            Some(row) => (row.try_get("seq")?, row.try_get("hash")?),
            None => (0, GENESIS_HASH.to_string()),
        };
        let seq = prev_seq + 1;
        let at = now_rfc3339();
        let data = aiops_core::canonical_json(&event.data);
        let hash = event_hash(
            &prev_hash,
            seq,
            &at,
            event.request_id.as_deref(),
            &event.stage,
            &event.outcome,
            &data,
        );
        sqlx::query(
            "INSERT INTO audit_events (seq, at, request_id, stage, outcome, data, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(seq)
        .bind(&at)
        .bind(event.request_id.as_deref())
        .bind(&event.stage)
        .bind(&event.outcome)
        .bind(&data)
        .bind(&prev_hash)
        .bind(&hash)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO audit_head (id, seq, hash) VALUES (1, $1, $2)
             ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        )
        .bind(seq)
        .bind(&hash)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn apply_update(
        tx: &mut Transaction<'_, Sqlite>,
        id: &str,
        u: &RequestUpdate,
    ) -> Result<(), StoreError> {
        let json = |v: &Option<Value>| v.as_ref().map(|v| v.to_string());
        let done = sqlx::query(
            "UPDATE requests SET
                updated_at  = $2,
                status      = COALESCE($3, status),
                intent      = COALESCE($4, intent),
                decision    = COALESCE($5, decision),
                plan        = COALESCE($6, plan),
                approval_id = COALESCE($7, approval_id),
                execution   = COALESCE($8, execution),
                error       = COALESCE($9, error),
                context     = COALESCE($10, context)
             WHERE id = $1",
        )
        .bind(id)
        .bind(now_rfc3339())
        .bind(u.status)
        .bind(json(&u.intent))
        .bind(json(&u.decision))
        .bind(json(&u.plan))
        .bind(u.approval_id.as_deref())
        .bind(json(&u.execution))
        .bind(json(&u.error))
        .bind(json(&u.context))
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("request {id}")));
        }
        Ok(())
    }
}

fn json_col(row: &sqlx::sqlite::SqliteRow, col: &str) -> Result<Option<Value>, StoreError> {
    let text: Option<String> = row.try_get(col)?;
    text.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("{col}: {e}"))))
        .transpose()
}

fn request_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<RequestRecord, StoreError> {
    Ok(RequestRecord {
        id: row.try_get("id")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        nl: row.try_get("nl")?,
        dry_run: row.try_get("dry_run")?,
        caller: row.try_get("caller")?,
        status: row.try_get("status")?,
        intent: json_col(row, "intent")?,
        decision: json_col(row, "decision")?,
        plan: json_col(row, "plan")?,
        approval_id: row.try_get("approval_id")?,
        execution: json_col(row, "execution")?,
        error: json_col(row, "error")?,
        context: json_col(row, "context")?,
    })
}

fn audit_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<(AuditRecord, String), StoreError> {
    let data_text: String = row.try_get("data")?;
    let data = serde_json::from_str(&data_text).unwrap_or(Value::String(data_text.clone()));
    Ok((
        AuditRecord {
            seq: row.try_get("seq")?,
            at: row.try_get("at")?,
            request_id: row.try_get("request_id")?,
            stage: row.try_get("stage")?,
            outcome: row.try_get("outcome")?,
            data,
            prev_hash: row.try_get("prev_hash")?,
            hash: row.try_get("hash")?,
        },
        data_text,
    ))
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(())
    }

    async fn create_request(&self, req: &NewRequest, event: AuditEvent) -> Result<(), StoreError> {
        let _chain = self.chain.lock().await;
        let mut tx = self.pool.begin().await?;
        let now = now_rfc3339();
        sqlx::query(
            "INSERT INTO requests (id, created_at, updated_at, nl, dry_run, caller, status)
             VALUES ($1, $2, $2, $3, $4, $5, $6)",
        )
        .bind(&req.id)
        .bind(&now)
        .bind(&req.nl)
        .bind(req.dry_run)
        .bind(&req.caller)
        .bind(status::RECEIVED)
        .execute(&mut *tx)
        .await?;
        Self::append(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_request(
        &self,
        id: &str,
        update: RequestUpdate,
        event: AuditEvent,
    ) -> Result<(), StoreError> {
        let _chain = self.chain.lock().await;
        let mut tx = self.pool.begin().await?;
        Self::apply_update(&mut tx, id, &update).await?;
        Self::append(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_approval(
        &self,
        a: &NewApproval,
        mut update: RequestUpdate,
        event: AuditEvent,
    ) -> Result<(), StoreError> {
        let _chain = self.chain.lock().await;
        let mut tx = self.pool.begin().await?;
        let now = now_rfc3339();
        sqlx::query(
            "INSERT INTO approvals (id, request_id, plan_hash, state, requester, approvals_required,
                                    created_at, expires_at, updated_at)
             VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $6)",
        )
        .bind(&a.id)
        .bind(&a.request_id)
        .bind(&a.plan_hash)
        .bind(&a.requester)
        .bind(i64::from(a.approvals_required))
        .bind(&now)
        .bind(&a.expires_at)
        .execute(&mut *tx)
        .await?;
        update.approval_id = Some(a.id.clone());
        update.status = Some(status::PENDING_APPROVAL);
        Self::apply_update(&mut tx, &a.request_id, &update).await?;
        Self::append(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_request(&self, id: &str) -> Result<Option<RequestRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM requests WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(request_from_row).transpose()
    }

    async fn get_approval(&self, id: &str) -> Result<Option<ApprovalRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM approvals WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| -> Result<ApprovalRecord, StoreError> {
            let required: i64 = r.try_get("approvals_required")?;
            Ok(ApprovalRecord {
                id: r.try_get("id")?,
                request_id: r.try_get("request_id")?,
                plan_hash: r.try_get("plan_hash")?,
                state: r.try_get("state")?,
                requester: r.try_get("requester")?,
                approvals_required: u32::try_from(required)
                    .map_err(|_| StoreError::Corrupt("approvals_required".into()))?,
                created_at: r.try_get("created_at")?,
                expires_at: r.try_get("expires_at")?,
                updated_at: r.try_get("updated_at")?,
            })
        })
        .transpose()
    }

    async fn events_for(&self, request_id: &str) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM audit_events WHERE request_id = $1 ORDER BY seq")
            .bind(request_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| audit_from_row(r).map(|(a, _)| a))
            .collect()
    }

    async fn append_event(&self, event: AuditEvent) -> Result<(), StoreError> {
        let _chain = self.chain.lock().await;
        let mut tx = self.pool.begin().await?;
        Self::append(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn verify_chain(&self) -> Result<ChainReport, StoreError> {
        // Hold the chain lock so the head and the rows are read as one consistent picture.
        let _chain = self.chain.lock().await;
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query("SELECT * FROM audit_events ORDER BY seq")
            .fetch_all(&mut *tx)
            .await?;
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        let bad = |seq: i64, events: u64, head: &str, reason: String| ChainReport {
            ok: false,
            events,
            head: head.to_string(),
            first_bad_seq: Some(seq),
            reason: Some(reason),
        };
        let mut prev = GENESIS_HASH.to_string();
        let mut expected_seq = 1i64;
        let mut count = 0u64;
        for row in &rows {
            let (rec, data_text) = audit_from_row(row)?;
            if rec.seq != expected_seq {
                return Ok(bad(
                    expected_seq,
                    count,
                    &prev,
                    format!("row {expected_seq} is missing (next row is {})", rec.seq),
                ));
            }
            if rec.prev_hash != prev {
                return Ok(bad(
                    rec.seq,
                    count,
                    &prev,
                    "prev_hash does not match the previous row".into(),
                ));
            }
            let recomputed = event_hash(
                &rec.prev_hash,
                rec.seq,
                &rec.at,
                rec.request_id.as_deref(),
                &rec.stage,
                &rec.outcome,
                &data_text,
            );
            if recomputed != rec.hash {
                return Ok(bad(
                    rec.seq,
                    count,
                    &prev,
                    "row content does not match its hash".into(),
                ));
            }
            prev = rec.hash;
            expected_seq += 1;
            count += 1;
        }
        let (head_seq, head_hash): (i64, String) = match head {
            Some(r) => (r.try_get("seq")?, r.try_get("hash")?),
            None => (0, GENESIS_HASH.to_string()),
        };
        if head_seq != expected_seq - 1 || head_hash != prev {
            return Ok(bad(
                expected_seq,
                count,
                &prev,
                format!(
                    "chain ends at row {} but the head says row {head_seq}",
                    expected_seq - 1
                ),
            ));
        }
        Ok(ChainReport {
            ok: true,
            events: count,
            head: prev,
            first_bad_seq: None,
            reason: None,
        })
    }

    async fn fail_interrupted(&self) -> Result<Vec<String>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM requests WHERE status = $1")
            .bind(status::EXECUTING)
            .fetch_all(&self.pool)
            .await?;
        for id in &ids {
            let error = serde_json::json!({
                "code": "interrupted",
                "message": "the daemon stopped while this request was executing; it was not retried because the change may already have happened",
            });
            self.update_request(
                id,
                RequestUpdate {
                    status: Some(status::FAILED),
                    error: Some(error.clone()),
                    ..Default::default()
                },
                AuditEvent::new(Some(id), "recover", "failed", error),
            )
            .await?;
        }
        Ok(ids)
    }
}
