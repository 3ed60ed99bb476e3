//! The one place where failures become HTTP statuses and JSON bodies.

use aiops_core::ErrorCode;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::failure::Failure;
use aiops_api::ErrorBody;

/// An error answered to a client: `{"error": {"code", "message"}}` with an honest status.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status: status_for(code),
            body: ErrorBody {
                code,
                message: message.into(),
            },
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, what)
    }
}

/// HTTP status for an error code. Backends that are down are 503 so clients retry later;
/// a backend that answered with a failure is 502; a timeout 504.
pub fn status_for(code: ErrorCode) -> StatusCode {
    use ErrorCode as C;
    match code {
        C::BadRequest | C::MalformedJson => StatusCode::BAD_REQUEST,
        C::Unauthorized => StatusCode::UNAUTHORIZED,
        C::Forbidden => StatusCode::FORBIDDEN,
        C::NotFound => StatusCode::NOT_FOUND,
        C::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        C::Conflict
        | C::ApprovalClosed
        | C::ApprovalExpired
        | C::NotReversible
        | C::PlanChanged => StatusCode::CONFLICT,
        C::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        C::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        C::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        C::InvalidRequest
        | C::InvalidParams
        | C::InvalidPlaybook
        | C::UnknownAction
        | C::InvalidDnsQuery => StatusCode::UNPROCESSABLE_ENTITY,
        C::StoreUnavailable
        | C::Overloaded
        | C::CredentialsUnavailable
        | C::ExecutorUnavailable
        | C::DnsUnavailable
        | C::RetrievalUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        C::ExecutorTimeout => StatusCode::GATEWAY_TIMEOUT,
        // The executor said ok, the world read back says otherwise: the backend failed.
        C::ExecutorFailed | C::VerificationDiverged => StatusCode::BAD_GATEWAY,
        C::InvalidCatalog
        | C::PolicyError
        | C::PolicyLoadFailed
        | C::PolicyEvalFailed
        | C::PolicyDecisionInvalid
        | C::ApprovalRequired
        | C::ApprovalRejected
        | C::ApprovalVoid
        | C::ApprovalFailed
        | C::InvalidSecretPath
        | C::InvalidSecretsConfig
        | C::ExecutorConfig
        | C::StoreError
        | C::StoreCorrupt
        | C::StoreMigrationFailed
        | C::Interrupted
        | C::Io
        | C::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<Failure> for ApiError {
    fn from(f: Failure) -> Self {
        ApiError::new(f.code, f.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(serde_json::json!({ "error": self.body }))).into_response()
    }
}
