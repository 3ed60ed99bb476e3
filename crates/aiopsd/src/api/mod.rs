//! The HTTP layer, and the only code that knows HTTP: routes, extractors, and the mapping
//! of domain outcomes and failures to statuses. Handlers stay thin: decode, call the
//! domain, encode.

mod access;
mod approvals;
mod documents;
mod error;
mod extract;
mod intents;
pub mod limits;
mod openapi;
mod ops;
mod page;
mod quarantine;
mod slack;

use std::time::{Duration, Instant};

use aiops_core::ErrorCode;
use aiops_policy::Operation;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use tower::ServiceBuilder;

pub use access::Authenticated;
pub use error::{ApiError, status_for};
pub use extract::{ApiBytes, ApiPath, ApiQuery, optional_json};
pub(crate) use intents::summary as intent_summary;
pub use openapi::openapi;
pub(crate) use page::cursor as page_cursor;

use crate::AppState;

/// The route of `POST /api/v1/documents`, whose body limit is its own.
const DOCUMENTS_ROUTE: &str = "/api/v1/documents";

pub fn router(state: AppState) -> Router {
    let max_body = state.config.api.max_body_bytes;
    let timeout = Duration::from_secs(state.config.api.request_timeout_secs);
    let documents_limit = documents_body_limit(&state.config);
    let body_limits = limits::BodyLimits::new(max_body).with(DOCUMENTS_ROUTE, documents_limit);
    let rate_limiter = std::sync::Arc::new(limits::RateLimiter::new(&state.config.api));
    let in_flight = limits::InFlight::new(state.config.api.max_concurrent_requests);
    // Each guarded route names the operation it performs; policy says who may.
    let guard = |op: Operation, route: MethodRouter<AppState>| {
        route.route_layer(from_fn_with_state((state.clone(), op), access::authorize))
    };
    let mut guarded = Router::new()
        .route(
            "/api/v1/intent",
            guard(Operation::IntentsSubmit, post(intents::submit)),
        )
        .route(
            "/api/v1/parse",
            guard(Operation::IntentsParse, post(intents::parse)),
        )
        .route(
            "/api/v1/intents",
            guard(Operation::IntentsRead, get(intents::list)),
        )
        .route(
            "/api/v1/intents/{id}",
            guard(Operation::IntentsRead, get(intents::get)),
        )
        .route(
            "/api/v1/intents/{id}/rollback",
            guard(Operation::IntentsSubmit, post(intents::rollback)),
        )
        .route(
            "/api/v1/audit/verify",
            guard(Operation::AuditRead, get(ops::verify_audit)),
        )
        .route(
            "/api/v1/catalog",
            guard(Operation::CatalogRead, get(ops::catalog)),
        )
        .route(
            "/api/v1/openapi.json",
            guard(Operation::CatalogRead, get(openapi::document)),
        )
        .route(
            "/api/v1/quarantine",
            guard(Operation::QuarantineRead, get(quarantine::list)),
        )
        .route(
            "/api/v1/approvals",
            guard(Operation::ApprovalsRead, get(approvals::list)),
        )
        .route(
            "/api/v1/approvals/{id}",
            guard(Operation::ApprovalsRead, get(approvals::show)),
        )
        .route(
            "/api/v1/approvals/{id}/approve",
            guard(Operation::ApprovalsDecide, post(approvals::approve)),
        )
        .route(
            "/api/v1/approvals/{id}/reject",
            guard(Operation::ApprovalsDecide, post(approvals::reject)),
        )
        // Whole runbooks: a body limit of its own, sized by the largest document accepted.
        .route(
            DOCUMENTS_ROUTE,
            guard(
                Operation::DocumentsIngest,
                post(documents::ingest)
                    .layer(axum::extract::DefaultBodyLimit::max(documents_limit)),
            ),
        );
    let mut public = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        // Slack signs its requests; the signature is this route's authentication.
        .route("/api/v1/slack/interactions", post(slack::interactions));
    if state.config.mcp.enabled {
        // Any tool a caller may call is checked again per call (`mcp`); connecting at all
        // needs the right to read requests.
        // The Streamable HTTP transport's methods (POST messages, GET a stream, DELETE a
        // session), so `route_layer` has routes to wrap.
        let service = crate::mcp::service(state.clone());
        let mcp = axum::routing::post_service(service.clone())
            .get_service(service.clone())
            .delete_service(service);
        guarded = guarded.route("/mcp", guard(Operation::IntentsRead, mcp));
    }
    if state.config.auth.public_metrics {
        public = public.route("/metrics", get(ops::metrics));
    } else {
        guarded = guarded.route("/metrics", guard(Operation::MetricsRead, get(ops::metrics)));
    }
    // Unknown paths and methods are behind authentication too: without credentials the
    // API reveals nothing about which routes exist.
    // The rate limit counts per caller, so it runs inside authentication (which puts the
    // `Caller` in the extensions); public routes count per certificate or address. Failed
    // authentications count against the peer address in `authenticate` itself.
    let rate_limit = from_fn_with_state(rate_limiter.clone(), limits::rate_limit);
    // Each stack below is one `ServiceBuilder`, applied to the routes once: a layer given to
    // `Router::layer` on its own boxes every route again, and each middleware clones the
    // boxed stack beneath it on every request, so a dozen separate layers cost dozens of
    // allocations per request. The order is the same as separate `.layer` calls in reverse:
    // the first layer here is the outermost.
    let guarded = guarded
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            ServiceBuilder::new()
                .layer(from_fn_with_state(
                    (state.clone(), rate_limiter),
                    access::authenticate,
                ))
                .layer(rate_limit.clone()),
        );
    if state.config.ui.enabled {
        // The console signs its users in itself (a session cookie) and asks policy per page.
        public = public.merge(crate::ui::router());
    }
    public
        .layer(rate_limit)
        .merge(guarded)
        .layer(
            ServiceBuilder::new()
                .layer(tower_http::catch_panic::CatchPanicLayer::custom(
                    panic_response,
                ))
                .layer(from_fn_with_state(state.clone(), observe))
                // Inside the metrics and outside the timeout, so a request that timed out frees
                // its place.
                .layer(from_fn_with_state(in_flight, limits::shed_load))
                .layer(axum::middleware::map_response(json_for_empty_errors))
                // The pipeline runs in its own task, so a timeout answers the client without
                // cancelling an execution half-way; the request's record says how it ended.
                .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                    StatusCode::GATEWAY_TIMEOUT,
                    timeout,
                ))
                // A declared oversized body is refused before anything reads it (no `100 Continue`).
                .layer(from_fn_with_state(body_limits, limits::declared_body_limit))
                .layer(axum::extract::DefaultBodyLimit::max(max_body)),
        )
        .with_state(state)
}

