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

/// [`offline_config`] with the test identities (`aiops_test_support::identities`: tokens
/// stored as their SHA-256) and Slack approvals on, its app secret (bot token, signing
/// secret) in the directory secret source. Slack's Web API is never called in process (the
/// outbox runs only under `serve`), so its base points at the discard port.
#[allow(dead_code)] // not every test file uses it
pub fn secured_config(data_dir: &std::path::Path) -> Config {
    use aiops_test_support::identities;
    let mut c = offline_config(data_dir);
    c.auth.users = identities::ALL
        .iter()
        .map(|id| aiopsd::config::UserConfig {
            name: id.name.into(),
            roles: id.roles.iter().map(|r| r.to_string()).collect(),
            token_sha256: Some(aiops_core::sha256_hex(id.token)),
            slack_id: id.slack_id.map(Into::into),
        })
        .collect();
    c.slack.enabled = true;
    c.slack.api_base = "http://127.0.0.1:9".into();
    identities::write_slack_secret(&c.secrets_dir(), "xoxb-in-process");
    c
}
