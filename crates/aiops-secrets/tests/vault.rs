//! The Vault secret source against a real OpenBao (dev and raft servers started with
//! `bootstrap/openbao.sh`, seeded with `bootstrap/vault/setup.sh` and the shipped policy).
//!
//! The servers come from `aiops-test-support`. Needs the `bao` binary: `bash
//! bootstrap/openbao.sh install` (or `AIOPS_BAO=<path>`). Without it these tests fail;
//! they never skip.

#![allow(clippy::unwrap_used, clippy::expect_used)]
// The tests drive the bootstrap scripts and curl; only the executor crate starts
// processes in product code.
#![allow(clippy::disallowed_methods)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use aiops_secrets::{
    ExposeSecret, SecretError, SecretSource, SecretStats, VaultAuth, VaultConfig, VaultSource,
};
use aiops_test_support::{LogBuffer, OpenBao, Vars};

#[path = "support/unavailable.rs"]
mod unavailable;
use unavailable::assert_unavailable;

/// A running OpenBao (`aiops_test_support::OpenBao`) with this file's helpers; stopped on
/// drop.
struct Bao(OpenBao);

impl Bao {
    fn dev() -> Bao {
        Bao(OpenBao::start_dev().unwrap_or_else(|e| panic!("{e}")))
    }

    fn raft() -> Bao {
        Bao(OpenBao::start_raft().unwrap_or_else(|e| panic!("{e}")))
    }

    fn stop(&self) {
        self.0.stop().unwrap();
    }

    fn seal(&self) {
        assert!(self.0.seal().unwrap(), "sealed");
    }

    /// A call with the root token: (HTTP status, body).
    fn api(&self, method: &str, path: &str, body: Option<serde_json::Value>) -> (u16, String) {
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-X", method, "-w", "\n%{http_code}", "-H"])
            .arg(format!("X-Vault-Token: {}", self.0.root_token))
            .arg(format!("{}/v1/{path}", self.0.addr));
        if let Some(b) = body {
            cmd.args(["-H", "Content-Type: application/json", "--data-binary"])
                .arg(b.to_string());
        }
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap();
        (code.trim().parse().unwrap(), body.to_string())
    }

    fn put(&self, path: &str, data: serde_json::Value) {
        let (code, body) = self.api(
            "POST",
            &format!("secret/data/{path}"),
            Some(serde_json::json!({ "data": data })),
        );
        assert_eq!(code, 200, "{body}");
    }

    /// Revokes every token AppRole has issued.
    fn revoke_approle_tokens(&self) {
        let (code, body) = self.api("PUT", "sys/leases/revoke-prefix/auth/approle/login", None);
        assert!(code == 204 || code == 200, "{code} {body}");
    }

    /// Runs bootstrap/vault/setup.sh with the root token and a TSIG key with this secret;
    /// returns its KEY=VALUE lines.
    fn setup(&self, tsig_secret: &str, extra_env: &[(&str, &str)]) -> Vars {
        let tsig = self.0.state_dir().join("tsig.json");
        std::fs::write(
            &tsig,
            serde_json::json!({"name": "aiops-key", "algorithm": "hmac-sha256", "secret": tsig_secret})
                .to_string(),
        )
        .unwrap();
        self.0.setup(&tsig, extra_env).unwrap()
    }

    fn token_file(&self, token: &str) -> PathBuf {
        let p = self.0.state_dir().join("client-token");
        std::fs::write(&p, token).unwrap();
        p
    }

    /// A source logged in with `auth`.
    async fn source(&self, auth: VaultAuth, cache_max_age_secs: u64) -> VaultSource {
        VaultSource::connect(self.config(auth, cache_max_age_secs))
            .await
            .unwrap()
    }

    /// Token auth with the server's root token.
    fn root_auth(&self) -> VaultAuth {
        VaultAuth::Token {
            token_file: self.token_file(&self.0.root_token),
        }
    }

