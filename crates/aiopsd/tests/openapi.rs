//! The OpenAPI document: served, complete, and the same as the committed copy
//! (`crates/aiopsd/openapi.json`, regenerated with `AIOPS_BLESS=1 cargo test -p aiopsd --test
//! openapi`). CI also validates the committed copy against the OpenAPI 3.1 specification
//! (`bootstrap/run-tests.sh`).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

mod common;

use aiopsd::App;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// Every route the router serves. A new route must be added here and to the document.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("post", "/api/v1/intent"),
    ("post", "/api/v1/parse"),
    ("get", "/api/v1/intents"),
    ("get", "/api/v1/intents/{id}"),
    ("post", "/api/v1/intents/{id}/rollback"),
    ("get", "/api/v1/audit/verify"),
    ("get", "/api/v1/catalog"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/quarantine"),
    ("get", "/api/v1/approvals"),
    ("get", "/api/v1/approvals/{id}"),
    ("post", "/api/v1/approvals/{id}/approve"),
    ("post", "/api/v1/approvals/{id}/reject"),
    ("post", "/api/v1/slack/interactions"),
    ("post", "/api/v1/documents"),
];

fn committed_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json")
}

#[tokio::test]
async fn the_document_is_served_complete_and_committed() {
    let dir = tempfile::tempdir().unwrap();
    let state = App::build(common::offline_config(dir.path()))
        .await
        .unwrap();
    let router = aiopsd::api::router(state);
    let resp = router
        .clone()
        .oneshot(common::authenticated(
            Request::get("/api/v1/openapi.json")
                .body(Body::empty())
                .unwrap(),
        ))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );

    // Every route is documented, and nothing else is.
    let mut documented = BTreeSet::new();
    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            documented.insert((method.clone(), path.clone()));
            let id = op["operationId"].as_str().unwrap().to_string();
            assert!(
                operation_ids.insert(id.clone()),
                "operationId {id} is not unique"
            );
        }
    }
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, expected);

    // And every documented route is served: none falls through to the 404/405 fallbacks.
    for (method, path) in &expected {
        let concrete = path.replace("{id}", "01ARZ3NDEKTSV4RRFFQ69G5FAV");
        let req = Request::builder()
            .method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap())
            .uri(&concrete)
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let resp = router
            .clone()
            .oneshot(common::authenticated(req))
            .await
            .unwrap();
        let status = resp.status();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&body);
        assert!(
            !text.contains("no such route") && status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {concrete}: {status} {text}"
        );
    }

    // Every referenced schema exists.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "dangling $ref to {name}");
    }

    // The committed copy is what this build serves.
    let pretty = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    if std::env::var_os("AIOPS_BLESS").is_some() {
        std::fs::write(committed_path(), &pretty).unwrap();
    }
    let committed = std::fs::read_to_string(committed_path()).unwrap_or_default();
    assert!(
        committed == pretty,
        "crates/aiopsd/openapi.json is stale: run `AIOPS_BLESS=1 cargo test -p aiopsd --test openapi` and commit it"
    );
}

#[tokio::test]
async fn a_second_daemon_on_one_data_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = || common::offline_config(dir.path());
    let first = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let state = App::build(config()).await.unwrap();
    let serving = tokio::spawn(aiopsd::serve_state(first, state.clone(), async {
        let _ = stop_rx.await;
    }));
    // Wait until the first one serves (it holds the lock from then on).
    loop {
        let ready = aiopsd::api::router(state.clone())
            .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
            .await
            .unwrap();
        if ready.status() == StatusCode::OK && lock_held(dir.path()) {
            break;
        }
        tokio::task::yield_now().await;
    }
    let second = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = aiopsd::serve(second, config(), std::future::pending())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already serving"), "{err}");
    stop_tx.send(()).unwrap();
    serving.await.unwrap().unwrap();
    // Once the first one stopped, the directory is free again.
    assert!(!lock_held(dir.path()));
}

/// Whether some process holds the data directory's lock.
fn lock_held(dir: &std::path::Path) -> bool {
    let Ok(f) = std::fs::File::open(dir.join("aiopsd.lock")) else {
        return false;
    };
    match f.try_lock_shared() {
        Ok(()) => {
            let _ = f.unlock();
            false
        }
        Err(_) => true,
    }
}
