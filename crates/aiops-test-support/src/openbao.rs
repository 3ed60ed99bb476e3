//! A private OpenBao (`bootstrap/openbao.sh`): a dev server (in memory, unsealed, root
//! token `root`) or a raft server (initialised and unsealed, so it can be sealed later).

use std::path::Path;

use crate::ports::{free_port_pair, start_on_free_port};
use crate::{HarnessError, Result, Vars, run_script};

const SCRIPT: &str = "bootstrap/openbao.sh";

/// A running OpenBao in its own temporary directory; stopped on drop.
pub struct OpenBao {
    state: tempfile::TempDir,
    /// `http://127.0.0.1:<port>`
    pub addr: String,
    pub root_token: String,
}

impl OpenBao {
    /// Dev mode: in memory, unsealed, root token `root`.
    pub fn start_dev() -> Result<OpenBao> {
        OpenBao::start("start-dev")
    }

    /// Raft storage, initialised and unsealed.
    pub fn start_raft() -> Result<OpenBao> {
        OpenBao::start("start-raft")
    }

    fn start(mode: &str) -> Result<OpenBao> {
        let state = tempfile::tempdir().map_err(HarnessError::io("temp dir"))?;
        let dir = state.path().to_string_lossy().into_owned();
        // Both modes also listen on port + 1 (the cluster listener).
        let vars = start_on_free_port(free_port_pair, |port| {
            run_script(SCRIPT, &[mode, &dir, &port.to_string()], &[])
        })?;
        // Dev prints the root token; raft writes it to a file.
        let root_token = match vars.opt("VAULT_TOKEN") {
            Some(token) => token.to_string(),
            None => {
                let file = vars.get("AIOPS_BAO_ROOT_TOKEN_FILE")?;
                std::fs::read_to_string(file)
                    .map_err(HarnessError::io(format!("reading {file}")))?
                    .trim()
                    .to_string()
            }
        };
        Ok(OpenBao {
            addr: vars.get("VAULT_ADDR")?.to_string(),
            root_token,
            state,
        })
    }

    /// Its state directory.
    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }

    fn state_arg(&self) -> String {
        self.state.path().to_string_lossy().into_owned()
    }

    /// Stops the server (the drop does it too).
    pub fn stop(&self) -> Result<()> {
        run_script(SCRIPT, &["stop", &self.state_arg()], &[]).map(|_| ())
    }

    /// Seals a raft server; returns whether the script reports it sealed.
    pub fn seal(&self) -> Result<bool> {
        let vars = run_script(SCRIPT, &["seal", &self.state_arg()], &[])?;
        Ok(vars.opt("AIOPS_BAO_SEALED") == Some("true"))
    }

    /// Runs `bootstrap/vault/setup.sh` with the root token (plus `extra_env`): KV v2, the
    /// shipped least-privilege policy, an AppRole, and the TSIG key from `tsig_json`. The
    /// AppRole files go to `<state>/approle`. Returns the script's `KEY=VALUE` lines
    /// (`AIOPS_VAULT_ROLE_ID`, `AIOPS_VAULT_SECRET_ID_FILE`, …).
    pub fn setup(&self, tsig_json: &Path, extra_env: &[(&str, &str)]) -> Result<Vars> {
        let out_dir = self.state.path().join("approle");
        let mut env = vec![
            ("VAULT_ADDR", self.addr.as_str()),
            ("VAULT_TOKEN", self.root_token.as_str()),
        ];
        env.extend_from_slice(extra_env);
        run_script(
            "bootstrap/vault/setup.sh",
            &[&tsig_json.to_string_lossy(), &out_dir.to_string_lossy()],
            &env,
        )
    }
}

impl Drop for OpenBao {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
