//! Requests and the hash-chained audit log: appending a row (always inside the write
//! transaction of the change it records), verifying the chain, failing requests a restart
//! interrupted before they executed, and listing the executions it interrupted (the daemon
//! reconciles those against the world).

use aiops_core::{ApprovalState, RequestStatus};
use serde_json::{Value, json};
use sqlx::{Row, SqliteConnection};

use super::SqliteStore;
use super::approvals::{insert_approval, set_approval_state};
use crate::audit::{GENESIS_HASH, HashedRow, approval_event, event_hash};
use crate::chain::AuditRow;
use crate::{
    AuditEvent, AuditRecord, ChainReport, Change, NewRequest, QuarantineRecord, RequestRecord,
    RequestStore, RequestUpdate, StoreError, now_rfc3339,
};
use aiops_core::VerifyMode;

/// Appends `event` to the chain. Call only inside a write transaction: it reads the head and
/// writes the next row.
pub(super) async fn append(
    conn: &mut SqliteConnection,
    event: &AuditEvent,
) -> Result<(), StoreError> {
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await?;
    let (prev_seq, prev_hash): (i64, String) = match head {
        Some(row) => (row.try_get("seq")?, row.try_get("hash")?),
        None => (0, GENESIS_HASH.to_string()),
    };
    let seq = prev_seq + 1;
    let at = now_rfc3339();
    let data = aiops_core::canonical_json(&event.data);
    let actor = aiops_core::canonical_json(&json!(event.actor));
    let hash = event_hash(HashedRow {
        prev_hash: &prev_hash,
        seq,
        at: &at,
        request_id: event.request_id.as_deref(),
        stage: &event.stage,
        outcome: &event.outcome,
        data: &data,
        actor: &actor,
    });
    sqlx::query(
        "INSERT INTO audit_events (seq, at, request_id, stage, outcome, data, actor, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(seq)
    .bind(&at)
    .bind(event.request_id.as_deref())
    .bind(&event.stage)
    .bind(&event.outcome)
    .bind(&data)
    .bind(&actor)
    .bind(&prev_hash)
    .bind(&hash)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, $1, $2)
         ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
    )
    .bind(seq)
    .bind(&hash)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Applies the set fields of `u` to request `id`; `NotFound` if there is no such request.
pub(super) async fn apply_update(
    conn: &mut SqliteConnection,
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
    .bind(u.status.map(RequestStatus::as_str))
    .bind(json(&u.intent))
    .bind(json(&u.decision))
    .bind(json(&u.plan))
    .bind(u.approval_id.as_deref())
    .bind(json(&u.execution))
    .bind(json(&u.error))
    .bind(json(&u.context))
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("request {id}")));
    }
    Ok(())
}

/// Applies one change of a run. Call only inside a write transaction.
pub(super) async fn apply(conn: &mut SqliteConnection, change: &Change) -> Result<(), StoreError> {
    match change {
        Change::CreateRequest(req, event) => insert_request(conn, req, event).await,
        Change::Update(id, update, event) => update_request_in(conn, id, update, event).await,
        Change::CreateApproval(approval, update, event) => {
            insert_approval(conn, approval, update, event).await
        }
        Change::Append(event) => append(conn, event).await,
    }
}

async fn insert_request(
    conn: &mut SqliteConnection,
    req: &NewRequest,
    event: &AuditEvent,
) -> Result<(), StoreError> {
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
    .bind(RequestStatus::Received.as_str())
    .execute(&mut *conn)
    .await?;
    append(conn, event).await
}

/// The request's new state, its event, its quarantined answers and its approval's end.
async fn update_request_in(
    conn: &mut SqliteConnection,
    id: &str,
    update: &RequestUpdate,
    event: &AuditEvent,
) -> Result<(), StoreError> {
    apply_update(conn, id, update).await?;
    append(conn, event).await?;
    for q in &update.quarantine {
        sqlx::query(
            "INSERT INTO quarantine (at, request_id, parser, model, prompt_revision, reason, detail, raw_output)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(now_rfc3339())
        .bind(id)
        .bind(q.parser.as_str())
        .bind(&q.model)
        .bind(&q.prompt_revision)
        .bind(q.reason.as_str())
        .bind(&q.detail)
        .bind(&q.raw_output)
        .execute(&mut *conn)
        .await?;
    }
    if let Some(end) = &update.approval_end {
        set_approval_state(
            conn,
            &end.approval_id,
            ApprovalState::Executing,
            end.to,
            end.reason.as_deref(),
        )
        .await?;
        append(
            conn,
            &approval_event(
                id,
                end.to.as_str(),
                json!({"approval_id": end.approval_id, "reason": end.reason}),
            ),
        )
        .await?;
    }
    Ok(())
}

impl SqliteStore {
    /// Fails every request in `status` as `interrupted` with `message`; returns their ids.
    async fn fail_all_in(
        &self,
        status: RequestStatus,
        message: &str,
    ) -> Result<Vec<String>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM requests WHERE status = $1")
            .bind(status.as_str())
            .fetch_all(&self.pool)
            .await?;
        let error = json!({"code": "interrupted", "message": message});
        for id in &ids {
            self.update_request(
                id,
                RequestUpdate {
                    status: Some(RequestStatus::Failed),
                    error: Some(error.clone()),
                    ..Default::default()
                },
                AuditEvent::new(Some(id), "recover", "failed", error.clone()),
            )
            .await?;
        }
        Ok(ids)
    }

    /// Fails approvals caught `executing` whose request had not started executing (the
    /// worker was re-planning it): nothing ran, and they are never run again. An approval
    /// whose request was executing stays `executing`: it ends with its request when the
    /// daemon reconciles the execution.
    async fn fail_interrupted_approvals(&self) -> Result<(), StoreError> {
        const REASON: &str = "interrupted by a restart";
        let mut tx = self.begin_write().await?;
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT a.id, a.request_id FROM approvals a JOIN requests r ON r.id = a.request_id
             WHERE a.state = $1 AND r.status != $2 ORDER BY a.id",
        )
        .bind(ApprovalState::Executing.as_str())
        .bind(RequestStatus::Executing.as_str())
        .fetch_all(&mut *tx)
        .await?;
        for (id, request_id) in &rows {
            set_approval_state(
                &mut tx,
                id,
                ApprovalState::Executing,
                ApprovalState::Failed,
                Some(REASON),
            )
            .await?;
            // Interrupted while re-planning: the request never reached `executing`.
            sqlx::query(
                "UPDATE requests SET status = $2, updated_at = $3, error = $4
                 WHERE id = $1 AND status = $5",
            )
            .bind(request_id)
            .bind(RequestStatus::Failed.as_str())
            .bind(now_rfc3339())
            .bind(json!({"code": "interrupted", "message": "the daemon stopped while this approved request was being prepared; it was not retried"}).to_string())
            .bind(RequestStatus::PendingApproval.as_str())
            .execute(&mut *tx)
            .await?;
            append(
                &mut tx,
                &approval_event(
                    request_id,
                    "failed",
                    json!({"approval_id": id, "reason": REASON}),
                ),
            )
            .await?;
        }
        tx.commit().await
    }
}

