//! The security boundary of the API: [`authenticate`] runs on every route but health (and,
//! when public, metrics) and the Slack endpoint (which Slack's signature authenticates);
//! [`authorize`] runs per route with the [`Operation`] it performs, asking
//! `data.aiops.access_decision`. Both answer before a handler reads the body or looks
//! anything up, so a caller without the right learns nothing about what exists (an
//! approval id answers 401/403 whether it exists or not).

use std::net::SocketAddr;
use std::sync::Arc;

use aiops_core::{Caller, ErrorCode};
use aiops_policy::Operation;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;
use super::limits::{self, RateKey, RateLimiter};
use crate::AppState;
use crate::auth::{AuthFailure, Credentials};
use crate::metrics::ReasonLabels;
use crate::tls::ClientIdentity;

/// Middleware: who is calling. Puts the [`Caller`] into the request's extensions, or
/// answers 401 (with `WWW-Authenticate`) — counted and logged by reason, never with what was
/// presented.
pub(super) async fn authenticate(
    State((state, limiter)): State<(AppState, Arc<RateLimiter>)>,
    mut req: Request,
    next: Next,
) -> Response {
    let authorization = match req.headers().get(header::AUTHORIZATION) {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| AuthFailure::Malformed),
    };
    let result = match authorization {
        Ok(authorization) => {
            let credentials = Credentials {
                authorization,
                client: req.extensions().get::<ClientIdentity>(),
            };
            state.authenticator.authenticate(credentials).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(failure) => {
            state
                .metrics
                .auth_failures
                .get_or_create(&ReasonLabels {
                    reason: failure.as_str(),
                })
                .inc();
            // Who tried from where is worth a line; what they presented never is.
            if failure != AuthFailure::Missing {
                tracing::warn!(reason = failure.as_str(), method = %req.method(), path = %req.uri().path(), "authentication refused");
            }
            // Guessing tokens costs the guesser's address its rate budget.
            if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>()
                && let Err(retry_after) = limiter.check(&RateKey::peer(peer.ip()))
            {
                return limits::too_many_requests(retry_after);
            }
            let mut resp = ApiError::from(failure.into_failure()).into_response();
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"aiops\""),
            );
            resp
        }
    }
}

/// Middleware of one route: may the authenticated caller run `operation`? 403 with
/// policy's reasons when not.
pub(super) async fn authorize(
    State((state, operation)): State<(AppState, Operation)>,
    req: Request,
    next: Next,
) -> Response {
    let Some(caller) = req.extensions().get::<Caller>() else {
        // Only reachable if a route was wired outside `authenticate`: fail closed.
        tracing::error!(
            operation = operation.as_str(),
            "a guarded route ran without authentication"
        );
        return ApiError::new(ErrorCode::Unauthorized, "authentication required").into_response();
    };
    match permit(&state, caller, operation) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// Asks policy whether `caller` may run `operation`.
fn permit(state: &AppState, caller: &Caller, operation: Operation) -> Result<(), ApiError> {
    Ok(state.permit(caller, operation)?)
}

/// Extractor: the caller [`authenticate`] established.
pub struct Authenticated(pub Caller);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .map(Authenticated)
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "authentication required"))
    }
}
