//! What the daemon's in-process test files share: a configuration with no backends.

use aiopsd::Config;

/// A config on `data_dir` with no backends on purpose (DNS on the discard port with a
/// short timeout, no Ansible): these tests must not need them.
pub fn offline_config(data_dir: &std::path::Path) -> Config {
    let mut c = Config {
        data_dir: data_dir.to_path_buf(),
        ..Default::default()
    };
    c.dns.server = "127.0.0.1:9".parse().expect("addr");
    c.dns.timeout_ms = 200;
    c.ansible.playbook_bin = "/nonexistent/ansible-playbook".into();
    c
}
