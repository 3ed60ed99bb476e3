//! Helpers shared by the store's test files: a store on either backend (a SQLite file, or a
//! real PostgreSQL cluster started by `bootstrap/postgres.sh`), seeded requests and
//! approvals, decisions, and raw access to the database for tests that tamper with rows.
//!
//! [`both_backends!`] runs a test body once per backend: the store's conformance suite is one
//! set of tests, not one per database.

#![allow(dead_code, clippy::unwrap_used)] // each test file uses a different subset

use std::sync::Arc;

use aiops_core::{ApprovalState, Channel, RequestStatus, Verdict};
use aiops_store::{
    ApprovalRecord, AuditEvent, DecisionOutcome, NewApproval, NewDecision, NewRequest, PgOptions,
    PostgresStore, RequestRecord, RequestUpdate, SqliteStore, Store, now_ms,
};
use aiops_test_support::Postgres;
use serde_json::json;

/// Generates `mod sqlite` and `mod postgres`, each with one `#[tokio::test]` per name that
/// calls the test body `async fn name(b: Backend)` of the file with its backend.
#[allow(unused_macros)] // tests/postgres.rs is Postgres-only
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::common::Backend::Postgres).await
                }
            )*
        }
    };
}

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A store under test, with what keeps its database alive (a temporary directory, or a
/// PostgreSQL cluster of its own, stopped when the last store on it is dropped).
pub struct TestStore {
    kind: Kind,
    dir: Arc<tempfile::TempDir>,
}

enum Kind {
    Sqlite(Arc<SqliteStore>),
    Postgres(Arc<PostgresStore>, Arc<Postgres>),
}

/// One audit row exactly as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RawAuditRow {
    pub seq: i64,
    pub at: String,
    pub request_id: Option<String>,
    pub stage: String,
    pub outcome: String,
    pub data: String,
    pub actor: String,
    pub prev_hash: String,
    pub hash: String,
}

impl std::ops::Deref for TestStore {
    type Target = dyn Store;

    fn deref(&self) -> &(dyn Store + 'static) {
        match &self.kind {
            Kind::Sqlite(s) => s.as_ref(),
            Kind::Postgres(s, _) => s.as_ref(),
        }
    }
}

/// The pool options of test stores: a short acquire timeout (a test against a stopped
/// server fails fast).
pub fn pg_options() -> PgOptions {
    PgOptions {
        acquire_timeout: std::time::Duration::from_secs(3),
        ..PgOptions::default()
    }
}

impl TestStore {
    /// The store as the daemon holds it, for tasks.
    pub fn arc(&self) -> Arc<dyn Store> {
        match &self.kind {
            Kind::Sqlite(s) => s.clone(),
            Kind::Postgres(s, _) => s.clone(),
        }
    }

    pub fn backend(&self) -> Backend {
        match self.kind {
            Kind::Sqlite(_) => Backend::Sqlite,
            Kind::Postgres(..) => Backend::Postgres,
        }
    }

    /// The temporary directory of the test (the SQLite file lives below it).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The SQLite store (panics on Postgres): for tests of SQLite's own mechanics.
    pub fn sqlite(&self) -> &SqliteStore {
        match &self.kind {
            Kind::Sqlite(s) => s,
            Kind::Postgres(..) => panic!("not a SQLite store"),
        }
    }

    /// The Postgres store (panics on SQLite).
    pub fn postgres(&self) -> &PostgresStore {
        match &self.kind {
            Kind::Postgres(s, _) => s,
            Kind::Sqlite(_) => panic!("not a Postgres store"),
        }
    }

    /// The PostgreSQL cluster (panics on SQLite).
    pub fn server(&self) -> &Postgres {
        match &self.kind {
            Kind::Postgres(_, server) => server,
            Kind::Sqlite(_) => panic!("not a Postgres store"),
        }
    }

