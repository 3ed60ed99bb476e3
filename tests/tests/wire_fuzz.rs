//! `bootstrap/fuzz.py` against the daemon served on a real loopback socket: fuzzed HTTP
//! requests to every route and raw-socket cases below the router (malformed request lines,
//! huge headers, broken chunked bodies, slow headers). The script exits non-zero on any
//! 5xx, a connection broken mid-answer, a non-JSON error body, or a daemon that stopped
//! answering; this test runs it with a fixed seed and a bounded case count.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use aiops_e2e::{
    ADMIN_TOKEN, APPROVER_TOKEN, Bind, Daemon, REQUESTER_TOKEN, SLACK_SIGNING_SECRET, config_for,
    repo_root, with_identities, write_slack_secret,
};

/// Cases per run: enough to reach every route many times, cheap enough for every CI run.
const CASES: &str = "400";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_py_finds_no_5xx_reset_or_non_json_error_on_the_wire() {
    // Real backends, so readiness and the routes behind it answer as in production.
    let bind = Bind::start().expect("BIND starts");
    write_slack_secret(&bind.secrets_dir, "xoxb-wire-fuzz");
    let data = tempfile::tempdir().unwrap();
    let mut config = with_identities(config_for(&bind, data.path()));
    config.slack.enabled = true;
    // No approval is ever created by these cases, so Slack's Web API is never called.
    config.slack.api_base = "http://127.0.0.1:9".into();
    let d = Daemon::start(config).await.unwrap();

    let url = d.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        // The script is this test's subject; running it is what the test is for.
        #[allow(clippy::disallowed_methods)]
        std::process::Command::new("python3")
            .arg(repo_root().join("bootstrap/fuzz.py"))
            .args(["--url", &url, "--cases", CASES, "--seed", "11"])
            .args(["--token", REQUESTER_TOKEN, "--token", APPROVER_TOKEN])
            .args(["--token", ADMIN_TOKEN])
            .args(["--slack-secret", SLACK_SIGNING_SECRET])
            .args(["--slow-seconds", "3", "--timeout", "60"])
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    println!("{report}");
    assert!(
        out.status.success(),
        "bootstrap/fuzz.py failed ({}):\n{report}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&report).expect("a JSON report");
    assert_eq!(v["failed"], 0, "{v:#}");
    assert_eq!(d.executions_started().await, 0, "fuzzing changed nothing");
    assert!(d.audit_ok().await);
}
