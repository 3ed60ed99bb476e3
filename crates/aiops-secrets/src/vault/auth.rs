//! Logging in (token file, AppRole with an optionally wrapped secret id, Kubernetes), the
//! token's state, and the background task that renews it at 2/3 of its TTL or logs in
//! again, with backoff after failures.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::time::Instant;
use vaultrs::api::EndpointMiddleware;
use vaultrs::client::{Client as VaultrsClient, VaultClient, VaultClientSettings};
use zeroize::Zeroize;

use super::config::VaultAuth;
use super::error::{Failure, unavailable, vault_errors};
use super::{Inner, lock, ttl_of};
use crate::SecretError;

/// A token closer than this to its expiry is treated as expired (clock skew, latency).
const EXPIRY_MARGIN: Duration = Duration::from_millis(250);
/// Retry delays of the background task after a failed renewal or login.
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The current token and what decides when it is renewed or replaced.
pub(super) struct TokenState {
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
pub(super) struct LoginMemo {
    wrapping_token: Option<SecretString>,
    secret_id: Option<SecretString>,
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

struct Login {
    token: SecretString,
    ttl: Option<Duration>,
    renewable: bool,
}

/// Secret id of an unwrapped AppRole `secret-id` response.
#[derive(Deserialize)]
struct UnwrappedSecretId {
    secret_id: String,
}

impl Inner {
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
    pub(super) async fn relogin(&self, stale: Option<u64>) -> Result<(), SecretError> {
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

    /// Returns when the token is due for a refresh; a new login (which notifies `wake`)
    /// makes it look again.
    async fn refresh_due(&self) {
        loop {
            match self.next_refresh() {
                None => self.wake.notified().await,
                Some(at) => tokio::select! {
                    () = tokio::time::sleep_until(at) => return,
                    () = self.wake.notified() => {}
                },
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
    pub(super) async fn with_token_retry<T, F, Fut>(&self, op: F) -> Result<Option<T>, SecretError>
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
}

fn login_from_auth(mut auth: vaultrs::api::AuthInfo) -> Login {
    let token = SecretString::from(std::mem::take(&mut auth.client_token));
    Login {
        token,
        ttl: ttl_of(auth.lease_duration),
        renewable: auth.renewable,
    }
}

/// Delays between failed refreshes: `MIN_BACKOFF` doubling up to `MAX_BACKOFF`, no jitter,
/// no limit on attempts.
pub(super) fn refresh_backoff() -> ExponentialBuilder {
    ExponentialBuilder::new()
        .with_min_delay(MIN_BACKOFF)
        .with_max_delay(MAX_BACKOFF)
        .without_max_times()
}

/// Renews the token at 2/3 of its TTL (or logs in again). After a failure it retries with
/// exponential backoff (`MIN_BACKOFF` doubling up to `MAX_BACKOFF`), each attempt again
/// waiting until the token is due, so a login made meanwhile by a read is not repeated;
/// a success starts the next refresh with the shortest delay again.
pub(super) async fn renew_loop(inner: Arc<Inner>) {
    let backoff = refresh_backoff();
    let inner = &*inner;
    let refresh_when_due = || async move {
        inner.refresh_due().await;
        inner.refresh().await
    };
    loop {
        // Without a retry limit this ends only with a successful refresh.
        let _ = refresh_when_due
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .notify(|e: &SecretError, delay: Duration| {
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "vault token refresh failed");
            })
            .await;
    }
}
