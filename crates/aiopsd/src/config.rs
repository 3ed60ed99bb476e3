//! One typed configuration: embedded defaults, then a TOML file, then `AIOPS_*` variables.
//!
//! Nested keys use a double underscore (`AIOPS_DNS__SERVER=127.0.0.1:15353`). Only
//! `AIOPS_LISTEN`, `AIOPS_DATA_DIR` and double-underscore names are read, so the
//! `KEY=VALUE` lines that `bootstrap/dev-up.sh` prints (`AIOPS_URL`, `AIOPS_DNS`, ...) can be
//! exported into the same shell without being mistaken for configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use aiops_exec::{AnsibleConfig, KubeConfig};
use aiops_llm::LlmConfig;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub log: LogConfig,
    pub store: StoreConfig,
    pub secrets: SecretsConfig,
    pub dns: DnsConfig,
    /// `ansible-playbook` (`aiops_exec::AnsibleConfig`).
    pub ansible: AnsibleConfig,
    pub policy: PolicyConfig,
    pub catalog: CatalogConfig,
    pub api: ApiConfig,
    pub approvals: ApprovalsConfig,
    /// Periodic verification of the audit chain (`crate::audit::AuditConfig`).
    pub audit: crate::audit::AuditConfig,
    pub auth: AuthConfig,
    pub slack: SlackConfig,
    /// The Kubernetes/K3s executor (`aiops_exec::KubeConfig`).
    pub kube: KubeConfig,
    /// The language-model parser (`aiops_llm::LlmConfig`); off by default.
    pub llm: LlmConfig,
    /// Runbook retrieval (`crate::retrieval::RetrievalConfig`); off by default.
    pub retrieval: crate::retrieval::RetrievalConfig,
    /// TLS on the API (`crate::tls::TlsConfig`); none: plain HTTP, loopback only unless
    /// `api.allow_plain_http`.
    pub tls: Option<crate::tls::TlsConfig>,
    /// Reading the world back after a change (`crate::verify::VerifyConfig`).
    pub verify: crate::verify::VerifyConfig,
    /// The MCP server at `/mcp` (`crate::mcp::McpConfig`).
    pub mcp: crate::mcp::McpConfig,
    /// `[ui]`: the web console.
    pub ui: crate::ui::UiConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info,aiopsd=debug`. `RUST_LOG` wins when set.
    pub level: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite` (the embedded default: one file, one serving process) or `postgres`
    /// (several replicas on one database).
    pub backend: StoreBackend,
    /// SQLite only: `sqlite:PATH` (default `<data_dir>/aiops.db`). A PostgreSQL URL is never
    /// taken from here (nor from `AIOPS_STORE__URL`): it holds a password.
    pub url: Option<String>,
    /// Postgres: `postgres://user:password@host:port/database`, read from the environment
    /// variable `AIOPS_STORE_URL` only (a Kubernetes Secret, a systemd credential), never
    /// from the config file (a key of that name there is refused as unknown). Shown
    /// redacted (`Debug`, `check-config`), never logged.
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub postgres_url: Option<StoreUrl>,
    /// Postgres: connections in the pool.
    pub max_connections: u32,
    /// Postgres: how long a request waits for a connection before the store answers
    /// `store_unavailable` (503): the bound on a request while the database is down.
    pub acquire_timeout_ms: u64,
    /// Postgres: the server cancels a statement running longer, lock waits included.
    pub statement_timeout_ms: u64,
    /// Postgres: how long this replica's lease lives without a heartbeat (renewed every
    /// third of it). Once it expired, another replica takes over this one's requests in
    /// flight (`crate::replicas`): fail what never executed, reconcile executions.
    pub lease_ttl_secs: u64,
    /// Days after a request's last change (its outcome) before its payload is cleared: the
    /// sentence, intent, policy decision, plan and diff, executor output, retrieved context
    /// and error message (`crate::retention`). Lists, the audit chain and the record's id,
    /// status, caller, times, action, plan hash and error code stay. Only final requests are
    /// pruned. 0 keeps payloads forever. Default 30: payloads are most of the database's
    /// growth and may quote hosts, addresses and people; a month covers reviewing an
    /// outcome and a post-incident look, and the audit chain keeps what was done for good.
    pub payload_retention_days: u32,
    /// Seconds between pruning passes (default hourly: a pass clears what aged past the
    /// retention since the last one).
    pub retention_interval_secs: u64,
    /// Requests cleared per transaction: a large backlog holds the writer for one bounded
    /// batch at a time (default 500).
    pub retention_batch: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        let pg = aiops_store::PgOptions::default();
        StoreConfig {
            backend: StoreBackend::Sqlite,
            url: None,
            postgres_url: None,
            max_connections: pg.max_connections,
            acquire_timeout_ms: pg.acquire_timeout.as_millis() as u64,
            statement_timeout_ms: pg.statement_timeout.as_millis() as u64,
            lease_ttl_secs: pg.lease_ttl.as_secs(),
            payload_retention_days: 30,
            retention_interval_secs: 3600,
            retention_batch: 500,
        }
    }
}

