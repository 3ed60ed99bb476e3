//! `aiopsd`: natural language in, one safe, audited infrastructure change out.
//!
//! The library holds everything but process set-up, so tests run the real server in-process:
//! [`App::build`] turns a [`Config`] into the app state (store, policy, catalog, secret source,
//! executors), and [`serve`] runs the HTTP API on a listener until `shutdown` resolves.
//! Start reading at [`pipeline`], which is the request path of `ARCHITECTURE.md`.

#![forbid(unsafe_code)]

pub mod api;
pub mod approvals;
pub mod audit;
pub mod auth;
pub mod config;
pub mod credentials;
pub mod eval;
pub mod executors;
pub mod failure;
mod lock;
pub mod mcp;
pub mod metrics;
pub mod migrate;
pub mod parse;
pub mod pipeline;
pub mod readiness;
pub mod records;
pub mod recovery;
pub mod replicas;
pub mod retention;
pub mod retrieval;
pub mod rollback;
pub mod run;
pub mod serve;
pub mod slack;
pub mod tls;
pub mod ui;
pub mod verify;

use std::future::Future;
use std::sync::Arc;

use aiops_core::{Catalog, IntentParser, NoRetriever, Retriever};
use aiops_policy::PolicyEngine;
use aiops_secrets::{DirectorySource, SecretSource};
use aiops_store::{PostgresStore, SqliteStore, Store};
use tokio::net::TcpListener;

pub use config::Config;

/// Shared, read-only application state. Cloning is cheap.
#[derive(Clone)]
pub struct AppState(Arc<App>);

impl std::ops::Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

/// The built application: every backend chosen from config, behind its trait.
pub struct App {
    pub config: Config,
    pub catalog: Catalog,
    pub policy: PolicyEngine,
    /// Managed DNS zones, from the policy data.
    pub zones: Vec<String>,
    pub store: Arc<dyn Store>,
    pub secrets: Arc<dyn SecretSource>,
    pub parser: Arc<dyn IntentParser>,
    /// The model parser inside `parser`, when configured: for readiness and `check-config`.
    pub llm: Option<Arc<aiops_llm::LlmParser>>,
    pub retriever: Arc<dyn Retriever>,
    /// The runbook index, when `[retrieval] enabled`: for ingest and readiness.
    pub runbooks: Option<Arc<retrieval::Runbooks>>,
    pub authenticator: Arc<dyn auth::Authenticator>,
    pub executors: executors::Executors,
    pub metrics: metrics::Metrics,
    pub slack: slack::SlackClient,
    /// Wakes the approval worker when a decision lands.
    pub wake: tokio::sync::Notify,
    /// The web console's signed-in sessions (`ui`).
    pub ui_sessions: ui::Sessions,
}

/// The catalog the config names: `catalog.file`, or the embedded one.
pub fn load_catalog(config: &Config) -> Result<Catalog, StartError> {
    Ok(match &config.catalog.file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                config::ConfigError(format!("catalog.file {}: {e}", path.display()))
            })?;
            Catalog::from_json(&text)?
        }
        None => Catalog::embedded()?,
    })
}

/// The stage backends chosen from config, open to [`App::build_with`]'s hook.
pub struct Backends {
    pub parser: Arc<dyn IntentParser>,
    pub retriever: Arc<dyn Retriever>,
    pub executors: executors::Executors,
}

