//! The embedded store: one SQLite file (WAL, synchronous=FULL so an acknowledged request
//! survives power loss too), split by table group: requests and the audit chain
//! (`requests`), approvals (`approvals`), the Slack outbox (`outbox`), row mapping (`rows`),
//! keyset-paged lists (`lists`), payload retention (`retention`).
//!
//! **One write path.** Every write transaction goes through [`SqliteStore::begin_write`]: it
//! holds the process's writer lock and starts with `BEGIN IMMEDIATE`. SQLite has one writer
//! anyway; a deferred transaction that reads first (the chain head, an approval's state) and
//! writes later must upgrade its lock, and in WAL mode that upgrade fails at once with
//! "database is locked" when another connection wrote meanwhile — `busy_timeout` does not
//! cover it. Taking the write lock up front makes other processes on the same file wait on
//! `busy_timeout` instead, and the in-process lock keeps this process's writers from even
//! contending. Reads go to the pool and never wait for writers (WAL).
//!
//! **Group commit.** A run's buffered stage outcomes ([`crate::Change`]) go through one
//! writer task (`group`) that commits concurrent runs' changes in one transaction, one sync
//! to disk for all of them; it takes the same writer lock.

mod approvals;
mod group;
mod lists;
mod outbox;
mod requests;
mod retention;
mod rows;
mod verify;

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, SqlitePool, Transaction};

use tokio::sync::{Mutex, MutexGuard, mpsc, oneshot};

use crate::{Change, StoreError};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a writer waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The embedded store over one SQLite file.
pub struct SqliteStore {
    pool: SqlitePool,
    /// Held for the whole of every write transaction in this process.
    writer: Arc<Mutex<()>>,
    /// The group-commit writer's queue.
    commits: mpsc::Sender<group::Job>,
    counters: Arc<group::Counters>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

/// One serving process per file: nothing to renew (see [`crate::Replicas`]).
impl crate::Replicas for SqliteStore {}

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
            .busy_timeout(BUSY_TIMEOUT);
        Self::connect(options).await
    }

    /// Opens a `sqlite:` URL (e.g. `sqlite::memory:` in tests).
    pub async fn open_url(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(e.to_string()))?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
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
        let writer = Arc::new(Mutex::new(()));
        let counters = Arc::new(group::Counters::default());
        let commits = group::spawn(pool.clone(), writer.clone(), counters.clone());
        Ok(SqliteStore {
            pool,
            writer,
            commits,
            counters,
        })
    }

    /// For tests that tamper with rows on purpose.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// What the group-commit writer has committed so far.
    pub(crate) fn commit_stats(&self) -> crate::CommitStats {
        self.counters.stats()
    }

    /// Commits `changes` through the group-commit writer; answers once they are durable.
    async fn group_commit(&self, changes: Vec<Change>) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let (reply, answer) = oneshot::channel();
        self.commits
            .send(group::Job { changes, reply })
            .await
            .map_err(|_| StoreError::Unavailable("the store's writer has stopped".into()))?;
        answer.await.map_err(|_| {
            StoreError::Unavailable("the store's writer stopped before answering".into())
        })?
    }

    /// Starts a write transaction on the one write path (see the module docs).
    async fn begin_write(&self) -> Result<WriteTx<'_>, StoreError> {
        let writer = self.writer.lock().await;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok(WriteTx {
            tx,
            _writer: writer,
        })
    }
}

/// A write transaction holding the writer lock; dropping it uncommitted rolls back.
struct WriteTx<'s> {
    // Declared first so it is dropped (rolled back) before the writer lock is released.
    tx: Transaction<'static, Sqlite>,
    _writer: MutexGuard<'s, ()>,
}

impl WriteTx<'_> {
    async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl Deref for WriteTx<'_> {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        &self.tx
    }
}

impl DerefMut for WriteTx<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }
}
