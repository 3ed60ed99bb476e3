//! A private PostgreSQL cluster (`bootstrap/postgres.sh`): initdb in a temporary directory,
//! 127.0.0.1 on a free port, password auth, database `aiops`. Each test gets its own
//! cluster (about a second to make), so tests never see each other's rows and one may stop
//! and restart its server.

use std::path::Path;
use std::process::Command;

use crate::ports::{free_port, start_on_free_port};
use crate::{HarnessError, Result, run_script};

const SCRIPT: &str = "bootstrap/postgres.sh";

/// A running PostgreSQL cluster in its own temporary directory; stopped on drop.
pub struct Postgres {
    state: tempfile::TempDir,
    port: u16,
    /// `postgres://aiops:<password>@127.0.0.1:<port>/aiops` (holds the password).
    url: String,
    socket_dir: String,
}

impl Postgres {
    /// Starts a cluster on a free port (another one if that port is taken meanwhile).
    pub fn start() -> Result<Postgres> {
        let state = tempfile::tempdir().map_err(HarnessError::io("temp dir"))?;
        let dir = state.path().to_string_lossy().into_owned();
        let (port, vars) = start_on_free_port(free_port, |port| {
            run_script(SCRIPT, &["start", &dir, &port.to_string()], &[]).map(|v| (port, v))
        })?;
        Ok(Postgres {
            url: vars.get("AIOPS_PG_URL")?.to_string(),
            socket_dir: vars.get("AIOPS_PG_SOCKET_DIR")?.to_string(),
            port,
            state,
        })
    }

    /// The URL of the `aiops` database (it holds the password: a secret).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The cluster's password (what must never reach a log or a response).
    pub fn password(&self) -> String {
        std::fs::read_to_string(self.state.path().join("password"))
            .expect("the password postgres.sh wrote")
            .trim()
            .to_string()
    }

    /// The URL of another database of this cluster, created empty.
    pub fn create_database(&self, name: &str) -> Result<String> {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""))?;
        Ok(self
            .url
            .rsplit_once('/')
            .map(|(base, _)| format!("{base}/{name}"))
            .expect("a URL with a database"))
    }

    /// Runs one SQL command as the superuser over the cluster's socket; its output.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String> {
        let bin = run_script(SCRIPT, &["install"], &[])?;
        let out = Command::new(Path::new(bin.get("AIOPS_PG_BIN")?).join("psql"))
            .args(["-h", &self.socket_dir, "-p", &self.port.to_string()])
            .args([
                "-U",
                "aiops",
                "-d",
                database,
                "-tAq",
                "-v",
                "ON_ERROR_STOP=1",
            ])
            .args(["-c", sql])
            .output()
            .map_err(HarnessError::io("running psql"))?;
        if !out.status.success() {
            return Err(HarnessError::Script {
                script: "psql".into(),
                args: vec![sql.to_string()],
                status: out.status.to_string(),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Its state directory (data, socket, log).
    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }

    /// Stops the server (a fast shutdown: open transactions are rolled back, clients
    /// disconnected); the cluster's files stay, so [`Postgres::restart`] brings it back.
    pub fn stop(&self) -> Result<()> {
        run_script(SCRIPT, &["stop", &self.state.path().to_string_lossy()], &[]).map(|_| ())
    }

    /// Starts the stopped server again, on the same port, with the same data.
    pub fn restart(&self) -> Result<()> {
        run_script(
            SCRIPT,
            &[
                "start",
                &self.state.path().to_string_lossy(),
                &self.port.to_string(),
            ],
            &[],
        )
        .map(|_| ())
    }
}

impl std::fmt::Debug for Postgres {
    /// Never the URL: it holds the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