/// Why the daemon could not start. Printed as one line; the process exits non-zero.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("catalog: {0}")]
    Catalog(#[from] aiops_core::CoreError),
    #[error("policy: {0}")]
    Policy(#[from] aiops_policy::PolicyError),
    #[error("store: {0}")]
    Store(#[from] aiops_store::StoreError),
    #[error("secrets: {0}")]
    Secrets(aiops_secrets::SecretError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Serve(std::io::Error),
    #[error("tls: {0}")]
    Tls(#[from] tls::TlsError),
    #[error(transparent)]
    Locked(#[from] lock::LockError),
    #[error("run area: {0}")]
    RunArea(String),
    #[error("recovery: {0}")]
    Recovery(String),
}

impl App {
    /// Whether policy (`access_decision`) lets `caller` run `operation`: a `forbidden`
    /// failure with policy's reasons when not. The one question the API's routes, the
    /// console's pages and the MCP tools ask.
    pub fn permit(
        &self,
        caller: &aiops_core::Caller,
        operation: aiops_policy::Operation,
    ) -> Result<(), failure::Failure> {
        let decision = self
            .policy
            .evaluate_access(&aiops_policy::AccessInput {
                caller: caller.clone(),
                operation,
            })
            .map_err(failure::Failure::from)?;
        if decision.allowed {
            Ok(())
        } else {
            tracing::info!(user = %caller.user, operation = operation.as_str(), "access refused by policy");
            Err(failure::Failure::new(
                aiops_core::ErrorCode::Forbidden,
                decision.reasons.join("; "),
            ))
        }
    }

    /// Builds the app from config: loads and checks the catalog and policies, opens the store
    /// (running migrations). Settling what a previous process left is `serve_state`'s
    /// (`recovery`).
    pub async fn build(config: Config) -> Result<AppState, StartError> {
        Self::build_with(config, |_| {}).await
    }

    /// Like [`App::build`], with a hook that may replace stage backends before the app is
    /// sealed (tests put a recording executor or parser in through it).
    pub async fn build_with(
        config: Config,
        customize: impl FnOnce(&mut Backends),
    ) -> Result<AppState, StartError> {
        config.validate()?;
        let ui_ttl = config.ui.session_ttl_secs;
        let catalog = load_catalog(&config)?;
        let policy = match &config.policy.dir {
            Some(dir) => PolicyEngine::load(dir)?,
            None => aiops_policy::embedded()?,
        };
        let zones = policy.managed_zones();
        if zones.is_empty() {
            return Err(
                config::ConfigError("the policy data names no managed DNS zones".into()).into(),
            );
        }
        let store: Arc<dyn Store> = match config.store_path() {
            config::StoreLocation::File(path) => Arc::new(SqliteStore::open(&path).await?),
            config::StoreLocation::Url(url) => Arc::new(SqliteStore::open_url(&url).await?),
            config::StoreLocation::Postgres { url, options } => {
                Arc::new(PostgresStore::connect(url.expose(), options).await?)
            }
        };
        let secrets: Arc<dyn SecretSource> = match &config.secrets.vault {
            Some(vault) if config.secrets.provider == "vault" => Arc::new(
                aiops_secrets::VaultSource::connect(vault.clone())
                    .await
                    .map_err(StartError::Secrets)?,
            ),
            _ => Arc::new(DirectorySource::new(config.secrets_dir())),
        };
        let mut executors = executors::Executors::from_config(&config, &zones)
            .await
            .map_err(|f| config::ConfigError(format!("kube: {}", f.message)))?;
        let needed = executors.all_secret_paths(&catalog);
        match secrets.check(&needed).await {
            Ok(()) => {
                tracing::info!(paths = ?needed, source = secrets.kind(), "the secret source can read every declared path")
            }
            // Not fatal: readiness reports it, and each request fails closed at its credentials stage.
            Err(e) => {
                tracing::warn!(error = %e, source = secrets.kind(), "declared secret paths are not all readable")
            }
        }
        let authenticator: Arc<dyn auth::Authenticator> =
            Arc::new(auth::Identities::from_config(&config.auth));
        // Rules first; with `[llm] enabled`, the model when rules are not confident.
        let llm = parse::model(&config)?;
        let runbooks = retrieval::Runbooks::open(&config).await?;
        let retriever: Arc<dyn Retriever> = match &runbooks {
            Some(r) => {
                // `ops.ask` answers from the same index; a configured model may write the
                // answer, which is kept only when it cites the retrieved passages.
                let writer = llm.clone().map(|l| l as Arc<dyn aiops_core::AnswerWriter>);
                executors.register(Arc::new(executors::RunbookAnswers::new(
                    r.retriever(),
                    writer,
                )));
                r.retriever()
            }
            None => Arc::new(NoRetriever),
        };
        let mut backends = Backends {
            parser: parse::auto(llm.clone()),
            retriever,
            executors,
        };
        customize(&mut backends);
        let Backends {
            parser,
            retriever,
            executors,
        } = backends;
        let slack = slack::SlackClient::new(
            &config.slack.api_base,
            std::time::Duration::from_millis(config.slack.timeout_ms),
        )
        .map_err(|e| config::ConfigError(format!("slack client: {e}")))?;
        tracing::info!(
            catalog = catalog.revision(),
            policy = policy.revision(),
            store = store.kind(),
            secrets = secrets.kind(),
            parser = parser.name(),
            retriever = retriever.name(),
            authenticator = authenticator.name(),
            "app built"
        );
        let metrics = metrics::Metrics::default()
            .with_secret_source(Arc::clone(&secrets))
            .with_store(Arc::clone(&store));
        Ok(AppState(Arc::new(App {
            config,
            catalog,
            policy,
            zones,
            store,
            secrets,
            parser,
            llm,
            retriever,
            runbooks,
            authenticator,
            executors,
            metrics,
            slack,
            wake: tokio::sync::Notify::new(),
            ui_sessions: ui::Sessions::new(std::time::Duration::from_secs(ui_ttl)),
        })))
    }
}

/// Serves the API on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let state = App::build(config).await?;
    serve_state(listener, state, shutdown).await
}

/// Like [`serve`], with an app that is already built. Also runs the approval worker, the
/// payload retention pass and, with `[tls]`, the certificate reloader; they stop with the
/// server.
pub async fn serve_state(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let local = listener.local_addr().map_err(StartError::Serve)?;
    // Checked on the address actually bound (config.listen may say otherwise in tests).
    config::check_exposure(local, &state.config)?;
    let tls = match &state.config.tls {
        Some(tls) => Some(tls::TlsServer::load(
            tls,
            state.metrics.tls_cert_not_after.clone(),
        )?),
        None => None,
    };
    // One serving process per data directory: a second one would settle the first one's
    // in-flight work as interrupted (and reclaim its run area). Held until this function
    // returns. With a shared store (Postgres) each replica has a data directory of its own;
    // the store's leases say which replica owns which request (`replicas`).
    let _lock = lock::DataDirLock::acquire(&state.config.data_dir)?;
    // Only the process that serves (its listener is bound and it holds the data directory)
    // settles what a previous process left half-done; `check-config` never does. It
    // reclaims the run area, fails what never executed and reconciles interrupted
    // executions against the world (`recovery`).
    recovery::recover(&state).await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(approvals::worker(state.clone(), stop_rx.clone()));
    tokio::spawn(audit::verifier(state.clone(), stop_rx.clone()));
    tokio::spawn(retention::pruner(state.clone(), stop_rx.clone()));
    let reloader = tls.clone().map(|t| tokio::spawn(t.watch(stop_rx.clone())));
    // A shared store: renew this replica's lease, and take over the work of dead replicas.
    // A lost lease (this replica was presumed dead) stops the server.
    let (lost_tx, lost_rx) = tokio::sync::oneshot::channel();
    let lease = replicas::spawn(&state, stop_rx.clone(), lost_tx);
    tokio::spawn(async move {
        tokio::select! {
            _ = shutdown => {}
            Ok(()) = lost_rx => {}
        }
        let _ = stop_tx.send(true);
    });
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(addr = %local, scheme, "listening");
    let api = state.config.api.clone();
    serve::run(listener, api::router(state), tls, &api, stop_rx).await;
    // The worker finishes the approval it is running (if any), then stops.
    let _ = worker.await;
    if let Some(r) = reloader {
        let _ = r.await;
    }
    if let Some(lease) = lease
        && let Ok(Err(lost)) = lease.await
    {
        return Err(StartError::Store(lost));
    }
    tracing::info!("stopped");
    Ok(())
}