/// Which database holds the store.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum StoreBackend {
    #[default]
    Sqlite,
    Postgres,
}

/// A database URL that may hold a password. `Debug` and `Serialize` (what `check-config`
/// prints) show it with the password replaced; [`StoreUrl::expose`] is for connecting.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreUrl(String);

impl StoreUrl {
    pub fn new(url: impl Into<String>) -> Self {
        StoreUrl(url.into())
    }

    /// The URL as written, password included: only for opening the store.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with the password of its user info and any `password=` parameter replaced
    /// by `***`.
    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }
}

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for StoreUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

/// `scheme://user:secret@host/db?password=secret` → `scheme://user:***@host/db?password=***`.
/// The user info ends at the last `@` of the URL, so a password holding `/`, `?` or `@`
/// (which should be percent-encoded, but may not be) is still covered; a URL that is not
/// `scheme://…` at all is shown as `***` (it cannot be told what part is secret).
fn redact_url(url: &str) -> String {
    if url.starts_with("sqlite:") {
        return url.to_string();
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return "***".into();
    };
    let rest = match rest.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => rest.to_string(),
        },
        None => rest.to_string(),
    };
    let Some((main, query)) = rest.split_once('?') else {
        return format!("{scheme}://{rest}");
    };
    let params: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => p.to_string(),
        })
        .collect();
    format!("{scheme}://{main}?{}", params.join("&"))
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsConfig {
    /// `directory` (embedded default) or `vault`.
    pub provider: String,
    /// Root of the directory provider; default `<data_dir>/secrets`.
    pub dir: Option<PathBuf>,
    /// The Vault / OpenBao source, when `provider = "vault"`.
    pub vault: Option<aiops_secrets::VaultConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DnsConfig {
    /// The managed DNS server (RFC 2136 updates and lookups go here).
    pub server: SocketAddr,
    /// Secret path of the TSIG key (fields `name`, `algorithm`, `secret`).
    pub tsig_secret: String,
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// A directory of `.rego` files and `data.json`; default: the policies built into the binary.
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogConfig {
    /// An `actions.json` to use instead of the built-in catalog.
    pub file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Largest request body; a larger declared `Content-Length` is refused (413) before
    /// the body is read (and before `100 Continue`).
    pub max_body_bytes: usize,
    /// Upper bound for one request, including reading its body and execution.
    pub request_timeout_secs: u64,
    /// Serve plain HTTP on an address that is not loopback (e.g. behind a TLS-terminating
    /// proxy). Without it, such a listener needs `[tls]`.
    pub allow_plain_http: bool,
    /// Requests per minute per caller (the authenticated user, else the client
    /// certificate, else the peer address), refilled evenly; 429 with `Retry-After` beyond.
    pub rate_limit_per_minute: u32,
    /// How many requests a caller may send at once before the per-minute rate applies.
    pub rate_limit_burst: u32,
    /// Requests served at the same time; more are answered 503 with `Retry-After`.
    pub max_concurrent_requests: usize,
    /// Open connections (plain or TLS); further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Largest request head (request line and headers); beyond it: 431 and the connection
    /// is closed.
    pub max_header_bytes: usize,
    /// Most header fields in one request; beyond it: 431 and the connection is closed.
    pub max_headers: usize,
    /// Time a client has to send a whole request head (and the TLS handshake), and the
    /// longest a keep-alive connection may stay idle between requests.
    pub header_read_timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ApprovalsConfig {
    /// How long an approval stays open (default 30 min).
    pub ttl_secs: u64,
    /// Per-action overrides of `ttl_secs`, e.g. `{"dns.delete_record" = 600}`.
    pub ttl_secs_by_action: std::collections::BTreeMap<String, u64>,
    /// How often the worker sweeps for expired approvals and due Slack calls when idle.
    pub worker_interval_ms: u64,
}

/// Who may call: every route but `/healthz`, `/readyz` (and `/metrics` while
/// `public_metrics`) needs an identity. Bearer tokens (stored as SHA-256 hex, never in
/// clear), client certificates and Slack user ids map to a user and roles; what a role may
/// do is policy's call (`policies/access.rego`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// `off` (the default): a request without credentials gets 401. `read`: anonymous
    /// callers may run the operations policy lists for them; refused on a listener that is
    /// not loopback.
    pub allow_anonymous: AnonymousAccess,
    /// Serve `/metrics` without authentication (scrapers rarely carry tokens).
    pub public_metrics: bool,
    pub users: Vec<UserConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            allow_anonymous: AnonymousAccess::Off,
            public_metrics: true,
            users: Vec::new(),
        }
    }
}

