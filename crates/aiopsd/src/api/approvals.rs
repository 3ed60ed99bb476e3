//! `/api/v1/approvals…`: list, show, approve, reject.

use aiops_core::{ApprovalState, Channel, ErrorCode, Verdict};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, Authenticated, status_for};
use crate::AppState;
use crate::approvals::{self, DecisionReply};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    state: Option<String>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let filter = match q.state.as_deref() {
        None => None,
        Some(s) => Some(s.parse::<ApprovalState>().map_err(|_| {
            let all: Vec<&str> = <ApprovalState as strum::VariantArray>::VARIANTS
                .iter()
                .map(|s| s.as_str())
                .collect();
            ApiError::new(
                ErrorCode::InvalidRequest,
                format!("state must be one of {}", all.join(", ")),
            )
        })?),
    };
    let approvals = approvals::list(&state, filter).await?;
    Ok(Json(json!({"approvals": approvals})))
}

pub(super) async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let a = state
        .store
        .get_approval(&id)
        .await
        .map_err(crate::failure::Failure::from)?
        .ok_or_else(|| ApiError::not_found(format!("no approval {id}")))?;
    Ok(Json(approvals::detail(&state, &a, true).await?))
}

/// `{"reason": …, "channel": "rest"|"cli"}`; the body is optional.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct DecisionBody {
    #[serde(default)]
    reason: Option<String>,
    /// `rest` (default) or `cli`: which front end the human used.
    #[serde(default)]
    channel: Option<String>,
}

pub(super) async fn approve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authenticated(caller): Authenticated,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    decide(&state, &id, &caller, &body, Verdict::Approve).await
}

pub(super) async fn reject(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authenticated(caller): Authenticated,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    decide(&state, &id, &caller, &body, Verdict::Reject).await
}

/// The body is optional (`{"reason": ...}`); an empty body is no reason.
fn decision_body(bytes: &[u8]) -> Result<DecisionBody, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(DecisionBody::default());
    }
    serde_json::from_slice(bytes).map_err(|e| {
        if e.is_data() {
            ApiError::new(
                ErrorCode::InvalidRequest,
                format!("the body does not match the request schema: {e}"),
            )
        } else {
            ApiError::new(
                ErrorCode::MalformedJson,
                format!("the body is not valid JSON: {e}"),
            )
        }
    })
}

async fn decide(
    state: &AppState,
    id: &str,
    caller: &aiops_core::Caller,
    bytes: &[u8],
    verdict: Verdict,
) -> Result<Response, ApiError> {
    let body = decision_body(bytes)?;
    let channel = match body.channel.as_deref() {
        None | Some("rest") => Channel::Rest,
        Some("cli") => Channel::Cli,
        Some(other) => {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("unknown channel `{other}` (rest or cli)"),
            ));
        }
    };
    if body
        .reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > 1000)
    {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "reason is longer than 1000 characters",
        ));
    }
    let reply = approvals::decide(state, id, caller, channel, verdict, body.reason).await?;
    Ok(match reply {
        DecisionReply::Recorded { approval } => (
            StatusCode::OK,
            Json(json!({"changed": true, "approval": approval})),
        )
            .into_response(),
        DecisionReply::Unchanged { message, approval } => (
            StatusCode::OK,
            Json(json!({"changed": false, "message": message, "approval": approval})),
        )
            .into_response(),
        DecisionReply::Closed {
            code,
            message,
            state,
        } => (
            status_for(code),
            Json(json!({"error": {"code": code, "message": message}, "state": state})),
        )
            .into_response(),
    })
}
