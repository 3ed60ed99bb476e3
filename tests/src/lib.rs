//! Harness for the end-to-end tests in `tests/tests/`: real BIND (started by the project's
//! own `bootstrap/bind.sh`), real `ansible-playbook` (from `bootstrap/test-env.sh`), a real
//! SQLite file, and `aiopsd` itself served in-process on a free loopback port.
//!
//! Missing tools fail the tests with a message naming the script to run; nothing is skipped.

// The harness starts the project's scripts and `dig`; that is what it is for.
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the repo root")
        .to_path_buf()
}

/// The `ansible-playbook` that `bootstrap/test-env.sh` installed.
pub fn ansible_playbook() -> PathBuf {
    match std::env::var_os("AIOPS_ANSIBLE_PLAYBOOK") {
        Some(p) => PathBuf::from(p),
        None => {
            let cached = dirs_cache().join("ansible-venv/bin/ansible-playbook");
            assert!(
                cached.exists(),
                "ansible-playbook not found: run `bash bootstrap/test-env.sh` (or set AIOPS_ANSIBLE_PLAYBOOK)"
            );
            cached
        }
    }
}

fn dirs_cache() -> PathBuf {
    std::env::var_os("AIOPS_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
                .join(".cache/aiops")
        })
}

/// A free TCP port on loopback (also free for UDP in practice: BIND binds both).
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = tcp.local_addr().expect("addr").port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port");
}

/// A private BIND 9 with the `local` and `corp.example.com` zones; stopped on drop.
pub struct Bind {
    pub state: tempfile::TempDir,
    pub addr: SocketAddr,
    pub secrets_dir: PathBuf,
}

impl Bind {
    pub fn start() -> Result<Bind> {
        let state = tempfile::tempdir()?;
        let port = free_port();
        let vars = bootstrap(
            "bind.sh",
            &["start", &state.path().to_string_lossy(), &port.to_string()],
        )?;
        let addr: SocketAddr = vars
            .get("AIOPS_DNS")
            .context("no AIOPS_DNS line")?
            .parse()?;
        let secrets_dir = PathBuf::from(
            vars.get("AIOPS_SECRETS_DIR")
                .context("no AIOPS_SECRETS_DIR line")?,
        );
        Ok(Bind {
            state,
            addr,
            secrets_dir,
        })
    }

    pub fn stop(&self) {
        let _ = bootstrap("bind.sh", &["stop", &self.state.path().to_string_lossy()]);
    }

