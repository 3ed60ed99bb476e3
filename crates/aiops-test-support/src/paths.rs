//! Where the repository and the test environment's cache are.

use std::path::{Path, PathBuf};

/// The repository root (this crate is `crates/aiops-test-support`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root exists")
}

/// `bootstrap/test-env.sh`'s cache: `AIOPS_CACHE`, else `~/.cache/aiops` (as `bootstrap/lib.sh`).
pub fn cache_dir() -> PathBuf {
    std::env::var_os("AIOPS_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".cache/aiops")
        })
}
