//! Slack's signed interactivity endpoint through the real router, in process: a signed body
//! is accepted once, whatever spelling of its signature comes back.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use aiops_test_support::identities::{APPROVER_SLACK_ID, SLACK_SIGNING_SECRET};
use aiopsd::App;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

fn unix_now() -> i64 {
    aiops_store::now_ms() / 1000
}

/// A button click on an approval nobody has: signed, so it passes the signature check and
/// reaches the replay check; what it decides does not matter here.
fn click_body() -> String {
    let payload = json!({
        "type": "block_actions",
        "user": {"id": APPROVER_SLACK_ID},
        "actions": [{"action_id": "aiops_approve", "value": "01JD0000000000000000000000"}],
    });
    form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish()
}

async fn post(state: &aiopsd::AppState, body: &str, ts: &str, sig: &str) -> (StatusCode, Value) {
    let req = Request::post("/api/v1/slack/interactions")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", sig)
        .body(Body::from(body.to_string()))
        .unwrap();
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

/// Issue 11: the replay nonce was the signature header as received, while hex decoding
/// ignores case, so one signed body was accepted three times (lower, upper, mixed case).
#[tokio::test]
async fn a_signed_body_is_accepted_once_whatever_the_case_of_its_signature() {
    let dir = tempfile::tempdir().unwrap();
    let state = App::build(common::secured_config(dir.path()))
        .await
        .unwrap();
    let body = click_body();
    let ts = unix_now().to_string();
    let sig = aiopsd::slack::sign(SLACK_SIGNING_SECRET.as_bytes(), &ts, body.as_bytes());
    let hex = sig.strip_prefix("v0=").unwrap();
    let upper = format!("v0={}", hex.to_ascii_uppercase());
    let mixed: String = hex
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 3 == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    let mixed = format!("v0={mixed}");
    assert_ne!(
        upper, sig,
        "the signature has letters to change the case of"
    );

    let (status, first) = post(&state, &body, &ts, &sig).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    for (what, replay) in [
        ("the same signature", &sig),
        ("upper-case hex", &upper),
        ("mixed-case hex", &mixed),
    ] {
        let (status, v) = post(&state, &body, &ts, replay).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {v}");
        assert_eq!(v["error"]["code"], "unauthorized", "{what}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("replayed"),
            "{what}: {v}"
        );
    }

    // The first request in any spelling is accepted: the check keys on the MAC, not on how
    // it was written.
    let body2 = format!("{body}&x=1");
    let sig2 = aiopsd::slack::sign(SLACK_SIGNING_SECRET.as_bytes(), &ts, body2.as_bytes());
    let sig2_upper = format!("v0={}", sig2["v0=".len()..].to_ascii_uppercase());
    let (status, v) = post(&state, &body2, &ts, &sig2_upper).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = post(&state, &body2, &ts, &sig2).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");
}
