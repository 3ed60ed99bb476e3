//! The error bodies: `{"error": {"code", "message"}}` on every failed route, with a
//! stable, machine-readable `code` and a sentence for humans.

use aiops_core::ErrorCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The `error` member of every error body (and of a failed `IntentResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Stable code, e.g. `not_found`, `invalid_request`, `executor_unavailable`.
    pub code: ErrorCode,
    /// What went wrong, for a human. Never carries a secret.
    pub message: String,
}

/// The body of every 4xx/5xx answer (but the 409 of a decision, `ApprovalConflict`,
/// which adds the approval's state).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            code,
            message: message.into(),
        }
    }
}

impl From<ErrorBody> for ErrorResponse {
    fn from(error: ErrorBody) -> Self {
        ErrorResponse { error }
    }
}
