//! Who is calling: the `Authenticator` seam and its first implementation, bearer tokens
//! (and Slack user ids) mapped to a user and roles by the configured identities. A request
//! without credentials is anonymous. Identity is all this module decides: what a caller
//! may do is policy's decision.

use std::collections::HashMap;

use aiops_core::{Caller, ErrorCode};

use crate::config::AuthConfig;
use crate::failure::Failure;

/// Decides who a request comes from.
#[async_trait::async_trait]
pub trait Authenticator: Send + Sync {
    fn name(&self) -> &'static str;

    /// The caller behind an `Authorization` header value, anonymous without one.
    /// Credentials that are present but unknown are refused (`unauthorized`).
    async fn authenticate(&self, authorization: Option<&str>) -> Result<Caller, Failure>;

    /// The caller behind a Slack user id.
    fn by_slack_id(&self, slack_id: &str) -> Option<Caller>;

    /// The user's current roles (roles can change while an approval waits).
    fn current(&self, user: &str) -> Caller;
}

/// Bearer tokens from the configuration, stored as their SHA-256.
#[derive(Debug, Default)]
pub struct Identities {
    by_token_hash: HashMap<String, Caller>,
    by_slack_id: HashMap<String, Caller>,
    by_name: HashMap<String, Caller>,
}

impl Identities {
    pub fn from_config(cfg: &AuthConfig) -> Self {
        let mut ids = Identities::default();
        for u in &cfg.users {
            let caller = Caller {
                user: u.name.clone(),
                roles: u.roles.clone(),
            };
            if let Some(h) = &u.token_sha256 {
                ids.by_token_hash
                    .insert(h.to_ascii_lowercase(), caller.clone());
            }
            if let Some(s) = &u.slack_id {
                ids.by_slack_id.insert(s.clone(), caller.clone());
            }
            ids.by_name.insert(u.name.clone(), caller);
        }
        ids
    }

    /// The caller a token belongs to. Tokens are compared by their SHA-256, so the
    /// configuration never holds them and the lookup leaks nothing useful through timing.
    pub fn by_token(&self, token: &str) -> Option<&Caller> {
        self.by_token_hash.get(&aiops_core::sha256_hex(token))
    }
}

#[async_trait::async_trait]
impl Authenticator for Identities {
    fn name(&self) -> &'static str {
        "bearer"
    }

    async fn authenticate(&self, authorization: Option<&str>) -> Result<Caller, Failure> {
        let Some(value) = authorization else {
            return Ok(Caller::anonymous());
        };
        let unauthorized = || {
            Failure::new(
                ErrorCode::Unauthorized,
                "the Authorization header is not a known bearer token",
            )
        };
        let token = value
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(unauthorized)?;
        self.by_token(token).cloned().ok_or_else(unauthorized)
    }

    fn by_slack_id(&self, slack_id: &str) -> Option<Caller> {
        self.by_slack_id.get(slack_id).cloned()
    }

    fn current(&self, user: &str) -> Caller {
        self.by_name.get(user).cloned().unwrap_or_else(|| Caller {
            user: user.to_string(),
            roles: Vec::new(),
        })
    }
}
