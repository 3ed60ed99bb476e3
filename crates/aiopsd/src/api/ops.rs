//! Operations routes: health, readiness, metrics, the audit verifier, the catalog.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use aiops_api::{ActionView, CatalogView, ChainReportView, ErrorResponse, VerifyQuery};
use aiops_core::VerifyMode;

use super::{ApiError, ApiQuery};
use crate::AppState;
use crate::failure::Failure;

#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is up", body = Object)))]
pub(super) async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Every configured backend answers", body = Object),
        (status = 503, description = "A backend does not answer; `checks` says which", body = Object),
    ))]
pub(super) async fn readyz(State(state): State<AppState>) -> Response {
    let report = crate::readiness::check(&state).await;
    let code = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(report)).into_response()
}

#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus metrics (OpenMetrics text)", content_type = "application/openmetrics-text", body = String)))]
pub(super) async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "operations", params(VerifyQuery),
    responses(
        (status = 200, description = "The audit chain, recomputed (from the latest checkpoint unless `mode=full`)", body = ChainReportView),
        (status = 422, description = "An unknown mode", body = ErrorResponse),
    ))]
pub(super) async fn verify_audit(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<VerifyQuery>,
) -> Result<Json<ChainReportView>, ApiError> {
    let report = match query.mode.unwrap_or(VerifyMode::Incremental) {
        VerifyMode::Full => state.store.verify_chain().await,
        VerifyMode::Incremental => state.store.verify_incremental().await,
    }
    .map_err(Failure::from)?;
    if !report.ok {
        tracing::error!(first_bad_seq = ?report.first_bad_seq, reason = ?report.reason, mode = report.mode.as_str(), "audit chain does not verify");
    }
    Ok(Json(ChainReportView {
        ok: report.ok,
        events: report.events,
        head: report.head,
        first_bad_seq: report.first_bad_seq,
        reason: report.reason,
        mode: report.mode,
        from_seq: report.from_seq,
        checked: report.checked,
    }))
}

#[utoipa::path(get, path = "/api/v1/catalog", tag = "operations",
    responses((status = 200, description = "The actions this daemon can run", body = CatalogView)))]
pub(super) async fn catalog(State(state): State<AppState>) -> Json<CatalogView> {
    Json(CatalogView {
        revision: state.catalog.revision().to_string(),
        actions: state.catalog.actions().map(ActionView::from).collect(),
    })
}
