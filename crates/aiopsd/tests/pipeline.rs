//! The request path through the `Executor` seam, without real servers: a recording
//! executor stands in for Ansible so these tests pin what the *pipeline* does (which stages
//! run, in which order, what is recorded, when the executor is or is not called). The real
//! executors are tested against real BIND, Ansible and kube-apiserver in `aiops-exec` and
//! `tests/`; this double only counts calls and answers like the Ansible executor does.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aiops_api::IntentRequest;
use aiops_core::{ActionSpec, Intent, Plan, Target};
use aiops_store::{ApprovalRecord, RequestRecord};
use aiopsd::credentials::Lease;
use aiopsd::executors::{Executor, ExecutorKind, PlanOutput, ReadyCheck};
use aiopsd::failure::Failure;
use aiopsd::verify::Observation;
use aiopsd::{App, AppState, Config};

mod common;
use serde_json::{Value, json};

/// Records every call; plans a fixed diff unless told to vary it.
#[derive(Default)]
struct Recorder {
    plans: Mutex<Vec<String>>,
    executions: Mutex<Vec<String>>,
    /// A suffix for the diff, so a test can make the world "change" after approval.
    diff_suffix: Mutex<String>,
    /// When set, `execute` first reads this database through its own connection and records
    /// what another reader sees of the requests at that moment: (status, stage/outcome of
    /// their last audit rows).
    witness_db: Mutex<Option<std::path::PathBuf>>,
    witnessed: Mutex<Vec<(String, String)>>,
    /// When set, reading the world back after a change finds this address instead of the
    /// planned one (someone changed it behind the appliance's back).
    world_says: Mutex<Option<String>>,
}

struct FakeAnsible(Arc<Recorder>);

fn name_of(intent: &Intent) -> String {
    intent.params["name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[async_trait::async_trait]
impl Executor for FakeAnsible {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Ansible
    }

    fn secret_paths(&self, _spec: &ActionSpec) -> Vec<String> {
        Vec::new()
    }

    async fn plan(
        &self,
        _spec: &ActionSpec,
        intent: &Intent,
        _target: &Target,
    ) -> Result<PlanOutput, Failure> {
        self.0.plans.lock().unwrap().push(name_of(intent));
        Ok(PlanOutput {
            diff: format!(
                "+ {} {}",
                name_of(intent),
                self.0.diff_suffix.lock().unwrap()
            ),
            changes: true,
            state: None,
            before: None,
        })
    }

    async fn execute(
        &self,
        _spec: &ActionSpec,
        intent: &Intent,
        _plan: &Plan,
        _lease: &Lease,
    ) -> Result<Value, Failure> {
        let witness_db = self.0.witness_db.lock().unwrap().clone();
        if let Some(path) = witness_db {
            use sqlx::Connection;
            let url = format!("sqlite://{}?mode=ro", path.display());
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            let seen: Vec<(String, String)> = sqlx::query_as(
                "SELECT r.status, e.stage || '/' || e.outcome FROM requests r
                 JOIN audit_events e ON e.request_id = r.id
                 WHERE e.seq = (SELECT max(seq) FROM audit_events WHERE request_id = r.id)",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap();
            self.0.witnessed.lock().unwrap().extend(seen);
        }
        self.0.executions.lock().unwrap().push(name_of(intent));
        Ok(json!({"executor": "ansible", "changed": true, "result": "done"}))
    }

    async fn ready(&self) -> Vec<ReadyCheck> {
        Vec::new()
    }

    async fn observe(
        &self,
        _spec: &ActionSpec,
        intent: &Intent,
        _plan: &Plan,
        _execution: &Value,
    ) -> Result<Observation, Failure> {
        let planned = intent
            .params
            .get("ip")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let found = self.0.world_says.lock().unwrap().clone();
        let evidence = json!({"read": "fake", "found": found.clone().unwrap_or(planned.clone())});
        Ok(match found {
            Some(other) if other != planned => Observation::Differs {
                diff: vec![format!("{} A: {planned} -> {other}", name_of(intent))],
                evidence,
            },
            _ => Observation::Matches { evidence },
        })
    }
}

fn config(dir: &std::path::Path) -> Config {
    let mut c = common::offline_config(dir);
    c.auth.users = vec![
        user("alice", &["operator"]),
        // Approvers in the groups that own the shipped zones and namespaces.
        user("bob", &["approver", "netops", "platform"]),
        user("carol", &["approver", "netops", "platform"]),
    ];
    c
}

fn user(name: &str, roles: &[&str]) -> aiopsd::config::UserConfig {
    aiopsd::config::UserConfig {
        name: name.into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        ..Default::default()
    }
}

async fn app_with(c: Config, rec: &Arc<Recorder>) -> AppState {
    let fake = Arc::new(FakeAnsible(rec.clone()));
    App::build_with(c, |b| b.executors.register(fake))
        .await
        .unwrap()
}

/// Runs `query` on the store in `dir` through a second connection, as someone editing
/// the database behind the daemon's back.
async fn edit_db<'q>(
    dir: &std::path::Path,
    query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
) {
    let db = aiops_store::SqliteStore::open(&dir.join("aiops.db"))
        .await
        .unwrap();
    query.execute(db.pool()).await.unwrap();
}

/// A data directory, a recorder and an app whose Ansible executor is the recorder.
async fn fixture() -> (tempfile::TempDir, Arc<Recorder>, AppState) {
    let dir = tempfile::tempdir().unwrap();
    let rec = Arc::new(Recorder::default());
    let app = app_with(config(dir.path()), &rec).await;
    (dir, rec, app)
}

async fn submit(app: &AppState, nl: &str, who: &str) -> aiops_api::IntentResponse {
    aiopsd::pipeline::submit(
        app,
        IntentRequest {
            nl: nl.into(),
            dry_run: false,
        },
        app.authenticator.current(who),
    )
    .await
    .unwrap()
}

async fn timeline(app: &AppState, id: &str) -> Vec<(String, String)> {
    app.store
        .events_for(id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.stage, e.outcome))
        .collect()
}

