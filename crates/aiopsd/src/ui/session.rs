//! Console sessions: a token (or the TLS client certificate) is exchanged once for a random
//! session id in a cookie (`HttpOnly`, `SameSite=Strict`, `Secure` under TLS, path `/ui`);
//! the session lives on the server with an expiry and carries the form token (CSRF) every
//! form must send back.
//!
//! Sessions are kept in this process (moka, expiring): a replicated deployment needs sticky
//! sessions for the console, or the user signs in again on another replica.

use std::sync::Arc;
use std::time::Duration;

use aiops_core::Caller;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use rand::RngExt;

use crate::AppState;

/// The session cookie's name.
pub(super) const COOKIE: &str = "aiops_session";

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub caller: Caller,
    /// Sent back by every form of this session (a forged form from elsewhere has not got it).
    pub csrf: String,
}

/// The sessions of this process, expiring `ttl` after sign-in.
#[derive(Clone)]
pub struct Sessions(moka::sync::Cache<String, Arc<Session>>);

impl Sessions {
    pub(crate) fn new(ttl: Duration) -> Self {
        Sessions(
            moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(ttl)
                .build(),
        )
    }

    /// A new session for `caller`: its id (the cookie's value) and the session.
    pub(super) fn create(&self, caller: Caller) -> (String, Arc<Session>) {
        let id = random_token();
        let session = Arc::new(Session {
            caller,
            csrf: random_token(),
        });
        self.0.insert(id.clone(), Arc::clone(&session));
        (id, session)
    }

    pub(super) fn get(&self, id: &str) -> Option<Arc<Session>> {
        self.0.get(id)
    }

    pub(super) fn remove(&self, id: &str) {
        self.0.invalidate(id);
    }
}

/// 256 random bits, hex.
fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    hex::encode(bytes)
}

/// The session id the request's cookie names, if any.
pub(super) fn cookie_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `Set-Cookie` for a new session (`secure` under TLS).
pub(super) fn set_cookie(id: &str, ttl: Duration, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let value = format!(
        "{COOKIE}={id}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        ttl.as_secs()
    );
    // Hex and fixed text only: always a valid header value.
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` that ends the session in the browser.
pub(super) fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("aiops_session=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Extractor: the request's session, or a redirect to the sign-in page.
pub(crate) struct Signed(pub Arc<Session>);

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        cookie_id(&parts.headers)
            .and_then(|id| state.ui_sessions.get(&id))
            .map(Signed)
            .ok_or_else(|| Redirect::to("/ui/login").into_response())
    }
}

/// Whether `sent` is this session's form token (constant time in the token's length).
pub(super) fn csrf_ok(session: &Session, sent: &str) -> bool {
    let want = session.csrf.as_bytes();
    let got = sent.as_bytes();
    want.len() == got.len() && want.iter().zip(got).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}
