//! `/api/v1/approvals…`: list (keyset pages), show, approve, reject.

use aiops_api::{
    ApprovalConflict, ApprovalDetail, ApprovalList, DecisionBody, DecisionResponse, ErrorBody,
    ErrorResponse,
};
use aiops_core::{ApprovalState, ErrorCode, Verdict};
use aiops_store::{ApprovalQuery, CursorList};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{
    ApiBytes, ApiError, ApiPath, ApiQuery, Authenticated, optional_json, page, status_for,
};
use crate::AppState;
use crate::approvals::{self, DecisionReply};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    /// Only approvals in this state.
    #[param(value_type = Option<ApprovalState>)]
    state: Option<String>,
    /// At most this many (default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// The previous page's `next_cursor`, unchanged.
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/approvals", tag = "approvals", operation_id = "list_approvals",
    params(ListQuery),
    responses(
        (status = 200, description = "One page of approvals, oldest first; `next_cursor` asks for the next", body = ApprovalList),
        (status = 400, description = "A cursor this daemon did not issue for this list", body = ErrorResponse),
        (status = 422, description = "Unknown state, or a limit outside 1..=500", body = ErrorResponse),
    ))]
pub(super) async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<ApprovalList>, ApiError> {
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
    let query = ApprovalQuery {
        state: filter,
        limit: page::limit(q.limit)?,
        after: page::cursor(q.cursor.as_deref(), CursorList::Approvals)?,
    };
    let page = approvals::list(&state, &query).await?;
    Ok(Json(ApprovalList {
        approvals: page.items,
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

#[utoipa::path(get, path = "/api/v1/approvals/{id}", tag = "approvals", operation_id = "show_approval",
    params(("id" = String, Path, description = "The approval id")),
    responses(
        (status = 200, description = "The approval with its plan", body = ApprovalDetail),
        (status = 404, description = "No such approval", body = ErrorResponse),
    ))]
pub(super) async fn show(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ApprovalDetail>, ApiError> {
    let a = state
        .store
        .get_approval(&id)
        .await
        .map_err(crate::failure::Failure::from)?
        .ok_or_else(|| ApiError::not_found(format!("no approval {id}")))?;
    Ok(Json(approvals::detail(&state, &a, true).await?))
}

/// `approve` and `reject` take the same request and give the same answers; only the verdict
/// differs.
macro_rules! decision_handler {
    ($name:ident, $path:tt, $verdict:expr) => {
        #[utoipa::path(post, path = $path, tag = "approvals",
            params(("id" = String, Path, description = "The approval id")),
            request_body(content = Option<DecisionBody>, description = "Optional reason; the body may be empty"),
            responses(
                (status = 200, description = "Recorded (or already recorded)", body = DecisionResponse),
                (status = 401, description = "Unknown credentials", body = ErrorResponse),
                (status = 403, description = "Policy does not let this caller decide", body = ErrorResponse),
                (status = 404, description = "No such approval", body = ErrorResponse),
                (status = 409, description = "The approval is closed or expired", body = ApprovalConflict),
                (status = 422, description = "Invalid body", body = ErrorResponse),
            ))]
        pub(super) async fn $name(
            State(state): State<AppState>,
            ApiPath(id): ApiPath<String>,
            Authenticated(caller): Authenticated,
            ApiBytes(body): ApiBytes,
        ) -> Result<Response, ApiError> {
            decide(&state, &id, &caller, &body, $verdict).await
        }
    };
}

decision_handler!(approve, "/api/v1/approvals/{id}/approve", Verdict::Approve);
decision_handler!(reject, "/api/v1/approvals/{id}/reject", Verdict::Reject);

async fn decide(
    state: &AppState,
    id: &str,
    caller: &aiops_core::Caller,
    bytes: &[u8],
    verdict: Verdict,
) -> Result<Response, ApiError> {
    // The body is optional (`{"reason": ...}`); an empty body is no reason.
    let body: DecisionBody = optional_json(bytes)?;
    let channel = body.http_channel().map_err(|other| {
        ApiError::new(
            ErrorCode::InvalidRequest,
            format!("channel `{other}` cannot decide over HTTP (rest or cli)"),
        )
    })?;
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
            Json(DecisionResponse {
                changed: true,
                message: None,
                approval,
            }),
        )
            .into_response(),
        DecisionReply::Unchanged { message, approval } => (
            StatusCode::OK,
            Json(DecisionResponse {
                changed: false,
                message: Some(message),
                approval,
            }),
        )
            .into_response(),
        DecisionReply::Closed {
            code,
            message,
            state,
        } => (
            status_for(code),
            Json(ApprovalConflict {
                error: ErrorBody::new(code, message),
                state,
            }),
        )
            .into_response(),
    })
}
