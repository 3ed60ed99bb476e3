//! Helpers shared by the executor's integration tests: they run REAL ansible-playbook and
//! REAL BIND 9 (`aiops-test-support`, installed by `bootstrap/test-env.sh`). Missing tools
//! fail the tests with a message saying so; nothing is mocked and nothing silently passes.

#![allow(dead_code)] // each test file uses a different subset

use std::path::{Path, PathBuf};

use aiops_exec::{Ansible, AnsibleConfig};
pub use aiops_test_support::{Bind, repo_root};

/// The real ansible-playbook of the test environment; panics (fails the test) without it.
pub fn ansible_playbook() -> PathBuf {
    aiops_test_support::ansible_playbook().unwrap_or_else(|e| panic!("{e}"))
}

/// An executor of the playbooks in `playbook_dir` whose runs get their private
/// directories in `run_root` (the daemon's `<data_dir>/run`).
pub fn ansible(playbook_dir: &Path, timeout_secs: u64, run_root: &Path) -> Ansible {
    Ansible::new(AnsibleConfig {
        playbook_bin: ansible_playbook(),
        playbook_dir: playbook_dir.to_path_buf(),
        timeout_secs,
        run_root: Some(run_root.to_path_buf()),
    })
}

/// Starts BIND; fails the test with the script's output when it cannot.
pub fn bind() -> Bind {
    Bind::start().unwrap_or_else(|e| panic!("{e}"))
}

/// Pids of live processes whose command line contains `needle`.
pub fn processes_matching(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    String::from_utf8_lossy(&c)
                        .replace('\0', " ")
                        .contains(needle)
                })
                .unwrap_or(false)
        })
        // A zombie has an empty cmdline, so only live processes match.
        .collect()
}

/// Fails unless `dir` is empty (or gone): no run left a file behind.
pub fn assert_no_entries(dir: &Path) {
    let entries = dir_entries(dir);
    assert!(entries.is_empty(), "left in {}: {entries:?}", dir.display());
}

/// Entries of a directory (empty when it does not exist).
pub fn dir_entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}
