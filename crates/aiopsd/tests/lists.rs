//! The paged lists and payload retention through the real router, in-process: walking
//! `/api/v1/intents` and `/api/v1/approvals` by `next_cursor` sees every item once, in order;
//! bad cursors and limits are clear 4xx JSON errors, never 5xx; a pruned request answers
//! with its payload gone, `pruned_at` set and its timeline (and the chain) intact.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use aiops_store::{AuditEvent, Change, NewApproval, NewRequest, RequestUpdate, now_ms};
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

/// Sends `req` through the router as `tester`.
async fn call(state: &AppState, req: Request<Body>) -> (StatusCode, Value) {
    let resp = aiopsd::api::router(state.clone())
        .oneshot(common::authenticated(req))
        .await
        .unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn get(state: &AppState, path: &str) -> (StatusCode, Value) {
    call(state, Request::get(path).body(Body::empty()).unwrap()).await
}

async fn submit(state: &AppState, nl: &str) -> Value {
    let req = Request::post("/api/v1/intent")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({ "nl": nl }).to_string()))
        .unwrap();
    call(state, req).await.1
}

/// A ULID-shaped id that sorts by `n`, older than every ULID minted today (`01A…` is 1996).
fn rid(n: usize) -> String {
    format!("01AREQ{n:020}")
}

fn aid(n: usize) -> String {
    format!("01AAPR{n:020}")
}

/// Request `rid(n)` by `caller`, waiting for approval `aid(n)` when `approval`.
fn seeded(n: usize, caller: &str, approval: bool) -> Vec<Change> {
    let id = rid(n);
    let mut changes = vec![Change::CreateRequest(
        NewRequest {
            id: id.clone(),
            nl: format!("delete the A record host{n}.local"),
            dry_run: false,
            caller: caller.into(),
        },
        AuditEvent::new(Some(&id), "intake", "accepted", json!({})),
    )];
    if approval {
        let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
        changes.push(Change::CreateApproval(
            NewApproval {
                id: aid(n),
                request_id: id.clone(),
                plan_hash: "c".repeat(64),
                requester: caller.into(),
                approvals_required: 1,
                expires_at: expires
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap(),
            },
            RequestUpdate {
                intent: Some(json!({"action": "dns.delete_record", "params": {"name": format!("host{n}.local"), "type": "A"}})),
                ..Default::default()
            },
            AuditEvent::new(Some(&id), "approve", "pending", json!({"approval_id": aid(n)})),
        ));
    }
    changes
}

/// Walks `path` (with its filters) by `next_cursor`; returns the items of every page (under
/// `key`) and how many pages there were.
async fn walk(state: &AppState, path: &str, key: &str) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut url = path.to_string();
    let mut pages = 0;
    loop {
        let (status, body) = get(state, &url).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        pages += 1;
        items.extend(body[key].as_array().unwrap().iter().cloned());
        match body["next_cursor"].as_str() {
            Some(cursor) => url = format!("{path}&cursor={cursor}"),
            None => {
                assert!(body["next_cursor"].is_null(), "{body}");
                return (items, pages);
            }
        }
    }
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn intents_page_newest_first_by_cursor_with_filters() {
    let (_d, s) = app().await;
    let mut changes = Vec::new();
    for n in 0..120 {
        changes.extend(seeded(n, if n % 3 == 0 { "carol" } else { "dave" }, false));
    }
    s.store.commit(changes).await.unwrap();
    // Two real requests, newer than the seeded ones (their ids are ULIDs of now).
    let sandwich = submit(&s, "make me a sandwich").await;
    let pods = submit(&s, "list pods in shop").await;

    let (all, pages) = walk(&s, "/api/v1/intents?limit=7", "intents").await;
    assert_eq!(pages, 122_usize.div_ceil(7));
    let mut expected: Vec<String> = (0..120).rev().map(rid).collect();
    expected.insert(0, sandwich["id"].as_str().unwrap().to_string());
    expected.insert(0, pods["id"].as_str().unwrap().to_string());
    assert_eq!(ids(&all), expected);
    // A list view: what it is and how it stands, never the payload.
    let top = &all[0];
    assert_eq!(
        (
            top["status"].as_str(),
            top["action"].as_str(),
            top["caller"].as_str()
        ),
        (Some("failed"), Some("k8s.list_pods"), Some("tester"))
    );
    assert!(top["pruned_at"].is_null() && top.get("pruned_at").is_some());
    for member in ["nl", "intent", "plan", "execution", "context", "timeline"] {
        assert!(top.get(member).is_none(), "{member} in a list: {top}");
    }
    assert_eq!(all[1]["status"], "unrecognized");
    assert!(all[1]["action"].is_null());

    // Filters: carol's received requests, in pages of 4.
    let (carol, _) = walk(
        &s,
        "/api/v1/intents?caller=carol&status=received&limit=4",
        "intents",
    )
    .await;
    let expected: Vec<String> = (0..120).rev().filter(|n| n % 3 == 0).map(rid).collect();
    assert_eq!(ids(&carol), expected);
    let (mine, _) = walk(&s, "/api/v1/intents?caller=tester", "intents").await;
    assert_eq!(mine.len(), 2);
    let (failed, _) = walk(&s, "/api/v1/intents?status=failed", "intents").await;
    assert_eq!(ids(&failed), [pods["id"].as_str().unwrap()]);

    // Default page: 50, with a cursor to the next.
    let (status, body) = get(&s, "/api/v1/intents").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["intents"].as_array().unwrap().len(), 50);
    assert!(body["next_cursor"].is_string());
}