/// Whether callers without credentials get in at all.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum AnonymousAccess {
    #[default]
    Off,
    /// Read operations only (what `access.anonymous` in the policy data lists).
    Read,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    /// Roles (`viewer`, `operator`, `approver`, `admin`) and owner groups (e.g. `netops`).
    pub roles: Vec<String>,
    /// Hex SHA-256 of the user's API token (`printf %s "$TOKEN" | sha256sum`).
    pub token_sha256: Option<String>,
    /// When the token stops working (RFC 3339); never, without one.
    #[serde(with = "time::serde::rfc3339::option")]
    pub token_expires_at: Option<time::OffsetDateTime>,
    /// The user's Slack member id (e.g. `U024BE7LH`).
    pub slack_id: Option<String>,
    /// The common name or a subject alternative name of the user's client certificate
    /// (mTLS, `tls.client_ca`), matched exactly (`crate::tls::caller_for`).
    pub client_cert: Option<String>,
}

/// Slack approvals. The bot token and signing secret come from the secret source.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SlackConfig {
    pub enabled: bool,
    /// Slack's Web API base (a local receiver in the dev stack and tests).
    pub api_base: String,
    /// Channel the approval messages are posted to.
    pub channel: String,
    /// Secret path with fields `bot_token` and `signing_secret`.
    pub secret_path: String,
    pub timeout_ms: u64,
}

impl Default for SlackConfig {
    fn default() -> Self {
        SlackConfig {
            enabled: false,
            api_base: "https://slack.com/api".into(),
            channel: "#aiops-approvals".into(),
            secret_path: "slack/app".into(),
            timeout_ms: 5000,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 30080)),
            data_dir: PathBuf::from(".aiops/data"),
            log: LogConfig::default(),
            store: StoreConfig::default(),
            secrets: SecretsConfig::default(),
            dns: DnsConfig::default(),
            ansible: AnsibleConfig::default(),
            policy: PolicyConfig::default(),
            catalog: CatalogConfig::default(),
            api: ApiConfig::default(),
            approvals: ApprovalsConfig::default(),
            audit: Default::default(),
            verify: Default::default(),
            mcp: Default::default(),
            ui: Default::default(),
            auth: AuthConfig::default(),
            slack: SlackConfig::default(),
            kube: KubeConfig::default(),
            llm: LlmConfig::default(),
            retrieval: Default::default(),
            tls: None,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: "text".into(),
            level: "info".into(),
        }
    }
}

impl Default for SecretsConfig {
    fn default() -> Self {
        SecretsConfig {
            provider: "directory".into(),
            dir: None,
            vault: None,
        }
    }
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            server: SocketAddr::from(([127, 0, 0, 1], 15353)),
            tsig_secret: "dns/tsig".into(),
            timeout_ms: 2000,
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            max_body_bytes: 64 * 1024,
            request_timeout_secs: 300,
            allow_plain_http: false,
            rate_limit_per_minute: 600,
            rate_limit_burst: 120,
            max_concurrent_requests: 256,
            max_connections: 1024,
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            header_read_timeout_ms: 10_000,
        }
    }
}

impl Default for ApprovalsConfig {
    fn default() -> Self {
        ApprovalsConfig {
            ttl_secs: 30 * 60,
            ttl_secs_by_action: Default::default(),
            worker_interval_ms: 1000,
        }
    }
}

/// A configuration that cannot be used. Printed as one line before anything listens.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

/// The environment variable holding the PostgreSQL URL (`[store] backend = "postgres"`).
pub const STORE_URL_ENV: &str = "AIOPS_STORE_URL";

