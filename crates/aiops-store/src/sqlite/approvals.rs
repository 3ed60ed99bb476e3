//! Approvals: persisting what `aiops_core::approval` decides, with compare-and-set state
//! changes so that concurrent deciders, workers and replicas never both win.

use aiops_core::approval::{self, ApprovalView, Ballot, Transition};
use aiops_core::{ApprovalState, RequestStatus};
use serde_json::json;
use sqlx::SqliteConnection;

use super::SqliteStore;
use super::requests::{append, apply_update};
use super::rows::{load_approval, load_approvals, request_of};
use crate::audit::approval_event;
use crate::clock::rfc3339_ms;
use crate::{
    ApprovalQuery, ApprovalRecord, ApprovalStore, AuditEvent, Change, DecisionOutcome, NewApproval,
    NewDecision, Page, RequestStore, RequestUpdate, StoreError, now_rfc3339,
};

/// Compare-and-set of an approval's state: `Conflict` if it was not in `from`, or if
/// `from → to` is not a transition of the state machine.
pub(super) async fn set_approval_state(
    conn: &mut SqliteConnection,
    id: &str,
    from: ApprovalState,
    to: ApprovalState,
    reason: Option<&str>,
) -> Result<(), StoreError> {
    if !approval::can_transition(from, to) {
        return Err(StoreError::Conflict(format!(
            "approval {id} cannot move from {from} to {to}"
        )));
    }
    let done = sqlx::query(
        "UPDATE approvals SET state = $3, reason = COALESCE($4, reason), updated_at = $5,
                update_pending = 1
         WHERE id = $1 AND state = $2",
    )
    .bind(id)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(reason)
    .bind(now_rfc3339())
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!("approval {id} is not {from}")))
    }
}

/// `pending → expired`; the request fails with `approval_expired`.
/// Inserts a pending approval, links it to its request and sets the request pending, with
/// `event`. Call only inside a write transaction.
pub(super) async fn insert_approval(
    conn: &mut SqliteConnection,
    a: &NewApproval,
    update: &RequestUpdate,
    event: &AuditEvent,
) -> Result<(), StoreError> {
    let now = now_rfc3339();
    sqlx::query(
        "INSERT INTO approvals (id, request_id, plan_hash, state, requester, approvals_required,
                                created_at, expires_at, updated_at, expires_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7, $9)",
    )
    .bind(&a.id)
    .bind(&a.request_id)
    .bind(&a.plan_hash)
    .bind(ApprovalState::Pending.as_str())
    .bind(&a.requester)
    .bind(i64::from(a.approvals_required))
    .bind(&now)
    .bind(&a.expires_at)
    .bind(rfc3339_ms(&a.expires_at)?)
    .execute(&mut *conn)
    .await?;
    let update = RequestUpdate {
        approval_id: Some(a.id.clone()),
        status: Some(RequestStatus::PendingApproval),
        ..update.clone()
    };
    apply_update(conn, &a.request_id, &update).await?;
    append(conn, event).await
}

async fn expire_one(conn: &mut SqliteConnection, a: &ApprovalRecord) -> Result<(), StoreError> {
    set_approval_state(
        conn,
        &a.id,
        ApprovalState::Pending,
        ApprovalState::Expired,
        Some("no decision before the deadline"),
    )
    .await?;
    apply_update(
        conn,
        &a.request_id,
        &RequestUpdate {
            status: Some(RequestStatus::Failed),
            error: Some(json!({"code": "approval_expired", "message": format!("the approval expired at {}", a.expires_at)})),
            ..Default::default()
        },
    )
    .await?;
    append(
        conn,
        &approval_event(
            &a.request_id,
            "expired",
            json!({"approval_id": a.id, "expires_at": a.expires_at}),
        ),
    )
    .await
}

/// Records `d` on pending approval `a`, which `decide` moved to `to`.
async fn record(
    conn: &mut SqliteConnection,
    a: &ApprovalRecord,
    d: &NewDecision,
    to: ApprovalState,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO approval_decisions (approval_id, approver, decision, channel, reason, at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&a.id)
    .bind(&d.approver)
    .bind(d.verdict.as_str())
    .bind(d.channel.as_str())
    .bind(d.reason.as_deref())
    .bind(now_rfc3339())
    .execute(&mut *conn)
    .await?;
    if to != a.state {
        let reason = (to == ApprovalState::Rejected)
            .then_some(d.reason.as_deref())
            .flatten();
        set_approval_state(conn, &a.id, a.state, to, reason).await?;
    }
    if to == ApprovalState::Rejected {
        let message = format!(
            "rejected by {} via {}{}",
            d.approver,
            d.channel,
            d.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        );
        apply_update(
            conn,
            &a.request_id,
            &RequestUpdate {
                status: Some(RequestStatus::Denied),
                error: Some(json!({"code": "approval_rejected", "message": message})),
                ..Default::default()
            },
        )
        .await?;
    }
    let outcome = match to {
        ApprovalState::Pending => "approval_recorded",
        other => other.as_str(),
    };
    append(
        conn,
        &approval_event(
            &a.request_id,
            outcome,
            json!({"approval_id": a.id, "by": d.approver, "channel": d.channel,
                   "decision": d.verdict, "reason": d.reason}),
        )
        .by(aiops_core::Actor {
            user: d.approver.clone(),
            auth: d.auth,
        }),
    )
    .await
}

