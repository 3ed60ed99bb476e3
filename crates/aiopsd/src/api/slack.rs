//! `/api/v1/slack/interactions`: Slack's interactivity endpoint.

use aiops_core::{Caller, Channel, ErrorCode, Verdict};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use aiops_api::ErrorResponse;

use super::{ApiBytes, ApiError};
use crate::AppState;
use crate::failure::Failure;

/// Refusal of a Slack request: one generic status, the reason in the message.
fn refused(reason: &str) -> ApiError {
    ApiError::new(
        ErrorCode::Unauthorized,
        format!("slack request refused: {reason}"),
    )
}

/// Slack's interactivity endpoint. Verifies the signature over the raw body before
/// decoding anything, refuses replays, answers at once and decides in the background
/// (Slack wants an answer within 3 s).
#[utoipa::path(post, path = "/api/v1/slack/interactions", tag = "approvals",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Slack's signed interaction payload"),
    responses(
        (status = 200, description = "Accepted; the decision is made in the background"),
        (status = 401, description = "Bad signature, stale or replayed", body = ErrorResponse),
        (status = 404, description = "Slack is not enabled", body = ErrorResponse),
    ))]
pub(super) async fn interactions(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<Response, ApiError> {
    use aiops_secrets::ExposeSecret;
    if !state.config.slack.enabled {
        return Err(ApiError::not_found("Slack is not enabled"));
    }
    // Unauthenticated callers learn nothing about the secret source: details go to the log.
    let unavailable = || {
        ApiError::new(
            ErrorCode::CredentialsUnavailable,
            "the Slack signing secret is unavailable",
        )
    };
    let secret = state
        .secrets
        .read(&state.config.slack.secret_path)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "slack signing secret unavailable");
            unavailable()
        })?;
    let signing = secret.field("signing_secret").ok_or_else(|| {
        tracing::error!("the Slack secret has no signing_secret field");
        unavailable()
    })?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now = aiops_store::now_ms();
    let verified = match crate::slack::verify(
        signing.expose_secret().as_bytes(),
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        &body,
        now / 1000,
    ) {
        Ok(v) => v,
        Err(e) => {
            // Logged without the body: it is unauthenticated input.
            tracing::warn!(reason = %e, bytes = body.len(), "slack request refused");
            return Err(refused(&e.to_string()));
        }
    };
    // The nonce is the verified MAC in one spelling, never the header as sent: the same
    // signature in upper- or mixed-case hex is the same request.
    let window_ms = 2 * crate::slack::MAX_SKEW_SECS * 1000;
    if !state
        .store
        .slack_nonce(&verified.nonce(), now, now - window_ms)
        .await
        .map_err(Failure::from)?
    {
        tracing::warn!("slack request refused: replayed signature");
        return Err(refused("replayed request"));
    }
    let clicks = crate::slack::parse_interaction(&body)
        .map_err(|e| ApiError::new(ErrorCode::BadRequest, e))?;
    for click in clicks {
        let state = state.clone();
        tokio::spawn(async move {
            let verdict = if click.action_id == crate::slack::ACTION_APPROVE {
                Verdict::Approve
            } else {
                Verdict::Reject
            };
            let caller = match state.authenticator.by_slack_id(&click.slack_user) {
                Some(c) => c,
                None => {
                    tracing::warn!(slack_user = %click.slack_user, approval_id = %click.approval_id, "slack user is not a known identity");
                    Caller::anonymous()
                }
            };
            match crate::approvals::decide(
                &state,
                &click.approval_id,
                &caller,
                Channel::Slack,
                verdict,
                None,
            )
            .await
            {
                Ok(reply) => {
                    tracing::info!(approval_id = %click.approval_id, reply = ?std::mem::discriminant(&reply), "slack decision handled")
                }
                Err(e) => {
                    tracing::warn!(approval_id = %click.approval_id, code = %e.code, error = %e.message, "slack decision refused")
                }
            }
        });
    }
    Ok(StatusCode::OK.into_response())
}