#[async_trait::async_trait]
impl RequestStore for SqliteStore {
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

    async fn commit(&self, changes: Vec<Change>) -> Result<(), StoreError> {
        self.group_commit(changes).await
    }

    fn commit_stats(&self) -> crate::CommitStats {
        SqliteStore::commit_stats(self)
    }

    async fn create_request(&self, req: &NewRequest, event: AuditEvent) -> Result<(), StoreError> {
        self.commit(vec![Change::CreateRequest(req.clone(), event)])
            .await
    }

    async fn update_request(
        &self,
        id: &str,
        update: RequestUpdate,
        event: AuditEvent,
    ) -> Result<(), StoreError> {
        self.commit(vec![Change::Update(id.to_string(), update, event)])
            .await
    }

    async fn get_request(&self, id: &str) -> Result<Option<RequestRecord>, StoreError> {
        Ok(
            sqlx::query_as::<_, RequestRecord>("SELECT * FROM requests WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn events_for(&self, request_id: &str) -> Result<Vec<AuditRecord>, StoreError> {
        let rows: Vec<AuditRow> =
            sqlx::query_as("SELECT * FROM audit_events WHERE request_id = $1 ORDER BY seq")
                .bind(request_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(AuditRecord::from).collect())
    }

    async fn list_quarantine(
        &self,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<QuarantineRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM quarantine WHERE id < $1 ORDER BY id DESC LIMIT $2")
            .bind(before_id.unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(quarantine_from_row).collect()
    }

    async fn list_requests(
        &self,
        query: &crate::RequestQuery,
    ) -> Result<crate::Page<crate::RequestSummary>, StoreError> {
        self.requests_page(query).await
    }

    async fn prune_payloads(
        &self,
        before_ms: i64,
        limit: u32,
    ) -> Result<crate::PruneReport, StoreError> {
        self.prune(before_ms, limit).await
    }

    async fn append_event(&self, event: AuditEvent) -> Result<(), StoreError> {
        self.commit(vec![Change::Append(event)]).await
    }

    async fn verify_chain(&self) -> Result<ChainReport, StoreError> {
        self.verify(VerifyMode::Full).await
    }

    async fn verify_incremental(&self) -> Result<ChainReport, StoreError> {
        self.verify(VerifyMode::Incremental).await
    }

    async fn fail_interrupted(&self) -> Result<Vec<String>, StoreError> {
        self.fail_interrupted_approvals().await?;
        // Stopped before executing: nothing changed. Requests stopped while executing are
        // left for the daemon to reconcile (`interrupted_executions`).
        self.fail_all_in(
            RequestStatus::Received,
            "the daemon stopped before this request was executed; nothing was changed",
        )
        .await
    }

    async fn interrupted_executions(&self) -> Result<Vec<RequestRecord>, StoreError> {
        Ok(sqlx::query_as::<_, RequestRecord>(
            "SELECT * FROM requests WHERE status = $1 ORDER BY created_at, id",
        )
        .bind(RequestStatus::Executing.as_str())
        .fetch_all(&self.pool)
        .await?)
    }
}

fn quarantine_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<QuarantineRecord, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("quarantine.{what}"));
    let parser: String = row.try_get("parser")?;
    let reason: String = row.try_get("reason")?;
    Ok(QuarantineRecord {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        request_id: row.try_get("request_id")?,
        entry: aiops_core::Quarantined {
            parser: parser.parse().map_err(|_| corrupt("parser"))?,
            model: row.try_get("model")?,
            prompt_revision: row.try_get("prompt_revision")?,
            raw_output: row.try_get("raw_output")?,
            reason: reason.parse().map_err(|_| corrupt("reason"))?,
            detail: row.try_get("detail")?,
        },
    })
}
