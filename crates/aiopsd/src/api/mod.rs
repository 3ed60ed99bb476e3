//! The HTTP layer, and the only code that knows HTTP: routes, extractors, and the mapping
//! of domain outcomes and failures to statuses. Handlers stay thin: decode, call the
//! domain, encode.

mod access;
mod approvals;
mod documents;
mod edge;
mod error;
mod extract;
mod intents;
pub mod limits;
mod openapi;
mod ops;
mod page;
mod quarantine;
mod slack;

use std::time::Duration;

use aiops_core::ErrorCode;
use aiops_policy::Operation;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
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
    let mut guarded = access::Guarded::new()
        .route(
            "/api/v1/intent",
            Operation::IntentsSubmit,
            post(intents::submit),
        )
        .route(
            "/api/v1/parse",
            Operation::IntentsParse,
            post(intents::parse),
        )
        .route(
            "/api/v1/intents",
            Operation::IntentsRead,
            get(intents::list),
        )
        .route(
            "/api/v1/intents/{id}",
            Operation::IntentsRead,
            get(intents::get),
        )
        .route(
            "/api/v1/intents/{id}/rollback",
            Operation::IntentsSubmit,
            post(intents::rollback),
        )
        .route(
            "/api/v1/audit/verify",
            Operation::AuditRead,
            get(ops::verify_audit),
        )
        .route("/api/v1/catalog", Operation::CatalogRead, get(ops::catalog))
        .route(
            "/api/v1/openapi.json",
            Operation::CatalogRead,
            get(openapi::document),
        )
        .route(
            "/api/v1/quarantine",
            Operation::QuarantineRead,
            get(quarantine::list),
        )
        .route(
            "/api/v1/approvals",
            Operation::ApprovalsRead,
            get(approvals::list),
        )
        .route(
            "/api/v1/approvals/{id}",
            Operation::ApprovalsRead,
            get(approvals::show),
        )
        .route(
            "/api/v1/approvals/{id}/approve",
            Operation::ApprovalsDecide,
            post(approvals::approve),
        )
        .route(
            "/api/v1/approvals/{id}/reject",
            Operation::ApprovalsDecide,
            post(approvals::reject),
        )
        // Whole runbooks: a body limit of its own, sized by the largest document accepted.
        .route(
            DOCUMENTS_ROUTE,
            Operation::DocumentsIngest,
            post(documents::ingest).layer(axum::extract::DefaultBodyLimit::max(documents_limit)),
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
        // session).
        let service = crate::mcp::service(state.clone());
        let mcp = axum::routing::post_service(service.clone())
            .get_service(service.clone())
            .delete_service(service);
        guarded = guarded.route("/mcp", Operation::IntentsRead, mcp);
    }
    if state.config.auth.public_metrics {
        public = public.route("/metrics", get(ops::metrics));
    } else {
        guarded = guarded.route("/metrics", Operation::MetricsRead, get(ops::metrics));
    }
    // The rate limit counts per caller, so on guarded routes `access::gate` applies it right
    // after authentication; public routes count per certificate or address. Failed
    // authentications count against the peer address in the gate itself.
    let rate_limit = from_fn_with_state(rate_limiter.clone(), limits::rate_limit);
    // Few layers, each applied to the routes once: a layer given to `Router::layer` boxes
    // every route again, and each `from_fn` middleware clones and boxes the stack beneath it
    // on every request, so the per-request concerns are one middleware each (`edge`,
    // `access::gate`) rather than a layer each. In a `ServiceBuilder` the first layer is the
    // outermost.
    let guarded = guarded.into_router(state.clone(), rate_limiter);
    if state.config.ui.enabled {
        // The console signs its users in itself (a session cookie) and asks policy per page.
        public = public.merge(crate::ui::router());
    }
    let edge = edge::Edge {
        state: state.clone(),
        in_flight,
        body_limits,
        timeout,
    };
    public
        .layer(rate_limit)
        .merge(guarded)
        .layer(
            ServiceBuilder::new()
                .layer(tower_http::catch_panic::CatchPanicLayer::custom(
                    panic_response,
                ))
                .layer(from_fn_with_state(edge, edge::edge))
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
