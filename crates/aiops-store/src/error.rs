//! The store's one error type, with stable codes.

/// Errors of the store. `code()` is stable.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (down, restarting, out of connections, too slow):
    /// worth retrying later. Answered 503.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// This process's replica lease was taken over by another replica (it was presumed
    /// dead): it may write nothing more, and the daemon stops. Code `store_unavailable`.
    #[error("store lease lost: {0}")]
    LeaseLost(String),
    #[error("store query failed: {0}")]
    Query(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A list cursor this store did not issue (for that list): the caller's mistake.
    #[error("invalid cursor: {0}")]
    InvalidCursor(String),
}

impl StoreError {
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Unavailable(_) | StoreError::LeaseLost(_) => "store_unavailable",
            StoreError::Query(_) => "store_error",
            StoreError::Migration(_) => "store_migration_failed",
            StoreError::NotFound(_) => "not_found",
            StoreError::Conflict(_) => "conflict",
            StoreError::Corrupt(_) => "store_corrupt",
            StoreError::InvalidCursor(_) => "bad_request",
        }
    }
}

/// SQLSTATE classes and codes of a Postgres server that cannot serve right now: connection
/// exceptions (08), shutting down or starting up (57P01-57P03), out of connections (53300),
/// a statement cancelled by `statement_timeout` (57014). Not the query's fault.
fn pg_unavailable(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300" | "57014")
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            // A connection to Postgres dropped mid-message, or its TLS failed.
            sqlx::Error::Protocol(_) | sqlx::Error::Tls(_) => {
                StoreError::Unavailable(e.to_string())
            }
            sqlx::Error::Database(ref db)
                if db
                    .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                    .is_some_and(|pg| pg_unavailable(pg.code())) =>
            {
                StoreError::Unavailable(e.to_string())
            }
            sqlx::Error::RowNotFound => StoreError::NotFound("row".into()),
            // A column that does not decode (an unknown state, broken JSON) is stored data
            // this version cannot read, not a failed query.
            sqlx::Error::ColumnDecode { .. } => StoreError::Corrupt(e.to_string()),
            other => StoreError::Query(other.to_string()),
        }
    }
}
