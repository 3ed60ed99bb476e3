//! A private Ollama server (`bootstrap/ollama.sh`) with the two small test models, in its own
//! temporary state directory.

use crate::{HarnessError, Result, ports, run_script};

const SCRIPT: &str = "bootstrap/ollama.sh";

/// SmolLM2-135M-Instruct (`models/smollm2-135m.Modelfile`), first on the default ladder.
pub const SMOLLM: &str = "aiops-smollm2:135m";
/// Gemma 3 270M (`models/gemma3-270m.Modelfile`), second on the default ladder.
pub const GEMMA: &str = "aiops-gemma3:270m";

/// A running Ollama with both test models imported; stopped on drop (its model runners too).
pub struct Ollama {
    state: tempfile::TempDir,
    /// Its base URL (`http://127.0.0.1:<port>`), what `[llm] host` takes.
    pub host: String,
}

impl Ollama {
    /// Starts a server on a free loopback port (another one when that port is taken before
    /// Ollama binds it), one thread per model call (`--threads 1`, baked into the models).
    pub fn start() -> Result<Ollama> {
        let state = tempfile::tempdir().map_err(HarnessError::io("temp dir"))?;
        let dir = state.path().to_string_lossy().into_owned();
        let vars = ports::start_on_free_port(ports::free_port, |port| {
            let port = port.to_string();
            // Unlike the other servers, Ollama is not part of `bootstrap/test-env.sh`: the
            // script unpacks the shared build and imports the models on first use, as the
            // `aiops-llm` tests let it.
            run_script(
                SCRIPT,
                &["start", "--port", &port, "--threads", "1", "--state", &dir],
                &[("AIOPS_NO_INSTALL", "0")],
            )
        })?;
        Ok(Ollama {
            host: vars.get("OLLAMA_HOST")?.to_string(),
            state,
        })
    }

    /// Stops the server and its runners (idempotent).
    pub fn stop(&self) -> Result<()> {
        run_script(
            SCRIPT,
            &["stop", "--state", &self.state.path().to_string_lossy()],
            &[],
        )
        .map(|_| ())
    }
}

impl Drop for Ollama {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
