use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};
use tokio::sync::Mutex;

use crate::audit::{AuditEvent, AuditRecord, ChainReport, GENESIS_HASH, event_hash};
use crate::{
    ApprovalRecord, DecisionOutcome, DecisionRecord, NewApproval, NewDecision, NewRequest,
    RequestRecord, RequestUpdate, SlackResult, Store, StoreError, Verdict, approval_state,
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
        if let Some(end) = &update.approval_end {
            set_approval_state(
                &mut tx,
                &end.approval_id,
                approval_state::EXECUTING,
                end.to,
                end.reason.as_deref(),
            )
            .await?;
            Self::append(
                &mut tx,
                &AuditEvent::new(
                    Some(id),
                    "approve",
                    end.to,
                    serde_json::json!({"approval_id": end.approval_id, "reason": end.reason}),
                ),
            )
            .await?;
        }
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
                                    created_at, expires_at, updated_at, expires_at_ms)
             VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $6, $8)",
        )
        .bind(&a.id)
        .bind(&a.request_id)
        .bind(&a.plan_hash)
        .bind(&a.requester)
        .bind(i64::from(a.approvals_required))
        .bind(&now)
        .bind(&a.expires_at)
        .bind(rfc3339_ms(&a.expires_at)?)
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
        let mut conn = self.pool.acquire().await?;
        load_approval(&mut conn, id).await
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

    async fn list_approvals(&self, state: Option<&str>) -> Result<Vec<ApprovalRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let ids: Vec<String> = match state {
            Some(st) => {
                sqlx::query_scalar(
                    "SELECT id FROM approvals WHERE state = $1 ORDER BY created_at, id",
                )
                .bind(st)
                .fetch_all(&mut *conn)
                .await?
            }
            None => {
                sqlx::query_scalar("SELECT id FROM approvals ORDER BY created_at, id")
                    .fetch_all(&mut *conn)
                    .await?
            }
        };
        load_approvals(&mut conn, ids).await
    }

    async fn decide_approval(&self, d: &NewDecision) -> Result<DecisionOutcome, StoreError> {
        self.decide(d).await
    }

    async fn claim_approved(&self) -> Result<Option<ApprovalRecord>, StoreError> {
        let _chain = self.chain.lock().await;
        let mut tx = self.pool.begin().await?;
        let id: Option<String> = sqlx::query_scalar(
            "SELECT id FROM approvals WHERE state = $1 ORDER BY updated_at, id LIMIT 1",
        )
        .bind(approval_state::APPROVED)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            return Ok(None);
        };
        set_approval_state(
            &mut tx,
            &id,
            approval_state::APPROVED,
            approval_state::EXECUTING,
            None,
        )
        .await?;
        let a = load_approval(&mut tx, &id)
            .await?
            .ok_or_else(|| StoreError::NotFound(id.clone()))?;
        Self::append(
            &mut tx,
            &AuditEvent::new(
                Some(&a.request_id),
                "approve",
                "executing",
                serde_json::json!({"approval_id": id}),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(Some(a))
    }

    async fn finish_approval(
        &self,
        id: &str,
        state: &'static str,
        reason: Option<String>,
        update: RequestUpdate,
        event: AuditEvent,
    ) -> Result<(), StoreError> {
        let _chain = self.chain.lock().await;
        let mut tx = self.pool.begin().await?;
        let request_id: String =
            sqlx::query_scalar("SELECT request_id FROM approvals WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        set_approval_state(
            &mut tx,
            id,
            approval_state::EXECUTING,
            state,
            reason.as_deref(),
        )
        .await?;
        Self::apply_update(&mut tx, &request_id, &update).await?;
        Self::append(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn expire_due(&self, now_ms: i64) -> Result<Vec<ApprovalRecord>, StoreError> {
        let _chain = self.chain.lock().await;
        let mut tx = self.pool.begin().await?;
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM approvals WHERE state = $1 AND expires_at_ms <= $2")
                .bind(approval_state::PENDING)
                .bind(now_ms)
                .fetch_all(&mut *tx)
                .await?;
        let due = load_approvals(&mut tx, ids).await?;
        for a in &due {
            expire_one(&mut tx, a).await?;
        }
        tx.commit().await?;
        Ok(due)
    }

    async fn slack_posts_due(&self, now_ms: i64) -> Result<Vec<ApprovalRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM approvals WHERE notify_state = 'pending' AND notify_next_ms <= $1
             ORDER BY created_at LIMIT 20",
        )
        .bind(now_ms)
        .fetch_all(&mut *conn)
        .await?;
        load_approvals(&mut conn, ids).await
    }

    async fn slack_updates_due(&self, now_ms: i64) -> Result<Vec<ApprovalRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM approvals WHERE notify_state = 'posted' AND update_pending = 1
             AND notify_next_ms <= $1 ORDER BY updated_at LIMIT 20",
        )
        .bind(now_ms)
        .fetch_all(&mut *conn)
        .await?;
        load_approvals(&mut conn, ids).await
    }

    async fn slack_result(&self, id: &str, result: SlackResult) -> Result<(), StoreError> {
        let _chain = self.chain.lock().await;
        let mut tx = self.pool.begin().await?;
        let request_id: String =
            sqlx::query_scalar("SELECT request_id FROM approvals WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        match result {
            SlackResult::Posted { channel, ts } => {
                sqlx::query(
                    "UPDATE approvals SET notify_state = 'posted', slack_channel = $2, slack_ts = $3,
                            notify_attempts = 0, notify_next_ms = 0
                     WHERE id = $1",
                )
                .bind(id)
                .bind(&channel)
                .bind(&ts)
                .execute(&mut *tx)
                .await?;
                Self::append(&mut tx, &AuditEvent::new(Some(&request_id), "approve", "notified",
                    serde_json::json!({"approval_id": id, "channel": "slack", "slack_channel": channel, "ts": ts}))).await?;
            }
            SlackResult::Updated => {
                sqlx::query(
                    "UPDATE approvals SET update_pending = 0, notify_attempts = 0, notify_next_ms = 0 WHERE id = $1",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            SlackResult::Failed { now_ms, error } => {
                sqlx::query(
                    "UPDATE approvals SET notify_next_ms = $2 + 1000 * (2 << MIN(notify_attempts, 8)),
                            notify_attempts = notify_attempts + 1
                     WHERE id = $1",
                )
                .bind(id)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
                tracing::warn!(approval_id = id, error = %error, "slack notification failed; will retry");
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn slack_nonce(
        &self,
        signature: &str,
        now_ms: i64,
        forget_before_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM slack_replays WHERE at_ms < $1")
            .bind(forget_before_ms)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("INSERT INTO slack_replays (signature, at_ms) VALUES ($1, $2) ON CONFLICT (signature) DO NOTHING")
            .bind(signature)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn fail_interrupted(&self) -> Result<Vec<String>, StoreError> {
        // An approval caught executing may or may not have changed anything: fail it, never
        // run it again. Its request is failed below with the other interrupted ones.
        {
            let _chain = self.chain.lock().await;
            let mut tx = self.pool.begin().await?;
            let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM approvals WHERE state = $1")
                .bind(approval_state::EXECUTING)
                .fetch_all(&mut *tx)
                .await?;
            for id in &ids {
                set_approval_state(
                    &mut tx,
                    id,
                    approval_state::EXECUTING,
                    approval_state::FAILED,
                    Some("interrupted by a restart"),
                )
                .await?;
                // Interrupted while re-planning: the request never reached `executing`.
                sqlx::query(
                    "UPDATE requests SET status = $2, updated_at = $3, error = $4
                     WHERE id = (SELECT request_id FROM approvals WHERE id = $1) AND status = $5",
                )
                .bind(id)
                .bind(status::FAILED)
                .bind(now_rfc3339())
                .bind(serde_json::json!({"code": "interrupted", "message": "the daemon stopped while this approved request was being prepared; it was not retried"}).to_string())
                .bind(status::PENDING_APPROVAL)
                .execute(&mut *tx)
                .await?;
                let request_id: Option<String> =
                    sqlx::query_scalar("SELECT request_id FROM approvals WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                Self::append(&mut tx, &AuditEvent::new(request_id.as_deref(), "approve", "failed", serde_json::json!({"approval_id": id, "reason": "interrupted by a restart"}))).await?;
            }
            tx.commit().await?;
        }
        // Stopped before executing: nothing changed. Stopped while executing: it may have,
        // so it is failed and never retried.
        let mut failed = self
            .fail_all_in(
                status::RECEIVED,
                "the daemon stopped before this request was executed; nothing was changed",
            )
            .await?;
        failed.extend(
            self.fail_all_in(
                status::EXECUTING,
                "the daemon stopped while this request was executing; it was not retried because the change may already have happened",
            )
            .await?,
        );
        Ok(failed)
    }
}

fn rfc3339_ms(text: &str) -> Result<i64, StoreError> {
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| StoreError::Query(format!("bad timestamp {text}: {e}")))?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| StoreError::Query(format!("timestamp out of range: {text}")))
}

async fn load_approval(
    conn: &mut sqlx::SqliteConnection,
    id: &str,
) -> Result<Option<ApprovalRecord>, StoreError> {
    let Some(r) = sqlx::query("SELECT * FROM approvals WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let decisions = sqlx::query(
        "SELECT approver, decision, channel, reason, at FROM approval_decisions
         WHERE approval_id = $1 ORDER BY at, approver",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|d| -> Result<DecisionRecord, StoreError> {
        Ok(DecisionRecord {
            approver: d.try_get("approver")?,
            decision: d.try_get("decision")?,
            channel: d.try_get("channel")?,
            reason: d.try_get("reason")?,
            at: d.try_get("at")?,
        })
    })
    .collect::<Result<Vec<_>, _>>()?;
    let required: i64 = r.try_get("approvals_required")?;
    Ok(Some(ApprovalRecord {
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
        reason: r.try_get("reason")?,
        decisions,
        slack_channel: r.try_get("slack_channel")?,
        slack_ts: r.try_get("slack_ts")?,
    }))
}

async fn load_approvals(
    conn: &mut sqlx::SqliteConnection,
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

/// Compare-and-set of an approval's state; `Conflict` if it was not in `from`.
async fn set_approval_state(
    tx: &mut Transaction<'_, Sqlite>,
    id: &str,
    from: &str,
    to: &str,
    reason: Option<&str>,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE approvals SET state = $3, reason = COALESCE($4, reason), updated_at = $5,
                update_pending = 1
         WHERE id = $1 AND state = $2",
    )
    .bind(id)
    .bind(from)
    .bind(to)
    .bind(reason)
    .bind(now_rfc3339())
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!("approval {id} is not {from}")))
    }
}

