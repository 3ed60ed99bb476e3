//! HTTP routes. Handlers stay thin: decode, call the pipeline, encode.

use std::time::Instant;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, MatchedPath, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::pipeline::{self, IntentRequest, Parsed};

pub fn router(state: AppState) -> Router {
    let max_body = state.config.api.max_body_bytes;
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/intent", post(intent))
        .route("/api/v1/parse", post(parse))
        .route("/api/v1/intents/{id}", get(get_intent))
        .route("/api/v1/audit/verify", get(verify_audit))
        .route("/api/v1/catalog", get(catalog))
        .route("/api/v1/approvals", get(crate::approvals::list))
        .route("/api/v1/approvals/{id}", get(crate::approvals::show))
        .route(
            "/api/v1/approvals/{id}/approve",
            post(crate::approvals::approve),
        )
        .route(
            "/api/v1/approvals/{id}/reject",
            post(crate::approvals::reject),
        )
        .route("/api/v1/slack/interactions", post(slack_interactions))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .with_state(state)
}

/// JSON body extractor whose rejections are our JSON errors with honest statuses.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(map_rejection(rejection)),
        }
    }
}

fn map_rejection(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with `Content-Type: application/json`",
        ),
        JsonRejection::JsonSyntaxError(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not valid JSON: {}", e.body_text()),
        ),
        JsonRejection::JsonDataError(e) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            format!(
                "the body does not match the request schema: {}",
                e.body_text()
            ),
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the body is larger than the limit",
        ),
        other => ApiError::new(StatusCode::BAD_REQUEST, "bad_request", other.body_text()),
    }
}

/// HTTP metrics and one log line per request.
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let elapsed = started.elapsed();
    tracing::debug!(%method, %route, status, elapsed_ms = elapsed.as_millis() as u64, "http");
    state.metrics.observe_http(
        crate::metrics::HttpLabels {
            method,
            route,
            status,
        },
        elapsed,
    );
    resp
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error",
    )
    .into_response()
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this route",
    )
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> Response {
    let report = crate::readiness::check(&state).await;
    let code = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(report)).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.metrics.render();
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn intent(
    State(state): State<AppState>,
    crate::auth::Authenticated(caller): crate::auth::Authenticated,
    ApiJson(req): ApiJson<IntentRequest>,
) -> Result<Response, ApiError> {
    // The path runs in its own task: a client that hangs up must not cancel an execution
    // half-way and leave the record saying `executing`.
    let task_state = state.clone();
    let resp = tokio::spawn(async move { pipeline::submit(&task_state, req, caller).await })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "intent task failed");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            )
        })??;
    Ok((resp.http_status(), Json(resp)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParseRequest {
    nl: String,
}

/// Parse only: no store, no policy, no side effects.
async fn parse(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<ParseRequest>,
) -> Result<Json<Value>, ApiError> {
    let nl = req.nl.trim();
    if nl.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "`nl` must not be empty",
        ));
    }
    Ok(Json(match pipeline::parse_intent(&state.catalog, nl) {
        Parsed::Intent(intent) => {
            let risk = state.catalog.get(&intent.action).map(|s| s.risk);
            json!({"status": "parsed", "intent": intent, "risk": risk})
        }
        Parsed::Unrecognized(reason) => {
            json!({"status": "unrecognized", "intent": null, "reason": reason})
        }
    }))
}

async fn get_intent(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if id.len() != 26 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(ApiError::not_found(format!("no intent {id}")));
    }
    let Some(rec) = state.store.get_request(&id).await? else {
        return Err(ApiError::not_found(format!("no intent {id}")));
    };
    let approval = match &rec.approval_id {
        Some(aid) => state.store.get_approval(aid).await?.map(|a| json!(a)),
        None => None,
    };
    let timeline: Vec<Value> = state
        .store
        .events_for(&id)
        .await?
        .into_iter()
        .map(|e| json!({"seq": e.seq, "at": e.at, "stage": e.stage, "outcome": e.outcome, "data": e.data}))
        .collect();
    Ok(Json(json!({
        "id": rec.id,
        "status": rec.status,
        "nl": rec.nl,
        "dry_run": rec.dry_run,
        "caller": rec.caller,
        "created_at": rec.created_at,
        "updated_at": rec.updated_at,
        "intent": rec.intent,
        "decision": rec.decision,
        "plan": rec.plan,
        "approval": approval,
        "execution": rec.execution,
        "error": rec.error,
        "context": rec.context.unwrap_or_else(|| json!([])),
        "timeline": timeline,
    })))
}

async fn verify_audit(State(state): State<AppState>) -> Result<Response, ApiError> {
    let report = state.store.verify_chain().await?;
    if !report.ok {
        tracing::error!(first_bad_seq = ?report.first_bad_seq, reason = ?report.reason, "audit chain does not verify");
    }
    Ok(Json(report).into_response())
}

async fn catalog(State(state): State<AppState>) -> Json<Value> {
    let actions: Vec<Value> = state
        .catalog
        .actions()
        .map(|a| json!({"name": a.name, "description": a.description, "risk": a.risk, "executor": a.executor.name(), "schema": a.schema}))
        .collect();
    Json(json!({"revision": state.catalog.revision(), "actions": actions}))
}

/// Slack's interactivity endpoint. Verifies the signature over the raw body before
/// decoding anything, refuses replays, answers at once and decides in the background
/// (Slack wants an answer within 3 s).
async fn slack_interactions(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    use aiops_secrets::ExposeSecret;
    if !state.config.slack.enabled {
        return Err(ApiError::not_found("Slack is not enabled"));
    }
    // Unauthenticated callers learn nothing about the secret source: details go to the log.
    let unavailable = || {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "credentials_unavailable",
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
    let signature = header("x-slack-signature");
    let now = aiops_store::now_ms();
    if let Err(e) = crate::slack::verify(
        signing.expose_secret().as_bytes(),
        header("x-slack-request-timestamp"),
        signature,
        &body,
        now / 1000,
    ) {
        // Logged without the body: it is unauthenticated input.
        tracing::warn!(reason = %e, bytes = body.len(), "slack request refused");
        return Err(crate::approvals::slack_refused(&e.to_string()));
    }
    let signature = signature.unwrap_or_default();
    let window_ms = 2 * crate::slack::MAX_SKEW_SECS * 1000;
    if !state
        .store
        .slack_nonce(signature, now, now - window_ms)
        .await?
    {
        tracing::warn!("slack request refused: replayed signature");
        return Err(crate::approvals::slack_refused("replayed request"));
    }
    let clicks = crate::slack::parse_interaction(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e))?;
    for click in clicks {
        let state = state.clone();
        tokio::spawn(async move {
            let verdict = if click.action_id == crate::slack::ACTION_APPROVE {
                aiops_store::Verdict::Approve
            } else {
                aiops_store::Verdict::Reject
            };
            let caller = match state.identities.by_slack_id(&click.slack_user) {
                Some(c) => c.clone(),
                None => {
                    tracing::warn!(slack_user = %click.slack_user, approval_id = %click.approval_id, "slack user is not a known identity");
                    crate::auth::anonymous()
                }
            };
            match crate::approvals::decide(
                &state,
                &click.approval_id,
                &caller,
                "slack",
                verdict,
                None,
            )
            .await
            {
                Ok((code, _)) => {
                    tracing::info!(approval_id = %click.approval_id, status = code.as_u16(), "slack decision handled")
                }
                Err(e) => {
                    tracing::warn!(approval_id = %click.approval_id, code = %e.body.code, error = %e.body.message, "slack decision refused")
                }
            }
        });
    }
    Ok(StatusCode::OK.into_response())
}
