//! Unit tests against a tiny local HTTP listener that plays Vault: request shapes (the
//! Kubernetes login cannot be tried against a real cluster here), lease-capped caching,
//! error mapping. The real-server tests are in `tests/vault.rs`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::auth::refresh_backoff;
use super::error::vault_errors;
use super::kv::entry_max_age;
use super::sys::can_read;
use super::{VaultAuth, VaultConfig, VaultSource, VaultTokenStats};
use crate::{SecretError, SecretSource, SecretStats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[path = "../../tests/support/unavailable.rs"]
mod unavailable;
use unavailable::assert_unavailable;

#[derive(Clone, Debug)]
struct Req {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

type Handler = Arc<dyn Fn(&Req) -> Option<(u16, String)> + Send + Sync>;

struct Fake {
    addr: String,
    requests: Arc<StdMutex<Vec<Req>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Fake {
    fn requests(&self) -> Vec<Req> {
        self.requests.lock().unwrap().clone()
    }
    /// The first request to `path` (its query string aside).
    #[track_caller]
    fn request(&self, path: &str) -> Req {
        self.requests()
            .into_iter()
            .find(|r| r.path.split('?').next() == Some(path))
            .unwrap_or_else(|| panic!("no request to {path}"))
    }
    fn count(&self, method: &str, path: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .count()
    }
}

/// Serves one request per connection (`Connection: close`). A handler answering `None`
/// leaves the request unanswered (to provoke timeouts).
async fn fake(handler: Handler) -> Fake {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(StdMutex::new(Vec::new()));
    let reqs = Arc::clone(&requests);
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let handler = Arc::clone(&handler);
            let reqs = Arc::clone(&reqs);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let mut lines = head.split("\r\n");
                let mut first = lines.next().unwrap_or_default().split(' ');
                let method = first.next().unwrap_or_default().to_string();
                let path = first.next().unwrap_or_default().to_string();
                let headers: Vec<(String, String)> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .collect();
                let len = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.parse::<usize>().ok())
                    .unwrap_or(0);
                while buf.len() < head_end + len {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
                let req = Req {
                    method,
                    path,
                    headers,
                    body,
                };
                reqs.lock().unwrap().push(req.clone());
                let Some((code, body)) = handler(&req) else {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    return;
                };
                let resp = format!(
                    "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Fake {
        addr,
        requests,
        task,
    }
}

const CANARY: &str = "canary-7Hq2-value";

fn auth_reply(token: &str, ttl: u64, renewable: bool) -> String {
    serde_json::json!({
        "request_id": "login-req", "lease_id": "", "renewable": false, "lease_duration": 0,
        "data": null, "wrap_info": null, "warnings": null,
        "auth": {
            "client_token": token, "accessor": "acc", "policies": ["aiops"],
            "token_policies": ["aiops"], "metadata": {"role": "aiopsd"},
            "lease_duration": ttl, "renewable": renewable, "entity_id": "e",
            "token_type": "service", "orphan": true
        }
    })
    .to_string()
}

fn kv_reply(request_id: &str, lease: u64, data: serde_json::Value) -> String {
    serde_json::json!({
        "request_id": request_id, "lease_id": "", "renewable": false, "lease_duration": lease,
        "data": {"data": data, "metadata": {"version": 1}},
        "wrap_info": null, "warnings": null, "auth": null
    })
    .to_string()
}

fn lookup_reply(token: &str, ttl: u64) -> String {
    serde_json::json!({
        "request_id": "lookup-req", "lease_id": "", "renewable": false, "lease_duration": 0,
        "data": {
            "accessor": "acc", "creation_time": 1, "creation_ttl": ttl, "display_name": "token",
            "entity_id": "", "expire_time": null, "explicit_max_ttl": 0, "id": token,
            "issue_time": null, "meta": null, "num_uses": 0, "orphan": true, "path": "auth/token/create",
            "policies": ["aiops"], "renewable": false, "ttl": ttl, "type": "service"
        },
        "wrap_info": null, "warnings": null, "auth": null
    })
    .to_string()
}

fn config(addr: &str, auth: VaultAuth) -> VaultConfig {
    VaultConfig {
        addr: addr.to_string(),
        kv_mount: "secret".to_string(),
        auth,
        cache_max_age_secs: 60,
        timeout_ms: 2_000,
        ca_cert: None,
    }
}

/// Vault's answer for a path it does not serve.
fn not_found() -> Option<(u16, String)> {
    Some((404, r#"{"errors":[]}"#.to_string()))
}

/// AppRole auth (role `role-1`, default mount) with `secret_id` in a file in `dir`.
fn approle(dir: &tempfile::TempDir, secret_id: &str) -> VaultAuth {
    let secret_id_file = dir.path().join("secret-id");
    std::fs::write(&secret_id_file, secret_id).unwrap();
    VaultAuth::Approle {
        mount: "approle".into(),
        role_id: "role-1".into(),
        secret_id_file,
        wrapped: false,
    }
}

fn token_file(dir: &tempfile::TempDir, token: &str) -> PathBuf {
    let p = dir.path().join("token");
    std::fs::write(&p, format!("{token}\n")).unwrap();
    p
}

#[test]
fn config_deserialises_with_defaults_and_rejects_unknown_fields() {
    let cfg: VaultConfig = serde_json::from_value(serde_json::json!({
        "addr": "http://127.0.0.1:8200",
        "auth": {"method": "approle", "role_id": "r-1", "secret_id_file": "/run/sid"}
    }))
    .unwrap();
    assert_eq!(cfg.kv_mount, "secret");
    assert_eq!(cfg.cache_max_age_secs, 30);
    assert_eq!(cfg.timeout_ms, 5_000);
    assert_eq!(cfg.ca_cert, None);
    assert_eq!(
        cfg.auth,
        VaultAuth::Approle {
            mount: "approle".into(),
            role_id: "r-1".into(),
            secret_id_file: "/run/sid".into(),
            wrapped: false
        }
    );
    cfg.validate().unwrap();
    let k: VaultAuth =
        serde_json::from_value(serde_json::json!({"method": "kubernetes", "role": "aiopsd"}))
            .unwrap();
    assert_eq!(
        k,
        VaultAuth::Kubernetes {
            mount: "kubernetes".into(),
            role: "aiopsd".into(),
            jwt_file: "/var/run/secrets/kubernetes.io/serviceaccount/token".into()
        }
    );
    let t: VaultAuth =
        serde_json::from_value(serde_json::json!({"method": "token", "token_file": "/t"})).unwrap();
    assert_eq!(
        t,
        VaultAuth::Token {
            token_file: "/t".into()
        }
    );
    // A token inline in config is a typo we refuse, not a field we ignore.
    assert!(
        serde_json::from_value::<VaultAuth>(
            serde_json::json!({"method": "token", "token_file": "/t", "token": "s.x"})
        )
        .is_err()
    );
    assert!(
        serde_json::from_value::<VaultConfig>(serde_json::json!({
            "addr": "http://x", "auth": {"method": "token", "token_file": "/t"}, "tokn": 1
        }))
        .is_err()
    );
    // Round trip.
    let back: VaultConfig = serde_json::from_str(&serde_json::to_string(&cfg).unwrap()).unwrap();
    assert_eq!(back, cfg);
}

#[test]
fn config_validation_names_the_problem() {
    let auth = VaultAuth::Token {
        token_file: "/t".into(),
    };
    let mut cfg = config("ftp://vault", auth.clone());
    assert!(matches!(cfg.validate(), Err(SecretError::Config(m)) if m.contains("ftp://vault")));
    cfg.addr = "http://127.0.0.1:8200".into();
    cfg.kv_mount = "../x".into();
    assert!(matches!(cfg.validate(), Err(SecretError::Config(m)) if m.contains("kv_mount")));
    cfg.kv_mount = "secret".into();
    cfg.timeout_ms = 0;
    assert!(cfg.validate().is_err());
    cfg.timeout_ms = 1;
    cfg.auth = VaultAuth::Kubernetes {
        mount: "kubernetes".into(),
        role: " ".into(),
        jwt_file: "/j".into(),
    };
    assert!(matches!(cfg.validate(), Err(SecretError::Config(m)) if m.contains("role")));
    assert_eq!(
        SecretError::Config("x".into()).code(),
        "invalid_secrets_config"
    );
}

#[test]
fn cache_age_is_capped_by_the_lease() {
    assert_eq!(entry_max_age(0, None), None);
    assert_eq!(entry_max_age(0, Some(Duration::from_secs(5))), None);
    assert_eq!(entry_max_age(30, None), Some(Duration::from_secs(30)));
    assert_eq!(
        entry_max_age(30, Some(Duration::from_secs(5))),
        Some(Duration::from_secs(5))
    );
    assert_eq!(
        entry_max_age(3, Some(Duration::from_secs(50))),
        Some(Duration::from_secs(3))
    );
}

#[test]
fn refresh_backoff_doubles_up_to_its_cap() {
    use backon::BackoffBuilder;
    let secs: Vec<u64> = refresh_backoff()
        .build()
        .take(8)
        .map(|d| d.as_secs())
        .collect();
    assert_eq!(secs, [1, 2, 4, 8, 16, 30, 30, 30]);
}

#[test]
fn capability_lists() {
    let v = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(can_read(Some(&v(&["read"]))));
    assert!(can_read(Some(&v(&["root"]))));
    assert!(can_read(Some(&v(&["create", "read", "update"]))));
    assert!(!can_read(Some(&v(&["deny"]))));
    assert!(!can_read(Some(&v(&["read", "deny"]))));
    assert!(!can_read(Some(&v(&["list"]))));
    assert!(!can_read(Some(&v(&[]))));
    assert!(!can_read(None));
}

#[test]
fn vault_error_strings_are_redacted_and_bounded() {
    let secret = SecretString::from("s3cr3t-id");
    let out = vault_errors(
        &[
            "invalid secret id s3cr3t-id\n".to_string(),
            "  ".to_string(),
        ],
        &[&secret],
    );
    assert_eq!(out, "invalid secret id [redacted]");
    let long = vault_errors(&["é".repeat(400)], &[]);
    assert!(long.len() <= 304, "{}", long.len());
}

#[test]
fn messages_of_new_errors() {
    let e = SecretError::Denied {
        path: "dns/tsig".into(),
    };
    assert_eq!(
        e.to_string(),
        "permission denied reading secret `dns/tsig` (HTTP 403)"
    );
    assert_eq!(e.code(), "credentials_unavailable");
    let e = SecretError::NotReadable {
        paths: vec!["a/b".into(), "c".into()],
    };
    assert!(e.to_string().contains("`a/b`, `c`"), "{e}");
    assert_eq!(e.code(), "credentials_unavailable");
}

/// Kubernetes auth: `POST /v1/auth/<mount>/login` with `{"role", "jwt"}` and no token
/// header; the returned client token is then sent on reads; a read's `request_id` and a
/// short lease reach the `Secret` and the cache.
#[tokio::test]
async fn kubernetes_login_request_shape_and_lease_capped_cache() {
    let dir = tempfile::tempdir().unwrap();
    let jwt_file = dir.path().join("sa-token");
    std::fs::write(&jwt_file, "eyJhbGciOiJSUzI1NiJ9.jwt-canary.sig\n").unwrap();
    let handler: Handler = Arc::new(|r: &Req| match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/v1/auth/k8s-test/login") => Some((200, auth_reply("s.k8s-token", 0, false))),
        ("GET", "/v1/secret/data/app/db") => Some((
            200,
            kv_reply("kv-req-1", 1, serde_json::json!({"password": CANARY})),
        )),
        _ => not_found(),
    });
    let vault = fake(handler).await;
    let mut cfg = config(
        &vault.addr,
        VaultAuth::Kubernetes {
            mount: "k8s-test".into(),
            role: "aiopsd".into(),
            jwt_file,
        },
    );
    cfg.cache_max_age_secs = 60;
    let src = VaultSource::connect(cfg).await.unwrap();

    let login = vault.request("/v1/auth/k8s-test/login");
    assert_eq!(login.method, "POST");
    assert_eq!(login.header("x-vault-token"), None);
    let body: serde_json::Value = serde_json::from_str(&login.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"role": "aiopsd", "jwt": "eyJhbGciOiJSUzI1NiJ9.jwt-canary.sig"})
    );
    assert_eq!(src.token_stats().logins, 1);

    let s = src.read("app/db").await.unwrap();
    assert_eq!(s.field("password").unwrap().expose_secret(), CANARY);
    assert_eq!(s.request_id(), Some("kv-req-1"));
    let read = vault.request("/v1/secret/data/app/db");
    assert_eq!(read.header("x-vault-token"), Some("s.k8s-token"));

    // Hit: the cached copy keeps the request id of the read that filled it.
    let s = src.read("app/db").await.unwrap();
    assert_eq!(s.request_id(), Some("kv-req-1"));
    assert_eq!(
        src.stats(),
        SecretStats {
            hits: 1,
            misses: 1,
            errors: 0
        }
    );
    // The lease (1 s) caps the 60 s max age.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    src.read("app/db").await.unwrap();
    assert_eq!(src.stats().misses, 2);
    assert_eq!(vault.count("GET", "/v1/secret/data/app/db"), 2);
    // The fresh read is cached again, under its own lease.
    src.read("app/db").await.unwrap();
    assert_eq!(src.stats().hits, 2);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    src.read("app/db").await.unwrap();
    assert_eq!(vault.count("GET", "/v1/secret/data/app/db"), 3);
    assert!(!format!("{src:?}").contains("k8s-token"));
}

#[tokio::test]
async fn reply_errors_are_mapped_and_never_echo_values() {
    let dir = tempfile::tempdir().unwrap();
    let handler: Handler = Arc::new(|r: &Req| match (r.method.as_str(), r.path.as_str()) {
        ("GET", "/v1/auth/token/lookup-self") => Some((200, lookup_reply("s.tok", 0))),
        ("GET", "/v1/secret/data/mixed") => Some((
            200,
            kv_reply("r", 0, serde_json::json!({"user": CANARY, "port": 5432})),
        )),
        ("GET", "/v1/secret/data/nested") => Some((
            200,
            kv_reply("r", 0, serde_json::json!({"a": {"b": CANARY}})),
        )),
        ("GET", "/v1/secret/data/garbage") => Some((200, format!("{{\"data\": {CANARY}"))),
        ("GET", "/v1/secret/data/empty") => Some((200, kv_reply("r", 0, serde_json::json!({})))),
        ("GET", "/v1/secret/data/deleted") => Some((
            200,
            r#"{"request_id":"r","lease_duration":0,"data":{"data":null,"metadata":{}}}"#
                .to_string(),
        )),
        ("GET", "/v1/secret/data/denied") => {
            Some((403, r#"{"errors":["permission denied"]}"#.to_string()))
        }
        ("GET", "/v1/secret/data/sealed") => {
            Some((503, r#"{"errors":["Vault is sealed"]}"#.to_string()))
        }
        ("GET", "/v1/secret/data/broken") => Some((500, "oops".to_string())),
        ("GET", "/v1/secret/data/bad") => Some((400, CANARY.to_string())),
        ("GET", "/v1/secret/data/slow") => None,
        _ => not_found(),
    });
    let vault = fake(handler).await;
    let mut cfg = config(
        &vault.addr,
        VaultAuth::Token {
            token_file: token_file(&dir, "s.tok"),
        },
    );
    cfg.timeout_ms = 500;
    let src = VaultSource::connect(cfg).await.unwrap();

    let err = src.read("mixed").await.unwrap_err();
    assert!(
        matches!(&err, SecretError::Unreadable { path, reason } if path == "mixed" && reason.contains("`port`")),
        "{err}"
    );
    for p in ["mixed", "nested", "garbage", "bad", "empty"] {
        let err = src.read(p).await.unwrap_err();
        assert!(!err.to_string().contains("canary"), "{err}");
        assert!(!format!("{err:?}").contains("canary"), "{err:?}");
        assert!(matches!(err, SecretError::Unreadable { .. }), "{p}: {err}");
    }
    assert!(matches!(
        src.read("missing").await,
        Err(SecretError::NotFound(p)) if p == "missing"
    ));
    assert!(matches!(
        src.read("deleted").await,
        Err(SecretError::NotFound(_))
    ));
    // 403 with a token that lookup-self still accepts: a real denial, no new login.
    let err = src.read("denied").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "permission denied reading secret `denied` (HTTP 403)"
    );
    assert_eq!(src.token_stats().logins, 1);
    let err = src.read("sealed").await.unwrap_err();
    assert_unavailable(&err, &["sealed"]);
    assert!(matches!(
        src.read("broken").await,
        Err(SecretError::Unavailable(m)) if m.contains("HTTP 500")
    ));
    let err = src.read("slow").await.unwrap_err();
    assert_unavailable(&err, &["timed out"]);
    assert!(matches!(
        src.read("../etc/passwd").await,
        Err(SecretError::InvalidPath(_))
    ));
    // Every failed read counts; invalid paths never reach the source.
    assert_eq!(src.stats().errors, 12);
    assert_eq!(src.stats().hits, 0);
}

#[tokio::test]
async fn unreachable_and_refused_logins_fail_closed() {
    // Nothing listens on this port (bound, then released).
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let auth = approle(&dir, "sid-canary-0001");
    let err = VaultSource::connect(config(&format!("http://127.0.0.1:{port}"), auth.clone()))
        .await
        .unwrap_err();
    assert_unavailable(&err, &["unreachable", "connection refused"]);
    assert_eq!(err.code(), "credentials_unavailable");

    // Vault echoing the secret id in its error: redacted.
    let handler: Handler = Arc::new(|_r: &Req| {
        Some((
            400,
            r#"{"errors":["invalid role or secret ID sid-canary-0001"]}"#.to_string(),
        ))
    });
    let vault = fake(handler).await;
    let err = VaultSource::connect(config(&vault.addr, auth))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("refused (HTTP 400"), "{msg}");
    assert!(
        msg.contains("[redacted]") && !msg.contains("sid-canary"),
        "{msg}"
    );

    // Missing credential file.
    let err = VaultSource::connect(config(
        &vault.addr,
        VaultAuth::Token {
            token_file: dir.path().join("nope"),
        },
    ))
    .await
    .unwrap_err();
    assert!(err.to_string().contains("token file"), "{err}");
}

/// A renewal that fails because Vault is unavailable (503) is retried after the backoff's
/// first delay, with the same token and no new login.
#[tokio::test]
async fn failed_renewal_is_retried_after_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let renews = AtomicU64::new(0);
    let handler: Handler = Arc::new(move |r: &Req| match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/v1/auth/approle/login") => Some((200, auth_reply("s.tok", 3, true))),
        ("POST", "/v1/auth/token/renew-self") => {
            if renews.fetch_add(1, Ordering::SeqCst) == 0 {
                Some((503, r#"{"errors":["Vault is sealed"]}"#.to_string()))
            } else {
                Some((200, auth_reply("s.tok", 3, true)))
            }
        }
        _ => not_found(),
    });
    let vault = fake(handler).await;
    let src = VaultSource::connect(config(&vault.addr, approle(&dir, "sid-1")))
        .await
        .unwrap();
    // First renewal at ~2 s fails, the retry ~1 s later succeeds.
    for _ in 0..100 {
        if src.token_stats().renewals > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        src.token_stats(),
        VaultTokenStats {
            logins: 1,
            renewals: 1
        }
    );
    assert_eq!(vault.count("POST", "/v1/auth/token/renew-self"), 2);
}

/// A 403 with a token that lookup-self no longer accepts triggers one new login and a
/// retry; the renewal task renews at 2/3 of the TTL.
#[tokio::test]
async fn revoked_token_relogin_and_renewal_against_fake() {
    let dir = tempfile::tempdir().unwrap();
    let logins = AtomicU64::new(0);
    let handler: Handler = Arc::new(move |r: &Req| {
        let tok = r.header("x-vault-token").unwrap_or("").to_string();
        match (r.method.as_str(), r.path.as_str()) {
            ("POST", "/v1/auth/approle/login") => {
                let n = logins.fetch_add(1, Ordering::SeqCst) + 1;
                Some((200, auth_reply(&format!("s.tok-{n}"), 3, true)))
            }
            ("POST", "/v1/auth/token/renew-self") => Some((200, auth_reply(&tok, 3, true))),
            // Token 1 is revoked: everything it sends is refused.
            (_, _) if tok == "s.tok-1" => {
                Some((403, r#"{"errors":["permission denied"]}"#.to_string()))
            }
            ("GET", "/v1/secret/data/x") => {
                Some((200, kv_reply("r", 0, serde_json::json!({"k": "v"}))))
            }
            _ => not_found(),
        }
    });
    let vault = fake(handler).await;
    let mut cfg = config(&vault.addr, approle(&dir, "sid-1"));
    cfg.cache_max_age_secs = 0;
    let src = VaultSource::connect(cfg).await.unwrap();
    let s = src.read("x").await.unwrap();
    assert_eq!(s.field("k").unwrap().expose_secret(), "v");
    assert_eq!(src.token_stats().logins, 2);
    assert_eq!(vault.count("GET", "/v1/auth/token/lookup-self"), 1);
    // Renewal of token 2 at ~2 s.
    tokio::time::sleep(Duration::from_millis(2_600)).await;
    assert!(src.token_stats().renewals >= 1, "{:?}", src.token_stats());
    let renew = vault.request("/v1/auth/token/renew-self");
    assert_eq!(renew.header("x-vault-token"), Some("s.tok-2"));
    assert_eq!(src.token_stats().logins, 2);
}

#[tokio::test]
async fn health_reads_the_status_and_body() {
    for (code, body, ok, needle) in [
        (200, r#"{"initialized":true,"sealed":false}"#, true, ""),
        (
            429,
            r#"{"initialized":true,"sealed":false,"standby":true}"#,
            true,
            "",
        ),
        (
            503,
            r#"{"initialized":true,"sealed":true}"#,
            false,
            "sealed",
        ),
        (
            501,
            r#"{"initialized":false,"sealed":true}"#,
            false,
            "not initialised",
        ),
        (500, "x", false, "HTTP 500"),
    ] {
        let handler: Handler = Arc::new(move |r: &Req| {
            if r.path.starts_with("/v1/sys/health") {
                Some((code, body.to_string()))
            } else {
                Some((200, lookup_reply("root", 0)))
            }
        });
        let vault = fake(handler).await;
        let dir = tempfile::tempdir().unwrap();
        let src = VaultSource::connect(config(
            &vault.addr,
            VaultAuth::Token {
                token_file: token_file(&dir, "root"),
            },
        ))
        .await
        .unwrap();
        let got = src.health().await;
        assert_eq!(got.is_ok(), ok, "{code}: {got:?}");
        if let Err(e) = got {
            assert!(e.to_string().contains(needle), "{code}: {e}");
        }
        let h = vault.request("/v1/sys/health");
        assert_eq!(h.header("x-vault-token"), None, "health is unauthenticated");
    }
}
