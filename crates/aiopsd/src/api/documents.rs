//! `POST /api/v1/documents`: runbooks into the retrieval index, for admins (the route is
//! guarded by policy's `access_decision` on `documents.ingest`).

use aiops_api::{ErrorResponse, IngestRequest, IngestSummary};
use aiops_core::ErrorCode;
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
    let Some(runbooks) = &state.runbooks else {
        return Err(ApiError::new(
            ErrorCode::RetrievalUnavailable,
            "runbook retrieval is off on this appliance ([retrieval] enabled = false)",
        ));
    };
    let summary = runbooks.ingest(&caller.user, request).await?;
    Ok(Json(summary))
}
