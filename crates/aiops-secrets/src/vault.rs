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

mod auth;
mod config;
mod error;
mod kv;
mod sys;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use vaultrs::client::{VaultClient, VaultClientSettings};

use auth::{LoginMemo, TokenState};
use error::{plain_transport, unavailable};
use kv::SecretCache;

pub use config::{VaultAuth, VaultConfig};

use crate::{Secret, SecretError, SecretMetadata, SecretSource, SecretStats, validate_path};

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

struct Inner {
    cfg: VaultConfig,
    /// Base address without a trailing slash.
    addr: String,
    /// Token-less vaultrs client; its reqwest client also carries the plain requests.
    client: VaultClient,
    state: Mutex<Option<TokenState>>,
    login_lock: tokio::sync::Mutex<LoginMemo>,
    wake: tokio::sync::Notify,
    /// `None` when caching is off (`cache_max_age_secs = 0`).
    cache: Option<SecretCache>,
    hits: AtomicU64,
    misses: AtomicU64,
    errors: AtomicU64,
    logins: AtomicU64,
    renewals: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Installs rustls' ring provider as the process default when no provider is installed
/// (reqwest is built without one; see Cargo.toml).
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race against another installer is fine: a provider is then installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

fn ttl_of(secs: u64) -> Option<Duration> {
    (secs > 0).then(|| Duration::from_secs(secs))
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
        let cache = kv::new_cache(cfg.cache_max_age_secs);
        let inner = Arc::new(Inner {
            addr: cfg.addr.trim_end_matches('/').to_string(),
            cfg,
            client,
            state: Mutex::new(None),
            login_lock: tokio::sync::Mutex::new(LoginMemo::default()),
            wake: tokio::sync::Notify::new(),
            cache,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            logins: AtomicU64::new(0),
            renewals: AtomicU64::new(0),
        });
        inner.relogin(None).await?;
        let renewer = tokio::spawn(auth::renew_loop(Arc::clone(&inner)));
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

    /// Reads `<kv_mount>/metadata/<path>` (versions and their times, no value).
    async fn metadata(&self, path: &str) -> Result<SecretMetadata, SecretError> {
        validate_path(path)?;
        self.inner.metadata(path).await
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

    /// A plain request to `<addr>/v1/<path>` sent with `token`, and a JSON body when
    /// given; returns the status and the body, which may hold values (callers that read
    /// secrets zeroize it). No answer is [`SecretError::Unavailable`], naming `what`.
    async fn send(
        &self,
        what: &str,
        method: http::Method,
        path: &str,
        token: &SecretString,
        json: Option<String>,
    ) -> Result<(u16, Vec<u8>), SecretError> {
        let url = format!("{}/v1/{path}", self.addr);
        let mut request = self
            .http()
            .http
            .request(method, &url)
            .header("X-Vault-Token", Self::token_header(token)?)
            .header("X-Vault-Request", "true");
        if let Some(body) = json {
            request = request
                .header("Content-Type", "application/json")
                .body(body);
        }
        let resp = request
            .send()
            .await
            .map_err(|e| unavailable(&self.addr, what, &plain_transport(&e, e.is_timeout())))?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|e| unavailable(&self.addr, what, &plain_transport(&e, e.is_timeout())))?;
        Ok((status, body.into()))
    }

    fn token_header(token: &SecretString) -> Result<http::HeaderValue, SecretError> {
        let mut value = http::HeaderValue::from_str(token.expose_secret()).map_err(|_| {
            SecretError::Unavailable("the vault token holds invalid characters".to_string())
        })?;
        value.set_sensitive(true);
        Ok(value)
    }
}
