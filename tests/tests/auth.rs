//! The security boundary end to end, against a real daemon with real BIND and Ansible:
//! every route but health needs a caller (401), policy's `access_decision` says what each
//! role may do (403), approvals go to the groups that own the target, and every audit row
//! names who did it and how they authenticated. Each finding of the attack probe that
//! opened issue 11 has its test here (or in the files named in its comment).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use aiops_core::{Actor, AuthMethod};
use aiops_e2e::{
    ADMIN_TOKEN, APPROVER_TOKEN, Bind, Daemon, OUTSIDER_APPROVER_TOKEN, REQUESTER_TOKEN,
    VIEWER_TOKEN, config_for, offline_config, with_identities,
};
use aiops_test_support::LogBuffer;
use serde_json::{Value, json};

/// Everything this test binary logs, at TRACE: installed before any daemon starts (each
/// test goes through [`stack`] or [`offline`]), so presented credentials can be searched for.
fn logs() -> &'static LogBuffer {
    static LOGS: std::sync::OnceLock<LogBuffer> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = LogBuffer::default();
        logs.trace_subscriber()
            .try_init()
            .expect("the first subscriber of this test binary");
        logs
    })
}

async fn stack(tweak: impl FnOnce(&mut aiopsd::Config)) -> (Bind, tempfile::TempDir, Daemon) {
    logs();
    let bind = Bind::start().expect("BIND starts");
    let data = tempfile::tempdir().unwrap();
    let mut cfg = with_identities(config_for(&bind, data.path()));
    tweak(&mut cfg);
    let daemon = Daemon::start(cfg).await.expect("daemon starts");
    (bind, data, daemon)
}

async fn offline(tweak: impl FnOnce(&mut aiopsd::Config)) -> (tempfile::TempDir, Daemon) {
    logs();
    let data = tempfile::tempdir().unwrap();
    let mut cfg = offline_config(data.path());
    tweak(&mut cfg);
    let daemon = Daemon::start(cfg).await.expect("daemon starts");
    (data, daemon)
}

/// Every documented route with a concrete path, as (method, path).
fn routes() -> Vec<(String, String)> {
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(aiops_e2e::repo_root().join("crates/aiopsd/openapi.json"))
            .unwrap(),
    )
    .unwrap();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let concrete = path.replace("{id}", "01ARZ3NDEKTSV4RRFFQ69G5FAV");
            out.push((method.to_uppercase(), concrete));
        }
    }
    assert!(out.len() >= 15, "the document lists the routes: {out:?}");
    out
}

/// Sends `method path` with an `{}` JSON body and the given `Authorization` value.
async fn send(d: &Daemon, method: &str, path: &str, authorization: Option<&str>) -> (u16, Value) {
    let mut req = d
        .anonymous
        .request(method.parse().unwrap(), format!("{}{path}", d.url))
        .header("content-type", "application/json")
        .body("{}");
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let www = resp.headers().get("www-authenticate").cloned();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if status == 401 {
        assert_eq!(
            www.as_ref().and_then(|v| v.to_str().ok()),
            Some("Bearer realm=\"aiops\""),
            "{method} {path}"
        );
    }
    (status, body)
}

