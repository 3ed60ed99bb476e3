//! Copying a SQLite store into an empty Postgres store (`aiopsd migrate`): requests,
//! approvals and their decisions, quarantined answers, the audit rows with their hashes and
//! exact text unchanged, the chain's head and its checkpoints. One transaction: the target
//! is refused unless it is empty, the copied chain is walked inside the transaction before
//! it commits (a copy that does not verify is never left behind), and it is verified again
//! through the store afterwards. Slack replay signatures are not copied: they guard a
//! five-minute window, long past once the daemon was stopped to migrate.
//!
//! Requests the source left in flight (`received`, `executing`) arrive without an owner:
//! the first replica to serve takes them over, as a restart of the SQLite daemon would
//! have settled them.

use futures_util::TryStreamExt;
use serde::Serialize;
use sqlx::{PgConnection, Postgres, QueryBuilder, SqliteConnection};

use super::PostgresStore;
use crate::audit::GENESIS_HASH;
use crate::chain::{AuditRow, Walk};
use crate::{ChainReport, RequestStore, SqliteStore, StoreError, VerifyMode};

/// Rows per multi-row INSERT (Postgres takes at most 65535 parameters per statement).
const BATCH: usize = 1000;

/// What [`PostgresStore::import_sqlite`] copied, and the chain as the target verified it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportReport {
    pub requests: u64,
    pub approvals: u64,
    pub decisions: u64,
    pub quarantine: u64,
    pub audit_events: u64,
    pub checkpoints: u64,
    /// The full verification of the copied chain in Postgres.
    pub chain: ChainReport,
}

