//! Vault / OpenBao as a [`SecretSource`]: KV v2 reads with a short-lived cache, token
//! auth (dev), AppRole (optionally response-wrapped secret id) or Kubernetes auth, and a
//! background task that renews the token before it expires and logs in again when it
//! cannot.
//!
//! What goes through `vaultrs` and what does not:
//! - `vaultrs` (over its rustify/reqwest client) does the auth calls: AppRole and Kubernetes
//!   login, `auth/token/lookup-self`, `auth/token/renew-self`, `sys/wrapping/unwrap`.
//! - Plain HTTP requests on the same reqwest client do the rest: the KV v2 read (vaultrs'
//!   `kv2::read` drops the reply's `request_id` and `lease_duration`, which the audit trail
//!   and the cache need), `sys/capabilities-self` (not in vaultrs) and `sys/health`
//!   (vaultrs' `sys::health` does not parse OpenBao's reply).
//!
//! Tokens, secret ids, JWTs and values are held as [`SecretString`]; nothing here formats
//! them, and error messages carry paths, HTTP statuses and Vault's own error strings only
//! (with any credential that might be echoed replaced by `[redacted]`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::time::Instant;
use vaultrs::api::EndpointMiddleware;
use vaultrs::client::{Client as VaultrsClient, VaultClient, VaultClientSettings};
use vaultrs::error::ClientError;
use zeroize::Zeroize;

use crate::{Secret, SecretError, SecretSource, SecretStats, validate_path};

/// A token closer than this to its expiry is treated as expired (clock skew, latency).
const EXPIRY_MARGIN: Duration = Duration::from_millis(250);
/// Largest KV reply accepted.
const MAX_BODY_BYTES: usize = 1 << 20;
/// Retry delays of the background task after a failed renewal or login.
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

fn default_kv_mount() -> String {
    "secret".to_string()
}
fn default_cache_max_age_secs() -> u64 {
    30
}
fn default_timeout_ms() -> u64 {
    5_000
}
fn default_approle_mount() -> String {
    "approle".to_string()
}
fn default_kubernetes_mount() -> String {
    "kubernetes".to_string()
}
fn default_jwt_file() -> PathBuf {
    PathBuf::from("/var/run/secrets/kubernetes.io/serviceaccount/token")
}

/// Configuration of the Vault secret source. Holds no secret: credentials are read from
/// the files it names.
///
/// ```toml
/// addr = "http://127.0.0.1:8200"
/// kv_mount = "secret"            # default
/// cache_max_age_secs = 30        # default; 0 = no cache
/// timeout_ms = 5000              # default
/// # ca_cert = "/etc/aiops/vault-ca.pem"
/// [auth]
/// method = "approle"
/// role_id = "…"
/// secret_id_file = "/run/aiops/secret-id"
/// wrapped = false                # default
/// # mount = "approle"            # default
/// ```
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VaultConfig {
    /// Base address, e.g. `http://127.0.0.1:8200` or `https://vault.example:8200`.
    pub addr: String,
    /// Mount path of the KV version 2 engine (`secret`).
    #[serde(default = "default_kv_mount")]
    pub kv_mount: String,
    pub auth: VaultAuth,
    /// How long a read value may be served from memory; 0 turns the cache off. An entry
    /// never outlives the secret's lease either (`lease_duration`, when non-zero).
    #[serde(default = "default_cache_max_age_secs")]
    pub cache_max_age_secs: u64,
    /// Timeout of each HTTP request to Vault, connection included.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// PEM file of the CA that signed Vault's certificate (https only); trusted in
    /// addition to the system's roots.
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
}

/// How the source logs in to Vault.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, PartialEq)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum VaultAuth {
    /// A token read from a file (development; never inline in config). Re-read when the
    /// token is rejected or expires. The token needs `auth/token/lookup-self` (the `default`
    /// policy has it): the login looks up its TTL and renewability.
    Token { token_file: PathBuf },
    /// AppRole: `role_id` from config, the secret id from a file. With `wrapped`, the file
    /// holds a response-wrapping token; it is unwrapped (`sys/wrapping/unwrap`) at the first
    /// login and the secret id is kept in memory for later logins, until the file changes.
    Approle {
        #[serde(default = "default_approle_mount")]
        mount: String,
        role_id: String,
        secret_id_file: PathBuf,
        #[serde(default)]
        wrapped: bool,
    },
    /// Kubernetes auth for in-cluster runs: `POST auth/<mount>/login {"role", "jwt"}` with
    /// the pod's service-account token, re-read from `jwt_file` at each login (projected
    /// tokens rotate).
    ///
    /// Implemented after Vault's documented API; it cannot be exercised against a real
    /// cluster here, so only the request's shape is tested (against a local listener).
    Kubernetes {
        #[serde(default = "default_kubernetes_mount")]
        mount: String,
        role: String,
        #[serde(default = "default_jwt_file")]
        jwt_file: PathBuf,
    },
}

impl VaultAuth {
    fn method(&self) -> &'static str {
        match self {
            VaultAuth::Token { .. } => "token",
            VaultAuth::Approle { .. } => "approle",
            VaultAuth::Kubernetes { .. } => "kubernetes",
        }
    }
}