async fn stored(app: &AppState, id: &str) -> RequestRecord {
    app.store.get_request(id).await.unwrap().expect("stored")
}

async fn approval(app: &AppState, id: &str) -> ApprovalRecord {
    app.store.get_approval(id).await.unwrap().expect("stored")
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test]
async fn a_direct_change_runs_every_stage_once_in_order() {
    let (_dir, rec, app) = fixture().await;
    let resp = submit(&app, "Add DNS A record for fake.local to 10.0.0.1", "alice").await;
    assert_eq!(resp.status.as_str(), "success", "{resp:?}");
    assert_eq!(*rec.plans.lock().unwrap(), ["fake.local"]);
    assert_eq!(*rec.executions.lock().unwrap(), ["fake.local"]);
    assert_eq!(
        timeline(&app, &resp.id).await,
        pairs(&[
            ("intake", "accepted"),
            ("retrieve", "skipped"),
            ("parse", "parsed"),
            ("decide", "allow"),
            ("plan", "planned"),
            ("credentials", "none_needed"),
            ("execute", "started"),
            ("execute", "succeeded"),
            ("verify", "verified"),
        ])
    );
    // The response says what the store says.
    let stored = stored(&app, &resp.id).await;
    assert_eq!(stored.status, resp.status);
    assert_eq!(stored.execution, resp.execution);
    let verification = resp.verification.expect("a change is verified");
    assert_eq!(verification.outcome.as_str(), "verified");
    assert_eq!(verification.evidence["found"], "10.0.0.1");
    assert_eq!(
        stored.execution.unwrap()["verification"]["outcome"],
        "verified"
    );
    assert!(app.store.verify_chain().await.unwrap().ok);
}

/// The executor says ok, but the world read back differs: the request fails as diverged,
/// the execution it reported and the evidence are both kept, at the same two commits.
#[tokio::test]
async fn a_change_the_world_does_not_show_fails_as_diverged() {
    let (_dir, rec, app) = fixture().await;
    *rec.world_says.lock().unwrap() = Some("10.9.9.9".into());
    let before = app.store.commit_stats().commits;
    let resp = submit(
        &app,
        "Add DNS A record for moved.local to 10.0.0.1",
        "alice",
    )
    .await;
    assert_eq!(app.store.commit_stats().commits - before, 2);
    assert_eq!(resp.status.as_str(), "failed", "{resp:?}");
    let error = resp.error.expect("an error");
    assert_eq!(error.code.as_str(), "verification_diverged");
    assert!(
        error
            .message
            .contains("moved.local A: 10.0.0.1 -> 10.9.9.9"),
        "{}",
        error.message
    );
    let v = resp.verification.expect("verification");
    assert_eq!(v.outcome.as_str(), "diverged");
    assert_eq!(
        v.diff.as_deref(),
        Some("moved.local A: 10.0.0.1 -> 10.9.9.9")
    );
    // The settle time is over before the last reading (config: `max_settle_ms`), and a
    // world that differs is read again until then.
    assert!(v.attempts >= 2, "{v:?}");
    assert_eq!(*rec.executions.lock().unwrap(), ["moved.local"]);
    let rows = timeline(&app, &resp.id).await;
    assert_eq!(
        rows[rows.len() - 2..],
        pairs(&[("execute", "succeeded"), ("verify", "diverged")])
    );
    let stored = stored(&app, &resp.id).await;
    assert_eq!(stored.execution.as_ref().unwrap()["changed"], true);
    assert_eq!(
        stored.execution.unwrap()["verification"]["evidence"]["found"],
        "10.9.9.9"
    );
}

