//! Keyset pagination against a real SQLite file and a real PostgreSQL cluster: walking every page of 1000 approvals and
//! 1000 requests with a filter and a small limit sees each item exactly once, in order,
//! while other writers insert during the walk; cursors the store did not issue are refused.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

#[macro_use]
mod common;

use aiops_core::{ApprovalState, RequestStatus};
use aiops_store::{
    ApprovalQuery, AuditEvent, Change, Cursor, CursorList, NewApproval, NewRequest, RequestQuery,
    RequestUpdate, Store, now_ms,
};
use common::{Backend, rfc3339, store};
use serde_json::json;

const N: usize = 1000;

/// A ULID-shaped id that sorts by `n` (ids order the lists, as ULIDs do by time).
fn rid(n: usize) -> String {
    format!("01TESTREQ{n:017}")
}

fn aid(n: usize) -> String {
    format!("01TESTAPR{n:017}")
}

fn create(n: usize, caller: &str) -> Change {
    Change::CreateRequest(
        NewRequest {
            id: rid(n),
            nl: format!("change number {n}"),
            dry_run: false,
            caller: caller.into(),
        },
        AuditEvent::new(Some(&rid(n)), "intake", "accepted", json!({})),
    )
}

/// Request `n` waiting for approval `aid(n)`, which expires in `ttl_ms`.
fn with_approval(n: usize, ttl_ms: i64) -> [Change; 2] {
    [
        create(n, "alice"),
        Change::CreateApproval(
            NewApproval {
                id: aid(n),
                request_id: rid(n),
                plan_hash: "h".repeat(64),
                requester: "alice".into(),
                approvals_required: 1,
                expires_at: rfc3339(now_ms() + ttl_ms),
            },
            RequestUpdate::default(),
            AuditEvent::new(Some(&rid(n)), "approve", "pending", json!({})),
        ),
    ]
}

/// Walks `state`'s approvals in pages of `limit`, calling `between` after each page.
async fn walk_approvals(
    s: &dyn Store,
    state: Option<ApprovalState>,
    limit: u32,
    mut between: impl AsyncFnMut(usize),
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut after = None;
    for page_no in 0.. {
        let page = s
            .list_approvals(&ApprovalQuery {
                state,
                limit,
                after,
            })
            .await
            .unwrap();
        assert!(page.items.len() <= limit as usize);
        assert!(
            page.next.is_none() || page.items.len() == limit as usize,
            "only the last page is short"
        );
        for a in &page.items {
            assert!(state.is_none_or(|s| a.state == s), "{a:?}");
        }
        seen.extend(page.items.into_iter().map(|a| a.id));
        match page.next {
            Some(next) => {
                // The cursor survives its trip through a client as a token.
                let token = next.encode();
                after = Some(Cursor::decode(&token, CursorList::Approvals).unwrap());
                between(page_no).await;
            }
            None => break,
        }
    }
    seen
}

/// `seen` holds each of `expected` exactly once, in `expected`'s order, and nothing twice.
#[track_caller]
fn exactly_once_in_order(seen: &[String], expected: &[String]) {
    let unique: std::collections::HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "an item was listed twice");
    let of_expected: Vec<&String> = seen.iter().filter(|id| expected.contains(id)).collect();
    assert_eq!(of_expected.len(), expected.len(), "an item was skipped");
    assert!(of_expected.iter().zip(expected).all(|(a, b)| *a == b));
}

async fn approvals_page_oldest_first_exactly_once_while_others_insert(b: Backend) {
    let s = store(b).await;
    // One commit for all of them (group commit applies changes in order, atomically).
    let mut changes = Vec::new();
    for n in 0..N {
        // Every third one is past its deadline, so a filter has something to skip.
        let ttl = if n % 3 == 0 { -1 } else { 3_600_000 };
        changes.extend(with_approval(n, ttl));
    }
    s.commit(changes).await.unwrap();
    let expired = s.expire_due(now_ms()).await.unwrap();
    assert_eq!(expired.len(), N.div_ceil(3));
    let pending: Vec<String> = (0..N).filter(|n| n % 3 != 0).map(aid).collect();

    // Pages of 7 pending approvals; after each page another writer adds two: one newer
    // than everything (it may appear later in this walk), one inside the stretch already
    // walked (as a ULID minted in the same millisecond could be): never seen, and neither
    // shifts what is left to see.
    let mut extra = 0usize;
    let seen = walk_approvals(&*s, Some(ApprovalState::Pending), 7, async |page| {
        let newer = N + page;
        let mut changes = Vec::from(with_approval(newer, 3_600_000));
        let walked = 7 * page;
        changes.push(create(N * 10 + page, "bob"));
        changes.push(Change::CreateApproval(
            NewApproval {
                id: format!("{}a", aid(walked)),
                request_id: rid(N * 10 + page),
                plan_hash: "h".repeat(64),
                requester: "bob".into(),
                approvals_required: 1,
                expires_at: rfc3339(now_ms() + 3_600_000),
            },
            RequestUpdate::default(),
            AuditEvent::new(None, "approve", "pending", json!({})),
        ));
        s.commit(changes).await.unwrap();
        extra += 1;
    })
    .await;
    assert!(extra > 90, "{extra} pages");
    exactly_once_in_order(&seen, &pending);
    assert!(!seen.iter().any(|id| id.ends_with('a')), "{seen:?}");
    // Ids only grow along the walk.
    assert!(seen.windows(2).all(|w| w[0] < w[1]));

    // Every state, in pages of 50, and the decisions come with their approvals.
    let aid0 = aid(1);
    common::decide(&*s, &aid0, "bob", aiops_core::Verdict::Approve).await;
    let all = walk_approvals(&*s, None, 50, async |_| {}).await;
    let originals: Vec<String> = (0..N).map(aid).collect();
    exactly_once_in_order(&all, &originals);
    let first = s
        .list_approvals(&ApprovalQuery {
            state: Some(ApprovalState::Approved),
            limit: 10,
            after: None,
        })
        .await
        .unwrap();
    assert_eq!(first.items.len(), 1);
    assert_eq!(first.items[0].decisions[0].approver, "bob");
    assert!(first.next.is_none());
    assert!(s.verify_chain().await.unwrap().ok);
}