    /// Runs `sql` against the database behind the store's back.
    pub async fn exec(&self, sql: &str) {
        match &self.kind {
            Kind::Sqlite(s) => {
                sqlx::query(sql).execute(s.pool()).await.unwrap();
            }
            Kind::Postgres(s, _) => {
                sqlx::query(sql).execute(s.pool()).await.unwrap();
            }
        }
    }

    /// Every audit row, in chain order, exactly as stored.
    pub async fn audit_rows(&self) -> Vec<RawAuditRow> {
        const SQL: &str = "SELECT seq, at, request_id, stage, outcome, data, actor, prev_hash, hash
                           FROM audit_events ORDER BY seq";
        match &self.kind {
            Kind::Sqlite(s) => sqlx::query_as(SQL).fetch_all(s.pool()).await.unwrap(),
            Kind::Postgres(s, _) => sqlx::query_as(SQL).fetch_all(s.pool()).await.unwrap(),
        }
    }

    /// The recorded checkpoints: (seq, mode), in order.
    pub async fn checkpoints(&self) -> Vec<(i64, String)> {
        const SQL: &str = "SELECT seq, mode FROM audit_checkpoints ORDER BY seq";
        match &self.kind {
            Kind::Sqlite(s) => sqlx::query_as(SQL).fetch_all(s.pool()).await.unwrap(),
            Kind::Postgres(s, _) => sqlx::query_as(SQL).fetch_all(s.pool()).await.unwrap(),
        }
    }

    /// The hash the chain's head row records.
    pub async fn head_hash(&self) -> String {
        const SQL: &str = "SELECT hash FROM audit_head";
        match &self.kind {
            Kind::Sqlite(s) => sqlx::query_scalar(SQL).fetch_one(s.pool()).await.unwrap(),
            Kind::Postgres(s, _) => sqlx::query_scalar(SQL).fetch_one(s.pool()).await.unwrap(),
        }
    }

    /// Another store on the same database, as a second daemon (replica) would open it.
    pub async fn reopen(&self) -> TestStore {
        let kind = match &self.kind {
            Kind::Sqlite(_) => Kind::Sqlite(Arc::new(
                SqliteStore::open(&sqlite_path(&self.dir)).await.unwrap(),
            )),
            Kind::Postgres(_, server) => Kind::Postgres(
                Arc::new(
                    PostgresStore::connect(server.url(), pg_options())
                        .await
                        .unwrap(),
                ),
                server.clone(),
            ),
        };
        TestStore {
            kind,
            dir: self.dir.clone(),
        }
    }

    /// The process behind this store died and a new one starts on the same database: a
    /// reopened store that owns what the dead one left. On Postgres, every other replica's
    /// lease is made to have expired (the dead one would not have renewed it), so the new
    /// store's `fail_interrupted` takes their work over.
    pub async fn restart(&self) -> TestStore {
        let next = self.reopen().await;
        if let Kind::Postgres(s, _) = &next.kind {
            sqlx::query(
                "UPDATE replica_leases SET expires_at = clock_timestamp() - interval '1 second'
                 WHERE replica_id <> $1",
            )
            .bind(s.replica_id())
            .execute(s.pool())
            .await
            .unwrap();
        }
        next
    }
}

fn sqlite_path(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("data/aiops.db")
}

/// A store on a new database: a new SQLite file in a new directory (below a folder `open`
/// must create), or a new PostgreSQL cluster.
pub async fn store(backend: Backend) -> TestStore {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let kind = match backend {
        Backend::Sqlite => Kind::Sqlite(Arc::new(
            SqliteStore::open(&sqlite_path(&dir)).await.unwrap(),
        )),
        Backend::Postgres => {
            // Starting the cluster blocks (initdb, pg_ctl): off the runtime's threads.
            let server = tokio::task::spawn_blocking(Postgres::start)
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("{e}"));
            let store = PostgresStore::connect(server.url(), pg_options())
                .await
                .unwrap();
            Kind::Postgres(Arc::new(store), Arc::new(server))
        }
    };
    TestStore { kind, dir }
}

