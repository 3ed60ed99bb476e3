//! What every request passes on its way in and out, as one middleware: the metrics and
//! log line, load shedding, the declared body limit, the timeout, and the JSON shape for
//! errors that have no body.
//!
//! One middleware rather than a layer each because every `from_fn` layer clones and boxes
//! the service beneath it and boxes its own future on every request: on the parse path,
//! five of them cost more than the rules parser (`BENCHMARKS.md`, "Parse vs echo").

use std::time::{Duration, Instant};

use aiops_core::ErrorCode;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;
use super::limits::{BodyLimits, InFlight};
use crate::AppState;

/// The edge's settings and shared state.
#[derive(Clone)]
pub(super) struct Edge {
    pub state: AppState,
    pub in_flight: InFlight,
    pub body_limits: BodyLimits,
    /// `api.request_timeout_secs`.
    pub timeout: Duration,
}

/// Middleware: the edge of every route (see the module's documentation). The order is
/// that of the layers it replaces, outermost first: metrics (they see every answer, a
/// refusal included), load shedding (outside the timeout, so a request that timed out
/// frees its place), the declared body limit, the timeout, JSON for empty errors.
pub(super) async fn edge(State(edge): State<Edge>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let resp = edge.pass(req, next).await;
    let status = resp.status().as_u16();
    let elapsed = started.elapsed();
    tracing::debug!(method, %route, status, elapsed_ms = elapsed.as_millis() as u64, "http");
    edge.state.metrics.observe_http(
        crate::metrics::HttpLabels {
            method,
            route,
            status,
        },
        elapsed,
    );
    resp
}

impl Edge {
    async fn pass(&self, req: Request, next: Next) -> Response {
        let _place = match self.in_flight.enter(&req) {
            Ok(place) => place,
            Err(refused) => return refused.into_response(),
        };
        if let Some(refused) = self.body_limits.refuse_declared(&req) {
            return refused;
        }
        // The pipeline runs in its own task, so a timeout answers the client without
        // cancelling an execution half-way; the request's record says how it ended.
        match tokio::time::timeout(self.timeout, next.run(req)).await {
            Ok(resp) => json_for_empty_errors(resp),
            Err(_) => ApiError::new(
                ErrorCode::ExecutorTimeout,
                "the request took longer than api.request_timeout_secs; GET /api/v1/intents/{id} shows how it ended",
            )
            .into_response(),
        }
    }
}

/// The method as a metrics label: the standard ones by name, anything else as one label,
/// so that a client cannot grow the label set.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

/// Errors produced below the handlers without a body (a layer's, a fallback's) get the
/// JSON error shape.
fn json_for_empty_errors(resp: Response) -> Response {
    let status = resp.status();
    let is_error = status.is_client_error() || status.is_server_error();
    if !is_error || resp.headers().contains_key(header::CONTENT_TYPE) {
        return resp;
    }
    let mut out = ApiError::new(
        ErrorCode::BadRequest,
        status.canonical_reason().unwrap_or("error"),
    );
    out.status = status;
    out.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::POST), "POST");
        let odd = Method::from_bytes(b"BREW").expect("a token");
        assert_eq!(method_label(&odd), "OTHER");
    }

    #[test]
    fn empty_errors_get_the_json_shape_and_keep_their_status() {
        let resp = json_for_empty_errors(StatusCode::IM_A_TEAPOT.into_response());
        assert_eq!(resp.status(), StatusCode::IM_A_TEAPOT);
        assert_eq!(
            resp.headers()
                .get(header::CONTENT_TYPE)
                .map(|v| v.as_bytes()),
            Some(&b"application/json"[..])
        );
        let ok = json_for_empty_errors(StatusCode::NO_CONTENT.into_response());
        assert!(ok.headers().get(header::CONTENT_TYPE).is_none());
    }
}
