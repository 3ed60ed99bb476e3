//! `/api/v1/intent`, `/api/v1/parse`, `/api/v1/intents/{id}`.

use aiops_core::{ErrorCode, RequestStatus};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiJson, Authenticated, status_for};
use crate::AppState;
use crate::parse::{Parsed, parse_rules};
use crate::wire::{IntentRequest, IntentResponse};

/// HTTP status of an intent's outcome: 200 (202 while waiting for a human); a failed
/// request answers the status of its error code.
fn http_status(resp: &IntentResponse) -> StatusCode {
    match (resp.status, &resp.error) {
        (RequestStatus::PendingApproval, _) => StatusCode::ACCEPTED,
        (RequestStatus::Failed, Some(e)) => status_for(e.code),
        (RequestStatus::Failed, None) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::OK,
    }
}

pub(super) async fn submit(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiJson(req): ApiJson<IntentRequest>,
) -> Result<Response, ApiError> {
    // The path runs in its own task: a client that hangs up must not cancel an execution
    // half-way and leave the record saying `executing`.
    let task_state = state.clone();
    let resp = tokio::spawn(async move { crate::pipeline::submit(&task_state, req, caller).await })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "intent task failed");
            ApiError::new(ErrorCode::Internal, "internal error")
        })??;
    Ok((http_status(&resp), Json(resp)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ParseRequest {
    nl: String,
}

/// Parse only: no store, no policy, no side effects.
pub(super) async fn parse(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<ParseRequest>,
) -> Result<Json<Value>, ApiError> {
    let nl = req.nl.trim();
    if nl.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "`nl` must not be empty",
        ));
    }
    Ok(Json(match parse_rules(&state.catalog, nl) {
        Parsed::Intent(intent) => {
            let risk = state.catalog.get(intent.action).map(|s| s.risk);
            json!({"status": "parsed", "intent": intent, "risk": risk})
        }
        Parsed::Unrecognized(reason) => {
            json!({"status": "unrecognized", "intent": null, "reason": reason})
        }
    }))
}

pub(super) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if id.len() != 26 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(ApiError::not_found(format!("no intent {id}")));
    }
    let record = crate::records::intent_record(&state, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no intent {id}")))?;
    Ok(Json(record))
}
