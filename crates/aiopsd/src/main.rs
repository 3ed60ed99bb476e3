//! The `aiopsd` binary: set up tracing, load config, build the app, serve.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

// The request path allocates a few hundred small, short-lived objects per call (JSON values,
// strings, boxed futures); under concurrency the system allocator's arenas showed up as a
// tenth of the parse path's CPU in `perf`. mimalloc's thread-local free lists serve them
// without contention (BENCHMARKS.md, "HTTP paths").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "aiopsd",
    version,
    about = "Natural language to one safe, audited infrastructure change"
)]
struct Cli {
    /// A TOML config file (defaults, then this file, then AIOPS_* variables).
    #[arg(long, short, global = true, env = "AIOPS_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon (the default).
    Serve,
    /// Score a parser on an evaluation set; exits non-zero if any intent is wrong.
    Eval {
        file: PathBuf,
        /// `rules` (deterministic only), `llm` (the model for every case), `auto` (what the
        /// daemon does: rules first, the model when rules are not confident).
        #[arg(long, value_enum, default_value_t = aiopsd::parse::ParserChoice::Auto)]
        parser: aiopsd::parse::ParserChoice,
    },
    /// Score runbook retrieval: ingest CORPUS into a scratch index, ask the questions of
    /// FILE (JSONL: `question`, `expect_doc`), print recall@1, recall@3, MRR and timings as
    /// JSON; exits non-zero when recall@3 is below --min-recall-at-3.
    EvalRetrieval {
        file: PathBuf,
        /// A directory of runbooks (Markdown, plain text).
        #[arg(long)]
        corpus: PathBuf,
        #[arg(long, default_value_t = 0.9)]
        min_recall_at_3: f64,
    },
    /// Validate the configuration, catalog and policies (and load the [tls] files), print
    /// the effective config, exit.
    CheckConfig,
    /// Copy a SQLite store into the empty PostgreSQL database named by the environment
    /// variable AIOPS_STORE_URL (requests, approvals, audit rows with their hashes
    /// unchanged, checkpoints), then verify the chain there. Stop the daemon serving the
    /// SQLite store first. Prints what was copied as JSON.
    Migrate {
        /// The SQLite store: its file, or the data directory holding `aiops.db`.
        #[arg(long)]
        from: PathBuf,
    },
    /// Create a local CA, a server certificate (localhost, 127.0.0.1) and a client
    /// certificate in DIR, for development and tests (keys 0600). Existing files are kept;
    /// prints their paths as KEY=VALUE lines.
    GenCerts { dir: PathBuf },
    /// Serve MCP over stdio for a desktop client, relayed to a running daemon's `/mcp`
    /// (opens no store: every call goes through that daemon's authentication, policy,
    /// approvals and audit).
    Mcp {
        /// The daemon's MCP endpoint.
        #[arg(
            long,
            env = "AIOPS_MCP_URL",
            default_value = "http://127.0.0.1:30080/mcp"
        )]
        url: String,
        /// The API bearer token. A secret: prefer the environment variable (a command line
        /// is visible to every user of the host); never printed.
        #[arg(long, env = "AIOPS_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// CA certificates (PEM) to trust instead of the system's roots.
        #[arg(long, env = "AIOPS_CA", value_name = "PEM")]
        ca: Option<PathBuf>,
        /// A client certificate (PEM) for mTLS, with --key.
        #[arg(long, env = "AIOPS_CLIENT_CERT", value_name = "PEM", requires = "key")]
        cert: Option<PathBuf>,
        /// The client certificate's private key (PEM).
        #[arg(long, env = "AIOPS_CLIENT_KEY", value_name = "PEM", requires = "cert")]
        key: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Eval { file, parser } => eval(cli.config, &file, parser),
        Command::EvalRetrieval {
            file,
            corpus,
            min_recall_at_3,
        } => eval_retrieval(cli.config, &file, &corpus, min_recall_at_3),
        Command::Serve => run(cli.config, false),
        Command::CheckConfig => run(cli.config, true),
        Command::GenCerts { dir } => gen_certs(&dir),
        Command::Migrate { from } => migrate(&from),
        Command::Mcp {
            url,
            token,
            ca,
            cert,
            key,
        } => mcp_stdio(aiopsd::mcp::stdio::ProxyOptions {
            url,
            token: token
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .map(secrecy::SecretString::from),
            ca,
            identity: cert.zip(key),
        }),
    }
}

/// For the one-shot commands: logs to stderr at `level` (unless RUST_LOG), and a runtime;
/// exit code 2 when the runtime cannot start.
fn stderr_runtime(level: &str) -> Result<tokio::runtime::Runtime, ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .init();
    tokio::runtime::Runtime::new().map_err(|e| {
        eprintln!("aiopsd: cannot start the runtime: {e}");
        ExitCode::from(2)
    })
}