impl Config {
    /// Defaults, then `file` (if given), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_with_store_url(file, std::env::var(STORE_URL_ENV).ok())
    }

    /// [`Config::load`] with the PostgreSQL URL given rather than read from
    /// [`STORE_URL_ENV`] (what the daemon's environment would hold): for checks of a
    /// configuration meant for another environment, such as the shipped manifests'.
    pub fn load_with_store_url(
        file: Option<&Path>,
        store_url: Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = file {
            if !f.exists() {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    f.display()
                )));
            }
            fig = fig.merge(Toml::file(f));
        }
        fig = fig.merge(
            Env::prefixed("AIOPS_")
                .filter(|k| {
                    let k = k.as_str();
                    k.contains("__")
                        || k.eq_ignore_ascii_case("listen")
                        || k.eq_ignore_ascii_case("data_dir")
                })
                .split("__"),
        );
        let mut config: Config = fig.extract().map_err(|e| ConfigError(e.to_string()))?;
        // The PostgreSQL URL (it holds a password) from the environment only, by its
        // conventional name, as a Kubernetes Secret or a systemd credential provides it. An
        // empty value (an unset Secret key) is none. The SQLite backend ignores it.
        if config.store.backend == StoreBackend::Postgres {
            config.store.postgres_url = store_url.filter(|u| !u.is_empty()).map(StoreUrl::new);
        }
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError(m));
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return bad(format!(
                "log.format must be `text` or `json`, not `{}`",
                self.log.format
            ));
        }
        match (self.secrets.provider.as_str(), &self.secrets.vault) {
            ("directory", _) | ("vault", Some(_)) => {}
            ("vault", None) => {
                return bad("secrets.provider = \"vault\" needs a [secrets.vault] section".into());
            }
            (other, _) => {
                return bad(format!(
                    "secrets.provider `{other}` is not available (supported: directory, vault)"
                ));
            }
        }
        if self.dns.timeout_ms == 0
            || self.ansible.timeout_secs == 0
            || self.api.request_timeout_secs == 0
        {
            return bad("timeouts must be greater than zero".into());
        }
        if self.llm.enabled {
            self.llm
                .validate()
                .map_err(|e| ConfigError(format!("llm: {e}")))?;
        }
        if self.retrieval.enabled {
            self.retrieval.validate().map_err(ConfigError)?;
        }
        if self.api.max_body_bytes == 0 {
            return bad("api.max_body_bytes must be greater than zero".into());
        }
        self.validate_limits()?;
        if let Some(tls) = &self.tls {
            tls.validate().map_err(ConfigError)?;
        }
        check_exposure(self.listen, self)?;
        if self.approvals.ttl_secs == 0
            || self.approvals.ttl_secs_by_action.values().any(|t| *t == 0)
        {
            return bad("approval ttls must be greater than zero".into());
        }
        if self.approvals.worker_interval_ms == 0
            || self.slack.timeout_ms == 0
            || self.kube.timeout_ms == 0
        {
            return bad(
                "approvals.worker_interval_ms, slack.timeout_ms and kube.timeout_ms must be greater than zero"
                    .into(),
            );
        }
        const MAX_TTL_SECS: u64 = 30 * 24 * 3600;
        if self.approvals.ttl_secs > MAX_TTL_SECS
            || self
                .approvals
                .ttl_secs_by_action
                .values()
                .any(|t| *t > MAX_TTL_SECS)
        {
            return bad("approval ttls may be at most 30 days".into());
        }
        if self.auth.allow_anonymous != AnonymousAccess::Off && !self.listen.ip().is_loopback() {
            return bad(format!(
                "auth.allow_anonymous = \"read\" is for a loopback listener only; {} is not loopback",
                self.listen
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        let mut tokens = std::collections::BTreeSet::new();
        let mut slack_ids = std::collections::BTreeSet::new();
        let mut client_certs = std::collections::BTreeSet::new();
        for u in &self.auth.users {
            if u.name.is_empty()
                || u.name == aiops_core::Caller::ANONYMOUS
                || u.name == aiops_core::Caller::SYSTEM
                || !names.insert(u.name.as_str())
            {
                return bad(format!(
                    "auth.users: `{}` is empty, reserved or defined twice",
                    u.name
                ));
            }
            if let Some(h) = &u.token_sha256
                && (h.len() != 64 || !h.chars().all(|c| c.is_ascii_hexdigit()))
            {
                return bad(format!(
                    "auth.users `{}`: token_sha256 must be 64 hex digits",
                    u.name
                ));
            }
            // One token or Slack id for two users would let one act as the other.
            if let Some(h) = &u.token_sha256
                && !tokens.insert(h.to_ascii_lowercase())
            {
                return bad(format!(
                    "auth.users `{}`: the same token_sha256 is given to another user",
                    u.name
                ));
            }
            if let Some(id) = &u.slack_id
                && !slack_ids.insert(id.as_str())
            {
                return bad(format!(
                    "auth.users `{}`: slack_id `{id}` is given to another user",
                    u.name
                ));
            }
            if let Some(name) = &u.client_cert
                && (name.trim().is_empty() || !client_certs.insert(name.as_str()))
            {
                return bad(format!(
                    "auth.users `{}`: client_cert `{name}` is empty or given to another user",
                    u.name
                ));
            }
        }
        if self.slack.enabled
            && !(self.slack.api_base.starts_with("https://")
                || self.slack.api_base.starts_with("http://127.")
                || self.slack.api_base.starts_with("http://localhost"))
        {
            return bad("slack.api_base must be https (plain http only on loopback)".into());
        }
        self.validate_store()?;
        if self.store.payload_retention_days > 0
            && (self.store.retention_interval_secs == 0
                || !(1..=10_000).contains(&self.store.retention_batch))
        {
            return bad(
                "store.retention_interval_secs must be greater than zero and store.retention_batch between 1 and 10000 while store.payload_retention_days is set"
                    .into(),
            );
        }
        Ok(())
    }

    /// The URL is never echoed: it may hold a password.
    fn validate_store(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError(m.to_string()));
        let store = &self.store;
        if store
            .url
            .as_deref()
            .is_some_and(|u| !u.starts_with("sqlite:"))
        {
            return bad(
                "store.url takes a sqlite: URL only; a PostgreSQL URL (it holds a password) is read from the environment variable AIOPS_STORE_URL, with store.backend = \"postgres\"",
            );
        }
        if store.backend == StoreBackend::Sqlite {
            return Ok(());
        }
        if store.url.is_some() {
            return bad(
                "store.url is for store.backend = \"sqlite\"; with \"postgres\" the URL comes from AIOPS_STORE_URL",
            );
        }
        match store.postgres_url.as_ref().map(StoreUrl::expose) {
            None => {
                return bad(
                    "store.backend = \"postgres\" needs the environment variable AIOPS_STORE_URL=postgres://user:password@host:port/database",
                );
            }
            Some(u) if !(u.starts_with("postgres://") || u.starts_with("postgresql://")) => {
                return bad(
                    "AIOPS_STORE_URL must be a postgres:// or postgresql:// URL (not repeated here: it may hold a password)",
                );
            }
            Some(_) => {}
        }
        if store.max_connections == 0
            || store.acquire_timeout_ms == 0
            || store.statement_timeout_ms == 0
            || store.lease_ttl_secs == 0
        {
            return bad(
                "store.max_connections, acquire_timeout_ms, statement_timeout_ms and lease_ttl_secs must be greater than zero",
            );
        }
        if store.max_connections > 1000 {
            return bad("store.max_connections must be at most 1000");
        }
        Ok(())
    }

    fn validate_limits(&self) -> Result<(), ConfigError> {
        let a = &self.api;
        if a.rate_limit_per_minute == 0
            || a.rate_limit_burst == 0
            || a.max_concurrent_requests == 0
            || a.max_connections == 0
            || a.max_headers == 0
            || a.header_read_timeout_ms == 0
        {
            return Err(ConfigError(
                "api.rate_limit_per_minute, rate_limit_burst, max_concurrent_requests, max_connections, max_headers and header_read_timeout_ms must be greater than zero"
                    .into(),
            ));
        }
        // hyper's smallest read buffer; a request head must fit in it.
        if a.max_header_bytes < 8192 {
            return Err(ConfigError(
                "api.max_header_bytes must be at least 8192".into(),
            ));
        }
        Ok(())
    }

    pub fn secrets_dir(&self) -> PathBuf {
        self.secrets
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("secrets"))
    }

    /// The run area: each executor run's private directory (0700; secret vars files
    /// 0600) lives here, and nowhere else. Wiped at start-up (`crate::recovery`).
    pub fn run_dir(&self) -> PathBuf {
        self.data_dir.join("run")
    }

    /// Where the store is, as the config says (see [`StoreConfig`]).
    pub fn store_path(&self) -> StoreLocation {
        match (
            self.store.backend,
            &self.store.postgres_url,
            &self.store.url,
        ) {
            (StoreBackend::Postgres, Some(url), _) => StoreLocation::Postgres {
                url: url.clone(),
                options: self.store.pg_options(),
            },
            (_, _, Some(url)) => StoreLocation::Url(url.clone()),
            (_, _, None) => StoreLocation::File(self.data_dir.join("aiops.db")),
        }
    }
}