impl SqliteStore {
    /// Fails every request in `state` as `interrupted` with `message`; returns their ids.
    async fn fail_all_in(&self, state: &str, message: &str) -> Result<Vec<String>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM requests WHERE status = $1")
            .bind(state)
            .fetch_all(&self.pool)
            .await?;
        let error = serde_json::json!({"code": "interrupted", "message": message});
        for id in &ids {
            self.update_request(
                id,
                RequestUpdate {
                    status: Some(status::FAILED),
                    error: Some(error.clone()),
                    ..Default::default()
                },
                AuditEvent::new(Some(id), "recover", "failed", error.clone()),
            )
            .await?;
        }
        Ok(ids)
    }
}

impl SqliteStore {
    pub(crate) async fn decide(&self, d: &NewDecision) -> Result<DecisionOutcome, StoreError> {
        let _chain = self.chain.lock().await;
        let mut tx = self.pool.begin().await?;
        let Some(a) = load_approval(&mut tx, &d.approval_id).await? else {
            return Err(StoreError::NotFound(format!("approval {}", d.approval_id)));
        };
        let expires_ms: i64 =
            sqlx::query_scalar("SELECT expires_at_ms FROM approvals WHERE id = $1")
                .bind(&a.id)
                .fetch_one(&mut *tx)
                .await?;
        let same = a
            .decisions
            .iter()
            .find(|x| x.approver == d.approver)
            .cloned();
        if let Some(prev) = &same {
            // Idempotent: the same human clicking twice changes nothing, in any state.
            tx.commit().await?;
            return Ok(if prev.decision == d.verdict.as_str() {
                DecisionOutcome::Unchanged { approval: a }
            } else {
                DecisionOutcome::Closed { approval: a }
            });
        }
        if a.state != approval_state::PENDING {
            tx.commit().await?;
            return Ok(DecisionOutcome::Closed { approval: a });
        }
        if d.now_ms >= expires_ms {
            expire_one(&mut tx, &a).await?;
            tx.commit().await?;
            let approval = self.get_approval(&a.id).await?.unwrap_or(a);
            return Ok(DecisionOutcome::Expired { approval });
        }
        let at = now_rfc3339();
        sqlx::query(
            "INSERT INTO approval_decisions (approval_id, approver, decision, channel, reason, at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&a.id)
        .bind(&d.approver)
        .bind(d.verdict.as_str())
        .bind(&d.channel)
        .bind(d.reason.as_deref())
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        let event = |outcome: &str| {
            AuditEvent::new(
                Some(&a.request_id),
                "approve",
                outcome,
                serde_json::json!({"approval_id": a.id, "by": d.approver, "channel": d.channel,
                                   "decision": d.verdict.as_str(), "reason": d.reason}),
            )
        };
        match d.verdict {
            Verdict::Reject => {
                set_approval_state(
                    &mut tx,
                    &a.id,
                    approval_state::PENDING,
                    approval_state::REJECTED,
                    d.reason.as_deref(),
                )
                .await?;
                let message = format!(
                    "rejected by {} via {}{}",
                    d.approver,
                    d.channel,
                    d.reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                );
                Self::apply_update(
                    &mut tx,
                    &a.request_id,
                    &RequestUpdate {
                        status: Some(status::DENIED),
                        error: Some(
                            serde_json::json!({"code": "approval_rejected", "message": message}),
                        ),
                        ..Default::default()
                    },
                )
                .await?;
                Self::append(&mut tx, &event("rejected")).await?;
            }
            Verdict::Approve => {
                let approvers: i64 = sqlx::query_scalar(
                    "SELECT COUNT(DISTINCT approver) FROM approval_decisions
                     WHERE approval_id = $1 AND decision = 'approve'",
                )
                .bind(&a.id)
                .fetch_one(&mut *tx)
                .await?;
                if approvers >= i64::from(a.approvals_required) {
                    set_approval_state(
                        &mut tx,
                        &a.id,
                        approval_state::PENDING,
                        approval_state::APPROVED,
                        None,
                    )
                    .await?;
                    Self::append(&mut tx, &event("approved")).await?;
                } else {
                    Self::append(&mut tx, &event("approval_recorded")).await?;
                }
            }
        }
        tx.commit().await?;
        let approval = self
            .get_approval(&d.approval_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(d.approval_id.clone()))?;
        Ok(DecisionOutcome::Recorded { approval })
    }
}

async fn expire_one(
    tx: &mut Transaction<'_, Sqlite>,
    a: &ApprovalRecord,
) -> Result<(), StoreError> {
    set_approval_state(
        tx,
        &a.id,
        approval_state::PENDING,
        approval_state::EXPIRED,
        Some("no decision before the deadline"),
    )
    .await?;
    SqliteStore::apply_update(
        tx,
        &a.request_id,
        &RequestUpdate {
            status: Some(status::FAILED),
            error: Some(serde_json::json!({"code": "approval_expired", "message": format!("the approval expired at {}", a.expires_at)})),
            ..Default::default()
        },
    )
    .await?;
    SqliteStore::append(
        tx,
        &AuditEvent::new(
            Some(&a.request_id),
            "approve",
            "expired",
            serde_json::json!({"approval_id": a.id, "expires_at": a.expires_at}),
        ),
    )
    .await
}
