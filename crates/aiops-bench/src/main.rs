//! `aiops-floor`: the baselines `bootstrap/bench.sh` measures the daemon against. This is a
//! benchmark baseline, not product: nothing ships it and the daemon does not use it.
//!
//! It serves two routes on a loopback address, with the workspace's axum and tokio (the
//! same versions and features as `aiopsd`, and tokio's default multi-threaded runtime, as
//! the daemon's):
//!
//! - `POST /echo`: bare axum. The body is deserialized into a `serde_json::Value` and sent
//!   back. `POST /api/v1/parse` is compared with it: what the daemon's HTTP layer, security
//!   checks and parser cost on top of the cheapest JSON route axum can serve.
//! - `POST /floor`: the work of the daemon's non-executing intent path without its store
//!   and its middleware: the rules parser, catalog validation, one policy evaluation
//!   (`data.aiops.decision`, with the input the decide stage builds) and ONE durable commit,
//!   an `INSERT` in its own transaction into a SQLite file opened the way the daemon's store
//!   opens its own (WAL, `synchronous=FULL`, `BEGIN IMMEDIATE` under a writer lock).
//!   `POST /api/v1/intent` is compared with it: what the stage records (several
//!   transactions, the audit chain, logs, metrics) cost beyond the least the path must do.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aiops_api::{IntentRequest, IntentResponse};
use aiops_core::{
    AuthMethod, Caller, Catalog, IntentParser, ParseContext, ParseVerdict, RequestStatus,
};
use aiops_parser::RulesParser;
use aiops_policy::{Outcome, PolicyEngine, PolicyInput, Stage};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use clap::Parser;
use serde_json::{Value, json};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::Mutex;

// The daemon's allocator (crates/aiopsd/src/main.rs), so that both baselines differ from the
// daemon only in the work they leave out, not in how memory is allocated.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "aiops-floor",
    about = "Benchmark baselines for bootstrap/bench.sh (not product): POST /echo, POST /floor"
)]
struct Args {
    /// Where to listen; loopback only (port 0: any free port).
    #[arg(long, env = "AIOPS_FLOOR_LISTEN", default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The SQLite file `/floor` commits to (created if missing).
    #[arg(long, env = "AIOPS_FLOOR_DB")]
    db: PathBuf,
}

