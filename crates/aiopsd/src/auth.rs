//! Who is calling. Bearer tokens and Slack user ids map to a user and roles through the
//! configured identities; a request without a token is `anonymous`. Identity is all this
//! module decides: what a caller may do is policy's decision.

use std::collections::HashMap;

use aiops_policy::Caller;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};

use crate::AppState;
use crate::config::AuthConfig;
use crate::error::ApiError;

pub const ANONYMOUS: &str = "anonymous";

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

    pub fn by_slack_id(&self, id: &str) -> Option<&Caller> {
        self.by_slack_id.get(id)
    }

    /// The caller's current roles (roles can change while an approval waits).
    pub fn current(&self, user: &str) -> Caller {
        self.by_name.get(user).cloned().unwrap_or_else(|| Caller {
            user: user.to_string(),
            roles: Vec::new(),
        })
    }
}

pub fn anonymous() -> Caller {
    Caller {
        user: ANONYMOUS.into(),
        roles: Vec::new(),
    }
}

/// Extractor: the authenticated caller, or anonymous without an `Authorization` header.
/// A header that is present but not a known bearer token is refused with 401.
pub struct Authenticated(pub Caller);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Ok(Authenticated(anonymous()));
        };
        let unauthorized = || {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the Authorization header is not a known bearer token",
            )
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(unauthorized)?;
        state
            .identities
            .by_token(token)
            .cloned()
            .map(Authenticated)
            .ok_or_else(unauthorized)
    }
}