#[derive(sqlx::FromRow)]
struct RequestRow {
    id: String,
    created_at: String,
    updated_at: String,
    nl: String,
    dry_run: bool,
    caller: String,
    status: String,
    intent: Option<String>,
    decision: Option<String>,
    plan: Option<String>,
    approval_id: Option<String>,
    execution: Option<String>,
    error: Option<String>,
    context: Option<String>,
    pruned_at: Option<String>,
    kept_action: Option<String>,
    kept_plan_hash: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ApprovalRow {
    id: String,
    request_id: String,
    plan_hash: String,
    state: String,
    requester: String,
    approvals_required: i64,
    created_at: String,
    expires_at: String,
    updated_at: String,
    expires_at_ms: i64,
    reason: Option<String>,
    slack_channel: Option<String>,
    slack_ts: Option<String>,
    notify_state: String,
    notify_attempts: i64,
    notify_next_ms: i64,
    update_pending: bool,
}

#[derive(sqlx::FromRow)]
struct DecisionRow {
    approval_id: String,
    approver: String,
    decision: String,
    channel: String,
    reason: Option<String>,
    at: String,
}

#[derive(sqlx::FromRow)]
struct QuarantineRow {
    id: i64,
    at: String,
    request_id: Option<String>,
    parser: String,
    model: String,
    prompt_revision: String,
    reason: String,
    detail: String,
    raw_output: String,
}

/// Streams `sql`'s rows from SQLite and inserts them into Postgres `BATCH` at a time with
/// `insert` (the INSERT's head) and `push` (one row's values). Returns how many.
async fn copy<T, F>(
    from: &mut SqliteConnection,
    to: &mut PgConnection,
    sql: &str,
    insert: &str,
    mut push: F,
) -> Result<u64, StoreError>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + Send + Unpin,
    F: FnMut(sqlx::query_builder::Separated<'_, '_, Postgres, &'static str>, T),
{
    let mut rows = sqlx::query_as::<_, T>(sql).fetch(&mut *from);
    let mut batch = Vec::with_capacity(BATCH);
    let mut n = 0u64;
    loop {
        let next = rows.try_next().await?;
        let done = next.is_none();
        batch.extend(next);
        if batch.len() == BATCH || (done && !batch.is_empty()) {
            n += batch.len() as u64;
            let mut q = QueryBuilder::<Postgres>::new(insert);
            q.push_values(batch.drain(..), &mut push);
            q.build().execute(&mut *to).await?;
        }
        if done {
            return Ok(n);
        }
    }
}

impl PostgresStore {
    /// Copies `from` into this store, which must be empty (see the module docs).
    pub async fn import_sqlite(&self, from: &SqliteStore) -> Result<ImportReport, StoreError> {
        let mut tx = self.begin_write().await?;
        // Large stores take longer than an ordinary statement may.
        sqlx::query("SET LOCAL statement_timeout = 0")
            .execute(&mut *tx)
            .await?;
        let used: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM requests) OR EXISTS (SELECT 1 FROM approvals)
                 OR EXISTS (SELECT 1 FROM audit_events) OR EXISTS (SELECT 1 FROM quarantine)",
        )
        .fetch_one(&mut *tx)
        .await?;
        if used || tx.head.0 != 0 {
            return Err(StoreError::Conflict(
                "the target database already holds a store; migrate only into an empty one".into(),
            ));
        }
        // One read snapshot of the source (WAL): a consistent copy even if it were written.
        let mut src = from.pool().begin().await?;
        let requests = copy::<RequestRow, _>(
            &mut src,
            &mut tx,
            "SELECT * FROM requests ORDER BY id",
            "INSERT INTO requests (id, created_at, updated_at, nl, dry_run, caller, status, intent,
                 decision, plan, approval_id, execution, error, context, pruned_at, kept_action,
                 kept_plan_hash) ",
            |mut b, r| {
                b.push_bind(r.id)
                    .push_bind(r.created_at)
                    .push_bind(r.updated_at)
                    .push_bind(r.nl)
                    .push_bind(r.dry_run)
                    .push_bind(r.caller)
                    .push_bind(r.status);
                for json in [r.intent, r.decision, r.plan] {
                    b.push_bind(json).push_unseparated("::json");
                }
                b.push_bind(r.approval_id);
                for json in [r.execution, r.error, r.context] {
                    b.push_bind(json).push_unseparated("::json");
                }
                b.push_bind(r.pruned_at)
                    .push_bind(r.kept_action)
                    .push_bind(r.kept_plan_hash);
            },
        )
        .await?;
        let approvals = copy::<ApprovalRow, _>(
            &mut src,
            &mut tx,
            "SELECT * FROM approvals ORDER BY id",
            "INSERT INTO approvals (id, request_id, plan_hash, state, requester,
                 approvals_required, created_at, expires_at, updated_at, expires_at_ms, reason,
                 slack_channel, slack_ts, notify_state, notify_attempts, notify_next_ms,
                 update_pending) ",
            |mut b, a| {
                b.push_bind(a.id)
                    .push_bind(a.request_id)
                    .push_bind(a.plan_hash)
                    .push_bind(a.state)
                    .push_bind(a.requester)
                    .push_bind(a.approvals_required)
                    .push_bind(a.created_at)
                    .push_bind(a.expires_at)
                    .push_bind(a.updated_at)
                    .push_bind(a.expires_at_ms)
                    .push_bind(a.reason)
                    .push_bind(a.slack_channel)
                    .push_bind(a.slack_ts)
                    .push_bind(a.notify_state)
                    .push_bind(i32::try_from(a.notify_attempts).unwrap_or(i32::MAX))
                    .push_bind(a.notify_next_ms)
                    .push_bind(a.update_pending);
            },
        )
        .await?;
        let decisions = copy::<DecisionRow, _>(
            &mut src,
            &mut tx,
            "SELECT * FROM approval_decisions ORDER BY approval_id, approver",
            "INSERT INTO approval_decisions (approval_id, approver, decision, channel, reason, at) ",
            |mut b, d| {
                b.push_bind(d.approval_id)
                    .push_bind(d.approver)
                    .push_bind(d.decision)
                    .push_bind(d.channel)
                    .push_bind(d.reason)
                    .push_bind(d.at);
            },
        )
        .await?;
        let quarantine = copy::<QuarantineRow, _>(
            &mut src,
            &mut tx,
            "SELECT * FROM quarantine ORDER BY id",
            "INSERT INTO quarantine (id, at, request_id, parser, model, prompt_revision, reason,
                 detail, raw_output) ",
            |mut b, q| {
                b.push_bind(q.id)
                    .push_bind(q.at)
                    .push_bind(q.request_id)
                    .push_bind(q.parser)
                    .push_bind(q.model)
                    .push_bind(q.prompt_revision)
                    .push_bind(q.reason)
                    .push_bind(q.detail)
                    .push_bind(q.raw_output);
            },
        )
        .await?;
        // New quarantine rows continue after the copied ids.
        sqlx::query(
            "SELECT setval(pg_get_serial_sequence('quarantine', 'id'),
                           GREATEST((SELECT max(id) FROM quarantine), 1),
                           (SELECT max(id) FROM quarantine) IS NOT NULL)",
        )
        .execute(&mut *tx)
        .await?;
        let audit_events = copy::<AuditRow, _>(
            &mut src,
            &mut tx,
            "SELECT * FROM audit_events ORDER BY seq",
            "INSERT INTO audit_events (seq, at, request_id, stage, outcome, data, actor,
                 prev_hash, hash) ",
            |mut b, e| {
                b.push_bind(e.seq)
                    .push_bind(e.at)
                    .push_bind(e.request_id)
                    .push_bind(e.stage)
                    .push_bind(e.outcome)
                    .push_bind(e.data)
                    .push_bind(e.actor)
                    .push_bind(e.prev_hash)
                    .push_bind(e.hash);
            },
        )
        .await?;
        let checkpoints = copy::<(i64, String, String, String), _>(
            &mut src,
            &mut tx,
            "SELECT seq, hash, at, mode FROM audit_checkpoints ORDER BY seq",
            "INSERT INTO audit_checkpoints (seq, hash, at, mode) ",
            |mut b, (seq, hash, at, mode)| {
                b.push_bind(seq)
                    .push_bind(hash)
                    .push_bind(at)
                    .push_bind(mode);
            },
        )
        .await?;
        let head: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
                .fetch_optional(&mut *src)
                .await?;
        src.commit().await?;
        // The head as the source recorded it (never recomputed: a truncated source must
        // show as one in the target too). The transaction writes it at commit.
        tx.head = head.unwrap_or((0, GENESIS_HASH.to_string()));
        tx.appended = true;

        // Walk the copy before committing it: a copy that does not verify is not kept.
        let copied = {
            let mut walk = Walk::new(VerifyMode::Full, 0, GENESIS_HASH.into());
            let mut rows = sqlx::query_as::<_, AuditRow>("SELECT * FROM audit_events ORDER BY seq")
                .fetch(&mut *tx);
            let mut bad = None;
            while let Some(row) = rows.try_next().await? {
                if let Err(report) = walk.step(row) {
                    bad = Some(report);
                    break;
                }
            }
            drop(rows);
            bad.unwrap_or_else(|| walk.finish(Some(tx.head.clone())))
        };
        if !copied.ok {
            return Err(StoreError::Corrupt(format!(
                "the source's audit chain does not verify (row {:?}: {}); nothing was copied",
                copied.first_bad_seq,
                copied.reason.unwrap_or_default()
            )));
        }
        tx.commit().await?;
        let chain = self.verify_chain().await?;
        Ok(ImportReport {
            requests,
            approvals,
            decisions,
            quarantine,
            audit_events,
            checkpoints,
            chain,
        })
    }
}
