//! `aiopsd migrate --from <data dir>` (the real binary; the target's URL in
//! `AIOPS_STORE_URL`) against a real PostgreSQL cluster (`bootstrap/postgres.sh`): a SQLite store with requests, approvals
//! and decisions, quarantined answers, pruned payloads and checkpoints is copied with every
//! record and audit row (hashes included) unchanged, the chain verifies in Postgres and goes
//! on from there; a target that already holds a store is refused, a source whose chain does
//! not verify is refused with nothing copied, and the password is never printed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns
// Running the real binary is what this test is for.
#![allow(clippy::disallowed_methods)]

use std::path::Path;
use std::process::Command;

use aiops_core::{Channel, RequestStatus, Verdict};
use aiops_store::{
    ApprovalQuery, ApprovalStore, AuditEvent, NewApproval, NewDecision, NewRequest, PgOptions,
    PostgresStore, RequestQuery, RequestStore, RequestUpdate, SqliteStore, Store, now_ms,
};
use aiops_test_support::Postgres;
use serde_json::{Value, json};

/// A SQLite store in `data_dir` with one of everything the store keeps.
async fn seed(data_dir: &Path) -> SqliteStore {
    let s = SqliteStore::open(&data_dir.join("aiops.db")).await.unwrap();
    let new = |id: &str| NewRequest {
        id: id.into(),
        nl: format!("sentence of {id}"),
        dry_run: id.ends_with("dry"),
        caller: "alice".into(),
    };
    let event = |id: &str, stage: &str, outcome: &str| {
        AuditEvent::new(
            Some(id),
            stage,
            outcome,
            json!({"n": 1.5, "note": "ü \"quoted\""}),
        )
    };
    for id in [
        "01A-done",
        "01B-dry",
        "01C-pending",
        "01D-approved",
        "01E-quarantined",
    ] {
        s.create_request(&new(id), event(id, "intake", "accepted"))
            .await
            .unwrap();
    }
    s.update_request(
        "01A-done",
        RequestUpdate {
            status: Some(RequestStatus::Success),
            intent: Some(json!({"action": "dns.create_a_record", "params": {"name": "x.local", "ip": "192.0.2.1"}})),
            plan: Some(json!({"hash": "abc", "diff": "+ x.local A 192.0.2.1", "changes": true})),
            execution: Some(json!({"changed": true, "output": "ok"})),
            ..Default::default()
        },
        event("01A-done", "execute", "succeeded"),
    )
    .await
    .unwrap();
    s.update_request(
        "01E-quarantined",
        RequestUpdate {
            status: Some(RequestStatus::Unrecognized),
            quarantine: vec![aiops_core::Quarantined {
                parser: aiops_core::ParserKind::Llm,
                model: "tiny".into(),
                prompt_revision: "rev".into(),
                raw_output: "{\"action\": \"k8s.delete_pod\"}".into(),
                reason: aiops_core::QuarantineReason::Ungrounded,
                detail: "not in the sentence".into(),
            }],
            ..Default::default()
        },
        event("01E-quarantined", "parse", "unrecognized"),
    )
    .await
    .unwrap();
    for (id, aid) in [("01C-pending", "a-pending"), ("01D-approved", "a-approved")] {
        s.create_approval(
            &NewApproval {
                id: aid.into(),
                request_id: id.into(),
                plan_hash: "h".repeat(64),
                requester: "alice".into(),
                approvals_required: 1,
                expires_at: "2999-01-01T00:00:00Z".into(),
            },
            RequestUpdate::default(),
            event(id, "approve", "pending"),
        )
        .await
        .unwrap();
    }
    s.decide_approval(&NewDecision {
        approval_id: "a-approved".into(),
        approver: "bob".into(),
        auth: aiops_core::AuthMethod::Bearer,
        verdict: Verdict::Approve,
        channel: Channel::Slack,
        reason: Some("fine".into()),
        now_ms: now_ms(),
    })
    .await
    .unwrap();
    // A checkpoint, then more rows after it, then a pruned payload.
    assert!(s.verify_incremental().await.unwrap().ok);
    s.update_request(
        "01B-dry",
        RequestUpdate {
            status: Some(RequestStatus::DryRun),
            plan: Some(json!({"hash": "dry-hash"})),
            ..Default::default()
        },
        event("01B-dry", "plan", "planned"),
    )
    .await
    .unwrap();
    assert_eq!(s.prune_payloads(now_ms() + 1000, 1).await.unwrap().count, 1);
    s
}

/// `aiopsd migrate --from <from>`, the URL in the environment: (exit success, stdout, stderr).
fn migrate(from: &Path, url: &str) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_aiopsd"))
        .args(["migrate", "--from"])
        .arg(from)
        .env("AIOPS_STORE_URL", url)
        .env_remove("RUST_LOG")
        .output()
        .expect("run aiopsd migrate");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every request id of a store, newest first.