impl VaultConfig {
    /// Checks the configuration without contacting Vault.
    pub fn validate(&self) -> Result<(), SecretError> {
        let bad = |msg: String| Err(SecretError::Config(msg));
        match url::Url::parse(&self.addr) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => return bad(format!("vault addr `{}` is not an http(s) URL", self.addr)),
        }
        if validate_path(&self.kv_mount).is_err() {
            return bad(format!(
                "vault kv_mount `{}` is not a valid mount path",
                self.kv_mount
            ));
        }
        if self.timeout_ms == 0 {
            return bad("vault timeout_ms must be greater than 0".to_string());
        }
        let mount_ok = |m: &str| validate_path(m).is_ok();
        match &self.auth {
            VaultAuth::Token { .. } => {}
            VaultAuth::Approle { mount, role_id, .. } => {
                if !mount_ok(mount) {
                    return bad(format!("vault approle mount `{mount}` is not valid"));
                }
                if role_id.trim().is_empty() {
                    return bad("vault approle role_id is empty".to_string());
                }
            }
            VaultAuth::Kubernetes { mount, role, .. } => {
                if !mount_ok(mount) {
                    return bad(format!("vault kubernetes mount `{mount}` is not valid"));
                }
                if role.trim().is_empty() {
                    return bad("vault kubernetes role is empty".to_string());
                }
            }
        }
        Ok(())
    }
}

/// Token lifecycle counters (for metrics and tests).
#[derive(Debug, Clone, Copy, Default, serde::Serialize, PartialEq, Eq)]
pub struct VaultTokenStats {
    /// Successful logins, the first one included.
    pub logins: u64,
    /// Successful `renew-self` calls.
    pub renewals: u64,
}

/// Reads secrets from a Vault or OpenBao KV v2 engine. See the module docs.
///
/// Built by [`VaultSource::connect`], which logs in and starts the token's background
/// renewal; dropping the source stops that task.
pub struct VaultSource {
    inner: Arc<Inner>,
    renewer: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for VaultSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultSource")
            .field("addr", &self.inner.cfg.addr)
            .field("kv_mount", &self.inner.cfg.kv_mount)
            .field("auth", &self.inner.cfg.auth.method())
            .field("cache_max_age_secs", &self.inner.cfg.cache_max_age_secs)
            .finish_non_exhaustive()
    }
}

impl Drop for VaultSource {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

struct TokenState {
    token: SecretString,
    generation: u64,
    /// When the TTL below started (taken before the request that granted it).
    obtained: Instant,
    /// `None`: the token does not expire (a root token).
    ttl: Option<Duration>,
    renewable: bool,
    /// The TTL the last login granted; a renewal granting much less means the max TTL is near.
    login_ttl: Duration,
    /// Renewal can no longer extend the token meaningfully: log in again instead.
    exhausted: bool,
}

impl TokenState {
    fn expires_at(&self) -> Option<Instant> {
        self.ttl.map(|ttl| self.obtained + ttl)
    }

    fn is_fresh(&self, now: Instant) -> bool {
        self.expires_at()
            .is_none_or(|exp| now + EXPIRY_MARGIN < exp)
    }
}

/// What is remembered between logins: a wrapped secret id can be unwrapped only once.
#[derive(Default)]
struct LoginMemo {
    wrapping_token: Option<SecretString>,
    secret_id: Option<SecretString>,
}

struct CacheEntry {
    fields: BTreeMap<String, SecretString>,
    request_id: Option<String>,
    expires: Instant,
}

struct Inner {
    cfg: VaultConfig,
    /// Base address without a trailing slash.
    addr: String,
    /// Token-less vaultrs client; its reqwest client also carries the plain requests.
    client: VaultClient,
    state: Mutex<Option<TokenState>>,
    login_lock: tokio::sync::Mutex<LoginMemo>,
    wake: tokio::sync::Notify,
    cache: Mutex<HashMap<String, CacheEntry>>,
    hits: AtomicU64,
    misses: AtomicU64,
    errors: AtomicU64,
    logins: AtomicU64,
    renewals: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A vaultrs client view that sends one given token. The copy of the token vaultrs needs
/// as a `String` is zeroized when the view is dropped.
struct Authed<'a> {
    base: &'a VaultClient,
    middle: EndpointMiddleware,
}

impl<'a> Authed<'a> {
    fn new(base: &'a VaultClient, token: Option<&SecretString>) -> Self {
        Authed {
            base,
            middle: EndpointMiddleware {
                token: token
                    .map(|t| t.expose_secret().to_string())
                    .unwrap_or_default(),
                version: "v1".to_string(),
                wrap: None,
                namespace: None,
            },
        }
    }
}

impl Drop for Authed<'_> {
    fn drop(&mut self) {
        self.middle.token.zeroize();
    }
}

