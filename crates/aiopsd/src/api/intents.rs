//! `/api/v1/intent`, `/api/v1/parse`, `/api/v1/intents` (keyset pages), `/api/v1/intents/{id}`.

use aiops_api::{
    ErrorResponse, IntentList, IntentRecord, IntentRequest, IntentResponse, IntentSummary,
    ParseRequest, ParseResponse, RollbackRequest,
};
use aiops_core::{ErrorCode, RequestStatus};
use aiops_store::{CursorList, RequestQuery, RequestSummary};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{
    ApiBytes, ApiError, ApiJson, ApiPath, ApiQuery, Authenticated, optional_json, page, status_for,
};
use crate::AppState;
use crate::failure::Failure;
use crate::parse::{Parsed, validate_only};

/// HTTP status of an intent's outcome: 200 (202 while waiting for a human); a failed
/// request answers the status of its error code.
fn http_status(resp: &IntentResponse) -> StatusCode {
    match (resp.status, &resp.error) {
        (RequestStatus::PendingApproval, _) => StatusCode::ACCEPTED,
        // The caller's roles may not submit this kind of request.
        (RequestStatus::Denied, Some(e)) if e.code == ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        (RequestStatus::Failed, Some(e)) => status_for(e.code),
        (RequestStatus::Failed, None) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::OK,
    }
}

#[utoipa::path(post, path = "/api/v1/intent", tag = "intents", operation_id = "submit_intent", request_body = IntentRequest,
    responses(
        (status = 200, description = "An outcome: success, dry_run, denied, unrecognized, answered", body = IntentResponse),
        (status = 202, description = "Waiting for approval", body = IntentResponse),
        (status = 400, description = "Malformed JSON", body = ErrorResponse),
        (status = 401, description = "No credentials, or unknown ones", body = ErrorResponse),
        (status = 403, description = "The caller's roles may not submit requests, or not of this risk class (then with the IntentResponse body, status denied)", body = IntentResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 415, description = "Not JSON", body = ErrorResponse),
        (status = 422, description = "Invalid request, or a failed intent whose error is a 422 code", body = ErrorResponse),
        (status = 503, description = "A backend is down (a failed intent answers its error code's status, with the IntentResponse body)", body = IntentResponse),
    ))]
pub(super) async fn submit(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiJson(req): ApiJson<IntentRequest>,
) -> Result<Response, ApiError> {
    answered(async move { crate::pipeline::submit(&state, req, caller).await }).await
}

/// Runs a request's path in its own task, so a client that hangs up does not cancel an
/// execution half-way and leave the record saying `executing`; answers its outcome.
async fn answered(
    path: impl std::future::Future<Output = Result<IntentResponse, Failure>> + Send + 'static,
) -> Result<Response, ApiError> {
    let resp = tokio::spawn(path).await.map_err(|e| {
        tracing::error!(error = %e, "intent task failed");
        ApiError::new(ErrorCode::Internal, "internal error")
    })??;
    Ok((http_status(&resp), Json(resp)).into_response())
}

/// Parse only, with the configured parser: no store, no policy, no side effects (answers
/// a model gave and the checks refused are counted, not stored).
#[utoipa::path(post, path = "/api/v1/parse", tag = "intents", request_body = ParseRequest,
    responses(
        (status = 200, description = "The parse, without side effects", body = ParseResponse),
        (status = 422, description = "Invalid request", body = ErrorResponse),
    ))]
pub(super) async fn parse(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<ParseRequest>,
) -> Result<Json<ParseResponse>, ApiError> {
    let nl = req.nl.trim();
    if nl.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "`nl` must not be empty",
        ));
    }
    let ctx = aiops_core::ParseContext {
        catalog: &state.catalog,
        context: &[],
    };
    let outcome = state.parser.parse(nl, &ctx).await;
    Ok(Json(match validate_only(&state.catalog, &outcome) {
        Parsed::Intent(intent) => {
            let risk = state.catalog.get(intent.action).map(|s| s.risk);
            ParseResponse::parsed(intent, risk)
        }
        Parsed::Unrecognized(reason) => ParseResponse::unrecognized(reason),
    }))
}

