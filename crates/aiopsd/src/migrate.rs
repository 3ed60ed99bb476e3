//! `aiopsd migrate --from <sqlite file or data dir>` (the target's URL in `AIOPS_STORE_URL`):
//! moves a SQLite store into an empty PostgreSQL database (`aiops_store::PostgresStore::import_sqlite`:
//! requests, approvals, audit rows with their hashes unchanged, checkpoints; the chain is
//! verified in Postgres). The source's data directory is held for the copy, so a daemon
//! serving it is refused first (stop it, migrate, start the replicas on Postgres).

use std::path::{Path, PathBuf};

use aiops_store::{ImportReport, PgOptions, PostgresStore, SqliteStore};

use crate::StartError;
use crate::config::ConfigError;
use crate::lock::DataDirLock;

/// Copies the SQLite store at `from` (its file, or the data directory holding `aiops.db`)
/// into the Postgres database at `to`, which must hold no store yet. `to` may hold a
/// password: it is never repeated in errors.
pub async fn migrate(from: &Path, to: &str) -> Result<ImportReport, StartError> {
    let (data_dir, file) = source(from)?;
    let _held = DataDirLock::acquire(&data_dir)?;
    let source = SqliteStore::open(&file).await?;
    let target = PostgresStore::connect(to, PgOptions::default()).await?;
    let report = target.import_sqlite(&source).await?;
    tracing::info!(
        requests = report.requests,
        audit_events = report.audit_events,
        chain_ok = report.chain.ok,
        "copied the SQLite store into Postgres"
    );
    Ok(report)
}

/// The data directory and the database file of `from`, which must exist (opening a
/// missing file would create an empty store and copy nothing).
fn source(from: &Path) -> Result<(PathBuf, PathBuf), ConfigError> {
    let (dir, file) = if from.is_dir() {
        (from.to_path_buf(), from.join("aiops.db"))
    } else {
        let dir = from
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        (dir.to_path_buf(), from.to_path_buf())
    };
    if !file.is_file() {
        return Err(ConfigError(format!(
            "migrate: no SQLite store at {} (give its file, or the data directory holding aiops.db)",
            file.display()
        )));
    }
    Ok((dir, file))
}