impl VaultrsClient for Authed<'_> {
    fn http(&self) -> &rustify::clients::reqwest::Client {
        &self.base.http
    }
    fn middle(&self) -> &EndpointMiddleware {
        &self.middle
    }
    fn settings(&self) -> &VaultClientSettings {
        &self.base.settings
    }
    fn set_token(&mut self, token: &str) {
        self.middle.token.zeroize();
        self.middle.token = token.to_string();
    }
}

/// Why a call to Vault failed, before it is turned into a [`SecretError`].
enum Failure {
    /// Vault answered with this HTTP status (and these error strings).
    Status(u16, Vec<String>),
    /// No answer: connection refused, timeout, TLS, …
    Transport(String),
    /// An answer we could not use.
    Reply(String),
}

impl Failure {
    fn from_vaultrs(e: ClientError) -> Failure {
        match e {
            ClientError::APIError { code, errors } => Failure::Status(code, errors),
            ClientError::RestClientError { source } => match source {
                rustify::errors::ClientError::ServerResponseError { code, .. } => {
                    Failure::Status(code, Vec::new())
                }
                rustify::errors::ClientError::RequestError { .. }
                | rustify::errors::ClientError::ResponseError { .. } => {
                    Failure::Transport(describe_transport(&source))
                }
                other => Failure::Reply(other.to_string()),
            },
            ClientError::ResponseEmptyError | ClientError::ResponseDataEmptyError => {
                Failure::Reply("the reply holds no data".to_string())
            }
            // Display strings of the remaining variants name no content.
            other => Failure::Reply(other.to_string()),
        }
    }

    fn is_unavailable(&self) -> bool {
        match self {
            Failure::Transport(_) => true,
            Failure::Status(code, _) => *code == 429 || *code >= 500,
            Failure::Reply(_) => false,
        }
    }
}

/// A short, content-free description of a transport error (walks the source chain).
fn describe_transport(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut timed_out = false;
    let mut io_kind = None;
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            io_kind = Some(io.kind());
        }
        if e.to_string().contains("timed out") {
            timed_out = true;
        }
        cur = e.source();
    }
    if timed_out || io_kind == Some(std::io::ErrorKind::TimedOut) {
        return "timed out".to_string();
    }
    match io_kind {
        Some(std::io::ErrorKind::ConnectionRefused) => "connection refused".to_string(),
        Some(std::io::ErrorKind::ConnectionReset) => "connection reset".to_string(),
        Some(kind) => format!("connection failed ({kind})"),
        None => "connection failed".to_string(),
    }
}