#[tokio::test]
async fn approvals_page_oldest_first_by_cursor_and_keep_their_fields() {
    let (_d, s) = app().await;
    let mut changes = Vec::new();
    for n in 0..60 {
        changes.extend(seeded(n, "alice", true));
    }
    s.store.commit(changes).await.unwrap();

    // The default page is 50: clients that never heard of cursors still get a list.
    let (status, body) = get(&s, "/api/v1/approvals").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let first = body["approvals"].as_array().unwrap();
    assert_eq!(first.len(), 50);
    assert_eq!(first[0]["id"], aid(0));
    assert_eq!(first[0]["action"], "dns.delete_record");
    assert_eq!(first[0]["nl"], "delete the A record host0.local");
    assert!(body["next_cursor"].is_string());

    let (all, pages) = walk(&s, "/api/v1/approvals?state=pending&limit=8", "approvals").await;
    assert_eq!(pages, 8);
    assert_eq!(ids(&all), (0..60).map(aid).collect::<Vec<_>>());
    let (none, pages) = walk(&s, "/api/v1/approvals?state=approved&limit=8", "approvals").await;
    assert_eq!((none.len(), pages), (0, 1));
}

#[tokio::test]
async fn bad_cursors_and_limits_are_clear_client_errors() {
    let (_d, s) = app().await;
    let mut changes = Vec::new();
    for n in 0..3 {
        changes.extend(seeded(n, "alice", true));
    }
    s.store.commit(changes).await.unwrap();
    let (_, page) = get(&s, "/api/v1/intents?limit=1").await;
    let intents_cursor = page["next_cursor"].as_str().unwrap().to_string();
    let (_, page) = get(&s, "/api/v1/approvals?limit=1").await;
    let approvals_cursor = page["next_cursor"].as_str().unwrap().to_string();

    let cases = [
        (
            "/api/v1/intents?cursor=garbage!",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/intents?cursor=",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/intents?cursor=%FF%FE",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/approvals?cursor=AAAA",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/intents?limit=0",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "/api/v1/intents?limit=501",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "/api/v1/intents?limit=-1",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "/api/v1/intents?limit=ten",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "/api/v1/intents?limit=4294967296",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "/api/v1/intents?status=done",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "/api/v1/intents?caller=",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "/api/v1/intents?offset=10",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "/api/v1/approvals?limit=0",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "/api/v1/approvals?limit=501",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "/api/v1/approvals?state=open",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
    ];
    for (path, want, code) in cases {
        let (status, body) = get(&s, path).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (want, Some(code)),
            "{path}: {body}"
        );
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
    // A cursor of one list is not one of the other.
    for path in [
        format!("/api/v1/approvals?cursor={intents_cursor}"),
        format!("/api/v1/intents?cursor={approvals_cursor}"),
    ] {
        let (status, body) = get(&s, &path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("cursor"),
            "{body}"
        );
    }
    // The limits themselves are fine.
    for path in [
        "/api/v1/intents?limit=1",
        "/api/v1/intents?limit=500",
        "/api/v1/approvals?limit=500",
    ] {
        assert_eq!(get(&s, path).await.0, StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn a_pruned_request_answers_without_its_payload_and_the_chain_verifies() {
    let (_d, s) = app().await;
    let pods = submit(&s, "list pods in shop").await;
    let id = pods["id"].as_str().unwrap();
    let (_, before) = get(&s, &format!("/api/v1/intents/{id}")).await;
    assert_eq!(before["nl"], "list pods in shop");
    assert_eq!(before["action"], "k8s.list_pods");
    assert!(before.get("pruned_at").is_none(), "{before}");

    let report = s.store.prune_payloads(now_ms() + 1000, 100).await.unwrap();
    assert_eq!(report.count, 1);

    let (status, after) = get(&s, &format!("/api/v1/intents/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{after}");
    for member in ["nl", "intent", "decision", "plan", "execution"] {
        assert!(after[member].is_null(), "{member}: {after}");
    }
    assert_eq!(after["context"], json!([]));
    assert!(after["pruned_at"].is_string(), "{after}");
    // What lists and audit links need stays.
    for member in [
        "id",
        "status",
        "caller",
        "created_at",
        "updated_at",
        "dry_run",
        "action",
        "timeline",
    ] {
        assert_eq!(after[member], before[member], "{member}");
    }
    assert_eq!(after["error"]["code"], before["error"]["code"]);
    assert_ne!(after["error"]["message"], before["error"]["message"]);
    // Outside the audit timeline (which retention never touches), the sentence is gone.
    let mut record = after.clone();
    record.as_object_mut().unwrap().remove("timeline");
    assert!(!record.to_string().contains("shop"), "{record}");

    let (_, list) = get(&s, "/api/v1/intents").await;
    assert_eq!(list["intents"][0]["id"], id);
    assert_eq!(list["intents"][0]["action"], "k8s.list_pods");
    assert!(list["intents"][0]["pruned_at"].is_string());

    let (status, v) = get(&s, "/api/v1/audit/verify").await;
    assert_eq!(
        (status, v["ok"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{v}"
    );
}

#[tokio::test]
async fn the_retention_pass_prunes_past_the_retention_in_batches_and_stops_when_told() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = common::offline_config(dir.path());
    c.store.retention_batch = 2;
    let s = App::build(c).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..5 {
        let v = submit(&s, "make me a sandwich").await;
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    // Four of them ended long before the 30 days of retention (a second connection to the
    // file backdates them); the fifth just ended.
    let other = aiops_store::SqliteStore::open(&dir.path().join("aiops.db"))
        .await
        .unwrap();
    sqlx::query("UPDATE requests SET updated_at = '2020-01-01T00:00:00Z' WHERE id != $1")
        .bind(&ids[4])
        .execute(other.pool())
        .await
        .unwrap();
    let passes = async || -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE stage = 'retention'")
            .fetch_one(other.pool())
            .await
            .unwrap()
    };

    // Told to stop: the pass ends after the batch it is in.
    let (stop_tx, stop) = tokio::sync::watch::channel(true);
    assert_eq!(aiopsd::retention::prune_once(&s, &stop).await.unwrap(), 2);
    assert_eq!(passes().await, 1);
    stop_tx.send(false).unwrap();
    assert_eq!(aiopsd::retention::prune_once(&s, &stop).await.unwrap(), 2);
    assert_eq!(passes().await, 2);
    assert_eq!(aiopsd::retention::prune_once(&s, &stop).await.unwrap(), 0);
    assert_eq!(passes().await, 2, "an idle pass records nothing");

    for id in &ids[..4] {
        let (_, v) = get(&s, &format!("/api/v1/intents/{id}")).await;
        assert!(v["pruned_at"].is_string() && v["nl"].is_null(), "{v}");
    }
    let (_, recent) = get(&s, &format!("/api/v1/intents/{}", ids[4])).await;
    assert_eq!(recent["nl"], "make me a sandwich");
    let (status, v) = get(&s, "/api/v1/audit/verify").await;
    assert_eq!(
        (status, v["ok"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{v}"
    );
}