impl SqliteStore {
    /// Loads the approval, asks `aiops_core::approval::decide`, persists its answer.
    async fn decide(&self, d: &NewDecision) -> Result<DecisionOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        let Some(a) = load_approval(&mut tx, &d.approval_id).await? else {
            return Err(StoreError::NotFound(format!("approval {}", d.approval_id)));
        };
        let expires_at_ms: i64 =
            sqlx::query_scalar("SELECT expires_at_ms FROM approvals WHERE id = $1")
                .bind(&a.id)
                .fetch_one(&mut *tx)
                .await?;
        let view = ApprovalView {
            state: a.state,
            requester: &a.requester,
            approvals_required: a.approvals_required,
            expires_at_ms,
            ballots: a
                .decisions
                .iter()
                .map(|x| Ballot {
                    approver: &x.approver,
                    verdict: x.decision,
                })
                .collect(),
        };
        let expired = match approval::decide(&view, &d.approver, d.verdict, d.now_ms) {
            Transition::Unchanged => return Ok(DecisionOutcome::Unchanged { approval: a }),
            Transition::Refused(_) => return Ok(DecisionOutcome::Closed { approval: a }),
            Transition::Expire => {
                expire_one(&mut tx, &a).await?;
                true
            }
            Transition::Record { to } => {
                record(&mut tx, &a, d, to).await?;
                false
            }
        };
        tx.commit().await?;
        let approval = self
            .get_approval(&a.id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("approval {}", a.id)))?;
        Ok(if expired {
            DecisionOutcome::Expired { approval }
        } else {
            DecisionOutcome::Recorded { approval }
        })
    }
}

#[async_trait::async_trait]
impl ApprovalStore for SqliteStore {
    async fn create_approval(
        &self,
        approval: &NewApproval,
        update: RequestUpdate,
        event: AuditEvent,
    ) -> Result<(), StoreError> {
        self.commit(vec![Change::CreateApproval(
            approval.clone(),
            update,
            event,
        )])
        .await
    }

    async fn get_approval(&self, id: &str) -> Result<Option<ApprovalRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        load_approval(&mut conn, id).await
    }

    async fn list_approvals(
        &self,
        query: &ApprovalQuery,
    ) -> Result<Page<ApprovalRecord>, StoreError> {
        self.approvals_page(query).await
    }

    async fn decide_approval(&self, d: &NewDecision) -> Result<DecisionOutcome, StoreError> {
        self.decide(d).await
    }

    async fn claim_approved(&self) -> Result<Option<ApprovalRecord>, StoreError> {
        let mut tx = self.begin_write().await?;
        let id: Option<String> = sqlx::query_scalar(
            "SELECT id FROM approvals WHERE state = $1 ORDER BY updated_at, id LIMIT 1",
        )
        .bind(ApprovalState::Approved.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            return Ok(None);
        };
        set_approval_state(
            &mut tx,
            &id,
            ApprovalState::Approved,
            ApprovalState::Executing,
            None,
        )
        .await?;
        let a = load_approval(&mut tx, &id)
            .await?
            .ok_or_else(|| StoreError::NotFound(id.clone()))?;
        append(
            &mut tx,
            &approval_event(&a.request_id, "executing", json!({"approval_id": id})),
        )
        .await?;
        tx.commit().await?;
        Ok(Some(a))
    }

    async fn finish_approval(
        &self,
        id: &str,
        state: ApprovalState,
        reason: Option<String>,
        update: RequestUpdate,
        event: AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let request_id = request_of(&mut tx, id).await?;
        set_approval_state(
            &mut tx,
            id,
            ApprovalState::Executing,
            state,
            reason.as_deref(),
        )
        .await?;
        apply_update(&mut tx, &request_id, &update).await?;
        append(&mut tx, &event).await?;
        tx.commit().await
    }

    async fn expire_due(&self, now_ms: i64) -> Result<Vec<ApprovalRecord>, StoreError> {
        let mut tx = self.begin_write().await?;
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM approvals WHERE state = $1 AND expires_at_ms <= $2")
                .bind(ApprovalState::Pending.as_str())
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
}