async fn requests_page_newest_first_with_filters_exactly_once(b: Backend) {
    let s = store(b).await;
    let mut changes = Vec::new();
    for n in 0..N {
        let caller = if n % 2 == 0 { "alice" } else { "bob" };
        changes.push(create(n, caller));
        // Every fifth request succeeded as a lookup; the rest are still `received`.
        if n % 5 == 0 {
            changes.push(Change::Update(
                rid(n),
                RequestUpdate {
                    status: Some(RequestStatus::Success),
                    intent: Some(json!({"action": "dns.lookup", "params": {}})),
                    ..Default::default()
                },
                AuditEvent::new(Some(&rid(n)), "execute", "succeeded", json!({})),
            ));
        }
    }
    s.commit(changes).await.unwrap();

    // alice's successes: n % 10 == 0, newest first, in pages of 9, while alice keeps
    // submitting (newer requests never enter a walk that started before them).
    let expected: Vec<String> = (0..N).rev().filter(|n| n % 10 == 0).map(rid).collect();
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = s
            .list_requests(&RequestQuery {
                status: Some(RequestStatus::Success),
                caller: Some("alice".into()),
                limit: 9,
                cursor,
            })
            .await
            .unwrap();
        for r in &page.items {
            assert_eq!(
                (r.status, r.caller.as_str()),
                (RequestStatus::Success, "alice")
            );
            assert_eq!(r.action.as_deref(), Some("dns.lookup"));
            assert!(r.pruned_at.is_none());
        }
        seen.extend(page.items.into_iter().map(|r| r.id));
        pages += 1;
        let Some(next) = page.next else { break };
        cursor = Some(Cursor::decode(&next.encode(), CursorList::Requests).unwrap());
        let n = N + pages;
        s.commit(vec![
            create(n, "alice"),
            Change::Update(
                rid(n),
                RequestUpdate {
                    status: Some(RequestStatus::Success),
                    ..Default::default()
                },
                AuditEvent::new(Some(&rid(n)), "execute", "succeeded", json!({})),
            ),
        ])
        .await
        .unwrap();
    }
    assert_eq!(pages, expected.len().div_ceil(9));
    assert_eq!(seen, expected);

    // No filter: every request, newest first, the received ones without an action.
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = s
            .list_requests(&RequestQuery {
                status: None,
                caller: None,
                limit: 128,
                cursor,
            })
            .await
            .unwrap();
        all.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(all.len(), N + pages - 1);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id));
    let received = all.iter().find(|r| r.id == rid(1)).unwrap();
    assert_eq!(
        (received.status, received.action.as_deref()),
        (RequestStatus::Received, None)
    );
    // A page of exactly the rest says it is the last.
    let tail = s
        .list_requests(&RequestQuery {
            status: Some(RequestStatus::Success),
            caller: Some("alice".into()),
            limit: 1,
            cursor: Some(Cursor::after(CursorList::Requests, rid(10))),
        })
        .await
        .unwrap();
    assert_eq!(tail.items.len(), 1);
    assert_eq!(tail.items[0].id, rid(0));
    assert!(tail.next.is_none());
}

async fn cursors_the_store_did_not_issue_are_refused(b: Backend) {
    let s = store(b).await;
    let requests_cursor = Cursor::after(CursorList::Requests, rid(3)).encode();
    for token in [
        "",
        "not base64!",
        "%%%",
        "AAAA",
        // base64url of "x1:abc": a tag of no list.
        "eDE6YWJj",
        requests_cursor.as_str(),
        &"A".repeat(4096),
    ] {
        let err = Cursor::decode(token, CursorList::Approvals).unwrap_err();
        assert_eq!(err.code(), "bad_request", "{token}: {err}");
        assert!(err.to_string().contains("cursor"), "{err}");
    }
    assert_eq!(
        Cursor::decode(&requests_cursor, CursorList::Requests)
            .unwrap()
            .last_id(),
        rid(3)
    );
    // A typed cursor of the other list is refused by the store too.
    let err = s
        .list_approvals(&ApprovalQuery {
            state: None,
            limit: 5,
            after: Some(Cursor::after(CursorList::Requests, rid(3))),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "bad_request");
    let err = s
        .list_requests(&RequestQuery {
            status: None,
            caller: None,
            limit: 5,
            cursor: Some(Cursor::after(CursorList::Approvals, aid(3))),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "bad_request");
    // A well-formed cursor past the end is an empty last page, not an error.
    let page = s
        .list_requests(&RequestQuery {
            status: None,
            caller: None,
            limit: 5,
            cursor: Some(Cursor::after(CursorList::Requests, "0")),
        })
        .await
        .unwrap();
    assert!(page.items.is_empty() && page.next.is_none());
}

both_backends!(
    approvals_page_oldest_first_exactly_once_while_others_insert,
    requests_page_newest_first_with_filters_exactly_once,
    cursors_the_store_did_not_issue_are_refused,
);
