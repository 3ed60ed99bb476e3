//! `GET /api/v1/quarantine`: refused model answers, read-only, for identified callers.

use aiops_api::{ErrorResponse, QuarantineEntry, QuarantineList};
use aiops_core::ErrorCode;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use super::{ApiError, ApiQuery};
use crate::AppState;
use crate::failure::Failure;

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct Page {
    /// Only entries older than this id (the previous page's `next_before`).
    before: Option<i64>,
    /// At most this many (default 50, at most 500).
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/quarantine", tag = "intents", operation_id = "list_quarantine",
    params(Page),
    responses(
        (status = 200, description = "Refused model answers, newest first", body = QuarantineList),
        (status = 401, description = "Anonymous or unknown caller", body = ErrorResponse),
        (status = 403, description = "The caller's roles may not read the quarantine", body = ErrorResponse),
        (status = 422, description = "Bad page parameters", body = ErrorResponse),
    ))]
pub(super) async fn list(
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<QuarantineList>, ApiError> {
    let limit = page.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let records = state
        .store
        .list_quarantine(page.before, limit)
        .await
        .map_err(Failure::from)?;
    let next_before = (records.len() == limit as usize)
        .then(|| records.last().map(|r| r.id))
        .flatten();
    let entries = records
        .into_iter()
        .map(|r| QuarantineEntry {
            id: r.id,
            at: r.at,
            request_id: r.request_id,
            parser: r.entry.parser,
            model: r.entry.model,
            prompt_revision: r.entry.prompt_revision,
            reason: r.entry.reason,
            detail: r.entry.detail,
            raw_output: r.entry.raw_output,
        })
        .collect();
    Ok(Json(QuarantineList {
        entries,
        next_before,
    }))
}
