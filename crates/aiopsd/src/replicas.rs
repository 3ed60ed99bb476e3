//! Several replicas on one shared store (Postgres): each holds a lease in the store and
//! owns the requests it runs (`aiops_store::Replicas`). Two tasks per serving replica:
//!
//! - **the heartbeat** renews the lease every third of its time to live. A renewal that
//!   finds the lease gone means another replica presumed this one dead and took its work
//!   over: it can write nothing more (the store refuses), so the server stops with the
//!   error, to be restarted as a new replica. A renewal that fails because the database is
//!   down is retried; the lease may expire meanwhile, which is the same case once the
//!   database is back and another replica took over.
//! - **the takeover** settles, every half time to live, what replicas whose lease expired
//!   left (`recovery::settle`): requests they accepted but never executed fail as
//!   `interrupted`, approvals they were re-planning fail, and executions they were in the
//!   middle of are reconciled against the world by this replica, never run again. The
//!   store's takeover is one transaction under the chain's lock, so exactly one replica
//!   adopts each request.
//!
//! With SQLite (not shared: one serving process per file) neither runs; leftovers are
//! settled once at start-up.

use std::time::Duration;

use aiops_store::StoreError;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::AppState;
use crate::serve::stopped;

/// Starts the heartbeat and the takeover for a shared store; `None` for one that is not.
/// The heartbeat's task ends with the lost lease's error (and `lost` fires) or `Ok` at
/// shutdown.
pub fn spawn(
    state: &AppState,
    stop: watch::Receiver<bool>,
    lost: oneshot::Sender<()>,
) -> Option<JoinHandle<Result<(), StoreError>>> {
    let ttl = state.store.lease_ttl()?;
    tokio::spawn(takeover(state.clone(), ttl / 2, stop.clone()));
    Some(tokio::spawn(heartbeat(state.clone(), ttl / 3, stop, lost)))
}

async fn heartbeat(
    state: AppState,
    every: Duration,
    mut stop: watch::Receiver<bool>,
    lost: oneshot::Sender<()>,
) -> Result<(), StoreError> {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stopped(&mut stop) => return Ok(()),
        }
        match state.store.renew_lease().await {
            Ok(()) => {}
            Err(e @ StoreError::LeaseLost(_)) => {
                tracing::error!(error = %e, "this replica's lease was taken over by another replica; stopping");
                let _ = lost.send(());
                return Err(e);
            }
            Err(e) => {
                tracing::warn!(error = %e, "renewing this replica's lease failed; retrying");
            }
        }
    }
}

async fn takeover(state: AppState, every: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stopped(&mut stop) => return,
        }
        if let Err(e) = crate::recovery::settle(&state).await {
            tracing::warn!(error = %e, "taking over the work of dead replicas failed; retrying");
        }
    }
}
