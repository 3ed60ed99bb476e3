//! Who is calling: the `Authenticator` seam and its implementation over the configured
//! identities. Bearer tokens (and Slack user ids) map to a user and roles. Identity is all
//! this module decides: what a caller may do is policy's decision
//! (`policies/access.rego`), asked by the API layer.

use std::collections::HashMap;

use aiops_core::{AuthMethod, Caller, ErrorCode};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::config::{AnonymousAccess, AuthConfig, UserConfig};
use crate::failure::Failure;
use crate::tls::ClientIdentity;

/// Why credentials were refused: the label of `aiops_auth_failures_total` and the log
/// line. Never carries what was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum AuthFailure {
    /// No credentials, and anonymous callers are not let in.
    Missing,
    /// An `Authorization` header that is not `Bearer <token>`.
    Malformed,
    /// A token nobody holds.
    Unknown,
    /// A token past its `token_expires_at`.
    Expired,
}

impl AuthFailure {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The refusal the client sees: the same for every reason but a missing header, so a
    /// prober learns nothing about which tokens exist.
    pub fn into_failure(self) -> Failure {
        let message = match self {
            AuthFailure::Missing => {
                "authentication required: send `Authorization: Bearer <token>` or a client certificate"
            }
            _ => "the credentials presented are not valid",
        };
        Failure::new(ErrorCode::Unauthorized, message)
    }
}

/// What a request presented.
#[derive(Debug, Default, Clone, Copy)]
pub struct Credentials<'a> {
    /// The `Authorization` header, when present and visible ASCII.
    pub authorization: Option<&'a str>,
    /// The client certificate the TLS handshake verified (mTLS), if any.
    pub client: Option<&'a ClientIdentity>,
}

/// Decides who a request comes from.
#[async_trait::async_trait]
pub trait Authenticator: Send + Sync {
    fn name(&self) -> &'static str;

    /// The caller behind a request's credentials. Without any, the anonymous caller when
    /// anonymous access is on, else [`AuthFailure::Missing`]; credentials that are present
    /// but not valid are always refused.
    async fn authenticate(&self, credentials: Credentials<'_>) -> Result<Caller, AuthFailure>;

    /// The caller behind a Slack user id.
    fn by_slack_id(&self, slack_id: &str) -> Option<Caller>;

    /// The user's current roles (roles can change while an approval waits).
    fn current(&self, user: &str) -> Caller;
}

/// A configured token holder.
#[derive(Debug, Clone)]
struct TokenHolder {
    caller: Caller,
    expires_at: Option<OffsetDateTime>,
}

/// The configured identities: bearer tokens stored as their SHA-256, Slack ids, names.
#[derive(Debug, Default)]
pub struct Identities {
    anonymous: AnonymousAccess,
    /// By the SHA-256 digest of the token (config's `token_sha256`, decoded).
    by_token_hash: HashMap<[u8; 32], TokenHolder>,
    by_slack_id: HashMap<String, Caller>,
    by_name: HashMap<String, Caller>,
    /// Users with a `client_cert` name, for mapping verified client certificates.
    with_cert: Vec<UserConfig>,
}

impl Identities {
    pub fn from_config(cfg: &AuthConfig) -> Self {
        let mut ids = Identities {
            anonymous: cfg.allow_anonymous,
            ..Default::default()
        };
        for u in &cfg.users {
            let caller = |auth| Caller::new(u.name.clone(), u.roles.clone(), auth);
            // Config validation refuses a token_sha256 that is not 64 hex digits.
            if let Some(digest) = u.token_sha256.as_deref().and_then(token_digest) {
                ids.by_token_hash.insert(
                    digest,
                    TokenHolder {
                        caller: caller(AuthMethod::Bearer),
                        expires_at: u.token_expires_at,
                    },
                );
            }
            if let Some(s) = &u.slack_id {
                ids.by_slack_id.insert(s.clone(), caller(AuthMethod::Slack));
            }
            ids.by_name
                .insert(u.name.clone(), caller(AuthMethod::System));
            if u.client_cert.is_some() {
                ids.with_cert.push(u.clone());
            }
        }
        ids
    }

    /// The caller a token belongs to, if it is still valid. Tokens are compared by their
    /// SHA-256, so the configuration never holds them and the lookup leaks nothing useful
    /// through timing.
    pub fn by_token(&self, token: &str) -> Result<Caller, AuthFailure> {
        let holder = self
            .by_token_hash
            .get(&<[u8; 32]>::from(Sha256::digest(token.as_bytes())))
            .ok_or(AuthFailure::Unknown)?;
        match holder.expires_at {
            Some(at) if at <= OffsetDateTime::now_utc() => Err(AuthFailure::Expired),
            _ => Ok(holder.caller.clone()),
        }
    }
}

/// The digest a `token_sha256` (64 hex digits, either case) spells.
fn token_digest(hex_digest: &str) -> Option<[u8; 32]> {
    let mut digest = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut digest).ok()?;
    Some(digest)
}