/// The durability points of `run`: a request that does not execute is one commit, one that
/// executes is two, and the `executing` record is committed (another connection sees it)
/// before the executor is called.
#[tokio::test]
async fn a_request_commits_once_unless_it_executes_then_twice_executing_first() {
    let (dir, rec, app) = fixture().await;
    let commits = || app.store.commit_stats().commits;

    let mut before = commits();
    let unrecognized = submit(&app, "please make me a sandwich", "alice").await;
    assert_eq!(
        unrecognized.status.as_str(),
        "unrecognized",
        "{unrecognized:?}"
    );
    assert_eq!(commits() - before, 1, "unrecognized");

    before = commits();
    let dry = aiopsd::pipeline::submit(
        &app,
        IntentRequest {
            nl: "Add DNS A record for dry.local to 10.0.0.2".into(),
            dry_run: true,
        },
        app.authenticator.current("alice"),
    )
    .await
    .unwrap();
    assert_eq!(dry.status.as_str(), "dry_run", "{dry:?}");
    assert_eq!(commits() - before, 1, "dry run");

    before = commits();
    let (waiting, _) = pending(&app, "wait.local").await;
    assert_eq!(commits() - before, 1, "pending approval");

    *rec.witness_db.lock().unwrap() = Some(dir.path().join("aiops.db"));
    before = commits();
    let done = submit(&app, "Add DNS A record for run.local to 10.0.0.3", "alice").await;
    assert_eq!(done.status.as_str(), "success", "{done:?}");
    assert_eq!(commits() - before, 2, "an execution");
    // What the executor's moment looked like from outside: every earlier request ended as
    // it was answered, and this one durably `executing`, its last row `execute/started`.
    let witnessed = rec.witnessed.lock().unwrap().clone();
    assert!(
        witnessed.contains(&("executing".to_string(), "execute/started".to_string())),
        "{witnessed:?}"
    );
    assert_eq!(
        witnessed.iter().filter(|(s, _)| s == "executing").count(),
        1,
        "{witnessed:?}"
    );
    // Every stage of every request is in the chain, in order.
    for id in [&unrecognized.id, &dry.id, &waiting, &done.id] {
        assert_eq!(
            timeline(&app, id).await.first().map(|p| p.0.as_str()),
            Some("intake")
        );
    }
    assert_eq!(timeline(&app, &done.id).await.len(), 9);
    assert!(app.store.verify_chain().await.unwrap().ok);
}

#[tokio::test]
async fn a_policy_deny_at_execute_time_stops_a_direct_run() {
    let dir = tempfile::tempdir().unwrap();
    // Policies that allow at decide time and deny right before execution (as if an operator
    // changed them in between).
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    for f in ["aiops.rego", "approvals.rego", "access.rego", "data.json"] {
        std::fs::copy(shipped.join(f), policies.join(f)).unwrap();
    }
    std::fs::write(
        policies.join("late.rego"),
        "package aiops\n\ndeny contains \"frozen at execution\" if input.stage == \"execute\"\n",
    )
    .unwrap();
    let mut c = config(dir.path());
    c.policy.dir = Some(policies);
    let rec = Arc::new(Recorder::default());
    let app = app_with(c, &rec).await;
    let resp = submit(&app, "Add DNS A record for late.local to 10.0.0.2", "alice").await;
    assert_eq!(resp.status.as_str(), "denied", "{resp:?}");
    assert!(rec.executions.lock().unwrap().is_empty(), "nothing ran");
    let t = timeline(&app, &resp.id).await;
    assert_eq!(
        t.last().unwrap(),
        &("execute".to_string(), "denied_at_execution".to_string())
    );
    assert!(!t.iter().any(|(_, o)| o == "started"), "{t:?}");
}