async fn request_ids(s: &dyn Store) -> Vec<String> {
    let page = s
        .list_requests(&RequestQuery {
            status: None,
            caller: None,
            limit: 500,
            cursor: None,
        })
        .await
        .unwrap();
    page.items.into_iter().map(|r| r.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_store_moves_to_postgres_unchanged_and_its_chain_goes_on() {
    let pg = tokio::task::spawn_blocking(Postgres::start)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let sqlite = seed(dir.path()).await;
    // A full verification records a checkpoint too: the seed's incremental one and this.
    let source_chain = sqlite.verify_chain().await.unwrap();
    assert!(source_chain.ok);
    let source_checkpoints: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_checkpoints")
        .fetch_one(sqlite.pool())
        .await
        .unwrap();
    assert_eq!(source_checkpoints, 2);

    let (ok, stdout, stderr) = migrate(dir.path(), pg.url());
    assert!(ok, "{stdout}\n{stderr}");
    let password = pg.password();
    assert!(!stdout.contains(&password) && !stderr.contains(&password));
    let report: Value = serde_json::from_str(stdout.trim()).expect("a JSON report");
    assert_eq!(
        (
            &report["requests"],
            &report["approvals"],
            &report["decisions"],
            &report["quarantine"],
            &report["checkpoints"]
        ),
        (&json!(5), &json!(2), &json!(1), &json!(1), &json!(2)),
        "{report:#}"
    );
    assert_eq!(report["audit_events"], json!(source_chain.events));
    assert_eq!(report["chain"]["ok"], true, "{report:#}");
    assert_eq!(report["chain"]["head"], json!(source_chain.head));

    let target = PostgresStore::connect(pg.url(), PgOptions::default())
        .await
        .unwrap();
    let ids = request_ids(&sqlite).await;
    assert_eq!(request_ids(&target).await, ids);
    for id in &ids {
        assert_eq!(
            target.get_request(id).await.unwrap(),
            sqlite.get_request(id).await.unwrap(),
            "{id}"
        );
        assert_eq!(
            target.events_for(id).await.unwrap(),
            sqlite.events_for(id).await.unwrap(),
            "{id}: audit rows and hashes unchanged"
        );
    }
    let all = ApprovalQuery {
        state: None,
        limit: 100,
        after: None,
    };
    assert_eq!(
        target.list_approvals(&all).await.unwrap(),
        sqlite.list_approvals(&all).await.unwrap()
    );
    assert_eq!(
        target.list_quarantine(None, 10).await.unwrap(),
        sqlite.list_quarantine(None, 10).await.unwrap()
    );
    // The copied checkpoint anchors an incremental verify there.
    let incremental = target.verify_incremental().await.unwrap();
    assert!(incremental.ok, "{incremental:?}");
    // The chain goes on in Postgres, and an approved approval still runs there, once.
    target
        .append_event(AuditEvent::new(None, "note", "migrated", json!({})))
        .await
        .unwrap();
    let full = target.verify_chain().await.unwrap();
    assert!(full.ok, "{full:?}");
    assert_eq!(full.events, source_chain.events + 1);
    assert_eq!(
        target.claim_approved().await.unwrap().unwrap().id,
        "a-approved"
    );
    assert!(target.claim_approved().await.unwrap().is_none());

    // A second migration into the same database is refused, and changes nothing (the
    // claim above appended its own row).
    let before = target.verify_chain().await.unwrap();
    assert!(before.ok && before.events > full.events, "{before:?}");
    let (ok, stdout, stderr) = migrate(dir.path(), pg.url());
    assert!(!ok, "{stdout}");
    assert!(stderr.contains("empty"), "{stderr}");
    assert!(!stderr.contains(&password), "{stderr}");
    let after = target.verify_chain().await.unwrap();
    assert_eq!((after.events, after.head), (before.events, before.head));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_does_not_verify_is_refused_and_nothing_is_copied() {
    let pg = tokio::task::spawn_blocking(Postgres::start)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let sqlite = seed(dir.path()).await;
    sqlx::query("UPDATE audit_events SET outcome = 'forged' WHERE seq = 3")
        .execute(sqlite.pool())
        .await
        .unwrap();
    drop(sqlite);
    let (ok, _, stderr) = migrate(&dir.path().join("aiops.db"), pg.url());
    assert!(!ok);
    assert!(stderr.contains("does not verify"), "{stderr}");
    let target = PostgresStore::connect(pg.url(), PgOptions::default())
        .await
        .unwrap();
    assert!(request_ids(&target).await.is_empty(), "nothing copied");
    assert_eq!(target.verify_chain().await.unwrap().events, 0);
    // A path that holds no store is refused before anything is touched.
    let (ok, _, stderr) = migrate(&dir.path().join("missing"), pg.url());
    assert!(!ok);
    assert!(stderr.contains("no SQLite store"), "{stderr}");
}
