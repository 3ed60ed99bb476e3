//! The one place where errors become HTTP statuses and JSON bodies.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// `{"code": "...", "message": "..."}`, the `error` member of every error body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

/// An error answered to a client: `{"error": {"code", "message"}}` with an honest status.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                code: code.into(),
                message: message.into(),
            },
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    /// An error from a stage, mapped by its stable code.
    pub fn from_code(code: &str, message: impl Into<String>) -> Self {
        Self::new(status_for_code(code), code, message)
    }
}

/// HTTP status for a stage error code. Backends that are down are 503 so clients retry later;
/// a backend that answered with a failure is 502; a timeout 504.
pub fn status_for_code(code: &str) -> StatusCode {
    match code {
        "store_unavailable"
        | "credentials_unavailable"
        | "executor_unavailable"
        | "dns_unavailable"
        | "retrieval_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        "executor_timeout" => StatusCode::GATEWAY_TIMEOUT,
        "executor_failed" => StatusCode::BAD_GATEWAY,
        "not_found" => StatusCode::NOT_FOUND,
        "forbidden" => StatusCode::FORBIDDEN,
        "conflict" => StatusCode::CONFLICT,
        "invalid_request" | "invalid_params" | "invalid_playbook" | "unknown_action"
        | "invalid_dns_query" => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(serde_json::json!({ "error": self.body }))).into_response()
    }
}

impl From<aiops_store::StoreError> for ApiError {
    fn from(e: aiops_store::StoreError) -> Self {
        tracing::error!(error = %e, "store error");
        let code = e.code();
        let status = match code {
            "store_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            "not_found" => StatusCode::NOT_FOUND,
            "conflict" => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        // Store messages can carry SQL details; clients get the code and a plain sentence.
        ApiError::new(status, code, "the request store failed; see the daemon log")
    }
}