/// stdout carries the protocol, so logs go to stderr (warnings and worse unless RUST_LOG).
fn mcp_stdio(opts: aiopsd::mcp::stdio::ProxyOptions) -> ExitCode {
    let runtime = match stderr_runtime("warn") {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(aiopsd::mcp::stdio::proxy(opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aiopsd: mcp: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The target's URL holds a password: it is read from the environment only (never a
/// command line, which every user of the host can read) and never printed.
fn migrate(from: &std::path::Path) -> ExitCode {
    let Some(to) = std::env::var(aiopsd::config::STORE_URL_ENV)
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!(
            "aiopsd: migrate: set {} to the target database (postgres://user:password@host:port/database)",
            aiopsd::config::STORE_URL_ENV
        );
        return ExitCode::from(2);
    };
    let runtime = match stderr_runtime("info") {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(aiopsd::migrate::migrate(from, &to)) {
        Ok(report) => {
            println!("{}", serde_json::to_string(&report).unwrap_or_default());
            if report.chain.ok {
                ExitCode::SUCCESS
            } else {
                eprintln!("aiopsd: the copied audit chain does not verify in Postgres");
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("aiopsd: migrate: {e}");
            ExitCode::FAILURE
        }
    }
}

fn gen_certs(dir: &std::path::Path) -> ExitCode {
    match aiopsd::tls::dev::DevPki::ensure(dir) {
        Ok(pki) => {
            for (key, path) in [
                ("AIOPS_TLS_CERT", &pki.server_cert),
                ("AIOPS_TLS_KEY", &pki.server_key),
                ("AIOPS_CA", &pki.ca_cert),
                ("AIOPS_CLIENT_CERT", &pki.client_cert),
                ("AIOPS_CLIENT_KEY", &pki.client_key),
            ] {
                println!("{key}={}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("aiopsd: gen-certs: {e}");
            ExitCode::FAILURE
        }
    }
}

fn eval(
    config_file: Option<PathBuf>,
    file: &std::path::Path,
    choice: aiopsd::parse::ParserChoice,
) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("aiopsd: cannot read {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let (config, runtime) = match config_and_runtime(config_file) {
        Ok(both) => both,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let catalog = match aiopsd::load_catalog(&config) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("aiopsd: {e}");
                return ExitCode::from(2);
            }
        };
        let parser = match aiopsd::parse::build(&config, choice) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("aiopsd: {e}");
                return ExitCode::from(2);
            }
        };
        match aiopsd::eval::score(parser.as_ref(), &catalog, &text).await {
            Ok((score, misses)) => {
                for m in &misses {
                    eprintln!("{}", serde_json::to_string(m).unwrap_or_default());
                }
                println!("{}", serde_json::to_string(&score).unwrap_or_default());
                if score.counts.wrong > 0 {
                    ExitCode::FAILURE
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(e) => {
                eprintln!("aiopsd: {}: {e}", file.display());
                ExitCode::from(2)
            }
        }
    })
}

/// The configuration and a runtime for the offline subcommands; the reason on stderr and
/// exit code 2 when either is not available.
fn config_and_runtime(
    config_file: Option<PathBuf>,
) -> Result<(aiopsd::Config, tokio::runtime::Runtime), ExitCode> {
    let config = aiopsd::Config::load(config_file.as_deref()).map_err(|e| {
        eprintln!("aiopsd: {e}");
        ExitCode::from(2)
    })?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| {
        eprintln!("aiopsd: cannot start the runtime: {e}");
        ExitCode::from(2)
    })?;
    Ok((config, runtime))
}

fn eval_retrieval(
    config_file: Option<PathBuf>,
    file: &std::path::Path,
    corpus: &std::path::Path,
    min_recall_at_3: f64,
) -> ExitCode {
    let (config, runtime) = match config_and_runtime(config_file) {
        Ok(both) => both,
        Err(code) => return code,
    };
    match runtime.block_on(aiopsd::retrieval::evaluate(&config, file, corpus)) {
        Ok(report) => {
            for m in &report.misses {
                eprintln!("{}", serde_json::to_string(m).unwrap_or_default());
            }
            let summary = serde_json::json!({
                "questions": report.questions,
                "recall_at_1": report.recall_at_1,
                "recall_at_3": report.recall_at_3,
                "mrr": report.mrr,
                "ingest_seconds": report.ingest_seconds,
                "query_p50_ms": report.query_p50_ms,
                "query_p95_ms": report.query_p95_ms,
                "documents": report.ingest.documents,
                "chunks": report.ingest.chunks_added + report.ingest.chunks_kept,
                "skipped": report.ingest.skipped.len(),
            });
            println!("{summary}");
            if report.recall_at_3 < min_recall_at_3 {
                eprintln!(
                    "aiopsd: recall@3 {:.3} is below {min_recall_at_3}",
                    report.recall_at_3
                );
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("aiopsd: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(config_file: Option<PathBuf>, check_only: bool) -> ExitCode {
    let config = match aiopsd::Config::load(config_file.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("aiopsd: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&config);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("aiopsd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        let addr = config.listen;
        if check_only {
            let state = aiopsd::App::build(config).await?;
            if let Some(tls) = &state.config.tls {
                let served = aiopsd::tls::TlsServer::load(tls, Default::default())?;
                eprintln!("tls: serving {:?}", served.info());
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&state.config).unwrap_or_default()
            );
            // The model ladder: which configured models Ollama has (missing ones are skipped
            // at parse time; this is where an operator sees it before serving).
            if let Some(llm) = &state.llm {
                let health = llm.health().await;
                for m in &health.models {
                    eprintln!(
                        "llm model {}: {}",
                        m.name,
                        match (health.reachable, m.present) {
                            (false, _) =>
                                format!("unknown (Ollama at {} does not answer)", health.host),
                            (true, true) =>
                                format!("present ({})", m.digest.as_deref().unwrap_or("no digest")),
                            (true, false) => "MISSING from Ollama: pull or create it".to_string(),
                        }
                    );
                }
            }
            return Ok(());
        }
        // Bind first: a second daemon on the same address stops here, before it opens the
        // store and touches anything.
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| aiopsd::StartError::Listen {
                addr: addr.to_string(),
                source,
            })?;
        // Then, holding the data directory, kill what is left of an earlier process's runs
        // and wipe the run area (their secret files) before anything else: before the store
        // is opened and long before anything is served.
        aiopsd::recovery::reclaim_before_start(&config)?;
        let state = aiopsd::App::build(config).await?;
        aiopsd::serve_state(listener, state, shutdown_signal()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "aiopsd stopped");
            eprintln!("aiopsd: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(config: &aiopsd::Config) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown requested");
}
