//! `POST /api/v1/documents`: runbooks into the retrieval index, for admins (policy's
//! `admin_decision` on `documents.ingest`).

use aiops_api::{ErrorResponse, IngestRequest, IngestSummary};
use aiops_core::ErrorCode;
use aiops_policy::{AdminInput, AdminOperation};
use axum::Json;
use axum::extract::State;

use super::{ApiError, ApiJson, Authenticated};
use crate::AppState;

#[utoipa::path(post, path = "/api/v1/documents", tag = "operations", operation_id = "ingest_documents",
    request_body = IngestRequest,
    responses(
        (status = 200, description = "What was indexed, kept, removed and skipped", body = IngestSummary),
        (status = 401, description = "Anonymous or unknown caller", body = ErrorResponse),
        (status = 403, description = "The caller's roles may not ingest", body = ErrorResponse),
        (status = 413, description = "The body is larger than retrieval.max_document_bytes allows", body = ErrorResponse),
        (status = 422, description = "A malformed request (paths, source)", body = ErrorResponse),
        (status = 503, description = "Retrieval is off, or the index does not answer", body = ErrorResponse),
    ))]
pub(super) async fn ingest(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiJson(request): ApiJson<IngestRequest>,
) -> Result<Json<IngestSummary>, ApiError> {
    if caller.is_anonymous() {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "indexing runbooks needs an identity (a bearer token with an admin role)",
        ));
    }
    let decision = state
        .policy
        .evaluate_admin(&AdminInput {
            caller: caller.clone(),
            operation: AdminOperation::DocumentsIngest,
        })
        .map_err(|e| ApiError::new(e.code(), e.to_string()))?;
    if !decision.allowed {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            decision.reasons.join("; "),
        ));
    }
    let Some(runbooks) = &state.runbooks else {
        return Err(ApiError::new(
            ErrorCode::RetrievalUnavailable,
            "runbook retrieval is off on this appliance ([retrieval] enabled = false)",
        ));
    };
    let summary = runbooks.ingest(&caller.user, request).await?;
    Ok(Json(summary))
}
