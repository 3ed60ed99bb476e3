//! The Slack outbox on Postgres, drained by one replica at a time, and the replay guard.
//!
//! Several replicas run the worker, so a message due to be posted must go to one of them:
//! taking the due approvals is a claim (`FOR UPDATE SKIP LOCKED`, then their next attempt
//! moved [`CLAIM_MS`] ahead in the same statement), a lease on each message. The claimant's
//! [`SlackResult`] sets the real next attempt; if it dies first, the message is due again
//! once the claim runs out, for any replica.

use serde_json::json;

use super::PostgresStore;
use super::requests::append;
use super::rows::{load_approvals, request_of};
use crate::audit::approval_event;
use crate::{ApprovalRecord, SlackOutbox, SlackResult, StoreError};

/// How long a claimed message is left to its claimant: longer than a drain of one batch
/// takes (each call is bounded by `slack.timeout_ms`).
const CLAIM_MS: i64 = 120_000;
/// Messages claimed per call (as the SQLite store's batch).
const BATCH: i64 = 20;

/// The order messages are taken in (as the SQLite store's).
#[derive(Clone, Copy)]
enum Order {
    /// New posts: oldest approval first.
    Created,
    /// Updates: least recently changed first.
    Updated,
}

impl Order {
    fn sql(self) -> &'static str {
        match self {
            Order::Created => "created_at, id",
            Order::Updated => "updated_at, id",
        }
    }

    fn key(self, a: &ApprovalRecord) -> (&str, &str) {
        match self {
            Order::Created => (&a.created_at, &a.id),
            Order::Updated => (&a.updated_at, &a.id),
        }
    }
}

impl PostgresStore {
    /// Claims the approvals `due` (a condition on `a`, with `$1` = now in ms) selects, in
    /// `order`, and returns them in that order.
    async fn claim_due(
        &self,
        due: &str,
        order: Order,
        now_ms: i64,
    ) -> Result<Vec<ApprovalRecord>, StoreError> {
        let sql = format!(
            "WITH due AS (
                 SELECT id FROM approvals a WHERE {due} ORDER BY {} LIMIT $2
                 FOR UPDATE SKIP LOCKED)
             UPDATE approvals a SET notify_next_ms = $1 + $3 FROM due WHERE a.id = due.id
             RETURNING a.id",
            order.sql()
        );
        let claimed: Vec<String> = sqlx::query_scalar(&sql)
            .bind(now_ms)
            .bind(BATCH)
            .bind(CLAIM_MS)
            .fetch_all(&self.pool)
            .await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.pool.acquire().await?;
        let mut approvals = load_approvals(&mut conn, claimed).await?;
        // RETURNING has no order.
        approvals.sort_by(|a, b| order.key(a).cmp(&order.key(b)));
        Ok(approvals)
    }
}

#[async_trait::async_trait]
impl SlackOutbox for PostgresStore {
    async fn slack_posts_due(&self, now_ms: i64) -> Result<Vec<ApprovalRecord>, StoreError> {
        self.claim_due(
            "a.notify_state = 'pending' AND a.notify_next_ms <= $1",
            Order::Created,
            now_ms,
        )
        .await
    }

    async fn slack_updates_due(&self, now_ms: i64) -> Result<Vec<ApprovalRecord>, StoreError> {
        self.claim_due(
            "a.notify_state = 'posted' AND a.update_pending AND a.notify_next_ms <= $1",
            Order::Updated,
            now_ms,
        )
        .await
    }

    async fn slack_result(&self, id: &str, result: SlackResult) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let request_id = request_of(&mut tx, id).await?;
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
                append(
                    &mut tx,
                    &approval_event(
                        &request_id,
                        "notified",
                        json!({"approval_id": id, "channel": "slack", "slack_channel": channel, "ts": ts}),
                    ),
                )
                .await?;
            }
            SlackResult::Updated => {
                sqlx::query(
                    "UPDATE approvals SET update_pending = FALSE, notify_attempts = 0, notify_next_ms = 0
                     WHERE id = $1",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            SlackResult::Failed { now_ms, error } => {
                // Backoff 2 s, 4 s, ... capped at 2^9 s (as the SQLite store).
                sqlx::query(
                    "UPDATE approvals SET notify_next_ms = $2 + 1000 * (2::bigint << LEAST(notify_attempts, 8)),
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
        tx.commit().await
    }

    async fn slack_nonce(
        &self,
        signature: &str,
        now_ms: i64,
        forget_before_ms: i64,
    ) -> Result<bool, StoreError> {
        // No chain row: the insert alone decides, atomically, across replicas.
        sqlx::query("DELETE FROM slack_replays WHERE at_ms < $1")
            .bind(forget_before_ms)
            .execute(&self.pool)
            .await?;
        let done = sqlx::query(
            "INSERT INTO slack_replays (signature, at_ms) VALUES ($1, $2)
             ON CONFLICT (signature) DO NOTHING",
        )
        .bind(signature)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