/// Plain HTTP only where nobody else can listen in: a listener on an address that is not
/// loopback needs `[tls]`, or `api.allow_plain_http = true` said on purpose.
pub fn check_exposure(addr: SocketAddr, config: &Config) -> Result<(), ConfigError> {
    if config.tls.is_none() && !config.api.allow_plain_http && !addr.ip().is_loopback() {
        return Err(ConfigError(format!(
            "refusing to serve plain HTTP on {addr}, which is not a loopback address: configure [tls] cert and key, or set api.allow_plain_http = true (e.g. behind a TLS-terminating proxy)"
        )));
    }
    Ok(())
}

impl StoreConfig {
    /// The Postgres pool and lease settings.
    pub fn pg_options(&self) -> aiops_store::PgOptions {
        aiops_store::PgOptions {
            max_connections: self.max_connections,
            acquire_timeout: std::time::Duration::from_millis(self.acquire_timeout_ms),
            statement_timeout: std::time::Duration::from_millis(self.statement_timeout_ms),
            lease_ttl: std::time::Duration::from_secs(self.lease_ttl_secs),
        }
    }
}

#[derive(Debug, Clone)]
pub enum StoreLocation {
    /// A SQLite file.
    File(PathBuf),
    /// A `sqlite:` URL.
    Url(String),
    /// A Postgres database shared by replicas.
    Postgres {
        url: StoreUrl,
        options: aiops_store::PgOptions,
    },
}

