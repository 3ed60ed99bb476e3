//! The daemon harness for the end-to-end tests in `tests/tests/` (and the CLI's tests):
//! `aiopsd` itself served in-process on `127.0.0.1:0`, configured against the real servers
//! of `aiops-test-support` (BIND, OpenBao, kube-apiserver, real `ansible-playbook`) and a
//! real SQLite file. The only stand-in is Slack's Web API (`SlackStandIn`), which follows
//! Slack's documented protocol; interactions are signed exactly as Slack signs them.
//!
//! Missing tools fail the tests with a message naming the script to run; nothing is skipped.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::Value;

pub use aiops_test_support::identities::{
    ADMIN_TOKEN, APPROVER_SLACK_ID, APPROVER_TOKEN, OUTSIDER_APPROVER_TOKEN, REQUESTER_TOKEN,
    SLACK_SIGNING_SECRET, VIEWER_TOKEN, write_slack_secret,
};
pub use aiops_test_support::slack::{SlackCall, SlackStandIn};
pub use aiops_test_support::{
    Bind, KubeApi, Ollama, OpenBao, Qdrant, SMOLLM, count_stage, ports, repo_root, stages,
};

/// A daemon configuration wired to a BIND and the repo's playbooks.
pub fn config_for(bind: &Bind, data_dir: &Path) -> aiopsd::Config {
    let mut c = base_config(data_dir);
    c.secrets.dir = Some(bind.secrets_dir.clone());
    c.dns.server = bind.addr;
    c.ansible.playbook_bin =
        aiops_test_support::ansible_playbook().unwrap_or_else(|e| panic!("{e}"));
    c.ansible.playbook_dir = repo_root().join("deploy/ansible/playbooks");
    c.ansible.timeout_secs = 60;
    c
}

/// A daemon configuration with no backends at all (DNS on a closed port, no Ansible), for
/// tests of the API and its clients that must not need them.
pub fn offline_config(data_dir: &Path) -> aiopsd::Config {
    let mut c = base_config(data_dir);
    c.dns.server = ports::closed_addr();
    c.dns.timeout_ms = 300;
    c.ansible.playbook_bin = data_dir.join("no-such-ansible-playbook");
    c
}

/// Every daemon knows the test identities: no route but health answers without one.
fn base_config(data_dir: &Path) -> aiopsd::Config {
    let mut c = aiopsd::Config {
        data_dir: data_dir.to_path_buf(),
        ..Default::default()
    };
    // A world that differs is read again until the settle time is over: the tests that
    // change it behind the appliance's back should not wait the shipped minutes.
    c.verify.max_settle_ms = 1_500;
    c.verify.interval_ms = 100;
    c.auth.users = aiops_test_support::identities::ALL
        .iter()
        .map(|id| aiopsd::config::UserConfig {
            name: id.name.into(),
            roles: id.roles.iter().map(|r| r.to_string()).collect(),
            token_sha256: Some(aiops_core::sha256_hex(id.token)),
            slack_id: id.slack_id.map(Into::into),
            ..Default::default()
        })
        .collect();
    c
}

/// Turns runbook retrieval on: MiniLM from `bootstrap/embeddings.sh`, and the vectors in an
/// embedded shard in the data directory, or on `qdrant` (its gRPC URL) when given.
pub fn with_retrieval(mut c: aiopsd::Config, qdrant: Option<&str>) -> aiopsd::Config {
    use aiopsd::retrieval::IndexBackend;
    c.retrieval.enabled = true;
    c.retrieval.model_dir =
        Some(aiops_test_support::embedding_model_dir().unwrap_or_else(|e| panic!("{e}")));
    match qdrant {
        Some(url) => {
            c.retrieval.backend = IndexBackend::Qdrant;
            c.retrieval.qdrant_url = url.to_string();
            c.retrieval.timeout_ms = 2000;
        }
        None => c.retrieval.backend = IndexBackend::Edge,
    }
    c
}

/// `alice` (an operator) is also the user of the dev PKI's client certificate (its CN).
pub fn with_alice_certificate(mut c: aiopsd::Config) -> aiopsd::Config {
    if let Some(alice) = c.auth.users.iter_mut().find(|u| u.name == "alice") {
        alice.client_cert = Some("aiops-dev-client".into());
    }
    c
}

/// The approval worker's interval `with_identities` sets: short, so tests wait little.
pub const WORKER_INTERVAL: Duration = Duration::from_millis(100);

