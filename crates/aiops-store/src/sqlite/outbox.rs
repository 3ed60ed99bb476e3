//! The Slack outbox (a message per approval: posted once, updated after each state change,
//! retried with backoff) and the replay guard for signed Slack requests.

use serde_json::json;

use super::SqliteStore;
use super::requests::append;
use super::rows::{load_approvals, request_of};
use crate::audit::approval_event;
use crate::{ApprovalRecord, SlackOutbox, SlackResult, StoreError};

impl SqliteStore {
    /// The approvals `ids_sql` (one parameter: now in ms) selects, in its order.
    async fn approvals_due(
        &self,
        ids_sql: &'static str,
        now_ms: i64,
    ) -> Result<Vec<ApprovalRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let ids: Vec<String> = sqlx::query_scalar(ids_sql)
            .bind(now_ms)
            .fetch_all(&mut *conn)
            .await?;
        load_approvals(&mut conn, ids).await
    }
}

#[async_trait::async_trait]
impl SlackOutbox for SqliteStore {
    async fn slack_posts_due(&self, now_ms: i64) -> Result<Vec<ApprovalRecord>, StoreError> {
        self.approvals_due(
            "SELECT id FROM approvals WHERE notify_state = 'pending' AND notify_next_ms <= $1
             ORDER BY created_at LIMIT 20",
            now_ms,
        )
        .await
    }

    async fn slack_updates_due(&self, now_ms: i64) -> Result<Vec<ApprovalRecord>, StoreError> {
        self.approvals_due(
            "SELECT id FROM approvals WHERE notify_state = 'posted' AND update_pending = 1
             AND notify_next_ms <= $1 ORDER BY updated_at LIMIT 20",
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
        tx.commit().await
    }

    async fn slack_nonce(
        &self,
        signature: &str,
        now_ms: i64,
        forget_before_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM slack_replays WHERE at_ms < $1")
            .bind(forget_before_ms)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query(
            "INSERT INTO slack_replays (signature, at_ms) VALUES ($1, $2)
             ON CONFLICT (signature) DO NOTHING",
        )
        .bind(signature)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }
}
