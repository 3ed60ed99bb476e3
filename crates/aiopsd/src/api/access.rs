//! The security boundary of the API: [`gate`] runs on every route but health (and, when
//! public, metrics) and the Slack endpoint (which Slack's signature authenticates). It
//! authenticates the caller, applies the rate limit per caller, and asks
//! `data.aiops.access_decision` whether the caller may run the [`Operation`] the route
//! performs ([`Guarded`] keeps each route with its operation). It answers before a handler
//! reads the body or looks anything up, so a caller without the right learns nothing about
//! what exists (an approval id answers 401/403 whether it exists or not).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use aiops_core::{Caller, ErrorCode};
use aiops_policy::Operation;
use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;

use super::ApiError;
use super::limits::{self, RateKey, RateLimiter};
use crate::AppState;
use crate::auth::{AuthFailure, Credentials};
use crate::metrics::ReasonLabels;
use crate::tls::ClientIdentity;

/// The guarded routes, each with the operation it performs: built together, so that no
/// route can be added without one, and [`gate`] refuses a matched route it has none for.
pub(super) struct Guarded {
    router: Router<AppState>,
    operations: HashMap<&'static str, Operation>,
}

impl Guarded {
    pub fn new() -> Self {
        Guarded {
            router: Router::new(),
            operations: HashMap::new(),
        }
    }

    /// `route` at `path`, performing `operation`: policy says who may.
    pub fn route(
        mut self,
        path: &'static str,
        operation: Operation,
        route: MethodRouter<AppState>,
    ) -> Self {
        self.operations.insert(path, operation);
        self.router = self.router.route(path, route);
        self
    }

    /// The routes behind the [`gate`]. Unknown paths and methods are behind it too: without
    /// credentials the API reveals nothing about which routes exist.
    pub fn into_router(self, state: AppState, limiter: Arc<RateLimiter>) -> Router<AppState> {
        let gate = Gate {
            state,
            limiter,
            operations: Arc::new(self.operations),
        };
        self.router
            .fallback(super::not_found)
            .method_not_allowed_fallback(super::method_not_allowed)
            .layer(from_fn_with_state(gate, self::gate))
    }
}

/// What [`gate`] needs.
#[derive(Clone)]
pub(super) struct Gate {
    state: AppState,
    limiter: Arc<RateLimiter>,
    operations: Arc<HashMap<&'static str, Operation>>,
}

/// Middleware of the guarded routes, in this order:
/// 1. Who is calling: puts the [`Caller`] into the request's extensions, or answers 401
///    (with `WWW-Authenticate`), counted and logged by reason, never with what was
///    presented.
/// 2. The rate limit, per caller.
/// 3. May the caller run the route's operation: 403 with policy's reasons when not.
///
/// One middleware, not three: each `from_fn` layer clones and boxes the stack beneath it on
/// every request (see `edge`).
pub(super) async fn gate(State(gate): State<Gate>, mut req: Request, next: Next) -> Response {
    let Gate {
        state,
        limiter,
        operations,
    } = &gate;
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
            if let Err(refused) = limits::admit(limiter, &req) {
                return refused.into_response();
            }
            if let Err(refused) = authorize(state, operations, &req) {
                return refused.into_response();
            }
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
                return limits::RateLimited {
                    retry_after_secs: retry_after,
                }
                .into_response();
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

/// May the authenticated caller run the operation of the route `req` matched? A request
/// no route matched passes: the fallbacks answer it (404, 405).
fn authorize(
    state: &AppState,
    operations: &HashMap<&'static str, Operation>,
    req: &Request,
) -> Result<(), ApiError> {
    let Some(path) = req.extensions().get::<MatchedPath>() else {
        return Ok(());
    };
    let Some(&operation) = operations.get(path.as_str()) else {
        // Only reachable if a route was wired outside `Guarded`: fail closed.
        tracing::error!(route = path.as_str(), "a guarded route has no operation");
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "this route is open to nobody",
        ));
    };
    let Some(caller) = req.extensions().get::<Caller>() else {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "authentication required",
        ));
    };
    Ok(state.permit(caller, operation)?)
}

/// Extractor: the caller [`gate`] established.
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::routing::get;
    use tower::ServiceExt;

    const TOKEN: &str = "access-test-token";

    async fn app(dir: &std::path::Path, roles: &[&str]) -> AppState {
        let mut config = crate::Config {
            data_dir: dir.to_path_buf(),
            ..Default::default()
        };
        config.auth.users = vec![crate::config::UserConfig {
            name: "tester".into(),
            roles: roles.iter().map(|r| (*r).to_string()).collect(),
            token_sha256: Some(aiops_core::sha256_hex(TOKEN)),
            ..Default::default()
        }];
        crate::App::build(config).await.expect("the app builds")
    }

    async fn status(router: &Router, path: &str, token: Option<&str>) -> StatusCode {
        let mut req = axum::http::Request::get(path);
        if let Some(token) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        router
            .clone()
            .oneshot(req.body(Body::empty()).expect("a request"))
            .await
            .expect("infallible")
            .status()
    }

    /// The gate asks policy for the operation each route was registered with, after
    /// authentication; a route that reached the router without one (wired outside
    /// `Guarded`) is refused to everyone, an admin included: fail closed.
    #[tokio::test]
    async fn the_gate_authorizes_by_route_and_refuses_routes_without_an_operation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = app(dir.path(), &["viewer", "operator", "approver", "admin"]).await;
        let limiter = Arc::new(RateLimiter::new(&state.config.api));
        let mut guarded =
            Guarded::new().route("/known", Operation::AuditRead, get(|| async { "ok" }));
        guarded.router = guarded.router.route("/stray", get(|| async { "leak" }));
        let router = guarded
            .into_router(state.clone(), limiter)
            .with_state(state);
        assert_eq!(status(&router, "/known", Some(TOKEN)).await, StatusCode::OK);
        assert_eq!(
            status(&router, "/known", None).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status(&router, "/stray", Some(TOKEN)).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status(&router, "/stray", None).await,
            StatusCode::UNAUTHORIZED
        );
        // No route: authenticated first, then the fallback's 404.
        assert_eq!(
            status(&router, "/nowhere", None).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status(&router, "/nowhere", Some(TOKEN)).await,
            StatusCode::NOT_FOUND
        );
    }

    /// A caller whose roles do not grant the route's operation gets 403 from policy.
    #[tokio::test]
    async fn the_gate_refuses_an_operation_policy_does_not_grant() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = app(dir.path(), &["viewer"]).await;
        let limiter = Arc::new(RateLimiter::new(&state.config.api));
        let router = Guarded::new()
            .route(
                "/ingest",
                Operation::DocumentsIngest,
                get(|| async { "ok" }),
            )
            .route("/catalog", Operation::CatalogRead, get(|| async { "ok" }))
            .into_router(state.clone(), limiter)
            .with_state(state);
        assert_eq!(
            status(&router, "/ingest", Some(TOKEN)).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status(&router, "/catalog", Some(TOKEN)).await,
            StatusCode::OK
        );
    }
}