    /// `dig @server -p port name type +short`, as an operator would check.
    pub fn dig(&self, name: &str, rtype: &str) -> Vec<String> {
        let out = Command::new("dig")
            .arg(format!("@{}", self.addr.ip()))
            .arg("-p")
            .arg(self.addr.port().to_string())
            .arg(name)
            .arg(rtype)
            .arg("+short")
            .arg("+time=2")
            .arg("+tries=1")
            .output()
            .expect("dig is installed by bootstrap/test-env.sh");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// The TSIG secret value, so tests can prove it never leaks.
    pub fn tsig_secret(&self) -> String {
        let text = std::fs::read_to_string(self.secrets_dir.join("dns/tsig")).expect("tsig file");
        let v: Value = serde_json::from_str(&text).expect("tsig json");
        v["secret"].as_str().expect("secret field").to_string()
    }
}

impl Drop for Bind {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `bootstrap/<script> <args>` (argv, no shell string) and returns the `KEY=VALUE`
/// lines it prints last. A failure names the script and shows its stderr.
pub fn bootstrap(script: &str, args: &[&str]) -> Result<std::collections::HashMap<String, String>> {
    let out = Command::new("bash")
        .arg(repo_root().join("bootstrap").join(script))
        .args(args)
        .output()
        .with_context(|| format!("running bootstrap/{script}"))?;
    if !out.status.success() {
        bail!(
            "bootstrap/{script} {args:?} failed (run `bash bootstrap/test-env.sh` first):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(parse_kv(&String::from_utf8_lossy(&out.stdout)))
}

pub fn parse_kv(text: &str) -> std::collections::HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| {
            !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A daemon configuration wired to a BIND and the repo's playbooks.
pub fn config_for(bind: &Bind, data_dir: &Path) -> aiopsd::Config {
    let mut c = aiopsd::Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: data_dir.to_path_buf(),
        ..Default::default()
    };
    c.secrets.dir = Some(bind.secrets_dir.clone());
    c.dns.server = bind.addr;
    c.ansible.playbook_bin = ansible_playbook();
    c.ansible.playbook_dir = repo_root().join("deploy/ansible/playbooks");
    c.ansible.timeout_secs = 60;
    c
}

/// `aiopsd` served in-process; shut down on drop.
pub struct Daemon {
    pub url: String,
    pub state: aiopsd::AppState,
    pub client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl Daemon {
    pub async fn start(config: aiopsd::Config) -> Result<Daemon> {
        // The daemon's logs, captured per test and shown when one fails.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
            .try_init();
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let state = aiopsd::App::build(config).await?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let serve_state = state.clone();
        let handle = tokio::spawn(async move {
            let _ = aiopsd::serve_state(listener, serve_state, async {
                let _ = rx.await;
            })
            .await;
        });
        Ok(Daemon {
            url,
            state,
            client: reqwest::Client::new(),
            shutdown: Some(tx),
            handle: Some(handle),
        })
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
    }

    /// POST /api/v1/intent; returns (HTTP status, body).
    pub async fn intent(&self, nl: &str, dry_run: bool) -> (u16, Value) {
        self.post(
            "/api/v1/intent",
            serde_json::json!({"nl": nl, "dry_run": dry_run}),
        )
        .await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        send_json(self.client.post(format!("{}{path}", self.url)).json(&body)).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        send_json(self.client.get(format!("{}{path}", self.url))).await
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.text().await.unwrap_or_default())
    }
}

/// Sends a request and returns (HTTP status, JSON body or null).
async fn send_json(req: reqwest::RequestBuilder) -> (u16, Value) {
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// API tokens of the two test identities (their SHA-256 goes in the config).
pub const REQUESTER_TOKEN: &str = "test-requester-token";
pub const APPROVER_TOKEN: &str = "test-approver-token";
pub const APPROVER_SLACK_ID: &str = "UAPPROVER1";
pub const SLACK_SIGNING_SECRET: &str = "test-signing-secret-0123456789";

/// Adds a requester (`alice`, role operator) and an approver (`bob`, role approver, with a
/// Slack id) to a config.
pub fn with_identities(mut c: aiopsd::Config) -> aiopsd::Config {
    use aiopsd::config::UserConfig;
    c.auth.users = vec![
        UserConfig {
            name: "alice".into(),
            roles: vec!["operator".into()],
            token_sha256: Some(aiops_core::sha256_hex(REQUESTER_TOKEN)),
            slack_id: None,
        },
        UserConfig {
            name: "bob".into(),
            roles: vec!["approver".into()],
            token_sha256: Some(aiops_core::sha256_hex(APPROVER_TOKEN)),
            slack_id: Some(APPROVER_SLACK_ID.into()),
        },
    ];
    c.approvals.worker_interval_ms = 100;
    c
}

impl Daemon {
    /// POST with a bearer token.
    pub async fn post_as(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        send_json(
            self.client
                .post(format!("{}{path}", self.url))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    pub async fn intent_as(&self, token: &str, nl: &str) -> (u16, Value) {
        self.post_as(token, "/api/v1/intent", serde_json::json!({"nl": nl}))
            .await
    }

    /// Polls the stored request until its status is one of `done`, or panics after `secs`.
    pub async fn wait_status(&self, id: &str, done: &[&str], secs: u64) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let (_, rec) = self.get(&format!("/api/v1/intents/{id}")).await;
            if done.iter().any(|d| rec["status"] == *d) {
                return rec;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "request {id} stuck in {}: {rec:#}",
                rec["status"]
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

/// A stand-in for Slack's Web API on 127.0.0.1 (Slack itself is unreachable here). It
/// speaks the documented protocol: JSON bodies with a bearer bot token, answers
/// `{"ok": true, "channel", "ts"}`, and records every call for the test to inspect.
pub struct SlackReceiver {
    pub url: String,
    pub calls: std::sync::Arc<std::sync::Mutex<Vec<(String, String, Value)>>>,
    pub fail: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: tokio::task::JoinHandle<()>,
}

impl SlackReceiver {
    pub async fn start() -> SlackReceiver {
        use axum::extract::{Path as AxPath, State};
        use axum::http::HeaderMap;
        type Calls = std::sync::Arc<std::sync::Mutex<Vec<(String, String, Value)>>>;
        let calls: Calls = Default::default();
        let fail = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let state = (calls.clone(), fail.clone());
        let app = axum::Router::new()
            .route(
                "/{method}",
                axum::routing::post(
                    |State((calls, fail)): State<(Calls, std::sync::Arc<std::sync::atomic::AtomicBool>)>,
                     AxPath(method): AxPath<String>,
                     headers: HeaderMap,
                     axum::Json(body): axum::Json<Value>| async move {
                        if fail.load(std::sync::atomic::Ordering::SeqCst) {
                            return (axum::http::StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({"ok": false, "error": "service_unavailable"})));
                        }
                        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                        let channel = body["channel"].as_str().unwrap_or("C0TEST").to_string();
                        let ts = body["ts"].as_str().map(str::to_string).unwrap_or_else(|| "1700000000.000100".to_string());
                        calls.lock().expect("lock").push((method, auth, body));
                        (axum::http::StatusCode::OK, axum::Json(serde_json::json!({"ok": true, "channel": channel, "ts": ts})))
                    },
                ),
            )
            .with_state(state);
        let handle = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        SlackReceiver {
            url,
            calls,
            fail,
            handle,
        }
    }

    pub fn calls(&self, method: &str) -> Vec<(String, Value)> {
        self.calls
            .lock()
            .expect("lock")
            .iter()
            .filter(|(m, _, _)| m == method)
            .map(|(_, a, b)| (a.clone(), b.clone()))
            .collect()
    }
}

impl Drop for SlackReceiver {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// Writes the Slack app secret (bot token, signing secret) into a directory secret source.
pub fn write_slack_secret(secrets_dir: &Path, bot_token: &str) {
    let dir = secrets_dir.join("slack");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("app"),
        serde_json::json!({"bot_token": bot_token, "signing_secret": SLACK_SIGNING_SECRET})
            .to_string(),
    )
    .expect("write slack secret");
}

/// A Slack interaction request (a button click), signed as Slack signs it.
pub fn slack_click(
    action_id: &str,
    approval_id: &str,
    slack_user: &str,
    timestamp: i64,
) -> (String, String, String) {
    let payload = serde_json::json!({
        "type": "block_actions",
        "user": {"id": slack_user, "username": "someone"},
        "actions": [{"action_id": action_id, "block_id": "aiops_decision", "value": approval_id, "type": "button"}],
    });
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish();
    let ts = timestamp.to_string();
    let sig = aiopsd::slack::sign(SLACK_SIGNING_SECRET.as_bytes(), &ts, body.as_bytes());
    (body, ts, sig)
}

/// A private OpenBao (started by `bootstrap/openbao.sh`); stopped on drop.
pub struct OpenBao {
    pub state: tempfile::TempDir,
    pub addr: String,
    pub root_token: String,
}

impl OpenBao {
    fn script(args: &[&str]) -> Result<std::collections::HashMap<String, String>> {
        bootstrap("openbao.sh", args)
    }

    /// Dev mode: in memory, unsealed, root token `root`.
    pub fn start_dev() -> Result<OpenBao> {
        let state = tempfile::tempdir()?;
        let port = free_port_pair();
        let v = Self::script(&[
            "start-dev",
            &state.path().to_string_lossy(),
            &port.to_string(),
        ])?;
        Ok(OpenBao {
            addr: v.get("VAULT_ADDR").context("no VAULT_ADDR")?.clone(),
            root_token: "root".into(),
            state,
        })
    }

    /// Raft storage, initialised and unsealed (so it can be sealed later).
    pub fn start_raft() -> Result<OpenBao> {
        let state = tempfile::tempdir()?;
        let port = free_port_pair();
        let v = Self::script(&[
            "start-raft",
            &state.path().to_string_lossy(),
            &port.to_string(),
        ])?;
        let token_file = v
            .get("AIOPS_BAO_ROOT_TOKEN_FILE")
            .context("no root token file")?;
        let root_token = std::fs::read_to_string(token_file)?.trim().to_string();
        Ok(OpenBao {
            addr: v.get("VAULT_ADDR").context("no VAULT_ADDR")?.clone(),
            root_token,
            state,
        })
    }

    pub fn seal(&self) -> Result<()> {
        Self::script(&["seal", &self.state.path().to_string_lossy()]).map(|_| ())
    }

    /// Runs `bootstrap/vault/setup.sh`: AppRole, the shipped policy, the TSIG key from
    /// `tsig_json`. Returns (role id, secret id file).
    pub fn setup(&self, tsig_json: &Path) -> Result<(String, PathBuf)> {
        let out_dir = self.state.path().join("approle");
        let out = Command::new("bash")
            .arg(repo_root().join("bootstrap/vault/setup.sh"))
            .arg(tsig_json)
            .arg(&out_dir)
            .env("VAULT_ADDR", &self.addr)
            .env("VAULT_TOKEN", &self.root_token)
            .output()
            .context("running bootstrap/vault/setup.sh")?;
        if !out.status.success() {
            bail!(
                "bootstrap/vault/setup.sh failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let v = parse_kv(&String::from_utf8_lossy(&out.stdout));
        let role_id = std::fs::read_to_string(
            v.get("AIOPS_VAULT_ROLE_ID_FILE")
                .context("no role id file")?,
        )?
        .trim()
        .to_string();
        Ok((
            role_id,
            PathBuf::from(
                v.get("AIOPS_VAULT_SECRET_ID_FILE")
                    .context("no secret id file")?,
            ),
        ))
    }

    /// A daemon secrets config that logs in by AppRole.
    pub fn secrets_config(
        &self,
        role_id: &str,
        secret_id_file: &Path,
    ) -> aiopsd::config::SecretsConfig {
        let vault: aiops_secrets::VaultConfig = serde_json::from_value(serde_json::json!({
            "addr": self.addr,
            "auth": {"method": "approle", "role_id": role_id, "secret_id_file": secret_id_file},
            "cache_max_age_secs": 0,
            "timeout_ms": 2000,
        }))
        .expect("vault config");
        aiopsd::config::SecretsConfig {
            provider: "vault".into(),
            dir: None,
            vault: Some(vault),
        }
    }
}

impl Drop for OpenBao {
    fn drop(&mut self) {
        let _ = Self::script(&["stop", &self.state.path().to_string_lossy()]);
    }
}

/// A port whose successor is free too (OpenBao also listens on port + 1).
fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let p = free_port();
        if p < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no free port pair");
}

/// A real kube-apiserver + etcd (built and started by `bootstrap/kube.sh`); stopped on drop.
pub struct KubeApi {
    pub state: tempfile::TempDir,
    pub kubeconfig: PathBuf,
}

impl KubeApi {
    pub fn start() -> Result<KubeApi> {
        let state = tempfile::tempdir()?;
        let port = free_port();
        let vars = bootstrap(
            "kube.sh",
            &["start", &state.path().to_string_lossy(), &port.to_string()],
        )?;
        let kubeconfig = PathBuf::from(vars.get("KUBECONFIG").context("no KUBECONFIG line")?);
        Ok(KubeApi { state, kubeconfig })
    }

    pub fn stop(&self) {
        let _ = bootstrap("kube.sh", &["stop", &self.state.path().to_string_lossy()]);
    }

    /// An admin client, for setting up and checking what the daemon did.
    pub async fn client(&self) -> kube::Client {
        let kc = kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("kubeconfig");
        let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .expect("config");
        kube::Client::try_from(cfg).expect("client")
    }
}

impl Drop for KubeApi {
    fn drop(&mut self) {
        self.stop();
    }
}
