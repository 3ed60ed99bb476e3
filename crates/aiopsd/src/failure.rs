//! `Failure`: why a stage (or any operation below the API layer) did not succeed, as a
//! stable [`ErrorCode`] and a message that is safe to show. Each crate's error maps onto it
//! through that crate's own `code()`; only `api` turns it into an HTTP status.

use aiops_core::ErrorCode;
use serde::{Deserialize, Serialize};

/// A failure with a stable code; the message is safe to show to the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Failure {
    pub code: ErrorCode,
    pub message: String,
}

impl Failure {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, what)
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
}

impl From<aiops_core::CoreError> for Failure {
    fn from(e: aiops_core::CoreError) -> Self {
        Failure::new(e.code(), e.to_string())
    }
}

impl From<aiops_policy::PolicyError> for Failure {
    fn from(e: aiops_policy::PolicyError) -> Self {
        Failure::new(e.code(), e.to_string())
    }
}

impl From<aiops_exec::ExecError> for Failure {
    fn from(e: aiops_exec::ExecError) -> Self {
        Failure::new(ErrorCode::from_code(e.code()), e.to_string())
    }
}

impl From<aiops_core::RetrieveError> for Failure {
    fn from(e: aiops_core::RetrieveError) -> Self {
        Failure::new(e.code, e.message)
    }
}

impl From<aiops_store::StoreError> for Failure {
    fn from(e: aiops_store::StoreError) -> Self {
        // Store messages can carry SQL details: the log gets them, callers a plain sentence.
        tracing::error!(error = %e, "store error");
        Failure::new(
            ErrorCode::from_code(e.code()),
            "the request store failed; see the daemon log",
        )
    }
}
