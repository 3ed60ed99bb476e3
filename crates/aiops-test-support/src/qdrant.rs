//! A private Qdrant server (`bootstrap/qdrant.sh`) in its own temporary directory.

use crate::{HarnessError, Result, run_script};

const SCRIPT: &str = "bootstrap/qdrant.sh";

/// A running Qdrant server; stopped on drop (no process is left behind).
pub struct Qdrant {
    state: tempfile::TempDir,
    /// The gRPC URL (`http://127.0.0.1:<port>`), what `qdrant-client` connects to.
    pub url: String,
    /// The REST URL.
    pub http: String,
}

impl Qdrant {
    /// Starts a server on free loopback ports.
    pub fn start() -> Result<Qdrant> {
        let state = tempfile::tempdir().map_err(HarnessError::io("temp dir"))?;
        let vars = run_script(SCRIPT, &["start", "--state", &state_arg(&state)], &[])?;
        Ok(Qdrant {
            url: vars.get("AIOPS_QDRANT_URL")?.to_string(),
            http: vars.get("AIOPS_QDRANT_HTTP")?.to_string(),
            state,
        })
    }

    /// Stops the server (idempotent).
    pub fn stop(&self) -> Result<()> {
        run_script(SCRIPT, &["stop", "--state", &state_arg(&self.state)], &[]).map(|_| ())
    }
}

fn state_arg(state: &tempfile::TempDir) -> String {
    state.path().to_string_lossy().into_owned()
}

impl Drop for Qdrant {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