/// The short approval-worker interval, for tests that wait on the worker. (Every config
/// of this harness already knows the test identities: `alice`, operator; `bob`, approver
/// with a Slack id; `root`, admin.)
pub fn with_identities(mut c: aiopsd::Config) -> aiopsd::Config {
    c.approvals.worker_interval_ms = WORKER_INTERVAL.as_millis() as u64;
    c
}

/// A daemon secrets config that logs in to `bao` by AppRole with the shipped policy, after
/// seeding it (`bootstrap/vault/setup.sh`) with the TSIG key in `tsig_json`. Also returns
/// the secret-id file (a value that must never leak).
pub fn vault_secrets(
    bao: &OpenBao,
    tsig_json: &Path,
) -> Result<(aiopsd::config::SecretsConfig, PathBuf)> {
    let vars = bao.setup(tsig_json, &[])?;
    let secret_id_file = PathBuf::from(vars.get("AIOPS_VAULT_SECRET_ID_FILE")?);
    let vault: aiops_secrets::VaultConfig = serde_json::from_value(serde_json::json!({
        "addr": bao.addr,
        "auth": {"method": "approle", "role_id": vars.get("AIOPS_VAULT_ROLE_ID")?, "secret_id_file": secret_id_file},
        "cache_max_age_secs": 0,
        "timeout_ms": 2000,
    }))?;
    let config = aiopsd::config::SecretsConfig {
        provider: "vault".into(),
        dir: None,
        vault: Some(vault),
    };
    Ok((config, secret_id_file))
}

/// `aiopsd` served in-process on `127.0.0.1:0`; shut down on drop.
pub struct Daemon {
    pub url: String,
    pub state: aiopsd::AppState,
    /// Sends `alice`'s token (an operator) unless a request names other credentials.
    pub client: reqwest::Client,
    /// Sends no credentials.
    pub anonymous: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

/// A dev PKI (what `aiopsd gen-certs` writes: CA, server certificate for `localhost` and
/// `127.0.0.1`, client certificate) in a temporary directory.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub files: aiopsd::tls::dev::DevPki,
}

impl Pki {
    pub fn new() -> Result<Pki> {
        let dir = tempfile::tempdir()?;
        let files = aiopsd::tls::dev::DevPki::ensure(&dir.path().join("pki"))?;
        Ok(Pki { dir, files })
    }

    /// `[tls]`: the server certificate, client certificates of this CA required.
    pub fn mtls(&self) -> aiopsd::tls::TlsConfig {
        aiopsd::tls::TlsConfig {
            client_ca: Some(self.files.ca_cert.clone()),
            ..aiopsd::tls::TlsConfig::new(&self.files.server_cert, &self.files.server_key)
        }
    }

    /// A client that trusts only this CA and presents the client certificate.
    pub fn client(&self) -> Result<reqwest::Client> {
        Ok(self.client_builder()?.build()?)
    }

    pub fn client_builder(&self) -> Result<reqwest::ClientBuilder> {
        let mut pem = std::fs::read(&self.files.client_cert)?;
        pem.extend(std::fs::read(&self.files.client_key)?);
        Ok(reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(
                &self.files.ca_cert,
            )?)?)
            .identity(reqwest::Identity::from_pem(&pem)?))
    }
}

impl Daemon {
    /// Builds the app from `config` and serves it on a listener bound to `127.0.0.1:0`
    /// (whatever `config.listen` says), handed straight to the server: no port race.
    pub async fn start(config: aiopsd::Config) -> Result<Daemon> {
        Self::start_with(config, |_| {}).await
    }

    /// Like [`Daemon::start`], with `App::build_with`'s hook over the stage backends (e.g.
    /// the model parser for every sentence instead of rules first).
    pub async fn start_with(
        config: aiopsd::Config,
        customize: impl FnOnce(&mut aiopsd::Backends),
    ) -> Result<Daemon> {
        Self::launch(
            config,
            customize,
            "http",
            reqwest::Client::builder,
            reqwest::Client::builder,
        )
        .await
    }

    /// Like [`Daemon::start`], over mTLS with `pki`'s certificates: the daemon requires a
    /// client certificate, and both [`Daemon::client`] and [`Daemon::anonymous`] present
    /// one (the first also sends `alice`'s token).
    pub async fn start_mtls(mut config: aiopsd::Config, pki: &Pki) -> Result<Daemon> {
        config.tls = Some(pki.mtls());
        let builder = || pki.client_builder().expect("the dev PKI's client files");
        Self::launch(config, |_| {}, "https", builder, builder).await
    }

