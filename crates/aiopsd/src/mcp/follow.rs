//! A change that waits for a human: when the client asked for progress (a `progressToken`
//! on its `tools/call`) the call stays open, each change of the request is sent as a
//! progress notification (waiting for approval, decided, executing, done), and the result is
//! the request's end. Without a token, or once `[mcp] approval_wait_secs` is over, or when
//! the client cancels, the call answers `pending_approval` at once as it always does, and
//! `get_request` tells the rest.

use std::time::Duration;

use aiops_api::{IntentRecord, IntentResponse};
use aiops_core::RequestStatus;
use rmcp::RoleServer;
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::{Peer, RequestContext};

use crate::AppState;

/// Follows `pending` until it ends or the wait is over: the request's record at its end, or
/// `None` (then the caller answers with `pending` itself).
pub(super) async fn follow(
    state: &AppState,
    ctx: &RequestContext<RoleServer>,
    pending: &IntentResponse,
) -> Option<IntentRecord> {
    let token = ctx.meta.get_progress_token()?;
    let limit = wait_limit(state);
    if limit.is_zero() {
        return None;
    }
    let approval = pending.approval.as_ref()?;
    let progress = Progress {
        peer: ctx.peer.clone(),
        token,
    };
    progress
        .send(
            0.0,
            format!(
                "request {} waits for approval {} ({} approver(s))",
                pending.id, approval.id, approval.approvals_required
            ),
        )
        .await;
    let tick = Duration::from_millis(state.config.approvals.worker_interval_ms.clamp(100, 1000));
    let deadline = tokio::time::Instant::now() + limit;
    let mut last = RequestStatus::PendingApproval;
    let mut step = 0.0;
    loop {
        tokio::select! {
            () = ctx.ct.cancelled() => return None,
            () = tokio::time::sleep_until(deadline) => return None,
            () = tokio::time::sleep(tick) => {}
        }
        let Ok(Some(record)) = crate::records::intent_record(state, &pending.id).await else {
            continue;
        };
        if record.status != last {
            last = record.status;
            step += 1.0;
            progress
                .send(step, format!("request {} is {}", pending.id, record.status))
                .await;
        }
        if record.status.is_terminal() {
            return Some(record);
        }
    }
}

/// How long a call may stay open: the configured wait, inside the API's request timeout
/// (which would otherwise answer 504 first).
fn wait_limit(state: &AppState) -> Duration {
    let api = state.config.api.request_timeout_secs.saturating_sub(5);
    Duration::from_secs(state.config.mcp.approval_wait_secs.min(api))
}

struct Progress {
    peer: Peer<RoleServer>,
    token: ProgressToken,
}

impl Progress {
    /// A notification the client may not get (it went away): the request goes on anyway.
    async fn send(&self, progress: f64, message: String) {
        let mut param = ProgressNotificationParam::new(self.token.clone(), progress);
        param.message = Some(message);
        if let Err(e) = self.peer.notify_progress(param).await {
            tracing::debug!(error = %e, "progress notification not delivered");
        }
    }
}