/// Approves `id` as bob (over REST, no reason).
async fn approve(app: &AppState, approval_id: &str) {
    let bob = app.authenticator.current("bob");
    aiopsd::approvals::decide(
        app,
        approval_id,
        &bob,
        aiops_core::Channel::Rest,
        aiops_core::Verdict::Approve,
        None,
    )
    .await
    .unwrap();
}

/// Approves `id` as bob, then runs the worker once.
async fn approve_and_tick(app: &AppState, approval_id: &str) {
    approve(app, approval_id).await;
    aiopsd::approvals::tick(app).await.unwrap();
}

async fn pending(app: &AppState, name: &str) -> (String, String) {
    // Deleting is destructive: policy always asks a human.
    let resp = submit(app, &format!("delete the A record {name}"), "alice").await;
    assert_eq!(resp.status.as_str(), "pending_approval", "{resp:?}");
    (resp.id.clone(), resp.approval.unwrap().id)
}

#[tokio::test]
async fn a_stored_intent_that_no_longer_validates_is_never_run() {
    let (dir, rec, app) = fixture().await;
    let (id, aid) = pending(&app, "tamper.local").await;
    // The stored intent changes under the approval (an edited row, or a catalog whose
    // schema moved on): the type is no longer one the catalog allows.
    let sql = "UPDATE requests SET intent = json_set(intent, '$.params.type', 'MX') WHERE id = $1";
    edit_db(dir.path(), sqlx::query(sql).bind(&id)).await;
    approve_and_tick(&app, &aid).await;
    assert!(rec.executions.lock().unwrap().is_empty(), "nothing ran");
    let stored = stored(&app, &id).await;
    assert_eq!(stored.status.as_str(), "failed");
    assert_eq!(stored.error.unwrap()["code"], "approval_failed");
    let a = approval(&app, &aid).await;
    assert_eq!(a.state.as_str(), "failed");
}

#[tokio::test]
async fn the_worker_closes_an_approval_whose_run_errored() {
    let (dir, rec, app) = fixture().await;
    let (id, aid) = pending(&app, "boom.local").await;
    // The store refuses to record success (a trigger): the run executes but cannot record
    // its end, so the worker must close the approval itself rather than leave it executing.
    edit_db(
        dir.path(),
        sqlx::query(
            "CREATE TRIGGER refuse_success BEFORE UPDATE OF status ON requests
             WHEN NEW.status = 'success' BEGIN SELECT RAISE(ABORT, 'refused by test'); END",
        ),
    )
    .await;
    approve_and_tick(&app, &aid).await;
    assert_eq!(*rec.executions.lock().unwrap(), ["boom.local"]);
    let a = approval(&app, &aid).await;
    assert_eq!(a.state.as_str(), "failed", "closed, not left executing");
    assert_eq!(stored(&app, &id).await.status.as_str(), "failed");
    assert!(app.store.verify_chain().await.unwrap().ok);
}

#[tokio::test]
async fn an_approval_is_claimed_by_exactly_one_of_two_processes() {
    let dir = tempfile::tempdir().unwrap();
    let rec_a = Arc::new(Recorder::default());
    let rec_b = Arc::new(Recorder::default());
    // Two daemons' apps on one store (one data directory).
    let a = app_with(config(dir.path()), &rec_a).await;
    let b = app_with(config(dir.path()), &rec_b).await;
    let mut ids = Vec::new();
    for i in 0..12 {
        let (id, aid) = pending(&a, &format!("twice{i}.local")).await;
        approve(&a, &aid).await;
        ids.push(id);
    }
    let (ra, rb) = tokio::join!(aiopsd::approvals::tick(&a), aiopsd::approvals::tick(&b));
    ra.unwrap();
    rb.unwrap();
    let mut ran: BTreeMap<String, usize> = BTreeMap::new();
    for name in rec_a
        .executions
        .lock()
        .unwrap()
        .iter()
        .chain(rec_b.executions.lock().unwrap().iter())
    {
        *ran.entry(name.clone()).or_default() += 1;
    }
    assert_eq!(ran.len(), 12, "{ran:?}");
    assert!(
        ran.values().all(|n| *n == 1),
        "each ran exactly once: {ran:?}"
    );
    for id in ids {
        assert_eq!(stored(&a, &id).await.status.as_str(), "success");
    }
    assert!(a.store.verify_chain().await.unwrap().ok);
}