/// Findings "anonymous changes run" and "GET routes ignore tokens": without credentials, or
/// with forged or malformed ones, every route but health (and public metrics) is 401 —
/// unknown paths too — and nothing is stored or run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_but_health_needs_a_caller() {
    let (_data, d) = offline(|_| {}).await;
    let public = [
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/slack/interactions",
    ];
    let mut checked = 0;
    for (method, path) in routes() {
        if public.contains(&path.as_str()) {
            continue;
        }
        for auth in [
            None,
            Some("Bearer forged-token-CANARY-4b1d"),
            Some("Basic cm9vdDpyb290"),
            Some("Bearer"),
        ] {
            let (code, body) = send(&d, &method, &path, auth).await;
            assert_eq!(code, 401, "{method} {path} with {auth:?}: {body}");
            assert_eq!(body["error"]["code"], "unauthorized", "{body}");
            checked += 1;
        }
    }
    // 12 guarded routes, each with four kinds of missing or bad credentials.
    assert!(checked >= 48, "{checked}");
    // Unknown routes reveal nothing without credentials; with them they are 404.
    assert_eq!(send(&d, "GET", "/api/v1/nope", None).await.0, 401);
    assert_eq!(
        send(
            &d,
            "GET",
            "/api/v1/nope",
            Some(&format!("Bearer {REQUESTER_TOKEN}"))
        )
        .await
        .0,
        404
    );
    // Health stays open.
    assert_eq!(d.get_anonymous("/healthz").await.0, 200);
    assert!(d.get_anonymous("/readyz").await.0 != 401);
    let (code, metrics) = d.get_text("/metrics").await;
    assert_eq!(code, 200);
    // Refusals are counted by reason.
    assert!(
        metrics.contains("aiops_auth_failures_total{reason=\"missing\"}")
            && metrics.contains("aiops_auth_failures_total{reason=\"unknown\"}")
            && metrics.contains("aiops_auth_failures_total{reason=\"malformed\"}"),
        "{metrics}"
    );
    // Nothing was stored by any of it, and what was presented is in no log line.
    assert_eq!(d.state.store.verify_chain().await.unwrap().events, 0);
    let logged = logs().text();
    assert!(
        logged.contains("authentication refused"),
        "refusals are logged"
    );
    assert!(!logged.contains("CANARY-4b1d") && !logged.contains("cm9vdDpyb290"));
}

/// Finding "Bearer scheme is case-sensitive": the scheme is case-insensitive (RFC 9110).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_case_insensitive() {
    let (_data, d) = offline(|_| {}).await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let (code, body) = send(
            &d,
            "GET",
            "/api/v1/catalog",
            Some(&format!("{scheme} {VIEWER_TOKEN}")),
        )
        .await;
        assert_eq!(code, 200, "{scheme}: {body}");
    }
}

/// With the wrong role, 403 — and for an intent, the request is recorded as denied and
/// nothing is planned or run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_decide_what_a_caller_may_do() {
    let (bind, _data, d) = stack(|_| {}).await;
    // A viewer may ask and read…
    let (code, lookup) = d
        .intent_as(VIEWER_TOKEN, "what does ns1.local resolve to?")
        .await;
    assert_eq!(code, 200, "{lookup:#}");
    assert_ne!(lookup["status"], "denied", "{lookup:#}");
    // …but not change: 403, stored as denied by role, no plan, nothing in DNS.
    let (code, change) = d
        .intent_as(VIEWER_TOKEN, "add dns record viewer1.local to 10.9.9.1")
        .await;
    assert_eq!(code, 403, "{change:#}");
    assert_eq!(change["status"], "denied");
    assert_eq!(change["error"]["code"], "forbidden");
    let rec = d.record(change["id"].as_str().unwrap()).await;
    assert_eq!(rec["status"], "denied");
    assert!(rec["plan"].is_null(), "{rec:#}");
    assert_eq!(aiops_e2e::count_stage(&rec, "decide:refused"), 1, "{rec:#}");
    assert!(bind.dig("viewer1.local", "A").is_empty());

    // Route by route: who is refused with 403.
    let doc = json!({"documents": [{"path": "x.md", "text": "# X"}]});
    for (token, method, path, body) in [
        (VIEWER_TOKEN, "POST", "/api/v1/documents", doc.clone()),
        (REQUESTER_TOKEN, "POST", "/api/v1/documents", doc),
        (REQUESTER_TOKEN, "GET", "/api/v1/quarantine", Value::Null),
        (VIEWER_TOKEN, "GET", "/api/v1/quarantine", Value::Null),
        (
            APPROVER_TOKEN,
            "POST",
            "/api/v1/intent",
            json!({"nl": "add dns record approver1.local to 10.9.9.2"}),
        ),
    ] {
        let req = d
            .anonymous
            .request(method.parse().unwrap(), format!("{}{path}", d.url))
            .bearer_auth(token);
        let req = if body.is_null() { req } else { req.json(&body) };
        let resp = req.send().await.unwrap();
        let code = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(code, 403, "{token} {method} {path}: {body:#}");
    }
    assert!(bind.dig("approver1.local", "A").is_empty());
    // The admin may read the quarantine.
    assert_eq!(d.get_as(ADMIN_TOKEN, "/api/v1/quarantine").await.0, 200);
}