/// Everything that can stop the baseline or fail one of its requests.
#[derive(Debug, thiserror::Error)]
enum FloorError {
    #[error("refusing to listen on {0}: the baselines serve loopback only")]
    NotLoopback(SocketAddr),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("store: {0}")]
    Store(#[from] sqlx::Error),
    #[error("catalog: {0}")]
    Catalog(#[from] aiops_core::CoreError),
    #[error("policy: {0}")]
    Policy(#[from] aiops_policy::PolicyError),
    #[error("`nl` must not be empty")]
    EmptySentence,
}

impl IntoResponse for FloorError {
    fn into_response(self) -> Response {
        let status = match self {
            FloorError::EmptySentence => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = json!({"error": {"code": "floor", "message": self.to_string()}});
        (status, Json(body)).into_response()
    }
}

/// What `/floor` works with: the embedded catalog and policies, as the daemon's defaults,
/// and the store's file.
struct Floor {
    catalog: Catalog,
    policy: PolicyEngine,
    pool: SqlitePool,
    /// The daemon's store holds one writer lock around every write transaction.
    writer: Mutex<()>,
    /// Policy sees the caller; this is the bench's bearer user of the daemon.
    caller: Caller,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("aiops-floor: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aiops-floor: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> Result<(), FloorError> {
    if !args.listen.ip().is_loopback() {
        return Err(FloorError::NotLoopback(args.listen));
    }
    let floor = Arc::new(Floor {
        catalog: Catalog::embedded()?,
        policy: aiops_policy::embedded()?,
        pool: open_store(&args.db).await?,
        writer: Mutex::new(()),
        caller: Caller::new("bench", vec!["operator".into()], AuthMethod::Bearer),
    });
    let app = Router::new()
        .route("/echo", post(echo))
        .route("/floor", post(floor_route))
        .with_state(floor);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    // The script reads the address (the port may have been 0).
    println!("AIOPS_FLOOR_URL=http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// The file opened with the options of `aiops_store::SqliteStore::open` (WAL, full sync,
/// the same busy timeout and pool size), and the one table `/floor` writes.
async fn open_store(path: &std::path::Path) -> Result<SqlitePool, FloorError> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS floor_requests (
            id TEXT PRIMARY KEY, nl TEXT NOT NULL, status TEXT NOT NULL,
            intent TEXT, decision TEXT)",
    )
    .execute(&pool)
    .await?;
    Ok(pool)
}

/// Bare axum: a JSON body in, the same JSON out.
async fn echo(Json(body): Json<Value>) -> Json<Value> {
    Json(body)
}

/// The non-executing intent path's least work: parse, validate, decide, one commit.
async fn floor_route(
    State(floor): State<Arc<Floor>>,
    Json(req): Json<IntentRequest>,
) -> Result<Json<IntentResponse>, FloorError> {
    let nl = req.nl.trim();
    if nl.is_empty() {
        return Err(FloorError::EmptySentence);
    }
    let mut resp = IntentResponse::received(ulid::Ulid::new().to_string());
    let ctx = ParseContext {
        catalog: &floor.catalog,
        context: &[],
    };
    let outcome = RulesParser.parse(nl, &ctx).await;
    // What `aiopsd::parse::validate` does: only a catalog action with valid parameters.
    let intent = match &outcome.verdict {
        ParseVerdict::Proposed(p) => floor
            .catalog
            .validate(&p.action, &p.params, outcome.parser, p.confidence)
            .map_err(|e| e.to_string()),
        ParseVerdict::Unrecognized { reason } => Err(reason.clone()),
    };
    match intent {
        Err(reason) => {
            resp.status = RequestStatus::Unrecognized;
            resp.reason = Some(reason);
        }
        Ok(intent) => {
            let risk = floor.catalog.get(intent.action).map(|s| s.risk);
            let Some(risk) = risk else {
                return Err(aiops_core::CoreError::UnknownAction(intent.action.to_string()).into());
            };
            // The input `pipeline::policy_input` builds for the decide stage.
            let input = PolicyInput {
                action: intent.action,
                risk,
                params: Value::Object(intent.params.clone()),
                dry_run: req.dry_run,
                stage: Stage::Decide,
                caller: floor.caller.clone(),
                parser: intent.parser,
                confidence: intent.confidence,
            };
            let decision = floor.policy.evaluate(&input)?;
            resp.status = match decision.outcome {
                Outcome::Deny => RequestStatus::Denied,
                // The path would plan and execute here; the floor stops at the decision.
                Outcome::Allow | Outcome::RequireApproval => RequestStatus::Received,
            };
            resp.intent = Some(intent);
            resp.decision = Some(decision);
        }
    }
    commit(&floor, nl, &resp).await?;
    Ok(Json(resp))
}

/// One durable commit: the daemon's write path (writer lock, `BEGIN IMMEDIATE`) around one
/// `INSERT`.
async fn commit(floor: &Floor, nl: &str, resp: &IntentResponse) -> Result<(), FloorError> {
    let json = |v: Option<String>| v.unwrap_or_else(|| "null".into());
    let intent = json(resp.intent.as_ref().map(|i| json!(i).to_string()));
    let decision = json(resp.decision.as_ref().map(|d| json!(d).to_string()));
    let _writer = floor.writer.lock().await;
    let mut tx = floor.pool.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query(
        "INSERT INTO floor_requests (id, nl, status, intent, decision) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&resp.id)
    .bind(nl)
    .bind(resp.status.as_str())
    .bind(&intent)
    .bind(&decision)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
