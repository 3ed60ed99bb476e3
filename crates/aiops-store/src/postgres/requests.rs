//! Requests and the hash-chained audit log on Postgres: appending a row (inside a write
//! transaction, from the head it locked), applying a run's changes, reading requests, and
//! the [`RequestStore`] of a replica.

use aiops_core::{ApprovalState, RequestStatus, VerifyMode};
use serde_json::{Value, json};
use sqlx::{PgConnection, Row};

use super::approvals::{insert_approval, set_approval_state};
use super::{PostgresStore, WriteTx};
use crate::audit::{HashedRow, approval_event, event_hash};
use crate::chain::AuditRow;
use crate::{
    AuditEvent, AuditRecord, ChainReport, Change, NewRequest, QuarantineRecord, RequestRecord,
    RequestStore, RequestUpdate, StoreError, now_rfc3339,
};

/// Appends `event` to the chain after the head `tx` holds.
pub(super) async fn append(tx: &mut WriteTx, event: &AuditEvent) -> Result<(), StoreError> {
    let (prev_seq, prev_hash) = tx.head.clone();
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
    .execute(&mut **tx)
    .await?;
    tx.head = (seq, hash);
    tx.appended = true;
    Ok(())
}

/// JSON documents are bound as text and cast (`$n::json`): the column keeps this exact text.
fn json_text(v: &Option<Value>) -> Option<String> {
    v.as_ref().map(Value::to_string)
}

/// Applies the set fields of `u` to request `id`; `NotFound` if there is no such request.
pub(super) async fn apply_update(
    conn: &mut PgConnection,
    id: &str,
    u: &RequestUpdate,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE requests SET
            updated_at  = $2,
            status      = COALESCE($3, status),
            intent      = COALESCE($4::json, intent),
            decision    = COALESCE($5::json, decision),
            plan        = COALESCE($6::json, plan),
            approval_id = COALESCE($7, approval_id),
            execution   = COALESCE($8::json, execution),
            error       = COALESCE($9::json, error),
            context     = COALESCE($10::json, context)
         WHERE id = $1",
    )
    .bind(id)
    .bind(now_rfc3339())
    .bind(u.status.map(RequestStatus::as_str))
    .bind(json_text(&u.intent))
    .bind(json_text(&u.decision))
    .bind(json_text(&u.plan))
    .bind(u.approval_id.as_deref())
    .bind(json_text(&u.execution))
    .bind(json_text(&u.error))
    .bind(json_text(&u.context))
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("request {id}")));
    }
    Ok(())
}

/// Applies one change of a run of replica `owner`.
async fn apply(tx: &mut WriteTx, owner: &str, change: &Change) -> Result<(), StoreError> {
    match change {
        Change::CreateRequest(req, event) => insert_request(tx, owner, req, event).await,
        Change::Update(id, update, event) => update_request_in(tx, id, update, event).await,
        Change::CreateApproval(approval, update, event) => {
            insert_approval(tx, approval, update, event).await
        }
        Change::Append(event) => append(tx, event).await,
    }
}

async fn insert_request(
    tx: &mut WriteTx,
    owner: &str,
    req: &NewRequest,
    event: &AuditEvent,
) -> Result<(), StoreError> {
    let now = now_rfc3339();
    sqlx::query(
        "INSERT INTO requests (id, created_at, updated_at, nl, dry_run, caller, status, owner)
         VALUES ($1, $2, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&req.id)
    .bind(&now)
    .bind(&req.nl)
    .bind(req.dry_run)
    .bind(&req.caller)
    .bind(RequestStatus::Received.as_str())
    .bind(owner)
    .execute(&mut **tx)
    .await?;
    append(tx, event).await
}

/// The request's new state, its event, its quarantined answers and its approval's end.
async fn update_request_in(
    tx: &mut WriteTx,
    id: &str,
    update: &RequestUpdate,
    event: &AuditEvent,
) -> Result<(), StoreError> {
    apply_update(tx, id, update).await?;
    append(tx, event).await?;
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
        .execute(&mut **tx)
        .await?;
    }
    if let Some(end) = &update.approval_end {
        set_approval_state(
            tx,
            &end.approval_id,
            ApprovalState::Executing,
            end.to,
            end.reason.as_deref(),
        )
        .await?;
        append(
            tx,
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

#[async_trait::async_trait]
impl RequestStore for PostgresStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        if self.lost.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(self.lease_lost());
        }
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(())
    }

    async fn commit(&self, changes: Vec<Change>) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for change in &changes {
            apply(&mut tx, &self.replica, change).await?;
        }
        tx.commit().await?;
        self.commits
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    fn commit_stats(&self) -> crate::CommitStats {
        PostgresStore::commit_stats(self)
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
        self.take_over().await
    }

    async fn interrupted_executions(&self) -> Result<Vec<RequestRecord>, StoreError> {
        Ok(sqlx::query_as::<_, RequestRecord>(
            "SELECT * FROM requests WHERE status = $1 AND owner = $2 AND adopted
             ORDER BY created_at, id",
        )
        .bind(RequestStatus::Executing.as_str())
        .bind(&self.replica)
        .fetch_all(&self.pool)
        .await?)
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
}

fn quarantine_from_row(row: &sqlx::postgres::PgRow) -> Result<QuarantineRecord, StoreError> {
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
