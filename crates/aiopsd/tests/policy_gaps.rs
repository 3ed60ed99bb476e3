//! The policy gaps of issue 11 through the request path, in process: each sentence used to be
//! allowed (and would have planned and run); now it is denied by policy, or refused as
//! unrecognized, and nothing is planned. No backend is up here, so a request that got past
//! policy fails at its plan stage instead.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use aiops_test_support::identities::REQUESTER_TOKEN;
use aiopsd::App;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn intent(state: &aiopsd::AppState, nl: &str) -> (StatusCode, Value) {
    let req = Request::post("/api/v1/intent")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {REQUESTER_TOKEN}"))
        .body(Body::from(json!({"nl": nl}).to_string()))
        .unwrap();
    let resp = aiopsd::api::router(state.clone())
        .oneshot(req)
        .await
        .unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

/// Asserts `nl` ends denied by policy with a reason containing `reason`, never planned.
async fn denied(state: &aiopsd::AppState, nl: &str, reason: &str) {
    let (status, body) = intent(state, nl).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("denied")),
        "{nl}: {body:#}"
    );
    let reasons = body["decision"]["reasons"].to_string();
    assert!(reasons.contains(reason), "{nl}: {reasons}");
    assert!(body["plan"].is_null(), "{nl}: {body:#}");
}

#[tokio::test]
async fn bulk_host_limits_are_denied_and_narrow_ones_still_pass_policy() {
    let dir = tempfile::tempdir().unwrap();
    let state = App::build(common::secured_config(dir.path()))
        .await
        .unwrap();
    for limit in ["all:!none", "*:!none", "all:&all", "localhost,all"] {
        denied(
            &state,
            &format!("run the ping playbook limited to {limit}"),
            "selects every host",
        )
        .await;
    }
    // A single host passes policy and goes on to plan, which fails here: no Ansible.
    let (_, body) = intent(&state, "run the ping playbook limited to web01").await;
    assert_eq!(body["status"], "failed", "{body:#}");
    assert_eq!(body["decision"]["outcome"], "allow", "{body:#}");
    assert_eq!(body["intent"]["params"]["limit"], "web01");
}

#[tokio::test]
async fn a_records_to_unspecified_broadcast_link_local_multicast_or_loopback_are_denied() {
    let dir = tempfile::tempdir().unwrap();
    let state = App::build(common::secured_config(dir.path()))
        .await
        .unwrap();
    for ip in [
        "0.0.0.0",
        "255.255.255.255",
        "169.254.169.254",
        "224.0.0.1",
        "127.0.0.1",
    ] {
        denied(
            &state,
            &format!("Add DNS A record for gap.local to {ip}"),
            "an A record may not point at",
        )
        .await;
    }
}

#[tokio::test]
async fn a_name_with_two_trailing_dots_is_not_the_name_with_one() {
    let dir = tempfile::tempdir().unwrap();
    let state = App::build(common::secured_config(dir.path()))
        .await
        .unwrap();
    let (status, body) = intent(&state, "Add DNS A record for k1.local.. to 10.0.0.1").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("unrecognized")),
        "{body:#}"
    );
    assert!(body["intent"].is_null(), "{body:#}");
}