    fn config(&self, auth: VaultAuth, cache_max_age_secs: u64) -> VaultConfig {
        VaultConfig {
            addr: self.0.addr.clone(),
            kv_mount: "secret".into(),
            auth,
            cache_max_age_secs,
            timeout_ms: 3_000,
            ca_cert: None,
        }
    }
}

/// The value of field `name` of the secret at `path`, read through `src`.
async fn read_field(src: &VaultSource, path: &str, name: &str) -> String {
    let secret = src.read(path).await.unwrap();
    secret.field(name).unwrap().expose_secret().to_string()
}

fn approle(env: &Vars, wrapped: bool) -> VaultAuth {
    VaultAuth::Approle {
        mount: "approle".into(),
        role_id: env["AIOPS_VAULT_ROLE_ID"].clone(),
        secret_id_file: env["AIOPS_VAULT_SECRET_ID_FILE"].clone().into(),
        wrapped,
    }
}

#[tokio::test]
async fn token_auth_reads_a_kv_v2_secret() {
    let bao = Bao::dev();
    bao.put(
        "app/config",
        serde_json::json!({"user": "aiops", "password": "pw-1"}),
    );
    // A child token with a policy reading exactly that path.
    let (code, body) = bao.api(
        "PUT",
        "sys/policies/acl/app-read",
        Some(serde_json::json!({"policy": "path \"secret/data/app/config\" { capabilities = [\"read\"] }"})),
    );
    assert_eq!(code, 204, "{body}");
    let (code, body) = bao.api(
        "POST",
        "auth/token/create",
        Some(serde_json::json!({"policies": ["app-read"], "ttl": "1h"})),
    );
    assert_eq!(code, 200, "{body}");
    let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
    let token = reply["auth"]["client_token"].as_str().unwrap();
    let cfg = bao.config(
        VaultAuth::Token {
            token_file: bao.token_file(&format!("{token}\n")),
        },
        30,
    );
    let src = VaultSource::connect(cfg).await.unwrap();
    assert_eq!(src.kind(), "vault");
    src.health().await.unwrap();

    let s = src.read("app/config").await.unwrap();
    assert_eq!(s.path(), "app/config");
    assert_eq!(s.field("user").unwrap().expose_secret(), "aiops");
    assert_eq!(s.field("password").unwrap().expose_secret(), "pw-1");
    assert_eq!(s.field_names().collect::<Vec<_>>(), ["password", "user"]);
    let id = s.request_id().expect("vault request id").to_string();
    assert_eq!(id.len(), 36, "{id}");
    src.check(&["app/config".to_string()]).await.unwrap();

    // Not found vs denied.
    assert!(matches!(
        src.read("app/missing").await,
        Err(SecretError::Denied { .. })
    ));
    let root = bao.source(bao.root_auth(), 0).await;
    assert!(matches!(
        root.read("app/missing").await,
        Err(SecretError::NotFound(p)) if p == "app/missing"
    ));
    assert_eq!(
        root.read("app/config").await.unwrap().field_names().count(),
        2
    );
}

