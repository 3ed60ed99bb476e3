//! Operations routes: health, readiness, metrics, the audit verifier, the catalog.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::ApiError;
use crate::AppState;
use crate::failure::Failure;

pub(super) async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub(super) async fn readyz(State(state): State<AppState>) -> Response {
    let report = crate::readiness::check(&state).await;
    let code = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(report)).into_response()
}

pub(super) async fn metrics(State(state): State<AppState>) -> Response {
    let mut text = state.metrics.render();
    // The secret source keeps its own counters (it may not depend on the metrics registry).
    let stats = state.secrets.stats();
    let kind = state.secrets.kind();
    let mut extra = String::new();
    for (name, help, value) in [
        (
            "aiops_secret_cache_hits",
            "Secret reads served from the cache",
            stats.hits,
        ),
        (
            "aiops_secret_cache_misses",
            "Secret reads that went to the source",
            stats.misses,
        ),
        (
            "aiops_secret_errors",
            "Secret reads that failed",
            stats.errors,
        ),
    ] {
        extra.push_str(&format!(
            "# HELP {name} {help}.\n# TYPE {name} counter\n{name}_total{{source=\"{kind}\"}} {value}\n"
        ));
    }
    match text.rfind("# EOF") {
        Some(at) => text.insert_str(at, &extra),
        None => text.push_str(&extra),
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

pub(super) async fn verify_audit(State(state): State<AppState>) -> Result<Response, ApiError> {
    let report = state.store.verify_chain().await.map_err(Failure::from)?;
    if !report.ok {
        tracing::error!(first_bad_seq = ?report.first_bad_seq, reason = ?report.reason, "audit chain does not verify");
    }
    Ok(Json(report).into_response())
}

pub(super) async fn catalog(State(state): State<AppState>) -> Json<Value> {
    let actions: Vec<Value> = state
        .catalog
        .actions()
        .map(|a| json!({"name": a.name, "description": a.description, "risk": a.risk, "executor": a.executor.name(), "schema": a.schema}))
        .collect();
    Json(json!({"revision": state.catalog.revision(), "actions": actions}))
}