#[tokio::test]
async fn a_changed_plan_voids_the_approval_and_nothing_runs() {
    let (_dir, rec, app) = fixture().await;
    let (id, aid) = pending(&app, "drift.local").await;
    *rec.diff_suffix.lock().unwrap() = "(changed)".into();
    approve_and_tick(&app, &aid).await;
    assert!(rec.executions.lock().unwrap().is_empty());
    let a = approval(&app, &aid).await;
    assert_eq!(a.state.as_str(), "void");
    let stored = stored(&app, &id).await;
    assert_eq!(stored.error.unwrap()["code"], "approval_void");
}

/// A parser that refuses one answer and then proposes nothing: stands in for the model
/// parser so the pipeline's handling of quarantine can be pinned without a model (the model
/// parser itself is tested against a real Ollama in `aiops-llm`).
struct RefusingParser;

#[async_trait::async_trait]
impl aiops_core::IntentParser for RefusingParser {
    fn name(&self) -> &'static str {
        "refusing"
    }

    async fn parse(
        &self,
        _nl: &str,
        _ctx: &aiops_core::ParseContext<'_>,
    ) -> aiops_core::ParseOutcome {
        let mut out = aiops_core::ParseOutcome::unrecognized(
            aiops_core::ParserKind::Llm,
            "no grounded answer",
        );
        out.quarantined.push(aiops_core::Quarantined {
            parser: aiops_core::ParserKind::Llm,
            model: "tiny:1".into(),
            prompt_revision: "rev".into(),
            raw_output: r#"{"action":"k8s.delete_pod","params":{"name":"invented"}}"#.into(),
            reason: aiops_core::QuarantineReason::Ungrounded,
            detail: "`name` invented is not in the sentence".into(),
        });
        out
    }
}

#[tokio::test]
async fn refused_model_answers_are_quarantined_never_decided_and_listed_for_identified_callers() {
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    // The quarantine is for approvers (it holds users' sentences): bob reads it.
    c.auth.users[1].token_sha256 = Some(aiops_core::sha256_hex("bob-token"));
    let app = App::build_with(c, |b| b.parser = Arc::new(RefusingParser))
        .await
        .unwrap();
    let resp = submit(&app, "please get rid of that thing", "alice").await;
    assert_eq!(resp.status.as_str(), "unrecognized");
    assert!(resp.decision.is_none(), "never reached policy");
    let t = timeline(&app, &resp.id).await;
    assert!(!t.iter().any(|(stage, _)| stage == "decide"), "{t:?}");

    let get = |token: Option<&str>| {
        let mut req = axum::http::Request::get("/api/v1/quarantine");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        req.body(Body::empty()).unwrap()
    };
    let router = aiopsd::api::router(app.clone());
    let anon = router.clone().oneshot(get(None)).await.unwrap();
    assert_eq!(anon.status(), 401);
    let ok = router.oneshot(get(Some("bob-token"))).await.unwrap();
    assert_eq!(ok.status(), 200);
    let body: Value =
        serde_json::from_slice(&ok.into_body().collect().await.unwrap().to_bytes()).unwrap();
    let entries = body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{body:#}");
    assert_eq!(entries[0]["request_id"], resp.id.as_str());
    assert_eq!(entries[0]["reason"], "ungrounded");
    assert_eq!(entries[0]["model"], "tiny:1");
    assert!(
        app.metrics
            .render()
            .contains("aiops_quarantined_total{reason=\"ungrounded\"} 1")
    );
}

#[tokio::test]
async fn with_ollama_down_sentences_parse_through_rules_and_readiness_says_degraded() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    // A model is configured, but nothing listens there (the discard port is closed here).
    c.llm.enabled = true;
    c.llm.host = "http://127.0.0.1:9".into();
    c.llm.models = vec!["aiops-smollm2:135m".into()];
    c.llm.timeout_ms = 2_000;
    let rec = Arc::new(Recorder::default());
    let app = app_with(c, &rec).await;

    let resp = submit(&app, "Add DNS A record for down.local to 10.0.0.9", "alice").await;
    assert_eq!(resp.status.as_str(), "success", "{resp:?}");
    assert_eq!(resp.intent.as_ref().unwrap().parser.as_str(), "rules");
    // A sentence rules do not read stays unrecognized: no error, nothing quarantined.
    let resp = submit(&app, "please get rid of that thing", "alice").await;
    assert_eq!(resp.status.as_str(), "unrecognized", "{resp:?}");
    assert!(resp.error.is_none());

    let ready = aiopsd::readiness::check(&app).await;
    assert!(ready.degraded, "{:?}", ready.checks);
    let llm = &ready.checks["llm"];
    assert_eq!(llm["degraded"], true);
    assert_eq!(llm["required"], false);
    assert_eq!(llm["detail"]["reachable"], false);
}