fn plain_transport(e: &(dyn std::error::Error + 'static), is_timeout: bool) -> Failure {
    if is_timeout {
        Failure::Transport("timed out".to_string())
    } else {
        Failure::Transport(describe_transport(e))
    }
}

/// Vault's error strings, with any credential replaced, for messages.
fn vault_errors(errors: &[String], redact: &[&SecretString]) -> String {
    let joined = errors
        .iter()
        .map(|e| e.trim().replace(['\n', '\t'], " "))
        .filter(|e| !e.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let mut out = joined;
    for secret in redact {
        let s = secret.expose_secret();
        if !s.is_empty() {
            out = out.replace(s, "[redacted]");
        }
    }
    if out.len() > 300 {
        let mut cut = 300;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

fn is_sealed(errors: &[String]) -> bool {
    errors
        .iter()
        .any(|e| e.to_ascii_lowercase().contains("sealed"))
}

/// The error of a call that did not reach a usable answer (for 429/5xx/transport failures).
fn unavailable(addr: &str, what: &str, f: &Failure) -> SecretError {
    match f {
        Failure::Transport(why) => SecretError::Unavailable(format!(
            "vault at {addr} is unreachable ({why}) during {what}"
        )),
        Failure::Status(503, errs) if is_sealed(errs) => {
            SecretError::Unavailable(format!("vault is sealed (HTTP 503) during {what}"))
        }
        Failure::Status(code, _) => {
            SecretError::Unavailable(format!("vault answered HTTP {code} during {what}"))
        }
        Failure::Reply(why) => {
            SecretError::Unavailable(format!("vault gave an unusable reply during {what}: {why}"))
        }
    }
}

/// Reads a credential file: trimmed, non-empty, held as a secret from the start.
async fn read_secret_file(path: &Path, what: &str) -> Result<SecretString, SecretError> {
    let mut text = tokio::fs::read_to_string(path).await.map_err(|e| {
        SecretError::Unavailable(format!(
            "cannot read the vault {what} file {}: {}",
            path.display(),
            e.kind()
        ))
    })?;
    let value = SecretString::from(text.trim().to_string());
    text.zeroize();
    if value.expose_secret().is_empty() {
        return Err(SecretError::Unavailable(format!(
            "the vault {what} file {} is empty",
            path.display()
        )));
    }
    Ok(value)
}

/// Installs rustls' ring provider as the process default when no provider is installed
/// (reqwest is built without one; see Cargo.toml).
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race against another installer is fine: a provider is then installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

struct Login {
    token: SecretString,
    ttl: Option<Duration>,
    renewable: bool,
}

fn ttl_of(secs: u64) -> Option<Duration> {
    (secs > 0).then(|| Duration::from_secs(secs))
}

// Replies of the plain requests. No `Debug`: they may hold values.
#[derive(Deserialize)]
struct KvReply {
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    lease_duration: Option<u64>,
    #[serde(default)]
    data: Option<KvData>,
}

#[derive(Deserialize)]
struct KvData {
    #[serde(default)]
    data: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct ErrorsReply {
    #[serde(default)]
    errors: Vec<String>,
}

#[derive(Deserialize)]
struct HealthReply {
    #[serde(default)]
    initialized: Option<bool>,
    #[serde(default)]
    sealed: Option<bool>,
}

/// Secret id of an unwrapped AppRole `secret-id` response.
#[derive(Deserialize)]
struct UnwrappedSecretId {
    secret_id: String,
}

/// The outcome of one KV read.
enum KvOutcome {
    Found {
        fields: BTreeMap<String, SecretString>,
        request_id: Option<String>,
        lease: Option<Duration>,
    },
    Forbidden,
}

impl VaultSource {
    /// Validates `cfg`, logs in (failing closed when Vault is unreachable, sealed or
    /// refuses the credentials) and starts the token's renewal task. Must be called
    /// inside a Tokio runtime.
    pub async fn connect(cfg: VaultConfig) -> Result<VaultSource, SecretError> {
        cfg.validate()?;
        ensure_crypto_provider();
        let address = url::Url::parse(&cfg.addr)
            .map_err(|_| SecretError::Config(format!("vault addr `{}` is not a URL", cfg.addr)))?;
        let ca_certs = match &cfg.ca_cert {
            Some(p) => {
                if !p.is_file() {
                    return Err(SecretError::Config(format!(
                        "vault ca_cert {} is not a readable file",
                        p.display()
                    )));
                }
                vec![p.to_string_lossy().into_owned()]
            }
            None => Vec::new(),
        };
        // Every field set here, so nothing is taken from VAULT_* environment variables.
        let settings = VaultClientSettings {
            address,
            ca_certs,
            identity: None,
            timeout: Some(Duration::from_millis(cfg.timeout_ms)),
            token: String::new(),
            verify: true,
            version: 1,
            wrapping: false,
            namespace: None,
            proxy: None,
        };
        let client = VaultClient::new(settings)
            .map_err(|e| SecretError::Config(format!("cannot build the vault HTTP client: {e}")))?;
        let inner = Arc::new(Inner {
            addr: cfg.addr.trim_end_matches('/').to_string(),
            cfg,
            client,
            state: Mutex::new(None),
            login_lock: tokio::sync::Mutex::new(LoginMemo::default()),
            wake: tokio::sync::Notify::new(),
            cache: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            logins: AtomicU64::new(0),
            renewals: AtomicU64::new(0),
        });
        inner.relogin(None).await?;
        let renewer = tokio::spawn(renew_loop(Arc::clone(&inner)));
        Ok(VaultSource { inner, renewer })
    }

    /// `GET /v1/sys/health` (unauthenticated; standbys count as healthy). Sealed,
    /// uninitialised or unreachable → [`SecretError::Unavailable`].
    pub async fn health(&self) -> Result<(), SecretError> {
        self.inner.health().await
    }

    /// Login and renewal counters.
    pub fn token_stats(&self) -> VaultTokenStats {
        VaultTokenStats {
            logins: self.inner.logins.load(Ordering::Relaxed),
            renewals: self.inner.renewals.load(Ordering::Relaxed),
        }
    }

    /// The configuration the source was built from.
    pub fn config(&self) -> &VaultConfig {
        &self.inner.cfg
    }
}

#[async_trait::async_trait]
impl SecretSource for VaultSource {
    fn kind(&self) -> &'static str {
        "vault"
    }

    /// Reads `<kv_mount>/data/<path>`; every field must be a string.
    async fn read(&self, path: &str) -> Result<Secret, SecretError> {
        validate_path(path)?;
        let inner = &self.inner;
        if let Some(secret) = inner.cache_get(path) {
            inner.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(secret);
        }
        inner.misses.fetch_add(1, Ordering::Relaxed);
        match inner.fetch(path).await {
            Ok(secret) => Ok(secret),
            Err(e) => {
                inner.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(secret_path = path, error = %e, "vault read failed");
                Err(e)
            }
        }
    }

    /// `sys/capabilities-self` on `<kv_mount>/data/<path>` for each path: fails with
    /// [`SecretError::NotReadable`] naming the paths the token cannot `read`. Reads no value.
    async fn check(&self, paths: &[String]) -> Result<(), SecretError> {
        for p in paths {
            validate_path(p)?;
        }
        if paths.is_empty() {
            return Ok(());
        }
        self.inner.check(paths).await
    }

    async fn health(&self) -> Result<(), SecretError> {
        self.inner.health().await
    }

    fn stats(&self) -> SecretStats {
        SecretStats {
            hits: self.inner.hits.load(Ordering::Relaxed),
            misses: self.inner.misses.load(Ordering::Relaxed),
            errors: self.inner.errors.load(Ordering::Relaxed),
        }
    }
}

impl Inner {
    fn http(&self) -> &rustify::clients::reqwest::Client {
        &self.client.http
    }

    fn token_header(token: &SecretString) -> Result<http::HeaderValue, SecretError> {
        let mut value = http::HeaderValue::from_str(token.expose_secret()).map_err(|_| {
            SecretError::Unavailable("the vault token holds invalid characters".to_string())
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    // ----- token lifecycle -----

    /// The current token if it is fresh (with its generation), else the generation of the
    /// stale token, if any; read under one lock so the two cannot disagree.
    fn token_snapshot(&self) -> Result<(SecretString, u64), Option<u64>> {
        let state = lock(&self.state);
        match state.as_ref() {
            Some(st) if st.is_fresh(Instant::now()) => Ok((st.token.clone(), st.generation)),
            Some(st) => Err(Some(st.generation)),
            None => Err(None),
        }
    }

    /// A fresh token, logging in first when there is none or it expired.
    async fn token(&self) -> Result<(SecretString, u64), SecretError> {
        let stale = match self.token_snapshot() {
            Ok(t) => return Ok(t),
            Err(stale) => stale,
        };
        self.relogin(stale).await?;
        self.token_snapshot().map_err(|_| {
            SecretError::Unavailable("the vault token expired right after login".to_string())
        })
    }

    /// Logs in again, unless another caller already replaced the token of generation
    /// `stale` (or, with `None`, a fresh token exists).
    async fn relogin(&self, stale: Option<u64>) -> Result<(), SecretError> {
        let mut memo = self.login_lock.lock().await;
        {
            let state = lock(&self.state);
            if let Some(st) = state.as_ref() {
                let replaced = stale.is_none_or(|g| st.generation != g);
                if replaced && st.is_fresh(Instant::now()) {
                    return Ok(());
                }
            }
        }
        let started = Instant::now();
        let login = self.login(&mut memo).await?;
        let ttl_secs = login.ttl.map_or(0, |t| t.as_secs());
        {
            let mut state = lock(&self.state);
            let generation = state.as_ref().map_or(1, |s| s.generation + 1);
            *state = Some(TokenState {
                token: login.token,
                generation,
                obtained: started,
                ttl: login.ttl,
                renewable: login.renewable,
                login_ttl: login.ttl.unwrap_or_default(),
                exhausted: false,
            });
        }
        self.logins.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            method = self.cfg.auth.method(),
            ttl_secs,
            renewable = login.renewable,
            "logged in to vault"
        );
        self.wake.notify_one();
        Ok(())
    }

    async fn login(&self, memo: &mut LoginMemo) -> Result<Login, SecretError> {
        let method = self.cfg.auth.method();
        let anonymous = Authed::new(&self.client, None);
        match &self.cfg.auth {
            VaultAuth::Token { token_file } => {
                let token = read_secret_file(token_file, "token").await?;
                let authed = Authed::new(&self.client, Some(&token));
                let info = vaultrs::token::lookup_self(&authed)
                    .await
                    .map_err(|e| self.login_error(method, Failure::from_vaultrs(e), &[&token]))?;
                let renewable = info.renewable.unwrap_or(false);
                let ttl = ttl_of(info.ttl);
                // `info` holds the token in `id`: drop it now (its String is overwritten).
                let mut info = info;
                info.id.zeroize();
                Ok(Login {
                    token,
                    ttl,
                    renewable,
                })
            }
            VaultAuth::Approle {
                mount,
                role_id,
                secret_id_file,
                wrapped,
            } => {
                let secret_id = if *wrapped {
                    self.unwrapped_secret_id(secret_id_file, memo).await?
                } else {
                    read_secret_file(secret_id_file, "AppRole secret id").await?
                };
                let auth = vaultrs::auth::approle::login(
                    &anonymous,
                    mount,
                    role_id,
                    secret_id.expose_secret(),
                )
                .await
                .map_err(|e| self.login_error(method, Failure::from_vaultrs(e), &[&secret_id]))?;
                Ok(login_from_auth(auth))
            }
            VaultAuth::Kubernetes {
                mount,
                role,
                jwt_file,
            } => {
                let jwt = read_secret_file(jwt_file, "service-account token").await?;
                let auth =
                    vaultrs::auth::kubernetes::login(&anonymous, mount, role, jwt.expose_secret())
                        .await
                        .map_err(|e| self.login_error(method, Failure::from_vaultrs(e), &[&jwt]))?;
                Ok(login_from_auth(auth))
            }
        }
    }

    /// The AppRole secret id behind a response-wrapping token. A wrapping token works once:
    /// the unwrapped secret id is remembered while the file keeps the same wrapping token.
    async fn unwrapped_secret_id(
        &self,
        file: &Path,
        memo: &mut LoginMemo,
    ) -> Result<SecretString, SecretError> {
        let wrapping = read_secret_file(file, "wrapped AppRole secret id").await?;
        if let (Some(known), Some(secret_id)) = (&memo.wrapping_token, &memo.secret_id)
            && known.expose_secret() == wrapping.expose_secret()
        {
            return Ok(secret_id.clone());
        }
        let authed = Authed::new(&self.client, Some(&wrapping));
        let unwrapped: UnwrappedSecretId = vaultrs::sys::wrapping::unwrap(&authed, None)
            .await
            .map_err(|e| {
                let f = Failure::from_vaultrs(e);
                if f.is_unavailable() {
                    return unavailable(&self.addr, "unwrapping the AppRole secret id", &f);
                }
                let detail = match &f {
                    Failure::Status(code, errs) => {
                        format!("HTTP {code}: {}", vault_errors(errs, &[&wrapping]))
                    }
                    Failure::Reply(why) | Failure::Transport(why) => why.clone(),
                };
                SecretError::Unavailable(format!(
                    "cannot unwrap the AppRole secret id in {} ({detail}): the wrapping token is \
                     invalid, expired or was already used; deliver a new one",
                    file.display()
                ))
            })?;
        let mut raw = unwrapped.secret_id;
        let secret_id = SecretString::from(raw.clone());
        raw.zeroize();
        memo.wrapping_token = Some(wrapping);
        memo.secret_id = Some(secret_id.clone());
        Ok(secret_id)
    }

    fn login_error(&self, method: &str, f: Failure, redact: &[&SecretString]) -> SecretError {
        if f.is_unavailable() {
            return unavailable(&self.addr, &format!("vault login ({method})"), &f);
        }
        match f {
            Failure::Status(code, errs) => {
                let detail = vault_errors(&errs, redact);
                let detail = if detail.is_empty() {
                    String::new()
                } else {
                    format!(": {detail}")
                };
                SecretError::Unavailable(format!(
                    "vault login ({method}) was refused (HTTP {code}{detail})"
                ))
            }
            Failure::Reply(why) | Failure::Transport(why) => SecretError::Unavailable(format!(
                "vault login ({method}) gave an unusable reply: {why}"
            )),
        }
    }

    /// Renews the token, or logs in again when it is not renewable, renewal is exhausted
    /// (near the max TTL) or renewal failed for another reason than Vault being down.
    async fn refresh(&self) -> Result<(), SecretError> {
        let snapshot = {
            let state = lock(&self.state);
            state
                .as_ref()
                .map(|s| (s.token.clone(), s.generation, s.renewable && !s.exhausted))
        };
        let Some((token, generation, renew)) = snapshot else {
            return self.relogin(None).await;
        };
        if !renew {
            return self.relogin(Some(generation)).await;
        }
        let started = Instant::now();
        let authed = Authed::new(&self.client, Some(&token));
        match vaultrs::token::renew_self(&authed, None).await {
            Ok(auth) => {
                let new_ttl = auth.lease_duration;
                drop(login_from_auth(auth));
                let mut state = lock(&self.state);
                if let Some(st) = state.as_mut().filter(|s| s.generation == generation) {
                    st.obtained = started;
                    st.ttl = ttl_of(new_ttl);
                    // Vault caps renewals at the max TTL: once a renewal restores less than
                    // half of the login TTL, the next step is a new login.
                    st.exhausted = Duration::from_secs(new_ttl) * 2 < st.login_ttl;
                    tracing::debug!(
                        ttl_secs = new_ttl,
                        exhausted = st.exhausted,
                        "renewed the vault token"
                    );
                }
                drop(state);
                self.renewals.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                let f = Failure::from_vaultrs(e);
                if f.is_unavailable() {
                    return Err(unavailable(&self.addr, "token renewal", &f));
                }
                tracing::info!("vault token renewal refused; logging in again");
                self.relogin(Some(generation)).await
            }
        }
    }

    /// When the background task should act next: `None` when the token never expires.
    fn next_refresh(&self) -> Option<Instant> {
        let state = lock(&self.state);
        match state.as_ref() {
            None => Some(Instant::now()),
            Some(st) => st.ttl.map(|ttl| st.obtained + ttl * 2 / 3),
        }
    }

    /// `lookup-self` succeeds: the token is valid (so a 403 was a real denial). Errors when
    /// Vault is unavailable.
    async fn token_is_valid(&self, token: &SecretString) -> Result<bool, SecretError> {
        let authed = Authed::new(&self.client, Some(token));
        match vaultrs::token::lookup_self(&authed).await {
            Ok(mut info) => {
                info.id.zeroize();
                Ok(true)
            }
            Err(e) => {
                let f = Failure::from_vaultrs(e);
                if f.is_unavailable() {
                    Err(unavailable(&self.addr, "token lookup", &f))
                } else {
                    Ok(false)
                }
            }
        }
    }

    /// Runs `op` with a fresh token. On 403, when the token itself is no longer valid
    /// (revoked, expired early), logs in again and retries once; a 403 that persists, or a
    /// 403 with a valid token, is a real denial (`Ok(None)`).
    async fn with_token_retry<T, F, Fut>(&self, op: F) -> Result<Option<T>, SecretError>
    where
        F: Fn(SecretString) -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, SecretError>>,
    {
        let (token, generation) = self.token().await?;
        if let Some(v) = op(token.clone()).await? {
            return Ok(Some(v));
        }
        if self.token_is_valid(&token).await? {
            return Ok(None);
        }
        tracing::info!("vault rejected the token (HTTP 403); logging in again");
        self.relogin(Some(generation)).await?;
        let (token, _) = self.token().await?;
        op(token).await
    }

    // ----- KV v2 reads and the cache -----

    fn cache_get(&self, path: &str) -> Option<Secret> {
        if self.cfg.cache_max_age_secs == 0 {
            return None;
        }
        let mut cache = lock(&self.cache);
        let now = Instant::now();
        match cache.get(path) {
            Some(entry) if now < entry.expires => {
                let secret = Secret::new(path, entry.fields.clone());
                Some(match &entry.request_id {
                    Some(id) => secret.with_request_id(id.clone()),
                    None => secret,
                })
            }
            Some(_) => {
                // Never served past its age; dropped (and zeroized) now.
                cache.remove(path);
                None
            }
            None => None,
        }
    }

    fn cache_put(
        &self,
        path: &str,
        fields: &BTreeMap<String, SecretString>,
        request_id: &Option<String>,
        started: Instant,
        lease: Option<Duration>,
    ) {
        let Some(age) = entry_max_age(self.cfg.cache_max_age_secs, lease) else {
            return;
        };
        let mut cache = lock(&self.cache);
        let now = Instant::now();
        cache.retain(|_, e| now < e.expires);
        cache.insert(
            path.to_string(),
            CacheEntry {
                fields: fields.clone(),
                request_id: request_id.clone(),
                expires: started + age,
            },
        );
    }

    async fn fetch(&self, path: &str) -> Result<Secret, SecretError> {
        let started = Instant::now();
        let outcome = self
            .with_token_retry(|token| async move {
                match self.kv_get(&token, path).await? {
                    KvOutcome::Forbidden => Ok(None),
                    found => Ok(Some(found)),
                }
            })
            .await?;
        let Some(KvOutcome::Found {
            fields,
            request_id,
            lease,
        }) = outcome
        else {
            return Err(SecretError::Denied {
                path: path.to_string(),
            });
        };
        self.cache_put(path, &fields, &request_id, started, lease);
        let secret = Secret::new(path, fields);
        Ok(match request_id {
            Some(id) => secret.with_request_id(id),
            None => secret,
        })
    }

    async fn kv_get(&self, token: &SecretString, path: &str) -> Result<KvOutcome, SecretError> {
        let url = format!("{}/v1/{}/data/{}", self.addr, self.cfg.kv_mount, path);
        let what = format!("the read of secret `{path}`");
        let resp = self
            .http()
            .http
            .get(&url)
            .header("X-Vault-Token", Self::token_header(token)?)
            .header("X-Vault-Request", "true")
            .send()
            .await
            .map_err(|e| unavailable(&self.addr, &what, &plain_transport(&e, e.is_timeout())))?;
        let status = resp.status().as_u16();
        let mut body: Vec<u8> = resp
            .bytes()
            .await
            .map_err(|e| unavailable(&self.addr, &what, &plain_transport(&e, e.is_timeout())))?
            .into();
        let result = self.kv_outcome(status, &body, path, &what);
        body.zeroize();
        result
    }

    fn kv_outcome(
        &self,
        status: u16,
        body: &[u8],
        path: &str,
        what: &str,
    ) -> Result<KvOutcome, SecretError> {
        let unreadable = |reason: String| SecretError::Unreadable {
            path: path.to_string(),
            reason,
        };
        match status {
            200 => {}
            403 => return Ok(KvOutcome::Forbidden),
            404 => return Err(SecretError::NotFound(path.to_string())),
            s if s == 429 || s >= 500 => {
                let errs = serde_json::from_slice::<ErrorsReply>(body)
                    .map(|r| r.errors)
                    .unwrap_or_default();
                return Err(unavailable(&self.addr, what, &Failure::Status(s, errs)));
            }
            s => return Err(unreadable(format!("vault answered HTTP {s}"))),
        }
        if body.len() > MAX_BODY_BYTES {
            return Err(unreadable("the reply is too large".to_string()));
        }
        // The parse error is dropped on purpose: serde_json may quote the input.
        let reply: KvReply = serde_json::from_slice(body)
            .map_err(|_| unreadable("the reply is not a KV v2 secret".to_string()))?;
        // A deleted or destroyed latest version reads as 200 with no data on some servers.
        let Some(map) = reply.data.and_then(|d| d.data) else {
            return Err(SecretError::NotFound(path.to_string()));
        };
        let mut fields = BTreeMap::new();
        for (name, value) in map {
            match value {
                serde_json::Value::String(s) => {
                    fields.insert(name, SecretString::from(s));
                }
                _ => return Err(unreadable(format!("field `{name}` is not a string"))),
            }
        }
        if fields.is_empty() {
            return Err(unreadable("secret has no fields".to_string()));
        }
        Ok(KvOutcome::Found {
            fields,
            request_id: reply.request_id.filter(|id| !id.is_empty()),
            lease: reply.lease_duration.and_then(ttl_of),
        })
    }

    // ----- capabilities and health -----

    async fn check(&self, paths: &[String]) -> Result<(), SecretError> {
        let full: Vec<String> = paths
            .iter()
            .map(|p| format!("{}/data/{}", self.cfg.kv_mount, p))
            .collect();
        let caps = self
            .with_token_retry(|token| {
                let full = full.clone();
                async move { self.capabilities(&token, &full).await }
            })
            .await?
            .ok_or_else(|| {
                SecretError::Unavailable(
                    "the vault token may not call sys/capabilities-self (HTTP 403): add it to \
                     the policy"
                        .to_string(),
                )
            })?;
        let missing: Vec<String> = paths
            .iter()
            .zip(&full)
            .filter(|(_, f)| !can_read(caps.get(f.as_str())))
            .map(|(p, _)| p.clone())
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(SecretError::NotReadable { paths: missing })
        }
    }

    /// `POST sys/capabilities-self`; `Ok(None)` on 403.
    async fn capabilities(
        &self,
        token: &SecretString,
        full_paths: &[String],
    ) -> Result<Option<HashMap<String, Vec<String>>>, SecretError> {
        let what = "the capabilities check";
        let url = format!("{}/v1/sys/capabilities-self", self.addr);
        let body = serde_json::json!({ "paths": full_paths }).to_string();
        let resp = self
            .http()
            .http
            .post(&url)
            .header("X-Vault-Token", Self::token_header(token)?)
            .header("X-Vault-Request", "true")
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| unavailable(&self.addr, what, &plain_transport(&e, e.is_timeout())))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| unavailable(&self.addr, what, &plain_transport(&e, e.is_timeout())))?;
        match status {
            200 => {}
            403 => return Ok(None),
            s => {
                let errs = serde_json::from_slice::<ErrorsReply>(&bytes)
                    .map(|r| r.errors)
                    .unwrap_or_default();
                return Err(unavailable(&self.addr, what, &Failure::Status(s, errs)));
            }
        }
        let reply: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| {
            SecretError::Unavailable("vault gave an unusable capabilities reply".to_string())
        })?;
        // Paths are keys of `data` (and, in older servers, of the top level).
        let source = reply
            .get("data")
            .filter(|d| d.is_object())
            .unwrap_or(&reply);
        let mut caps = HashMap::new();
        for p in full_paths {
            let list = source
                .get(p)
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|c| c.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            caps.insert(p.clone(), list);
        }
        Ok(Some(caps))
    }

    async fn health(&self) -> Result<(), SecretError> {
        let what = "the health check";
        let url = format!(
            "{}/v1/sys/health?standbyok=true&perfstandbyok=true",
            self.addr
        );
        let resp = self
            .http()
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| unavailable(&self.addr, what, &plain_transport(&e, e.is_timeout())))?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap_or_default();
        let reply = serde_json::from_slice::<HealthReply>(&bytes).ok();
        let sealed = reply.as_ref().and_then(|r| r.sealed) == Some(true);
        let uninit = reply.as_ref().and_then(|r| r.initialized) == Some(false);
        match status {
            200 | 429 | 473 if !sealed => Ok(()),
            _ if status == 501 || uninit => Err(SecretError::Unavailable(
                "vault is not initialised".to_string(),
            )),
            _ if sealed => Err(SecretError::Unavailable("vault is sealed".to_string())),
            503 => Err(SecretError::Unavailable("vault is sealed".to_string())),
            472 => Err(SecretError::Unavailable(
                "vault is a disaster-recovery secondary".to_string(),
            )),
            s => Err(SecretError::Unavailable(format!(
                "vault health answered HTTP {s}"
            ))),
        }
    }
}

fn login_from_auth(mut auth: vaultrs::api::AuthInfo) -> Login {
    let token = SecretString::from(std::mem::take(&mut auth.client_token));
    Login {
        token,
        ttl: ttl_of(auth.lease_duration),
        renewable: auth.renewable,
    }
}

/// How long a freshly read value may be cached: the configured max age, capped by the
/// secret's lease. `None`: do not cache.
fn entry_max_age(max_age_secs: u64, lease: Option<Duration>) -> Option<Duration> {
    if max_age_secs == 0 {
        return None;
    }
    let age = Duration::from_secs(max_age_secs);
    Some(match lease {
        Some(l) => age.min(l),
        None => age,
    })
}

/// A capability list allows reading: `read` (or `root`) and no `deny`.
fn can_read(caps: Option<&Vec<String>>) -> bool {
    let Some(caps) = caps else { return false };
    let has = |c: &str| caps.iter().any(|x| x == c);
    !has("deny") && (has("read") || has("root"))
}

/// Renews the token at 2/3 of its TTL (or logs in again), retrying with backoff.
async fn renew_loop(inner: Arc<Inner>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        match inner.next_refresh() {
            None => {
                inner.wake.notified().await;
                continue;
            }
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    () = inner.wake.notified() => continue,
                }
            }
        }
        match inner.refresh().await {
            Ok(()) => backoff = MIN_BACKOFF,
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "vault token refresh failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

#[cfg(test)]
mod tests;
