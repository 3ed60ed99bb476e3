//! Group commit: one writer task applies the changes of concurrent commits in one
//! transaction, so they share one sync to disk. With `synchronous=FULL` every commit syncs
//! the WAL (milliseconds on ordinary disks) whatever the transaction holds, so requests
//! arriving together would otherwise queue behind one sync each.
//!
//! Callers send a [`Job`] on a bounded queue (a full queue makes them wait: backpressure,
//! not unbounded memory) and wait for its answer, which comes only after the transaction
//! holding it has committed. Each job runs under its own savepoint: one that fails (its
//! request is missing, an approval moved) is rolled back alone and the others still land.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::{Mutex, mpsc, oneshot};

use super::requests::apply;
use crate::{Change, CommitStats, StoreError};

/// Commits waiting for the writer; senders wait beyond this.
pub(super) const QUEUE: usize = 1024;
/// At most this many commits share one transaction: bounds how long the writer lock is held
/// and how much one failed sync costs.
const MAX_GROUP: usize = 128;

/// One commit: its changes and where its answer goes.
pub(super) struct Job {
    pub(super) changes: Vec<Change>,
    pub(super) reply: oneshot::Sender<Result<(), StoreError>>,
}

/// What the writer has committed so far.
#[derive(Debug, Default)]
pub(super) struct Counters {
    commits: AtomicU64,
    transactions: AtomicU64,
}

impl Counters {
    pub(super) fn stats(&self) -> CommitStats {
        CommitStats {
            commits: self.commits.load(Ordering::Relaxed),
            transactions: self.transactions.load(Ordering::Relaxed),
        }
    }
}

/// Starts the writer task; it ends when every sender is dropped and the queue is empty.
pub(super) fn spawn(
    pool: SqlitePool,
    writer: Arc<Mutex<()>>,
    counters: Arc<Counters>,
) -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel(QUEUE);
    tokio::spawn(run(pool, writer, counters, rx));
    tx
}

async fn run(
    pool: SqlitePool,
    writer: Arc<Mutex<()>>,
    counters: Arc<Counters>,
    mut rx: mpsc::Receiver<Job>,
) {
    let mut jobs = Vec::with_capacity(MAX_GROUP);
    while rx.recv_many(&mut jobs, MAX_GROUP).await > 0 {
        let results = commit_group(&pool, &writer, &jobs).await;
        let committed = results.iter().filter(|r| r.is_ok()).count() as u64;
        if committed > 0 {
            counters.commits.fetch_add(committed, Ordering::Relaxed);
            counters.transactions.fetch_add(1, Ordering::Relaxed);
        }
        for (job, result) in jobs.drain(..).zip(results) {
            // A caller that stopped waiting still had its changes committed (or not); the
            // answer just has nobody to go to.
            let _ = job.reply.send(result);
        }
    }
}

/// Applies every job in one transaction, each under a savepoint; one answer per job.
async fn commit_group(
    pool: &SqlitePool,
    writer: &Mutex<()>,
    jobs: &[Job],
) -> Vec<Result<(), StoreError>> {
    let all = |e: StoreError| jobs.iter().map(|_| Err(e.clone())).collect();
    // The process's one write path (see the module docs of `sqlite`).
    let _writer = writer.lock().await;
    let mut tx = match pool.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => tx,
        Err(e) => return all(e.into()),
    };
    let mut results = Vec::with_capacity(jobs.len());
    for job in jobs {
        match apply_job(&mut tx, &job.changes).await {
            Ok(result) => results.push(result),
            // The savepoint could not be rolled back: the transaction is in an unknown
            // state, so none of it may commit (dropping `tx` rolls it back).
            Err(e) => return all(e),
        }
    }
    match tx.commit().await {
        Ok(()) => results,
        Err(e) => {
            let e = StoreError::from(e);
            results.into_iter().map(|r| r.and(Err(e.clone()))).collect()
        }
    }
}

/// One job under its savepoint: `Ok(result)` is the job's own outcome; `Err` means the
/// transaction can no longer be trusted.
async fn apply_job(
    conn: &mut SqliteConnection,
    changes: &[Change],
) -> Result<Result<(), StoreError>, StoreError> {
    sqlx::query("SAVEPOINT job").execute(&mut *conn).await?;
    let mut outcome = Ok(());
    for change in changes {
        if let Err(e) = apply(conn, change).await {
            outcome = Err(e);
            break;
        }
    }
    if outcome.is_err() {
        sqlx::query("ROLLBACK TO SAVEPOINT job")
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("RELEASE SAVEPOINT job")
        .execute(&mut *conn)
        .await?;
    Ok(outcome)
}