    async fn launch(
        config: aiopsd::Config,
        customize: impl FnOnce(&mut aiopsd::Backends),
        scheme: &str,
        client: impl FnOnce() -> reqwest::ClientBuilder,
        anonymous: impl FnOnce() -> reqwest::ClientBuilder,
    ) -> Result<Daemon> {
        // The daemon's logs, captured per test and shown when one fails.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
            .try_init();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("{scheme}://{}", listener.local_addr()?);
        let state = aiopsd::App::build_with(config, customize).await?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let serve_state = state.clone();
        let handle = tokio::spawn(async move {
            let _ = aiopsd::serve_state(listener, serve_state, async {
                let _ = rx.await;
            })
            .await;
        });
        let mut auth = reqwest::header::HeaderMap::new();
        auth.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {REQUESTER_TOKEN}").parse()?,
        );
        Ok(Daemon {
            url,
            state,
            client: client().default_headers(auth).build()?,
            anonymous: anonymous().build()?,
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

    /// POST /api/v1/intent (not a dry run), asserting the HTTP status and the request's
    /// status; returns the body.
    pub async fn intent_expect(&self, nl: &str, code: u16, status: &str) -> Value {
        let (got, body) = self.intent(nl, false).await;
        let answer = (got, body["status"].as_str());
        assert_eq!(answer, (code, Some(status)), "{nl}: {body:#}");
        body
    }

    /// A dry run of `nl`, asserting it was answered as one; returns the body.
    pub async fn dry_run(&self, nl: &str) -> Value {
        let (got, body) = self.intent(nl, true).await;
        let answer = (got, body["status"].as_str());
        assert_eq!(answer, (200, Some("dry_run")), "{nl}: {body:#}");
        body
    }

    /// POST /api/v1/intent for a change the daemon must refuse because a backend is
    /// missing: 503, stored as failed with error `code`. Returns the body.
    pub async fn fails_closed(&self, nl: &str, code: &str) -> Value {
        let body = self.intent_expect(nl, 503, "failed").await;
        assert_eq!(body["error"]["code"], code, "{body:#}");
        let rec = self.record(body["id"].as_str().expect("an id")).await;
        assert_eq!(rec["status"], "failed", "{rec:#}");
        assert_eq!(rec["error"]["code"], code, "{rec:#}");
        body
    }

    /// GET /readyz, asserting its HTTP status; returns the checks.
    pub async fn ready_expect(&self, code: u16) -> Value {
        let (got, ready) = self.get("/readyz").await;
        assert_eq!(got, code, "{ready:#}");
        ready["checks"].clone()
    }

    /// Whether `GET /api/v1/audit/verify` says the chain is intact.
    pub async fn audit_ok(&self) -> bool {
        let (_, v) = self.get("/api/v1/audit/verify").await;
        v["ok"] == true
    }

    /// POST as `alice`.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        send_json(self.client.post(format!("{}{path}", self.url)).json(&body)).await
    }

    /// POST without credentials.
    pub async fn post_anonymous(&self, path: &str, body: Value) -> (u16, Value) {
        send_json(
            self.anonymous
                .post(format!("{}{path}", self.url))
                .json(&body),
        )
        .await
    }

    /// GET without credentials.
    pub async fn get_anonymous(&self, path: &str) -> (u16, Value) {
        send_json(self.anonymous.get(format!("{}{path}", self.url))).await
    }

    /// GET with a bearer token.
    pub async fn get_as(&self, token: &str, path: &str) -> (u16, Value) {
        send_json(
            self.client
                .get(format!("{}{path}", self.url))
                .bearer_auth(token),
        )
        .await
    }

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

    /// Sends every `.md`/`.txt` under `dir` to `POST /api/v1/documents` as `token`, one
    /// document per request, then the `keep` list (as `aiops ingest` does). Returns the
    /// summed summary; panics on any answer but 200.
    pub async fn ingest_tree(&self, token: &str, dir: &Path, source: &str) -> Value {
        let files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
            .sort_by_file_name()
            .into_iter()
            .filter_map(Result::ok)
            .map(walkdir::DirEntry::into_path)
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "md" || x == "txt"))
            .collect();
        let mut total = aiops_api::IngestSummary::default();
        let mut keep = Vec::new();
        let decode = |s: Value| -> aiops_api::IngestSummary {
            serde_json::from_value(s).expect("an ingest summary")
        };
        for f in files {
            let rel = f.strip_prefix(dir).expect("under the root");
            let path = rel.to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(&f).expect("UTF-8 runbook");
            let body =
                serde_json::json!({"source": source, "documents": [{"path": path, "text": text}]});
            let (code, s) = self.post_as(token, "/api/v1/documents", body).await;
            assert_eq!(code, 200, "{path}: {s:#}");
            total.absorb(decode(s));
            keep.push(path);
        }
        let (code, s) = self
            .post_as(
                token,
                "/api/v1/documents",
                serde_json::json!({"source": source, "keep": keep}),
            )
            .await;
        assert_eq!(code, 200, "keep: {s:#}");
        total.absorb(decode(s));
        serde_json::to_value(total).expect("a summary is JSON")
    }

    /// POST /api/v1/approvals/{aid}/{verb} (`approve` or `reject`) as `token`.
    pub async fn decide_as(&self, token: &str, aid: &str, verb: &str, body: Value) -> (u16, Value) {
        self.post_as(token, &format!("/api/v1/approvals/{aid}/{verb}"), body)
            .await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        send_json(self.client.get(format!("{}{path}", self.url))).await
    }

    /// GET /api/v1/intents/{id}: the stored request with its timeline.
    pub async fn record(&self, id: &str) -> Value {
        self.get(&format!("/api/v1/intents/{id}")).await.1
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

    /// Posts a Slack interaction as Slack would: form body, timestamp and signature
    /// headers. Returns the HTTP status.
    pub async fn slack_interaction(&self, (body, ts, sig): &(String, String, String)) -> u16 {
        self.anonymous
            .post(format!("{}/api/v1/slack/interactions", self.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts)
            .header("x-slack-signature", sig)
            .body(body.clone())
            .send()
            .await
            .expect("request")
            .status()
            .as_u16()
    }

    /// Polls the stored request until its status is one of `done`, or panics after `secs`.
    pub async fn wait_status(&self, id: &str, done: &[&str], secs: u64) -> Value {
        self.wait_record(id, Duration::from_secs(secs), |rec| {
            done.iter().any(|d| rec["status"] == *d)
        })
        .await
    }

    /// Polls the stored request until its status is one of `done`, which the approval
    /// worker's next pass must bring about: within one worker interval (of
    /// `with_identities`) plus the schedule's margin.
    pub async fn wait_worker(&self, id: &str, done: &[&str]) -> Value {
        self.wait_record(
            id,
            WORKER_INTERVAL + aiops_test_support::schedule::MARGIN,
            |rec| done.iter().any(|d| rec["status"] == *d),
        )
        .await
    }

    /// Polls the stored request until `cond` holds, or panics when `within` has passed.
    pub async fn wait_record(
        &self,
        id: &str,
        within: Duration,
        cond: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let rec = self.record(id).await;
            if cond(&rec) {
                return rec;
            }
            assert!(
                Instant::now() < deadline,
                "request {id} did not get there within {within:?}: {rec:#}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What a refused call must leave unchanged: the request's timeline, its approval's
    /// decisions and state, and the length of the whole audit chain.
    pub async fn trail(&self, id: &str) -> Trail {
        let rec = self.record(id).await;
        let chain = self.state.store.verify_chain().await.expect("verify chain");
        assert!(chain.ok, "the audit chain verifies");
        Trail {
            timeline: rec["timeline"].clone(),
            approval: rec["approval"].clone(),
            audit_rows: chain.events,
            executions: self.executions_started().await,
        }
    }

    /// How many executions the daemon has started, of any request (its
    /// `aiops_stage_duration_seconds_count` for `execute`/`started`).
    pub async fn executions_started(&self) -> u64 {
        let (_, metrics) = self.get_text("/metrics").await;
        metrics
            .lines()
            .filter(|l| {
                l.starts_with("aiops_stage_duration_seconds_count{")
                    && l.contains(r#"stage="execute""#)
                    && l.contains(r#"outcome="started""#)
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }
}

/// A request's audit trail at one moment (see [`Daemon::trail`]).
#[derive(Debug, PartialEq)]
pub struct Trail {
    pub timeline: Value,
    pub approval: Value,
    pub audit_rows: u64,
    /// Executions started daemon-wide.
    pub executions: u64,
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

/// Seconds since the Unix epoch, for Slack request timestamps.
/// The `aiopsd` binary `cargo test --workspace` built beside this test (`target/<profile>/`),
/// for the tests that run it as a process (`aiopsd mcp`).
pub fn aiopsd_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    // target/<profile>/deps/<test> → target/<profile>/aiopsd
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("aiopsd"))
        .expect("the test runs from target/<profile>/deps");
    assert!(
        bin.is_file(),
        "{} is missing: build it with `cargo build -p aiopsd` (cargo test --workspace does)",
        bin.display()
    );
    bin
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

/// A Slack interaction request (a button click), signed as Slack signs it:
/// (form body, timestamp, signature).
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