/// Finding "approval ids leak": a caller who may not decide gets the same answer whether
/// the approval exists or not (401 anonymous, 403 without the role), and nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deciding_answers_the_same_for_existing_and_missing_approvals() {
    let (bind, _data, d) = stack(|_| {}).await;
    let (_, add) = d
        .intent_as(REQUESTER_TOKEN, "add dns record leak.local to 10.3.3.3")
        .await;
    assert_eq!(add["status"], "success", "{add:#}");
    let (code, del) = d
        .intent_as(REQUESTER_TOKEN, "delete the A record leak.local")
        .await;
    assert_eq!(code, 202, "{del:#}");
    let aid = del["approval"]["id"].as_str().unwrap().to_string();
    let id = del["id"].as_str().unwrap().to_string();
    let missing = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    let before = d.trail(&id).await;
    for target in [aid.as_str(), missing] {
        let path = format!("/api/v1/approvals/{target}/approve");
        assert_eq!(d.post_anonymous(&path, json!({})).await.0, 401, "{target}");
        assert_eq!(
            d.post_as(REQUESTER_TOKEN, &path, json!({})).await.0,
            403,
            "{target}"
        );
        assert_eq!(
            d.post_as(VIEWER_TOKEN, &path, json!({})).await.0,
            403,
            "{target}"
        );
    }
    assert_eq!(d.trail(&id).await, before);
    assert_eq!(bind.dig("leak.local", "A"), ["10.3.3.3"]);
}

/// Owner-routed approvals: `carol` approves for the payments team only, so her approval of
/// a change in the `local` zone (owned by `netops`) is refused; `bob` (netops) approves it.
/// Every audit row of the request names its actor and how they authenticated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_owner_approves_and_every_row_names_its_actor() {
    let (bind, _data, d) = stack(|_| {}).await;
    let (_, add) = d
        .intent_as(REQUESTER_TOKEN, "add dns record owned.local to 10.4.4.4")
        .await;
    assert_eq!(add["status"], "success", "{add:#}");
    let (code, del) = d
        .intent_as(REQUESTER_TOKEN, "delete the A record owned.local")
        .await;
    assert_eq!(code, 202, "{del:#}");
    let aid = del["approval"]["id"].as_str().unwrap().to_string();
    let id = del["id"].as_str().unwrap().to_string();

    let (code, body) = d
        .decide_as(OUTSIDER_APPROVER_TOKEN, &aid, "approve", json!({}))
        .await;
    assert_eq!(code, 403, "{body:#}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("owned by [\"netops\"]") && message.contains("carol"),
        "{message}"
    );
    assert_eq!(bind.dig("owned.local", "A"), ["10.4.4.4"]);
    let (_, approval) = d.get(&format!("/api/v1/approvals/{aid}")).await;
    assert_eq!(approval["state"], "pending", "{approval:#}");

    let (code, body) = d
        .decide_as(APPROVER_TOKEN, &aid, "approve", json!({}))
        .await;
    assert_eq!(code, 200, "{body:#}");
    // The worker re-plans (a check-mode playbook run), executes and verifies: more than one
    // worker interval on a loaded machine, so wait for the outcome itself.
    d.wait_status(&id, &["success"], 120).await;
    assert!(bind.dig("owned.local", "A").is_empty());

    // Who did what, and how they proved it, row by row.
    let alice = Actor {
        user: "alice".into(),
        auth: AuthMethod::Bearer,
    };
    let events = d.state.store.events_for(&id).await.unwrap();
    let actor_of = |stage: &str, outcome: &str| {
        events
            .iter()
            .find(|e| e.stage == stage && e.outcome == outcome)
            .unwrap_or_else(|| panic!("no {stage}:{outcome} in {events:#?}"))
            .actor
            .clone()
    };
    assert_eq!(actor_of("intake", "accepted"), Some(alice.clone()));
    assert_eq!(actor_of("decide", "require_approval"), Some(alice));
    // carol's refused attempt is on record as hers.
    assert_eq!(
        actor_of("approve", "refused"),
        Some(Actor {
            user: "carol".into(),
            auth: AuthMethod::Bearer
        })
    );
    assert_eq!(
        actor_of("approve", "approved"),
        Some(Actor {
            user: "bob".into(),
            auth: AuthMethod::Bearer
        })
    );
    // The worker runs it for alice, as the daemon.
    assert_eq!(
        actor_of("execute", "succeeded"),
        Some(Actor {
            user: "alice".into(),
            auth: AuthMethod::System
        })
    );
    assert!(events.iter().all(|e| e.actor.is_some()), "{events:#?}");
    assert!(d.audit_ok().await);
}

