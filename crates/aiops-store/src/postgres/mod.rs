//! The PostgreSQL store: several `aiopsd` replicas on one database (sqlx, a connection pool
//! with acquire and statement timeouts). Split like the SQLite store: requests and the audit
//! chain (`requests`), approvals (`approvals`), the Slack outbox (`outbox`), lists
//! (`lists`), payload retention (`retention`), verification (`verify`), and what replicas
//! need: leases and taking over the work of dead ones (`leases`).
//!
//! **One chain, one order.** Every write transaction starts by locking the chain's head row
//! (`SELECT ... FROM audit_head FOR UPDATE`, [`PostgresStore::begin_write`]) and appends
//! from the head it read, so concurrent writers on any replica keep one valid chain. Taking
//! that one lock first also orders all writers the same way: no two can deadlock over the
//! rows they touch afterwards. A commit is one transaction (Postgres commits concurrently;
//! there is no group-commit writer as with SQLite, whose syncs are the cost it amortises).
//!
//! **Leases fence writers.** Each store registers a lease when it opens and checks, in every
//! write transaction, right after taking the head lock, that the lease still exists. A
//! replica presumed dead (lease expired, taken over by another replica, which deletes it
//! under the same lock) can therefore write nothing more, even if it was only paused.
//!
//! **Nothing half-done.** A failure anywhere in a transaction (Postgres down, a statement
//! past `statement_timeout`, a dropped connection) rolls all of it back; such failures are
//! [`StoreError::Unavailable`] (503). `idle_in_transaction_session_timeout` makes the server
//! end the transaction of a client that stopped mid-way while holding the head lock.

mod approvals;
mod import;
mod leases;
mod lists;
mod outbox;
mod requests;
mod retention;
mod rows;
mod verify;

use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

pub use import::ImportReport;

use crate::{CommitStats, StoreError};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations-postgres");

/// The pool and the lease of a [`PostgresStore`].
#[derive(Debug, Clone, PartialEq)]
pub struct PgOptions {
    /// Connections in the pool.
    pub max_connections: u32,
    /// How long a caller waits for a connection (Postgres down or the pool exhausted)
    /// before the store answers [`StoreError::Unavailable`].
    pub acquire_timeout: Duration,
    /// The server cancels a statement running longer (lock waits included); verification
    /// and the SQLite import lift it for their own long reads.
    pub statement_timeout: Duration,
    /// How long this replica's lease lives without a heartbeat; another replica takes over
    /// its requests in flight once it expired.
    pub lease_ttl: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
            lease_ttl: Duration::from_secs(30),
        }
    }
}

/// The store over a PostgreSQL database, shared with other replicas.
pub struct PostgresStore {
    pool: PgPool,
    /// This process's id among the replicas (its lease's key, the owner of its requests).
    replica: String,
    options: PgOptions,
    commits: Arc<AtomicU64>,
    /// Set once the lease was found taken over: nothing may be written any more.
    lost: Arc<AtomicBool>,
}

impl std::fmt::Debug for PostgresStore {
    /// Never the URL: it may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("replica", &self.replica)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/db`), runs migrations (under
    /// sqlx's advisory lock, so replicas starting together migrate once) and registers this
    /// process's lease. Errors never repeat the URL (it may hold a password).
    pub async fn connect(url: &str, options: PgOptions) -> Result<Self, StoreError> {
        let connect = PgConnectOptions::from_str(url)
            .map_err(|_| {
                StoreError::Unavailable(
                    "the store URL is not a valid postgres:// URL (not repeated here: it may hold a password)"
                        .into(),
                )
            })?
            .application_name("aiopsd")
            .options([
                (
                    "statement_timeout",
                    format!("{}ms", options.statement_timeout.as_millis()),
                ),
                // A client that stopped mid-transaction (paused, partitioned) must not hold
                // the chain's head lock for long.
                (
                    "idle_in_transaction_session_timeout",
                    format!("{}ms", 2 * options.statement_timeout.as_millis()),
                ),
            ]);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        let replica = format!("r-{}", ulid::Ulid::new());
        leases::register(&pool, &replica, options.lease_ttl).await?;
        tracing::info!(replica = %replica, lease_ttl_ms = options.lease_ttl.as_millis() as u64, "postgres store opened");
        Ok(PostgresStore {
            pool,
            replica,
            options,
            commits: Arc::default(),
            lost: Arc::default(),
        })
    }

    /// For tests that tamper with rows on purpose, and the SQLite import.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// This process's id among the replicas.
    pub fn replica_id(&self) -> &str {
        &self.replica
    }

    fn commit_stats(&self) -> CommitStats {
        // One transaction per commit.
        let n = self.commits.load(Ordering::Relaxed);
        CommitStats {
            commits: n,
            transactions: n,
        }
    }

    /// Starts a write transaction: locks the chain's head (every writer, on every replica,
    /// in the same order), then checks that this replica still holds its lease.
    async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        if self.lost.load(Ordering::Relaxed) {
            return Err(self.lease_lost());
        }
        let mut tx = self.pool.begin().await?;
        let (seq, hash): (i64, String) =
            sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
                .fetch_one(&mut *tx)
                .await?;
        // A statement of its own, after the lock: in READ COMMITTED it sees a takeover that
        // committed while this transaction waited for the head.
        let held: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM replica_leases WHERE replica_id = $1")
                .bind(&self.replica)
                .fetch_optional(&mut *tx)
                .await?;
        if held.is_none() {
            self.lost.store(true, Ordering::Relaxed);
            return Err(self.lease_lost());
        }
        Ok(WriteTx {
            tx,
            head: (seq, hash),
            appended: false,
        })
    }

    fn lease_lost(&self) -> StoreError {
        StoreError::LeaseLost(format!(
            "replica {} was presumed dead and its work taken over by another replica",
            self.replica
        ))
    }
}

#[async_trait::async_trait]
impl crate::Replicas for PostgresStore {
    fn lease_ttl(&self) -> Option<Duration> {
        Some(self.options.lease_ttl)
    }

    async fn renew_lease(&self) -> Result<(), StoreError> {
        self.renew().await
    }
}

/// A write transaction holding the chain's head; dropping it uncommitted rolls back.
pub(super) struct WriteTx {
    tx: Transaction<'static, Postgres>,
    /// The head as this transaction moves it: (seq, hash) of the last row.
    head: (i64, String),
    appended: bool,
}

impl WriteTx {
    /// Writes the moved head (once, however many rows were appended) and commits.
    async fn commit(mut self) -> Result<(), StoreError> {
        if self.appended {
            sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
                .bind(self.head.0)
                .bind(&self.head.1)
                .execute(&mut *self.tx)
                .await?;
        }
        self.tx.commit().await?;
        Ok(())
    }
}

impl Deref for WriteTx {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}