/// The token of an `Authorization` value: the scheme is case-insensitive (RFC 9110
/// §11.1), separated from the token by whitespace.
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim_start().split_once([' ', '\t'])?;
    let token = rest.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains([' ', '\t']))
        .then_some(token)
}

#[async_trait::async_trait]
impl Authenticator for Identities {
    fn name(&self) -> &'static str {
        "bearer"
    }

    async fn authenticate(&self, credentials: Credentials<'_>) -> Result<Caller, AuthFailure> {
        // A token names the caller explicitly, so it wins over the connection's certificate
        // (a shared client certificate may carry several users' tokens).
        let Some(value) = credentials.authorization else {
            if let Some(identity) = credentials.client {
                // A certificate the handshake verified but no user claims is not anonymous:
                // it presented something, and that something is unknown.
                return crate::tls::caller_for(identity, &self.with_cert)
                    .ok_or(AuthFailure::Unknown);
            }
            return match self.anonymous {
                AnonymousAccess::Read => Ok(Caller::anonymous()),
                AnonymousAccess::Off => Err(AuthFailure::Missing),
            };
        };
        // Held only as long as the lookup needs it, and wiped after.
        let token = Zeroizing::new(
            bearer_token(value)
                .ok_or(AuthFailure::Malformed)?
                .to_string(),
        );
        self.by_token(&token)
    }

    fn by_slack_id(&self, slack_id: &str) -> Option<Caller> {
        self.by_slack_id.get(slack_id).cloned()
    }

    fn current(&self, user: &str) -> Caller {
        self.by_name
            .get(user)
            .cloned()
            .unwrap_or_else(|| Caller::new(user, Vec::new(), AuthMethod::System))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::UserConfig;

    fn ids(expires_at: Option<OffsetDateTime>, anonymous: AnonymousAccess) -> Identities {
        Identities::from_config(&AuthConfig {
            allow_anonymous: anonymous,
            users: vec![UserConfig {
                name: "alice".into(),
                roles: vec!["operator".into()],
                token_sha256: Some(aiops_core::sha256_hex("t0ken")),
                token_expires_at: expires_at,
                ..Default::default()
            }],
            ..Default::default()
        })
    }

    async fn auth(ids: &Identities, header: Option<&str>) -> Result<Caller, AuthFailure> {
        ids.authenticate(Credentials {
            authorization: header,
            client: None,
        })
        .await
    }

    #[tokio::test]
    async fn the_bearer_scheme_is_case_insensitive() {
        let ids = ids(None, AnonymousAccess::Off);
        for header in [
            "Bearer t0ken",
            "bearer t0ken",
            "BEARER  t0ken",
            "bEaReR\tt0ken ",
        ] {
            let caller = auth(&ids, Some(header)).await.unwrap();
            assert_eq!(
                (caller.user.as_str(), caller.auth),
                ("alice", AuthMethod::Bearer)
            );
        }
        for header in [
            "Basic t0ken",
            "Bearer",
            "Bearer ",
            "t0ken",
            "Bearer t0 ken",
            "Bearert0ken",
        ] {
            assert_eq!(
                auth(&ids, Some(header)).await,
                Err(AuthFailure::Malformed),
                "{header}"
            );
        }
        assert_eq!(
            auth(&ids, Some("Bearer other")).await,
            Err(AuthFailure::Unknown)
        );
    }

    #[tokio::test]
    async fn an_expired_token_is_refused() {
        let past = OffsetDateTime::now_utc() - time::Duration::minutes(1);
        let future = OffsetDateTime::now_utc() + time::Duration::days(1);
        assert_eq!(
            auth(&ids(Some(past), AnonymousAccess::Off), Some("Bearer t0ken")).await,
            Err(AuthFailure::Expired)
        );
        assert!(
            auth(
                &ids(Some(future), AnonymousAccess::Off),
                Some("Bearer t0ken")
            )
            .await
            .is_ok()
        );
    }

    #[tokio::test]
    async fn no_credentials_is_anonymous_only_when_allowed() {
        assert_eq!(
            auth(&ids(None, AnonymousAccess::Off), None).await,
            Err(AuthFailure::Missing)
        );
        let caller = auth(&ids(None, AnonymousAccess::Read), None).await.unwrap();
        assert!(caller.is_anonymous());
        // Bad credentials are refused even when anonymous callers are let in.
        assert_eq!(
            auth(&ids(None, AnonymousAccess::Read), Some("Bearer nope")).await,
            Err(AuthFailure::Unknown)
        );
    }
}