#[cfg(test)]
// figment::Jail's closures return its own large error type; not ours to shrink.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn anonymous_reads_only_on_loopback() {
        let mut c = Config::default();
        c.auth.allow_anonymous = AnonymousAccess::Read;
        c.validate().unwrap();
        for listen in ["0.0.0.0:30080", "192.168.1.10:30080", "[::]:30080"] {
            c.listen = listen.parse().unwrap();
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains("loopback"), "{listen}: {err}");
        }
        c.listen = "[::1]:30080".parse().unwrap();
        c.validate().unwrap();
    }

    #[test]
    fn payload_retention_defaults_to_30_days_and_0_turns_it_off() {
        let c = Config::default();
        assert_eq!(
            (c.store.payload_retention_days, c.store.retention_batch),
            (30, 500)
        );
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "off.toml",
                "[store]\npayload_retention_days = 0\nretention_batch = 0\n",
            )?;
            let c = Config::load(Some(Path::new("off.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.store.payload_retention_days, 0);
            jail.create_file(
                "bad.toml",
                "[store]\npayload_retention_days = 7\nretention_batch = 0\n",
            )?;
            let e = Config::load(Some(Path::new("bad.toml")))
                .unwrap_err()
                .to_string();
            assert!(e.contains("retention_batch"), "{e}");
            jail.set_env("AIOPS_STORE__PAYLOAD_RETENTION_DAYS", "90");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.store.payload_retention_days, 90);
            Ok(())
        });
    }

    #[test]
    fn the_store_backend_is_typed_and_its_url_comes_from_the_environment_only() {
        let url = "postgres://aiops:s3cr/et@db.example:5432/aiops?sslmode=prefer&password=other";
        assert_eq!(
            StoreUrl::new(url).redacted(),
            "postgres://aiops:***@db.example:5432/aiops?sslmode=prefer&password=***"
        );
        // A password holding `?` and `@` unencoded is still covered.
        assert_eq!(
            StoreUrl::new("postgres://u:p?a@ss@h/d").redacted(),
            "postgres://u:***@h/d"
        );
        assert_eq!(StoreUrl::new("garbage:pw").redacted(), "***");
        assert_eq!(
            StoreUrl::new("postgres://db/aiops").redacted(),
            "postgres://db/aiops"
        );
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "pg.toml",
                "[store]\nbackend = \"postgres\"\nlease_ttl_secs = 5\nmax_connections = 4\n",
            )?;
            let load = |f: &str| Config::load(Some(Path::new(f))).map_err(|e| e.to_string());
            // Required for postgres, and refused without it (naming the variable).
            let e = load("pg.toml").unwrap_err();
            assert!(e.contains("AIOPS_STORE_URL"), "{e}");
            jail.set_env("AIOPS_STORE_URL", url);
            let c = load("pg.toml")?;
            assert_eq!(c.store.backend, StoreBackend::Postgres);
            assert_eq!(
                c.store.postgres_url.as_ref().map(StoreUrl::expose),
                Some(url)
            );
            let options = c.store.pg_options();
            assert_eq!(options.lease_ttl.as_secs(), 5);
            assert_eq!(options.max_connections, 4);
            assert_eq!(options.acquire_timeout.as_millis(), 5000);
            // Neither Debug nor what check-config prints holds the password.
            for shown in [
                format!("{c:?}"),
                serde_json::to_string(&c).unwrap_or_default(),
            ] {
                assert!(
                    !shown.contains("s3cr/et") && !shown.contains("other"),
                    "{shown}"
                );
                assert!(shown.contains("aiops:***@db.example"), "{shown}");
            }
            assert!(matches!(c.store_path(), StoreLocation::Postgres { .. }));
            // The config file cannot hold it: neither as `url` nor as `postgres_url`.
            jail.create_file(
                "in-file.toml",
                "[store]\nbackend = \"postgres\"\nurl = \"postgres://aiops:filepw@h/aiops\"\n",
            )?;
            let e = load("in-file.toml").unwrap_err();
            assert!(
                e.contains("AIOPS_STORE_URL") && !e.contains("filepw"),
                "{e}"
            );
            jail.create_file(
                "field.toml",
                "[store]\nbackend = \"postgres\"\npostgres_url = \"postgres://aiops:filepw@h/aiops\"\n",
            )?;
            let e = load("field.toml").unwrap_err();
            assert!(e.contains("postgres_url") && !e.contains("filepw"), "{e}");
            // Nor the prefixed environment form of the key.
            jail.set_env("AIOPS_STORE__URL", "postgres://aiops:envpw@h/aiops");
            let e = load("pg.toml").unwrap_err();
            assert!(!e.contains("envpw"), "{e}");
            jail.clear_env();
            jail.set_env("AIOPS_STORE_URL", url);
            // The SQLite backend ignores the variable.
            jail.create_file("lite.toml", "[store]\nbackend = \"sqlite\"\n")?;
            let c = load("lite.toml")?;
            assert!(c.store.postgres_url.is_none());
            assert!(matches!(c.store_path(), StoreLocation::File(_)));
            // Not a postgres URL: refused, unechoed.
            jail.set_env("AIOPS_STORE_URL", "mysql://u:pw@h/d");
            let e = load("pg.toml").unwrap_err();
            assert!(e.contains("postgres://") && !e.contains("pw@"), "{e}");
            jail.set_env("AIOPS_STORE_URL", url);
            jail.create_file(
                "zero.toml",
                "[store]\nbackend = \"postgres\"\nacquire_timeout_ms = 0\n",
            )?;
            assert!(load("zero.toml").unwrap_err().contains("greater than zero"));
            jail.create_file("bad.toml", "[store]\nbackend = \"oracle\"\n")?;
            assert!(load("bad.toml").is_err());
            Ok(())
        });
        // The default stays embedded.
        assert_eq!(Config::default().store.backend, StoreBackend::Sqlite);
        assert!(matches!(
            Config::default().store_path(),
            StoreLocation::File(_)
        ));
    }

    #[test]
    fn token_expiry_and_anonymous_access_parse() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "aiops.toml",
                r#"
                [auth]
                allow_anonymous = "read"
                public_metrics = false
                [[auth.users]]
                name = "ci"
                roles = ["viewer"]
                token_sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
                token_expires_at = "2027-01-01T00:00:00Z"
                "#,
            )?;
            let c = Config::load(Some(Path::new("aiops.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.auth.allow_anonymous, AnonymousAccess::Read);
            assert!(!c.auth.public_metrics);
            assert_eq!(
                c.auth.users[0].token_expires_at.map(|t| t.year()),
                Some(2027)
            );
            Ok(())
        });
    }

    #[test]
    fn file_then_env_override() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "aiops.toml",
                r#"
                listen = "127.0.0.1:4000"
                [dns]
                timeout_ms = 750
                "#,
            )?;
            jail.set_env("AIOPS_DNS__SERVER", "127.0.0.1:5353");
            // dev-up's output lines must not be read as config
            jail.set_env("AIOPS_DNS", "127.0.0.1:1");
            jail.set_env("AIOPS_LOG", "/tmp/aiopsd.log");
            jail.set_env("AIOPS_URL", "http://x");
            let c = Config::load(Some(Path::new("aiops.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.listen.port(), 4000);
            assert_eq!(c.dns.timeout_ms, 750);
            assert_eq!(c.dns.server.port(), 5353);
            assert_eq!(c.log.format, "text");
            Ok(())
        });
    }

    #[test]
    fn tls_comes_from_the_file_or_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "tls.toml",
                "[tls]\ncert = \"s.crt\"\nkey = \"s.key\"\nclient_ca = \"ca.crt\"\n",
            )?;
            let c = Config::load(Some(Path::new("tls.toml"))).map_err(|e| e.to_string())?;
            let tls = c.tls.expect("[tls]");
            assert_eq!(tls.client_auth, crate::tls::ClientAuth::Required);
            assert_eq!(tls.client_ca, Some(PathBuf::from("ca.crt")));

            assert_eq!(Config::load(None).map_err(|e| e.to_string())?.tls, None);
            jail.set_env("AIOPS_TLS__CERT", "/etc/aiops/server.crt");
            jail.set_env("AIOPS_TLS__KEY", "/etc/aiops/server.key");
            jail.set_env("AIOPS_LISTEN", "0.0.0.0:443");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(
                c.tls.map(|t| t.key),
                Some(PathBuf::from("/etc/aiops/server.key"))
            );
            Ok(())
        });
    }

    #[test]
    fn exposure_and_certificate_names_are_checked() {
        let mut c = Config {
            listen: "0.0.0.0:30080".parse().unwrap(),
            ..Config::default()
        };
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("plain HTTP") && e.contains("allow_plain_http"),
            "{e}"
        );
        c.api.allow_plain_http = true;
        c.validate().unwrap();
        c.api.allow_plain_http = false;
        c.tls = Some(crate::tls::TlsConfig::new("s.crt", "s.key"));
        c.validate().unwrap();
        c.tls.as_mut().unwrap().client_auth = crate::tls::ClientAuth::Optional;
        assert!(c.validate().unwrap_err().to_string().contains("client_ca"));
        c.listen = "[::1]:30080".parse().unwrap();
        c.tls = None;
        c.validate().unwrap();

        let user = |name: &str, cert: &str| UserConfig {
            name: name.into(),
            client_cert: Some(cert.into()),
            ..Default::default()
        };
        c.auth.users = vec![user("a", "one"), user("b", "one")];
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("client_cert")
        );
        c.auth.users = vec![user("a", " ")];
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("client_cert")
        );
        c.auth.users = vec![user("a", "one"), user("b", "two")];
        c.validate().unwrap();
        c.api.max_header_bytes = 1024;
        assert!(c.validate().unwrap_err().to_string().contains("8192"));
    }

    #[test]
    fn bad_config_is_one_clear_error() {
        figment::Jail::expect_with(|jail| {
            let cases = [
                ("[log]\nformat = \"xml\"\n", "log.format"),
                ("bogus = 1\n", "bogus"),
                (
                    "[[auth.users]]\nname = \"a\"\nslack_id = \"U1\"\n[[auth.users]]\nname = \"b\"\nslack_id = \"U1\"\n",
                    "another user",
                ),
                ("[approvals]\nttl_secs = 100000000000\n", "30 days"),
                ("[tls]\ncert = \"s.crt\"\n", "key"),
                (
                    "[tls]\ncert = \"s.crt\"\nkey = \"k\"\nclient_auth = \"maybe\"\n",
                    "maybe",
                ),
                (
                    "[api]\nrate_limit_per_minute = 0\n",
                    "rate_limit_per_minute",
                ),
            ];
            for (i, (toml, needle)) in cases.into_iter().enumerate() {
                let file = format!("{i}.toml");
                jail.create_file(&file, toml)?;
                let e = Config::load(Some(Path::new(&file)))
                    .unwrap_err()
                    .to_string();
                assert!(e.contains(needle), "{e}");
            }
            let e = Config::load(Some(Path::new("missing.toml")))
                .unwrap_err()
                .to_string();
            assert!(e.contains("does not exist"), "{e}");
            Ok(())
        });
    }
}
