//! What the daemon's in-process test files share: a configuration with no backends, and
//! the identity its requests authenticate as.

use aiopsd::Config;

/// The bearer token of [`offline_config`]'s user `tester`.
pub const TOKEN: &str = "aiopsd-test-token";

/// A config on `data_dir` with no backends on purpose (DNS on the discard port with a
/// short timeout, no Ansible): these tests must not need them. One user, `tester`, holds
/// every default role (token [`TOKEN`]), since every route but health needs a caller.
pub fn offline_config(data_dir: &std::path::Path) -> Config {
    let mut c = Config {
        data_dir: data_dir.to_path_buf(),
        ..Default::default()
    };
    c.dns.server = "127.0.0.1:9".parse().expect("addr");
    c.dns.timeout_ms = 200;
    c.ansible.playbook_bin = "/nonexistent/ansible-playbook".into();
    // A world that differs is read again until the settle time is over: keep it short.
    c.verify.max_settle_ms = 400;
    c.verify.interval_ms = 50;
    c.auth.users = vec![aiopsd::config::UserConfig {
        name: "tester".into(),
        roles: ["viewer", "operator", "approver", "admin"]
            .map(String::from)
            .to_vec(),
        token_sha256: Some(aiops_core::sha256_hex(TOKEN)),
        ..Default::default()
    }];
    c
}

/// Adds `tester`'s bearer token to a request that carries no `Authorization` header.
#[allow(dead_code)] // not every test file sends requests through the router
pub fn authenticated(
    mut req: axum::http::Request<axum::body::Body>,
) -> axum::http::Request<axum::body::Body> {
    if !req
        .headers()
        .contains_key(axum::http::header::AUTHORIZATION)
    {
        req.headers_mut().insert(
            axum::http::header::AUTHORIZATION,
            format!("Bearer {TOKEN}").parse().expect("a header value"),
        );
    }
    req
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
            ..Default::default()
        })
        .collect();
    c.slack.enabled = true;
    c.slack.api_base = "http://127.0.0.1:9".into();
    // Thousands of requests as a handful of users: the rate limit is tested on its own.
    c.api.rate_limit_per_minute = 1_000_000;
    c.api.rate_limit_burst = 1_000_000;
    identities::write_slack_secret(&c.secrets_dir(), "xoxb-in-process");
    c
}
