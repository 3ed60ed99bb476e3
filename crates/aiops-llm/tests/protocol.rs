//! Responses a real Ollama cannot be made to send: a **protocol double** (a tiny local HTTP
//! server that answers every request with fixed bytes) stands in for Ollama here, and only
//! here. It checks that byte-level garbage and content outside the requested format end
//! in `Unrecognized` / quarantine, never a panic or a proposal.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use aiops_core::{Catalog, IntentParser, ParseContext, ParseVerdict, ParserKind, QuarantineReason};
use aiops_llm::{AnswerStatus, AutoParser, LlmConfig, LlmParser};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TAGS: &str = r#"{"models":[{"name":"double:1b","digest":"0000000000000000000000000000000000000000000000000000000000000000"}]}"#;

/// Serves `/api/tags` properly and answers `/api/chat` with `chat` (raw bytes of a body).
async fn double(chat: &'static [u8]) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 1 << 20];
                let mut n = 0;
                // Read the head and (for POST) the body announced by Content-Length.
                loop {
                    let Ok(k) = sock.read(&mut buf[n..]).await else {
                        return;
                    };
                    if k == 0 {
                        return;
                    }
                    n += k;
                    let text = String::from_utf8_lossy(&buf[..n]).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if n >= end + 4 + len {
                            break;
                        }
                    }
                }
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let body: &[u8] = if head.starts_with("GET /api/tags") {
                    TAGS.as_bytes()
                } else {
                    chat
                };
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.write_all(body).await;
            });
        }
    });
    format!("http://{addr}")
}

fn config(host: String) -> LlmConfig {
    LlmConfig {
        enabled: true,
        host,
        models: vec!["double:1b".into()],
        breaker_failures: 1,
        ..LlmConfig::default()
    }
}

#[tokio::test]
async fn garbage_bytes_are_an_error_and_auto_falls_back_to_rules() {
    let catalog = Catalog::embedded().unwrap();
    let ctx = ParseContext {
        catalog: &catalog,
        context: &[],
    };
    let host = double(b"\x00\xff{\"model\": \"double:1b\", \"message\": {\"role\"").await;
    let llm = Arc::new(
        LlmParser::new(LlmConfig {
            min_rules_confidence: 0.99,
            ..config(host)
        })
        .unwrap(),
    );
    let a = llm.answer("give web a restart", &ctx).await;
    assert_eq!(a.status, AnswerStatus::Unavailable);
    assert_eq!(
        a.outcome.audit["models"][0]["code"],
        json!("llm_server_error"),
        "{}",
        a.outcome.audit
    );
    assert!(a.outcome.quarantined.is_empty());
    // One failure opened the breaker (breaker_failures = 1): health reports it.
    let health = llm.health().await;
    assert!(health.reachable && health.models[0].breaker_open && health.degraded());
    let auto = AutoParser::new(Arc::new(common::Rules), llm);
    let out = auto.parse("restart the deployment api", &ctx).await;
    assert_eq!(out.parser, ParserKind::Rules);
    assert!(
        matches!(out.verdict, ParseVerdict::Proposed(ref p) if p.action == "k8s.restart_deployment")
    );
}

#[tokio::test]
async fn content_outside_the_format_is_quarantined_as_malformed() {
    let catalog = Catalog::embedded().unwrap();
    let ctx = ParseContext {
        catalog: &catalog,
        context: &[],
    };
    let host = double(br#"{"model":"double:1b","created_at":"x","message":{"role":"assistant","content":"Sure! I will restart web."},"done":true}"#).await;
    let llm = LlmParser::new(config(host)).unwrap();
    let out = llm.parse("give web a restart", &ctx).await;
    assert!(matches!(out.verdict, ParseVerdict::Unrecognized { .. }));
    assert_eq!(out.quarantined.len(), 1);
    let q = &out.quarantined[0];
    assert_eq!(q.reason, QuarantineReason::Malformed);
    assert_eq!(q.raw_output, "Sure! I will restart web.");
    assert_eq!(q.model, format!("double:1b@{}", "0".repeat(64)));
}