/// An expired token is refused like an unknown one, and counted as expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refused() {
    let (_data, d) = offline(|c| {
        let viewer = c.auth.users.iter_mut().find(|u| u.name == "vic").unwrap();
        viewer.token_expires_at =
            Some(time::OffsetDateTime::now_utc() - time::Duration::seconds(1));
    })
    .await;
    let (code, body) = d.get_as(VIEWER_TOKEN, "/api/v1/catalog").await;
    assert_eq!(code, 401, "{body}");
    assert_eq!(d.get_as(REQUESTER_TOKEN, "/api/v1/catalog").await.0, 200);
    let (_, metrics) = d.get_text("/metrics").await;
    assert!(
        metrics.contains("aiops_auth_failures_total{reason=\"expired\"} 1"),
        "{metrics}"
    );
}

/// `auth.allow_anonymous = "read"` (loopback only): anonymous callers may ask and read
/// what policy lists, never change anything or see approvals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_reads_when_allowed_and_nothing_more() {
    let (bind, _data, d) =
        stack(|c| c.auth.allow_anonymous = aiopsd::config::AnonymousAccess::Read).await;
    let (code, lookup) = d
        .post_anonymous(
            "/api/v1/intent",
            json!({"nl": "what does ns1.local resolve to?"}),
        )
        .await;
    assert_eq!(code, 200, "{lookup:#}");
    assert_ne!(lookup["status"], "denied", "{lookup:#}");
    let (code, change) = d
        .post_anonymous(
            "/api/v1/intent",
            json!({"nl": "add dns record anon1.local to 192.168.1.150"}),
        )
        .await;
    assert_eq!(
        (code, change["status"].as_str()),
        (403, Some("denied")),
        "{change:#}"
    );
    assert!(bind.dig("anon1.local", "A").is_empty());
    assert_eq!(d.get_anonymous("/api/v1/approvals").await.0, 403);
    assert_eq!(d.get_anonymous("/api/v1/quarantine").await.0, 403);
    // Credentials that are present are still checked.
    let (code, _) = send(&d, "GET", "/api/v1/catalog", Some("Bearer forged")).await;
    assert_eq!(code, 401);
}

/// `/metrics` is public by default and behind authentication when configured so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_require_a_caller() {
    let (_data, d) = offline(|c| c.auth.public_metrics = false).await;
    assert_eq!(d.get_anonymous("/metrics").await.0, 401);
    let (code, _) = send(
        &d,
        "GET",
        "/metrics",
        Some(&format!("Bearer {VIEWER_TOKEN}")),
    )
    .await;
    assert_eq!(code, 200);
}

/// mTLS: a verified client certificate whose name a user claims (`client_cert`) is that
/// user, end to end, and the audit says so; one that no user claims is refused (401).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_is_a_caller() {
    logs();
    let pki = aiops_e2e::Pki::new().unwrap();
    let bind = Bind::start().expect("BIND starts");
    let data = tempfile::tempdir().unwrap();
    let cfg = aiops_e2e::with_alice_certificate(config_for(&bind, data.path()));
    let d = Daemon::start_mtls(cfg, &pki).await.unwrap();
    // `anonymous` sends no token: only the certificate speaks for it.
    let resp = d
        .anonymous
        .post(format!("{}/api/v1/intent", d.url))
        .json(&json!({"nl": "add dns record cert1.local to 10.5.5.5"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "success", "{body:#}");
    assert_eq!(bind.dig("cert1.local", "A"), ["10.5.5.5"]);
    let events = d
        .state
        .store
        .events_for(body["id"].as_str().unwrap())
        .await
        .unwrap();
    assert!(
        events.iter().all(|e| e.actor
            == Some(Actor {
                user: "alice".into(),
                auth: AuthMethod::ClientCertificate
            })),
        "{events:#?}"
    );
    d.stop().await;

    // The same certificate, claimed by nobody: refused, nothing stored.
    let data = tempfile::tempdir().unwrap();
    let d = Daemon::start_mtls(config_for(&bind, data.path()), &pki)
        .await
        .unwrap();
    let resp = d
        .anonymous
        .get(format!("{}/api/v1/catalog", d.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
}