#[tokio::test]
async fn approle_with_the_shipped_policy() {
    let bao = Bao::dev();
    let env = bao.setup("c2VjcmV0LXRzaWc=", &[]);
    assert_eq!(env["AIOPS_VAULT_SECRET_ID_WRAPPED"], "false");
    for f in ["AIOPS_VAULT_ROLE_ID_FILE", "AIOPS_VAULT_SECRET_ID_FILE"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&env[f]).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
    assert_eq!(
        std::fs::read_to_string(&env["AIOPS_VAULT_ROLE_ID_FILE"])
            .unwrap()
            .trim(),
        env["AIOPS_VAULT_ROLE_ID"]
    );
    bao.put("other/thing", serde_json::json!({"k": "v"}));

    let src = bao.source(approle(&env, false), 30).await;
    let s = src.read("dns/tsig").await.unwrap();
    assert_eq!(s.field("name").unwrap().expose_secret(), "aiops-key");
    assert_eq!(s.field("algorithm").unwrap().expose_secret(), "hmac-sha256");
    assert_eq!(
        s.field("secret").unwrap().expose_secret(),
        "c2VjcmV0LXRzaWc="
    );
    assert!(s.request_id().is_some());

    let err = src.read("other/thing").await.unwrap_err();
    assert!(matches!(&err, SecretError::Denied { path } if path == "other/thing"));
    assert_eq!(
        err.to_string(),
        "permission denied reading secret `other/thing` (HTTP 403)"
    );
    assert_eq!(err.code(), "credentials_unavailable");
    // A real denial (the token is valid) does not cost a new login.
    assert_eq!(src.token_stats().logins, 1);

    src.check(&["dns/tsig".to_string()]).await.unwrap();
    let err = src
        .check(&[
            "dns/tsig".to_string(),
            "other/thing".to_string(),
            "dns/tsig2".to_string(),
        ])
        .await
        .unwrap_err();
    match &err {
        SecretError::NotReadable { paths } => assert_eq!(paths, &["other/thing", "dns/tsig2"]),
        other => panic!("{other}"),
    }
    assert!(
        err.to_string().contains("`other/thing`, `dns/tsig2`"),
        "{err}"
    );
    assert_eq!(
        src.stats(),
        SecretStats {
            hits: 0,
            misses: 2,
            errors: 1
        }
    );

    // setup.sh is idempotent: a second run issues a new secret id and retires the old one.
    let old_secret_id = std::fs::read_to_string(&env["AIOPS_VAULT_SECRET_ID_FILE"]).unwrap();
    let env2 = bao.setup("c2VjcmV0LXRzaWc=", &[]);
    assert_eq!(env2["AIOPS_VAULT_ROLE_ID"], env["AIOPS_VAULT_ROLE_ID"]);
    let new_secret_id = std::fs::read_to_string(&env2["AIOPS_VAULT_SECRET_ID_FILE"]).unwrap();
    assert_ne!(old_secret_id, new_secret_id);
    let src2 = bao.source(approle(&env2, false), 30).await;
    src2.read("dns/tsig").await.unwrap();
    let old_file = bao.0.state_dir().join("old-secret-id");
    std::fs::write(&old_file, &old_secret_id).unwrap();
    let err = VaultSource::connect(bao.config(
        VaultAuth::Approle {
            mount: "approle".into(),
            role_id: env["AIOPS_VAULT_ROLE_ID"].clone(),
            secret_id_file: old_file,
            wrapped: false,
        },
        30,
    ))
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("vault login (approle) was refused"),
        "{err}"
    );
    assert!(!err.to_string().contains(old_secret_id.trim()), "{err}");
}

#[tokio::test]
async fn response_wrapped_secret_id() {
    let bao = Bao::dev();
    let env = bao.setup("d3JhcHBlZA==", &[("AIOPS_VAULT_WRAP_TTL", "5m")]);
    assert_eq!(env["AIOPS_VAULT_SECRET_ID_WRAPPED"], "true");
    let src = bao.source(approle(&env, true), 0).await;
    assert_eq!(read_field(&src, "dns/tsig", "secret").await, "d3JhcHBlZA==");
    // The wrapping token is spent; a later login reuses the secret id kept in memory.
    bao.revoke_approle_tokens();
    src.read("dns/tsig").await.unwrap();
    assert_eq!(src.token_stats().logins, 2);
    // Another process holding the same (used) wrapping token cannot unwrap it.
    let err = VaultSource::connect(bao.config(approle(&env, true), 0))
        .await
        .unwrap_err();
    assert_unavailable(&err, &["cannot unwrap", "already used"]);
    let wrapping = std::fs::read_to_string(&env["AIOPS_VAULT_SECRET_ID_FILE"]).unwrap();
    assert!(!err.to_string().contains(wrapping.trim()), "{err}");
}

