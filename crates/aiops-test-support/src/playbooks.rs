//! Copies of the shipped DNS playbooks with test tasks added: a pause point for the crash
//! tests, a hand-off to the test for the verification tests.

use std::path::{Path, PathBuf};

/// The shipped DNS playbooks (`dns/add_record.yml`, `dns/delete_record.yml`) and the
/// `aiops_nsupdate` module copied under `<root>/ansible`, each playbook with `extra` (play
/// keys such as `post_tasks:`) appended. Returns the playbook directory.
pub fn test_playbooks(root: &Path, extra: &str) -> PathBuf {
    let shipped = crate::repo_root().join("deploy/ansible");
    let library = root.join("ansible/library");
    let playbooks = root.join("ansible/playbooks");
    std::fs::create_dir_all(&library).expect("library");
    std::fs::copy(
        shipped.join("library/aiops_nsupdate.py"),
        library.join("aiops_nsupdate.py"),
    )
    .expect("copy the module");
    std::fs::create_dir_all(playbooks.join("dns")).expect("playbooks");
    for name in ["dns/add_record.yml", "dns/delete_record.yml"] {
        let text = std::fs::read_to_string(shipped.join("playbooks").join(name))
            .expect("shipped playbook");
        std::fs::write(playbooks.join(name), format!("{text}{extra}")).expect("write playbook");
    }
    playbooks
}

/// A point a real (not check-mode) playbook run waits at until the test releases it: the
/// run touches `<dir>/reached`, then waits (at most `timeout_secs`) for `<dir>/release`.
pub struct HandOff {
    pub dir: PathBuf,
}

impl HandOff {
    pub fn new(dir: &Path) -> HandOff {
        std::fs::create_dir_all(dir).expect("hand-off dir");
        HandOff {
            dir: dir.to_path_buf(),
        }
    }

    /// The `post_tasks:` section holding the hand-off: after the play's own tasks.
    pub fn post_tasks(&self, timeout_secs: u32) -> String {
        let reached = self.dir.join("reached");
        let release = self.dir.join("release");
        format!(
            "  post_tasks:\n    - name: Tell the test the change is made\n      when: not ansible_check_mode\n      ansible.builtin.file: {{path: \"{}\", state: touch, mode: \"0600\"}}\n    - name: Wait for the test\n      when: not ansible_check_mode\n      ansible.builtin.wait_for: {{path: \"{}\", timeout: {timeout_secs}}}\n",
            reached.display(),
            release.display()
        )
    }

    /// Whether a run has reached the hand-off.
    pub fn is_reached(&self) -> bool {
        self.dir.join("reached").exists()
    }

    /// Lets the waiting run go on.
    pub fn release(&self) {
        std::fs::write(self.dir.join("release"), b"go").expect("release");
    }
}