#[utoipa::path(get, path = "/api/v1/intents/{id}", tag = "intents", operation_id = "get_intent",
    params(("id" = String, Path, description = "The request id (a ULID)")),
    responses(
        (status = 200, description = "The stored request with its timeline", body = IntentRecord),
        (status = 404, description = "No such request", body = ErrorResponse),
    ))]
pub(super) async fn get(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<IntentRecord>, ApiError> {
    if !is_request_id(&id) {
        return Err(ApiError::not_found(format!("no intent {id}")));
    }
    let record = crate::records::intent_record(&state, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no intent {id}")))?;
    Ok(Json(record))
}

#[utoipa::path(post, path = "/api/v1/intents/{id}/rollback", tag = "intents", operation_id = "rollback_intent",
    params(("id" = String, Path, description = "The request to undo (a ULID)")),
    request_body(content = Option<RollbackRequest>, description = "Optional; `{\"dry_run\": true}` plans the inverse only"),
    responses(
        (status = 200, description = "The rollback request's outcome (`rollback_of` names the undone request)", body = IntentResponse),
        (status = 202, description = "The rollback waits for approval", body = IntentResponse),
        (status = 404, description = "No such request", body = ErrorResponse),
        (status = 409, description = "Nothing to undo (`not_reversible`), a rollback of it still in flight, or the world has moved on since the change (`conflict`, then with the IntentResponse body of the refused rollback)", body = ErrorResponse),
        (status = 503, description = "The world could not be read to check the change is still in place", body = IntentResponse),
    ))]
pub(super) async fn rollback(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
    ApiBytes(body): ApiBytes,
) -> Result<Response, ApiError> {
    if !is_request_id(&id) {
        return Err(ApiError::not_found(format!("no intent {id}")));
    }
    let req: RollbackRequest = optional_json(&body)?;
    answered(async move { crate::rollback::rollback(&state, &id, req, caller).await }).await
}

/// Whether `id` can be a request id (a ULID); anything else is not found without a lookup.
fn is_request_id(id: &str) -> bool {
    id.len() == 26 && id.chars().all(|c| c.is_ascii_alphanumeric())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    /// Only requests in this status.
    #[param(value_type = Option<RequestStatus>)]
    status: Option<String>,
    /// Only requests of this caller (user name).
    caller: Option<String>,
    /// At most this many (default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// The previous page's `next_cursor`, unchanged.
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/intents", tag = "intents", operation_id = "list_intents",
    params(ListQuery),
    responses(
        (status = 200, description = "One page of requests, newest first, without their payloads; `next_cursor` asks for the next", body = IntentList),
        (status = 400, description = "A cursor this daemon did not issue for this list", body = ErrorResponse),
        (status = 422, description = "Unknown status, an empty caller, or a limit outside 1..=500", body = ErrorResponse),
    ))]
pub(super) async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<IntentList>, ApiError> {
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(s.parse::<RequestStatus>().map_err(|_| {
            let all: Vec<&str> = <RequestStatus as strum::VariantArray>::VARIANTS
                .iter()
                .map(|s| s.as_str())
                .collect();
            ApiError::new(
                ErrorCode::InvalidRequest,
                format!("status must be one of {}", all.join(", ")),
            )
        })?),
    };
    if q.caller.as_deref().is_some_and(|c| c.trim().is_empty()) {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "caller must not be empty",
        ));
    }
    let query = RequestQuery {
        status,
        caller: q.caller,
        limit: page::limit(q.limit)?,
        cursor: page::cursor(q.cursor.as_deref(), CursorList::Requests)?,
    };
    let page = state
        .store
        .list_requests(&query)
        .await
        .map_err(Failure::from)?;
    Ok(Json(IntentList {
        intents: page.items.into_iter().map(summary).collect(),
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

pub(crate) fn summary(r: RequestSummary) -> IntentSummary {
    IntentSummary {
        // An action this catalog no longer knows reads as none rather than failing the page.
        action: r.action.and_then(|a| a.parse().ok()),
        id: r.id,
        status: r.status,
        caller: r.caller,
        created_at: r.created_at,
        updated_at: r.updated_at,
        dry_run: r.dry_run,
        pruned_at: r.pruned_at,
    }
}
