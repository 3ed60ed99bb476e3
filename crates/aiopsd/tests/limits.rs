//! The HTTP limits over real sockets: slow and idle clients are disconnected, a declared
//! oversized body is refused before `100 Continue`, oversized heads are refused, saturation
//! is answered 503, and the rate limit is per caller. After each, the server stays healthy.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;
#[path = "common/served.rs"]
mod served;

use std::time::Duration;

use served::{
    Pki, Served, TOKEN, exchange, get_plain, header_of, json_of, read_to_close, status_of,
    tls_get_by_certificate, with_users,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test lets the server take before calling it a hang (not a timing bound:
/// the configured timeouts below are a fraction of it).
const HANG: Duration = Duration::from_secs(30);

fn config(data: &std::path::Path) -> aiopsd::Config {
    with_users(common::offline_config(data))
}

/// The server still answers `/healthz`. Retried: on a loaded machine a probe's own
/// connection may miss a short header timeout, which says nothing about the server's health.
async fn healthy(d: &Served) {
    let addr = d.addr;
    served::eventually(HANG, "the server answers /healthz", || async move {
        (status_of(&get_plain(addr, "/healthz").await) == 200).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_heads_and_idle_keep_alive_connections_are_closed() {
    let data = tempfile::tempdir().unwrap();
    let mut c = config(data.path());
    c.api.header_read_timeout_ms = 300;
    let d = Served::start(c).await;

    // A head that never ends: closed, unanswered.
    let answer = exchange(
        d.addr,
        b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ",
        HANG,
    )
    .await;
    assert!(!answer.contains("200 OK"), "{answer}");
    // A connection that never sends anything: closed.
    let mut s = TcpStream::connect(d.addr).await.unwrap();
    assert_eq!(read_to_close(&mut s, HANG).await, "");
    healthy(&d).await;

    // A keep-alive connection left idle after one answer: closed.
    let mut s = TcpStream::connect(d.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut s, HANG).await;
    assert_eq!(status_of(&answer), 200, "{answer}");
    assert_eq!(answer.matches("HTTP/1.1").count(), 1, "{answer}");
    healthy(&d).await;
    d.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_is_cut_by_the_request_timeout() {
    let data = tempfile::tempdir().unwrap();
    let mut c = config(data.path());
    c.api.request_timeout_secs = 1;
    let d = Served::start(c).await;
    let head = format!(
        "POST /api/v1/parse HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"nl\": \"add"
    );
    let answer = exchange(d.addr, head.as_bytes(), HANG).await;
    assert_eq!(status_of(&answer), 504, "{answer}");
    assert_eq!(
        json_of(&answer)["error"]["code"],
        "executor_timeout",
        "{answer}"
    );
    healthy(&d).await;
    d.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_oversized_body_gets_413_without_100_continue() {
    let data = tempfile::tempdir().unwrap();
    let d = Served::start(config(data.path())).await;
    for path in [
        "/api/v1/intent",
        "/api/v1/documents",
        "/api/v1/approvals",
        "/healthz",
    ] {
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Type: application/json\r\nContent-Length: 1073741824\r\n\
             Expect: 100-continue\r\n\r\n"
        );
        let answer = exchange(d.addr, req.as_bytes(), HANG).await;
        assert!(!answer.contains("100 Continue"), "{path}: {answer}");
        assert!(answer.starts_with("HTTP/1.1 4"), "{path}: {answer}");
        // Routes that take a body say 413; the others refuse the method first.
        if path != "/healthz" && path != "/api/v1/approvals" {
            assert_eq!(status_of(&answer), 413, "{path}: {answer}");
            assert_eq!(json_of(&answer)["error"]["code"], "payload_too_large");
        }
    }
    // Within the limit, the body is asked for and read.
    let mut s = TcpStream::connect(d.addr).await.unwrap();
    let body = r#"{"nl": "add dns record a.local to 10.0.0.1"}"#;
    let head = format!(
        "POST /api/v1/parse HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 100 Continue"));
    s.write_all(body.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut s, HANG).await;
    assert!(answer.contains("HTTP/1.1 200"), "{answer}");
    healthy(&d).await;
    d.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_heads_are_refused_with_431() {
    let data = tempfile::tempdir().unwrap();
    let mut c = config(data.path());
    c.api.max_header_bytes = 8192;
    c.api.max_headers = 20;
    let d = Served::start(c).await;
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    let many: String = (0..40).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many = format!("GET /healthz HTTP/1.1\r\nHost: t\r\n{many}\r\n");
    for req in [big, many] {
        let answer = exchange(d.addr, req.as_bytes(), HANG).await;
        assert_eq!(status_of(&answer), 431, "{answer}");
        healthy(&d).await;
    }
    d.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saturation_is_answered_503_with_retry_after_and_health_stays_up() {
    let data = tempfile::tempdir().unwrap();
    let mut c = config(data.path());
    c.api.max_concurrent_requests = 1;
    let d = Served::start(c).await;
    // One request in flight: its handler waits for a body that does not come. It asks for
    // `100 Continue`, which the server sends only once the handler reads the body, so the
    // request is known to hold the only place before anything else is sent. (Without it,
    // the request and the first probe raced for that place, and a probe that won it had
    // the held request answered 503 instead.)
    let mut hold = TcpStream::connect(d.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/parse HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n"
    );
    hold.write_all(head.as_bytes()).await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(HANG, hold.read(&mut buf))
        .await
        .expect("the held request is admitted")
        .unwrap();
    let admitted = String::from_utf8_lossy(&buf[..n]);
    assert!(admitted.starts_with("HTTP/1.1 100 Continue"), "{admitted}");
    hold.write_all(b"{").await.unwrap();
    let addr = d.addr;
    let answer = get_plain(addr, "/api/v1/catalog").await;
    assert_eq!(status_of(&answer), 503, "{answer}");
    assert_eq!(header_of(&answer, "retry-after"), Some("1"), "{answer}");
    assert_eq!(json_of(&answer)["error"]["code"], "overloaded", "{answer}");
    // Liveness is exempt.
    healthy(&d).await;
    // The held request's client leaves: its place is free again.
    drop(hold);
    served::eventually(HANG, "requests pass again", || async move {
        (status_of(&get_plain(addr, "/api/v1/catalog").await) == 200).then_some(())
    })
    .await;
    d.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_answers_429_with_retry_after_per_caller() {
    let pki = Pki::new();
    let data = tempfile::tempdir().unwrap();
    let mut c = config(data.path());
    // Two requests, then one a minute: the third in a row is refused.
    c.api.rate_limit_per_minute = 1;
    c.api.rate_limit_burst = 2;
    c.tls = Some(pki.mtls());
    let d = Served::start(c).await;
    let (cert, key) = pki.client("alice-client");
    let alice = pki.connector(Some((&cert, &key)));
    let (cert, key) = pki.client("bob-client");
    let bob = pki.connector(Some((&cert, &key)));

    for _ in 0..2 {
        let (answer, _) = tls_get_by_certificate(&alice, d.addr, "/api/v1/catalog")
            .await
            .unwrap();
        assert_eq!(status_of(&answer), 200, "{answer}");
    }
    let (answer, _) = tls_get_by_certificate(&alice, d.addr, "/api/v1/catalog")
        .await
        .unwrap();
    assert_eq!(status_of(&answer), 429, "{answer}");
    let retry: u64 = header_of(&answer, "retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{answer}");
    assert_eq!(
        json_of(&answer)["error"]["code"],
        "rate_limited",
        "{answer}"
    );
    // Another identity, from the same address, still passes.
    let (answer, _) = tls_get_by_certificate(&bob, d.addr, "/api/v1/catalog")
        .await
        .unwrap();
    assert_eq!(status_of(&answer), 200, "{answer}");
    d.stop().await.unwrap();

    // Without an identity, per peer address.
    let mut c = config(data.path());
    c.api.rate_limit_per_minute = 1;
    c.api.rate_limit_burst = 1;
    let d = Served::start(c).await;
    let anonymous = b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    assert_eq!(status_of(&exchange(d.addr, anonymous, HANG).await), 200);
    let answer = exchange(d.addr, anonymous, HANG).await;
    assert_eq!(status_of(&answer), 429, "{answer}");
    assert!(header_of(&answer, "retry-after").is_some(), "{answer}");
    // Liveness is exempt: a probe from a busy address still gets through.
    let health = b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    assert_eq!(status_of(&exchange(d.addr, health, HANG).await), 200);
    d.stop().await.unwrap();
}
