//! The HTTP layer, and the only code that knows HTTP: routes, extractors, and the mapping
//! of domain outcomes and failures to statuses. Handlers stay thin: decode, call the
//! domain, encode.

mod approvals;
mod documents;
mod error;
mod extract;
mod intents;
mod openapi;
mod ops;
mod quarantine;
mod slack;

use std::time::{Duration, Instant};

use aiops_core::{Caller, ErrorCode};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;

pub use error::{ApiError, status_for};
pub use extract::{ApiBytes, ApiPath, ApiQuery};
pub use openapi::openapi;

use crate::AppState;

pub fn router(state: AppState) -> Router {
    let max_body = state.config.api.max_body_bytes;
    let timeout = Duration::from_secs(state.config.api.request_timeout_secs);
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/api/v1/intent", post(intents::submit))
        .route("/api/v1/parse", post(intents::parse))
        .route("/api/v1/intents/{id}", get(intents::get))
        .route("/api/v1/audit/verify", get(ops::verify_audit))
        .route("/api/v1/catalog", get(ops::catalog))
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/quarantine", get(quarantine::list))
        .route("/api/v1/approvals", get(approvals::list))
        .route("/api/v1/approvals/{id}", get(approvals::show))
        .route("/api/v1/approvals/{id}/approve", post(approvals::approve))
        .route("/api/v1/approvals/{id}/reject", post(approvals::reject))
        .route("/api/v1/slack/interactions", post(slack::interactions))
        // Whole runbooks: a body limit of its own, sized by the largest document accepted.
        .route(
            "/api/v1/documents",
            post(documents::ingest).layer(axum::extract::DefaultBodyLimit::max(
                documents_body_limit(&state.config),
            )),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        // The pipeline runs in its own task, so a timeout answers the client without
        // cancelling an execution half-way; the request's record says how it ended.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            timeout,
        ))
        .layer(axum::middleware::map_response(json_for_empty_errors))
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
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

/// Extractor: the caller, as the configured [`crate::auth::Authenticator`] decides.
pub struct Authenticated(pub Caller);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = match parts.headers.get(header::AUTHORIZATION) {
            None => None,
            Some(v) => Some(v.to_str().map_err(|_| {
                ApiError::new(
                    ErrorCode::Unauthorized,
                    "the Authorization header is not a known bearer token",
                )
            })?),
        };
        Ok(Authenticated(
            state.authenticator.authenticate(header).await?,
        ))
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