/// The body limit of `POST /api/v1/documents`: one document at the largest size indexed,
/// JSON-escaped (at most 6 bytes per input byte, `\u0001`), plus the envelope.
fn documents_body_limit(config: &crate::Config) -> usize {
    let doc = usize::try_from(config.retrieval.max_document_bytes).unwrap_or(usize::MAX);
    doc.saturating_mul(6)
        .saturating_add(64 * 1024)
        .max(config.api.max_body_bytes)
}

/// Errors produced by layers (the timeout) have no body: give them the JSON error shape.
async fn json_for_empty_errors(resp: Response) -> Response {
    let is_error = resp.status().is_client_error() || resp.status().is_server_error();
    if !is_error || resp.headers().contains_key(header::CONTENT_TYPE) {
        return resp;
    }
    if resp.status() == StatusCode::GATEWAY_TIMEOUT {
        return ApiError::new(
            ErrorCode::ExecutorTimeout,
            "the request took longer than api.request_timeout_secs; GET /api/v1/intents/{id} shows how it ended",
        )
        .into_response();
    }
    let status = resp.status();
    let mut out = ApiError::new(
        ErrorCode::BadRequest,
        status.canonical_reason().unwrap_or("error"),
    );
    out.status = status;
    out.into_response()
}

/// JSON body extractor whose rejections are our JSON errors with honest statuses.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(map_rejection(rejection)),
        }
    }
}

fn map_rejection(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the body as JSON with `Content-Type: application/json`",
        ),
        JsonRejection::JsonSyntaxError(e) => ApiError::new(
            ErrorCode::MalformedJson,
            format!("the body is not valid JSON: {}", e.body_text()),
        ),
        JsonRejection::JsonDataError(e) => ApiError::new(
            ErrorCode::InvalidRequest,
            format!(
                "the body does not match the request schema: {}",
                e.body_text()
            ),
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            ErrorCode::PayloadTooLarge,
            "the body is larger than the limit",
        ),
        other => ApiError::new(ErrorCode::BadRequest, other.body_text()),
    }
}

/// HTTP metrics and one log line per request.
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let elapsed = started.elapsed();
    tracing::debug!(%method, %route, status, elapsed_ms = elapsed.as_millis() as u64, "http");
    state.metrics.observe_http(
        crate::metrics::HttpLabels {
            method,
            route,
            status,
        },
        elapsed,
    );
    resp
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a handler panicked");
    ApiError::new(ErrorCode::Internal, "internal error").into_response()
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "method not allowed on this route",
    )
}
