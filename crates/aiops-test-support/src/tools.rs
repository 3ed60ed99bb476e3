//! The installed tools the tests run directly (the servers' own tools are found by the
//! bootstrap scripts).

use std::path::PathBuf;

use crate::{HarnessError, Result, cache_dir};

/// The `ansible-playbook` that `bootstrap/test-env.sh` installed: `AIOPS_ANSIBLE_PLAYBOOK`,
/// else the venv in the cache.
pub fn ansible_playbook() -> Result<PathBuf> {
    let path = std::env::var_os("AIOPS_ANSIBLE_PLAYBOOK")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join("ansible-venv/bin/ansible-playbook"));
    if path.is_file() {
        Ok(path)
    } else {
        Err(HarnessError::NotInstalled {
            what: "ansible-playbook",
            path,
            hint: "run `bash bootstrap/test-env.sh` (or set AIOPS_ANSIBLE_PLAYBOOK)",
        })
    }
}
