//! The HTTP contract through the real router, in-process: bad input gets a clear JSON error
//! with the right status and leaves nothing behind; parse-only has no side effects.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use aiopsd::{App, AppState};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn app() -> (tempfile::TempDir, AppState) {
    let dir = tempfile::tempdir().unwrap();
    let c = common::offline_config(dir.path());
    (dir, App::build(c).await.unwrap())
}

/// Sends `req` through the router as `tester` (unless it names other credentials).
async fn call(state: &AppState, req: Request<Body>) -> (StatusCode, Value) {
    call_raw(state, common::authenticated(req)).await
}

/// Sends `req` through the router exactly as given.
async fn call_raw(state: &AppState, req: Request<Body>) -> (StatusCode, Value) {
    let resp = aiopsd::api::router(state.clone())
        .oneshot(req)
        .await
        .unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn post(path: &str, content_type: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut b = Request::post(path);
    if let Some(ct) = content_type {
        b = b.header(header::CONTENT_TYPE, ct);
    }
    b.body(body.into()).unwrap()
}

/// POSTs a JSON body to `path` through the router.
async fn post_json(state: &AppState, path: &str, body: &str) -> (StatusCode, Value) {
    call(
        state,
        post(path, Some("application/json"), body.to_string()),
    )
    .await
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn bad_bodies_get_clear_json_errors_and_store_nothing() {
    let (_d, s) = app().await;
    let json_ct = Some("application/json");
    let big = format!(r#"{{"nl": "{}"}}"#, "a".repeat(70 * 1024));
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (
            post("/api/v1/intent", json_ct, "{not json"),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            post("/api/v1/intent", json_ct, big),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            post("/api/v1/intent", json_ct, r#"{"nl": "x", "sudo": true}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            post("/api/v1/intent", json_ct, r#"{"dry_run": true}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            post("/api/v1/intent", json_ct, r#"{"nl": 5}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            post("/api/v1/intent", json_ct, r#"{"nl": "   "}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            post("/api/v1/intent", json_ct, r#"[1,2]"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            post("/api/v1/intent", Some("text/plain"), r#"{"nl": "x"}"#),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            post("/api/v1/intent", None, r#"{"nl": "x"}"#),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            post("/api/v1/parse", json_ct, "\u{0}\u{1}"),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (get("/api/v1/nope"), StatusCode::NOT_FOUND, "not_found"),
        (
            get("/api/v1/intents/01JD0000000000000000000000"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            get("/api/v1/intents/..%2F..%2Fetc"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            get("/api/v1/intent"),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
    ];
    for (req, status, code) in cases {
        let what = format!("{} {}", req.method(), req.uri());
        let (got, body) = call(&s, req).await;
        assert_eq!(got, status, "{what}: {body}");
        assert_eq!(body["error"]["code"], code, "{what}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{what}: {body}"
        );
    }
    // None of those was accepted, so none was stored or audited.
    let report = s.store.verify_chain().await.unwrap();
    assert!(report.ok);
    assert_eq!(report.events, 0);
}

#[tokio::test]
async fn parse_only_applies_defaults_and_has_no_side_effects() {
    let (_d, s) = app().await;
    let (status, body) = post_json(
        &s,
        "/api/v1/parse",
        r#"{"nl": "Add DNS A record for test.local to 192.168.1.100"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "parsed");
    assert_eq!(body["intent"]["action"], "dns.create_a_record");
    assert_eq!(
        body["intent"]["params"],
        json!({"name": "test.local", "ip": "192.168.1.100", "ttl": 3600})
    );
    assert_eq!(body["risk"], "change");

    let (_, body) = post_json(
        &s,
        "/api/v1/parse",
        r#"{"nl": "scale the api deployment to 3"}"#,
    )
    .await;
    assert_eq!(
        body["intent"]["params"],
        json!({"namespace": "default", "name": "api", "replicas": 3})
    );

    let (status, body) = post_json(&s, "/api/v1/parse", r#"{"nl": "make me a sandwich"}"#).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "unrecognized");
    assert!(body["intent"].is_null());
    assert_eq!(
        s.store.verify_chain().await.unwrap().events,
        0,
        "parse must not store anything"
    );
}

#[tokio::test]
async fn every_accepted_request_is_stored_and_audited() {
    let (_d, s) = app().await;
    let (status, body) = post_json(&s, "/api/v1/intent", r#"{"nl": "make me a sandwich"}"#).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "unrecognized");
    let id = body["id"].as_str().unwrap();
    let rec = s.store.get_request(id).await.unwrap().unwrap();
    assert_eq!(rec.status, aiops_core::RequestStatus::Unrecognized);
    let events = s.store.events_for(id).await.unwrap();
    assert_eq!(events.first().unwrap().stage, "intake");
    assert_eq!(events.last().unwrap().outcome, "unrecognized");

    // A Kubernetes action has no executor yet: it fails closed with a clear 503, stored.
    let (status, body) = post_json(&s, "/api/v1/intent", r#"{"nl": "list pods in shop"}"#).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "failed");
    assert_eq!(body["error"]["code"], "executor_unavailable");
    let rec = s
        .store
        .get_request(body["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.status, aiops_core::RequestStatus::Failed);

    let (status, v) = call(&s, get("/api/v1/audit/verify")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["ok"], true);
}

#[tokio::test]
async fn audit_verify_reports_tampering() {
    let (dir, s) = app().await;
    for nl in ["make me a sandwich", "list pods in shop"] {
        post_json(&s, "/api/v1/intent", &format!(r#"{{"nl": "{nl}"}}"#)).await;
    }
    // The first verify has no checkpoint to start from: it recomputes every row and leaves
    // a checkpoint at the head.
    let (_, v) = call(&s, get("/api/v1/audit/verify")).await;
    assert_eq!(
        (v["ok"].as_bool(), v["mode"].as_str()),
        (Some(true), Some("full")),
        "{v}"
    );
    let checkpoint = v["events"].as_i64().unwrap();
    assert_eq!(v["checked"].as_i64(), Some(checkpoint));

    post_json(&s, "/api/v1/intent", r#"{"nl": "make me a sandwich"}"#).await;
    let (_, v) = call(&s, get("/api/v1/audit/verify")).await;
    assert_eq!(v["mode"], "incremental", "{v}");
    assert_eq!(v["from_seq"].as_i64(), Some(checkpoint));
    let since = v["events"].as_i64().unwrap() - checkpoint;
    assert!(since > 0 && v["checked"].as_i64() == Some(since), "{v}");

    // Tamper with rows through a second connection to the same file: one before the first
    // checkpoint (a full verify finds it) and one after the last (the default finds it).
    let tamper = aiops_store::SqliteStore::open(&dir.path().join("aiops.db"))
        .await
        .unwrap();
    sqlx_exec(
        &tamper,
        "UPDATE audit_events SET outcome = 'allow' WHERE seq = 3",
    )
    .await;
    let (_, v) = call(&s, get("/api/v1/audit/verify?mode=full")).await;
    assert_eq!(
        (v["ok"].as_bool(), v["first_bad_seq"].as_i64()),
        (Some(false), Some(3)),
        "{v}"
    );
    post_json(&s, "/api/v1/intent", r#"{"nl": "make me a sandwich"}"#).await;
    let last: i64 = sqlx::query_scalar("SELECT max(seq) FROM audit_events")
        .fetch_one(tamper.pool())
        .await
        .unwrap();
    sqlx_exec(
        &tamper,
        &format!("UPDATE audit_events SET stage = 'plan' WHERE seq = {last}"),
    )
    .await;
    let (_, v) = call(&s, get("/api/v1/audit/verify")).await;
    assert_eq!(
        (v["ok"].as_bool(), v["first_bad_seq"].as_i64()),
        (Some(false), Some(last)),
        "{v}"
    );

    let (status, v) = call(&s, get("/api/v1/audit/verify?mode=everything")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "invalid_request", "{v}");
}

/// The background verifier's pass moves the checkpoint to the head (so the verify an
/// operator asks for next starts there), counts its outcome, and reports a tampered row.
#[tokio::test]
async fn the_background_verifier_moves_the_checkpoint_and_counts_outcomes() {
    let (dir, s) = app().await;
    for nl in ["make me a sandwich", "list pods in shop"] {
        post_json(&s, "/api/v1/intent", &format!(r#"{{"nl": "{nl}"}}"#)).await;
    }
    let count = |outcome: &str| {
        let text = s.metrics.render();
        let prefix = format!("aiops_audit_verifications_total{{outcome=\"{outcome}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .map_or(0, |n| n.trim().parse::<u64>().unwrap())
    };
    assert_eq!((count("verified"), count("broken")), (0, 0));

    assert_eq!(aiopsd::audit::verify_once(&s).await, Some(true));
    assert_eq!(count("verified"), 1);
    let head: i64 = {
        let (_, v) = call(&s, get("/api/v1/audit/verify")).await;
        // Nothing was written since the pass: the operator's verify starts at the head.
        assert_eq!(
            (v["mode"].as_str(), v["checked"].as_i64()),
            (Some("incremental"), Some(0)),
            "{v}"
        );
        assert_eq!(v["from_seq"], v["events"], "{v}");
        v["events"].as_i64().unwrap()
    };
    assert!(head > 0);

    post_json(&s, "/api/v1/intent", r#"{"nl": "make me a sandwich"}"#).await;
    let tamper = aiops_store::SqliteStore::open(&dir.path().join("aiops.db"))
        .await
        .unwrap();
    sqlx_exec(
        &tamper,
        &format!(
            "UPDATE audit_events SET outcome = 'allow' WHERE seq = {}",
            head + 1
        ),
    )
    .await;
    assert_eq!(aiopsd::audit::verify_once(&s).await, Some(false));
    assert_eq!((count("verified"), count("broken")), (1, 1));
}

async fn sqlx_exec(store: &aiops_store::SqliteStore, sql: &str) {
    sqlx::query(sql).execute(store.pool()).await.unwrap();
}

#[tokio::test]
async fn health_metrics_and_catalog() {
    let (_d, s) = app().await;
    let (status, body) = call(&s, get("/healthz")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    let (status, ready) = call(&s, get("/readyz")).await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "no DNS or Ansible here: {ready}"
    );
    assert_eq!(ready["checks"]["store"]["ok"], true);
    assert_eq!(ready["checks"]["ansible"]["ok"], false);
    assert_eq!(ready["checks"]["dns"]["ok"], false);
    let (_, cat) = call(&s, get("/api/v1/catalog")).await;
    let actions = cat["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 11);
    let named = |n: &str| actions.iter().find(|a| a["name"] == n).unwrap().clone();
    // Verifiers and inverses are catalog data, shown with each action.
    let create = named("dns.create_a_record");
    assert_eq!(create["verify"]["read"], "dns_answer");
    assert_eq!(
        create["inverse"].as_array().unwrap().last().unwrap()["action"],
        "dns.delete_record"
    );
    assert!(named("k8s.restart_deployment")["inverse"][0]["refuse"].is_string());
    assert_eq!(named("k8s.unexpose_service")["internal"], true);
    assert!(named("dns.lookup").get("verify").is_none());

    let resp = aiopsd::api::router(s.clone())
        .oneshot(get("/metrics"))
        .await
        .unwrap();
    let text = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert!(
        text.contains(
            "aiops_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("aiops_http_request_duration_seconds_bucket"),
        "{text}"
    );
}