#[tokio::test]
async fn token_renewal_and_relogin_after_max_ttl() {
    let bao = Bao::dev();
    let env = bao.setup(
        "cmVuZXc=",
        &[
            ("AIOPS_VAULT_TOKEN_TTL", "4s"),
            ("AIOPS_VAULT_TOKEN_MAX_TTL", "12s"),
        ],
    );
    let src = bao.source(approle(&env, false), 0).await;
    let start = Instant::now();
    let mut reads = 0;
    // Past the first TTL twice over: renewals keep the same token alive.
    while start.elapsed() < Duration::from_secs(8) {
        src.read("dns/tsig").await.unwrap();
        reads += 1;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let stats = src.token_stats();
    assert_eq!(stats.logins, 1, "{stats:?}");
    assert!(stats.renewals >= 2, "{stats:?}");
    // The max TTL (12 s) cannot be renewed past: a new login takes over before it ends.
    while start.elapsed() < Duration::from_secs(15) {
        src.read("dns/tsig").await.unwrap();
        reads += 1;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let stats = src.token_stats();
    assert!(stats.logins >= 2, "{stats:?}");
    assert_eq!(src.stats().errors, 0);
    assert_eq!(src.stats().misses, reads);
}

#[tokio::test]
async fn revoked_token_leads_to_a_new_login() {
    let bao = Bao::dev();
    let env = bao.setup("cmV2b2tl", &[]);
    let src = bao.source(approle(&env, false), 0).await;
    src.read("dns/tsig").await.unwrap();
    bao.revoke_approle_tokens();
    src.read("dns/tsig").await.unwrap();
    assert_eq!(src.token_stats().logins, 2);
    // The capabilities check recovers the same way.
    bao.revoke_approle_tokens();
    src.check(&["dns/tsig".to_string()]).await.unwrap();
    assert_eq!(src.token_stats().logins, 3);
    assert_eq!(src.stats().errors, 0);
}

/// Every wait here is in the safe direction (sleeping past a short age, or reading well
/// within a long one), so a loaded machine cannot make it flaky.
#[tokio::test]
async fn cache_max_age_and_no_stale_values_when_vault_is_down() {
    let bao = Bao::dev();
    bao.put("app/key", serde_json::json!({"v": "first"}));
    // Short age (1 s): a hit within it, a refetch after it.
    let short = bao.source(bao.root_auth(), 1).await;
    let first = short.read("app/key").await.unwrap();
    assert_eq!(first.field("v").unwrap().expose_secret(), "first");
    bao.put("app/key", serde_json::json!({"v": "second"}));
    let hit = short.read("app/key").await;
    // A hit if it came within the second; either way never a value older than the age.
    if let Ok(hit) = &hit
        && short.stats().hits == 1
    {
        assert_eq!(hit.field("v").unwrap().expose_secret(), "first");
        assert_eq!(hit.request_id(), first.request_id());
    }
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let fresh = short.read("app/key").await.unwrap();
    assert_eq!(fresh.field("v").unwrap().expose_secret(), "second");
    assert_ne!(fresh.request_id(), first.request_id());

    // Long age (600 s): filled now, then Vault stops; the value is still within its age.
    let long = bao.source(bao.root_auth(), 600).await;
    long.read("app/key").await.unwrap();
    // Short age again, filled now; it will be past its age once Vault is down.
    let expiring = bao.source(bao.root_auth(), 1).await;
    expiring.read("app/key").await.unwrap();
    bao.stop();
    let within = long.read("app/key").await.unwrap();
    assert_eq!(within.field("v").unwrap().expose_secret(), "second");
    assert_eq!(
        long.stats(),
        SecretStats {
            hits: 1,
            misses: 1,
            errors: 0
        }
    );

    tokio::time::sleep(Duration::from_millis(1300)).await;
    let err = expiring.read("app/key").await.unwrap_err();
    assert_unavailable(&err, &["unreachable"]);
    assert_eq!(err.code(), "credentials_unavailable");
    assert!(!err.to_string().contains("second"), "{err}");
    assert!(matches!(
        expiring.health().await,
        Err(SecretError::Unavailable(_))
    ));
    assert_eq!(
        expiring.stats(),
        SecretStats {
            hits: 0,
            misses: 2,
            errors: 1
        }
    );
}

#[tokio::test]
async fn sealed_raft_server_fails_closed() {
    let bao = Bao::raft();
    // setup.sh on a fresh, non-dev server: it has to enable KV v2 and AppRole itself.
    let env = bao.setup("cmFmdA==", &[]);
    let src = bao.source(approle(&env, false), 0).await;
    src.health().await.unwrap();
    assert_eq!(read_field(&src, "dns/tsig", "secret").await, "cmFmdA==");

    bao.seal();
    let err = src.health().await.unwrap_err();
    assert_unavailable(&err, &["sealed"]);
    let err = src.read("dns/tsig").await.unwrap_err();
    assert_unavailable(&err, &["sealed"]);
    assert_eq!(err.code(), "credentials_unavailable");
    let err = src.check(&["dns/tsig".to_string()]).await.unwrap_err();
    assert!(matches!(&err, SecretError::Unavailable(_)), "{err}");
    // A new source cannot even log in.
    let err = VaultSource::connect(bao.config(approle(&env, false), 0))
        .await
        .unwrap_err();
    assert_unavailable(&err, &["sealed"]);
    let err = VaultSource::connect(bao.config(bao.root_auth(), 0))
        .await
        .unwrap_err();
    assert_unavailable(&err, &["sealed"]);
}

#[tokio::test]
async fn canary_values_never_appear_in_errors_debug_or_logs() {
    const CANARY: &str = "Q2FuYXJ5LTdmM2E5LXNlY3JldA==";
    // Everything logged (TRACE and up, dependencies included), by every thread of this test
    // binary: a process-wide subscriber, because a thread-local one loses callsites that
    // tests running in parallel registered first. Logs of the other tests land here too and
    // are checked with the rest. Nothing else in this binary installs a subscriber.
    let logs = LogBuffer::default();
    tracing::subscriber::set_global_default(logs.trace_subscriber().finish())
        .expect("the only global subscriber of this test binary");

    let bao = Bao::dev();
    let env = bao.setup(CANARY, &[]);
    let secret_id = std::fs::read_to_string(&env["AIOPS_VAULT_SECRET_ID_FILE"])
        .unwrap()
        .trim()
        .to_string();
    // A secret mixing the canary with a non-string field (outside the policy: read with
    // a root-token source too).
    bao.put(
        "mixed/bad",
        serde_json::json!({"token": CANARY, "port": 53}),
    );

    let cfg = bao.config(approle(&env, false), 1);
    let src = VaultSource::connect(cfg.clone()).await.unwrap();
    let root = bao.source(bao.root_auth(), 0).await;

    let mut texts: Vec<String> = vec![format!("{src:?}"), format!("{root:?}"), format!("{cfg:?}")];
    let s = src.read("dns/tsig").await.unwrap();
    assert_eq!(s.field("secret").unwrap().expose_secret(), CANARY);
    texts.push(format!("{s:?}"));
    texts.push(format!("{:?}", s.field("secret").unwrap()));
    for e in [
        src.read("mixed/bad").await.unwrap_err(),
        root.read("mixed/bad").await.unwrap_err(),
        root.read("nope/nothing").await.unwrap_err(),
        src.check(&["mixed/bad".to_string()]).await.unwrap_err(),
    ] {
        texts.push(e.to_string());
        texts.push(format!("{e:?}"));
    }
    assert!(
        texts
            .iter()
            .any(|t| t.contains("field `port` is not a string")),
        "{texts:?}"
    );
    bao.stop();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let e = src.read("dns/tsig").await.unwrap_err();
    texts.push(e.to_string());
    texts.push(format!("{e:?}"));
    drop(src);
    drop(root);

    let logs = logs.text();
    assert!(logs.contains("logged in to vault"), "the log capture works");
    texts.push(logs);
    for t in &texts {
        assert!(!t.contains(CANARY), "canary leaked: {t}");
        assert!(!t.contains(&secret_id), "secret id leaked: {t}");
    }
}
