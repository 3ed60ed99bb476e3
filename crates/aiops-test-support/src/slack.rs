//! A stand-in for Slack's Web API on 127.0.0.1 (Slack itself is unreachable from tests).
//!
//! The stand-in follows Slack's documented protocol: `POST /<method>` with a JSON body and
//! the bot token as a bearer token, answered `{"ok": true, "channel", "ts"}` (the `ts` of
//! a new message is `1700000000.000100`). While "down" it answers 503
//! `{"ok": false, "error": "service_unavailable"}`. It records EVERY call, failed or not,
//! so a test can prove an outage was really hit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

/// The `ts` the stand-in gives a new message.
pub const MESSAGE_TS: &str = "1700000000.000100";

/// One call the stand-in received.
#[derive(Debug, Clone)]
pub struct SlackCall {
    /// The Web API method (`chat.postMessage`, `chat.update`).
    pub method: String,
    /// The `Authorization` header.
    pub auth: String,
    pub body: Value,
    /// Answered 503 because the stand-in was down.
    pub failed: bool,
    pub at: Instant,
}

type Calls = Arc<Mutex<Vec<SlackCall>>>;

/// The running stand-in; stopped on drop.
pub struct SlackStandIn {
    /// The daemon's `slack.api_base`.
    pub url: String,
    calls: Calls,
    down: Arc<AtomicBool>,
    handle: tokio::task::JoinHandle<()>,
}

impl SlackStandIn {
    /// Serves on `127.0.0.1:0`.
    pub async fn start() -> SlackStandIn {
        let calls: Calls = Default::default();
        let down = Arc::new(AtomicBool::new(false));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let app = axum::Router::new()
            .route("/{method}", axum::routing::post(answer))
            .with_state((calls.clone(), down.clone()));
        let handle = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        SlackStandIn {
            url,
            calls,
            down,
            handle,
        }
    }

    /// Makes every following call fail (503) or succeed again.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Every call of `method` so far, failed ones included, oldest first.
    pub fn calls(&self, method: &str) -> Vec<SlackCall> {
        self.all_calls()
            .into_iter()
            .filter(|c| c.method == method)
            .collect()
    }

    /// The calls of `method` that were answered `ok` (failed is false).
    pub fn answered(&self, method: &str) -> Vec<SlackCall> {
        self.calls(method)
            .into_iter()
            .filter(|c| !c.failed)
            .collect()
    }

    /// The calls of `method` that were answered 503.
    pub fn failed(&self, method: &str) -> Vec<SlackCall> {
        self.calls(method)
            .into_iter()
            .filter(|c| c.failed)
            .collect()
    }

    fn all_calls(&self) -> Vec<SlackCall> {
        self.calls.lock().expect("calls lock").clone()
    }

    /// Polls until `cond` holds for the calls of `method` (then true) or the deadline
    /// passes (then false). The deadline is recomputed from those calls on every poll, so
    /// it can follow the retry schedule as failures come in.
    pub async fn wait_for(
        &self,
        method: &str,
        deadline: impl Fn(&[SlackCall]) -> Instant,
        cond: impl Fn(&[SlackCall]) -> bool,
    ) -> bool {
        loop {
            let calls = self.calls(method);
            if cond(&calls) {
                return true;
            }
            if Instant::now() > deadline(&calls) {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The Web API: records the call, then answers as Slack does (or 503 while down).
async fn answer(
    State((calls, down)): State<(Calls, Arc<AtomicBool>)>,
    Path(method): Path<String>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> (StatusCode, axum::Json<Value>) {
    let failed = down.load(Ordering::SeqCst);
    let reply = if failed {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"ok": false, "error": "service_unavailable"}),
        )
    } else {
        let channel = body["channel"].as_str().unwrap_or("C0TEST").to_string();
        let ts = body["ts"].as_str().unwrap_or(MESSAGE_TS).to_string();
        (
            StatusCode::OK,
            json!({"ok": true, "channel": channel, "ts": ts}),
        )
    };
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    calls.lock().expect("calls lock").push(SlackCall {
        method,
        auth,
        body,
        failed,
        at: Instant::now(),
    });
    (reply.0, axum::Json(reply.1))
}

impl Drop for SlackStandIn {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_call_is_recorded_with_whether_it_failed() {
        let slack = SlackStandIn::start().await;
        let post = |method: &str| {
            reqwest::Client::new()
                .post(format!("{}/{method}", slack.url))
                .bearer_auth("xoxb-t")
                .json(&json!({"channel": "C1"}))
                .send()
        };
        slack.set_down(true);
        assert_eq!(post("chat.postMessage").await.unwrap().status(), 503);
        slack.set_down(false);
        let ok: Value = post("chat.postMessage")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(ok, json!({"ok": true, "channel": "C1", "ts": MESSAGE_TS}));
        let calls = slack.calls("chat.postMessage");
        let failed: Vec<bool> = calls.iter().map(|c| c.failed).collect();
        assert_eq!(failed, [true, false]);
        assert_eq!(slack.failed("chat.postMessage").len(), 1);
        assert_eq!(slack.answered("chat.postMessage")[0].auth, "Bearer xoxb-t");
        assert!(slack.calls("chat.update").is_empty());
    }
}