/// Accepts request `id` from `caller`.
pub async fn request(s: &dyn Store, id: &str, caller: &str) {
    s.create_request(
        &NewRequest {
            id: id.into(),
            nl: format!("change {id}"),
            dry_run: false,
            caller: caller.into(),
        },
        AuditEvent::new(Some(id), "intake", "accepted", json!({})),
    )
    .await
    .unwrap();
}

/// Marks request `id` `executing`, as the pipeline does right before an executor runs.
pub async fn mark_executing(s: &dyn Store, id: &str) {
    s.update_request(
        id,
        RequestUpdate {
            status: Some(RequestStatus::Executing),
            ..Default::default()
        },
        AuditEvent::new(Some(id), "execute", "started", json!({})),
    )
    .await
    .unwrap();
}

pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// A request by alice waiting for `required` approvers, expiring in `ttl_ms`; returns the
/// approval's id (`a-<id>`).
pub async fn pending(s: &dyn Store, id: &str, required: u32, ttl_ms: i64) -> String {
    request(s, id, "alice").await;
    let aid = format!("a-{id}");
    s.create_approval(
        &NewApproval {
            id: aid.clone(),
            request_id: id.into(),
            plan_hash: "h".repeat(64),
            requester: "alice".into(),
            approvals_required: required,
            expires_at: rfc3339(now_ms() + ttl_ms),
        },
        RequestUpdate::default(),
        AuditEvent::new(Some(id), "approve", "pending", json!({})),
    )
    .await
    .unwrap();
    aid
}

/// A store on a new database holding one pending approval (request `r1` by alice, see
/// [`pending`]), and the approval's id.
pub async fn store_with_pending(
    backend: Backend,
    required: u32,
    ttl_ms: i64,
) -> (TestStore, String) {
    let s = store(backend).await;
    let aid = pending(&*s, "r1", required, ttl_ms).await;
    (s, aid)
}

pub fn decision(aid: &str, who: &str, verdict: Verdict) -> NewDecision {
    NewDecision {
        approval_id: aid.into(),
        approver: who.into(),
        auth: aiops_core::AuthMethod::Bearer,
        verdict,
        channel: Channel::Rest,
        reason: None,
        now_ms: now_ms(),
    }
}

/// Records `who`'s `verdict` on approval `aid` now, through the REST channel.
pub async fn decide(s: &dyn Store, aid: &str, who: &str, verdict: Verdict) -> DecisionOutcome {
    s.decide_approval(&decision(aid, who, verdict))
        .await
        .unwrap()
}

/// What a decision returned: its kind (`recorded`, `unchanged`, `closed`, `expired`) and
/// the approval as it is now.
pub fn outcome(out: DecisionOutcome) -> (&'static str, ApprovalRecord) {
    match out {
        DecisionOutcome::Recorded { approval } => ("recorded", approval),
        DecisionOutcome::Unchanged { approval } => ("unchanged", approval),
        DecisionOutcome::Closed { approval } => ("closed", approval),
        DecisionOutcome::Expired { approval } => ("expired", approval),
    }
}

/// The `error.message` a failed or denied request carries.
pub fn error_message(r: &RequestRecord) -> String {
    r.error.as_ref().unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The stored status of request `id` (which must exist).
pub async fn status_of(s: &dyn Store, id: &str) -> RequestStatus {
    s.get_request(id).await.unwrap().unwrap().status
}

/// The stored state of approval `aid` (which must exist).
pub async fn state_of(s: &dyn Store, aid: &str) -> ApprovalState {
    s.get_approval(aid).await.unwrap().unwrap().state
}

/// Every approval (in `state` when given), oldest first, walking the pages.
pub async fn all_approvals(s: &dyn Store, state: Option<ApprovalState>) -> Vec<ApprovalRecord> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = s
            .list_approvals(&aiops_store::ApprovalQuery {
                state,
                limit: 100,
                after,
            })
            .await
            .unwrap();
        out.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return out,
        }
    }
}
