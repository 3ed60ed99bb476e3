//! Credentials from a real OpenBao: the DNS slice with the TSIG key in KV v2, read by the
//! daemon logged in by AppRole with the shipped least-privilege policy; a sealed server and
//! a denied path fail closed; a canary secret appears in no log, response, audit row or
//! database page, and neither do the TLS private keys of the daemon (served over mTLS) and
//! its client.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::sync::OnceLock;

use aiops_test_support::LogBuffer;

use aiops_e2e::{Bind, Daemon, OpenBao, Pki, config_for, vault_secrets};
use serde_json::json;
use tempfile::TempDir;

/// Every log line of this test binary, at TRACE, for the leak checks.
fn logs() -> LogBuffer {
    static LOGS: OnceLock<LogBuffer> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = LogBuffer::default();
        let _ = buf.trace_subscriber().try_init();
        buf
    })
    .clone()
}

/// The TSIG key as stored in Vault, with an extra field that nothing should ever use.
fn tsig_with_canary(bind: &Bind, dir: &std::path::Path, canary: &str) -> std::path::PathBuf {
    let mut key: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bind.secrets_dir.join("dns/tsig")).unwrap())
            .unwrap();
    key["note"] = json!(canary);
    let path = dir.join("tsig.json");
    std::fs::write(&path, key.to_string()).unwrap();
    path
}

/// BIND, an OpenBao (`start` picks which kind) and a data directory, with the logs captured.
fn servers(start: fn() -> aiops_test_support::Result<OpenBao>) -> (Bind, OpenBao, TempDir) {
    let _ = logs();
    let bind = Bind::start().unwrap();
    let bao = start().unwrap();
    (bind, bao, tempfile::tempdir().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_change_through_openbao_leaks_nothing() {
    let logs = logs();
    let (bind, bao, data) = servers(OpenBao::start_dev);
    let canary = "CANARY-7f3a9c1e-never-print-me";
    let (secrets, secret_id_file) =
        vault_secrets(&bao, &tsig_with_canary(&bind, data.path(), canary)).unwrap();
    // The daemon gets nothing from the directory source: only Vault has the key.
    std::fs::remove_dir_all(&bind.secrets_dir).unwrap();
    let mut cfg = config_for(&bind, data.path());
    cfg.secrets = secrets;
    let pki = Pki::new().unwrap();
    let d = Daemon::start_mtls(cfg, &pki).await.unwrap();

    let checks = d.ready_expect(200).await;
    assert_eq!(checks["secrets"]["detail"]["kind"], "vault");

    let body = d
        .intent_expect(
            "Add DNS A record for vaulted.local to 192.168.1.100",
            200,
            "success",
        )
        .await;
    assert_eq!(bind.dig("vaulted.local", "A"), ["192.168.1.100"]);

    let id = body["id"].as_str().unwrap();
    let rec = d.record(id).await;
    let creds = rec["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["stage"] == "credentials")
        .unwrap()
        .clone();
    assert_eq!(creds["data"]["source"], "vault");
    assert_eq!(creds["data"]["paths"], json!(["dns/tsig"]));
    assert!(
        !creds["data"]["request_ids"][0]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "the Vault request id is audited: {creds:#}"
    );
    let (_, metrics) = d.get_text("/metrics").await;
    assert!(
        metrics.contains("aiops_secret_cache_misses_total{source=\"vault\"}"),
        "{metrics}"
    );
    assert!(d.audit_ok().await);
    d.stop().await;

    // The canary and the TSIG secret: nowhere.
    let tsig: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.path().join("tsig.json")).unwrap())
            .unwrap();
    let secret = tsig["secret"].as_str().unwrap().to_string();
    let secret_id = std::fs::read_to_string(&secret_id_file)
        .unwrap()
        .trim()
        .to_string();
    let log_text = logs.text();
    assert!(log_text.contains(id), "the log capture works");
    assert!(
        log_text.contains("TLS certificate loaded"),
        "the daemon served TLS"
    );
    // The private keys' PEM lines (the CA's, the server's, the client's).
    let key_lines: Vec<String> = [
        &pki.files.ca_key,
        &pki.files.server_key,
        &pki.files.client_key,
    ]
    .into_iter()
    .flat_map(|k| {
        std::fs::read_to_string(k)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() >= 16)
            .map(str::to_string)
            .collect::<Vec<_>>()
    })
    .collect();
    assert!(key_lines.len() >= 3, "{}", key_lines.len());
    let db = std::fs::read(data.path().join("aiops.db")).unwrap();
    let wal = std::fs::read(data.path().join("aiops.db-wal")).unwrap_or_default();
    for (what, text) in [
        ("logs", log_text),
        ("response", body.to_string()),
        ("record", rec.to_string()),
        ("metrics", metrics),
        ("database", String::from_utf8_lossy(&db).into_owned()),
        ("wal", String::from_utf8_lossy(&wal).into_owned()),
    ] {
        for needle in [canary, secret.as_str(), secret_id.as_str()] {
            assert!(
                !text.contains(needle),
                "a secret value leaked into the {what}"
            );
        }
        for line in &key_lines {
            assert!(
                !text.contains(line.as_str()),
                "a TLS private key leaked into the {what}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_vault_and_denied_paths_fail_closed() {
    let (bind, bao, data) = servers(OpenBao::start_raft);
    let (secrets, _) = vault_secrets(&bao, &bind.secrets_dir.join("dns/tsig")).unwrap();
    std::fs::remove_dir_all(&bind.secrets_dir).unwrap();

    // A path outside the shipped policy: not ready, and a clear 403 at the credentials stage.
    let mut cfg = config_for(&bind, data.path());
    cfg.secrets = secrets.clone();
    cfg.dns.tsig_secret = "dns/other-zone-key".into();
    let d = Daemon::start(cfg).await.unwrap();
    let checks = d.ready_expect(503).await;
    assert!(
        checks["secrets"]["detail"]["error"]
            .as_str()
            .unwrap()
            .contains("dns/other-zone-key"),
        "{checks:#}"
    );
    let body = d
        .fails_closed(
            "add dns record denied.local to 10.8.8.1",
            "credentials_unavailable",
        )
        .await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("403"),
        "{body:#}"
    );
    assert!(bind.dig("denied.local", "A").is_empty());
    d.stop().await;

    // The shipped path works, until the server is sealed: then 503 and nothing executes.
    let mut cfg = config_for(&bind, data.path());
    cfg.secrets = secrets;
    let d = Daemon::start(cfg).await.unwrap();
    d.intent_expect("add dns record before.local to 10.8.8.2", 200, "success")
        .await;
    assert!(bao.seal().unwrap(), "sealed");
    assert_eq!(d.ready_expect(503).await["secrets"]["ok"], false);
    d.fails_closed(
        "add dns record sealed.local to 10.8.8.3",
        "credentials_unavailable",
    )
    .await;
    assert!(
        bind.dig("sealed.local", "A").is_empty(),
        "nothing executes while Vault is sealed"
    );
}
