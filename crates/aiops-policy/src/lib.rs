//! Policy decisions for `aiopsd`: loads the Rego policies in `policies/` (plus their
//! `data.json`) into the in-process [`regorus`] engine and evaluates `data.aiops.decision`
//! for one typed intent, returning a [`Decision`]: allow, deny, or require approval.
//!
//! The daemon calls [`PolicyEngine::evaluate`] twice per request: before planning
//! ([`Stage::Decide`]) and right before execution ([`Stage::Execute`]).
//!
//! Fail closed: anything but a well-formed decision object (a parse error, an
//! evaluation error, an undefined or oddly shaped result) is a [`PolicyError`], never an
//! allow. This crate does no I/O except [`PolicyEngine::load`] reading the policy directory.
//!
//! The shipped policies are also compiled into the binary ([`embedded`]), so the daemon
//! runs with no files on disk.
//!
//! # Cost of a decision
//!
//! Everything that does not depend on the input is done once, at load: the policies are
//! parsed, analysed and scheduled, and the data document is converted, in one prepared
//! engine. Each evaluation starts from a clone of it, which shares all of that by `Arc`
//! (about 0.15 µs), and converts only the input. What remains is regorus interpreting the
//! rules, a few hundred microseconds for `data.aiops.decision` on the shipped policy
//! (`benches/evaluate.rs`). The policy's regular expressions are compiled once per
//! engine instead of once per call (`RegexCache`), and an input seen before is answered
//! from memory, with the answer policy gave then (`memo.rs`: only for policies whose rules
//! are functions of their input).
#![forbid(unsafe_code)]

mod memo;

pub use memo::volatile_builtin;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

/// The rule every policy set must define; its value is the decision object.
pub const DECISION_RULE: &str = "data.aiops.decision";

/// Name of the policy data file inside a policy directory.
pub const DATA_FILE: &str = "data.json";

/// The shipped policies (`policies/*.rego` without tests), compiled in.
const EMBEDDED_POLICIES: &[(&str, &str)] = &[
    ("aiops.rego", include_str!("../../../policies/aiops.rego")),
    (
        "approvals.rego",
        include_str!("../../../policies/approvals.rego"),
    ),
    ("access.rego", include_str!("../../../policies/access.rego")),
];

/// The rule that decides whether a human may decide an approval.
pub const APPROVER_RULE: &str = "data.aiops.approver_decision";

/// Input of [`PolicyEngine::evaluate_approver`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct ApproverInput {
    pub approver: Caller,
    pub requester: String,
    pub action: ActionId,
    pub risk: Risk,
    pub params: Json,
}

/// The rule that decides whether a caller may run an API operation.
pub const ACCESS_RULE: &str = "data.aiops.access_decision";

/// How many access answers [`PolicyEngine::evaluate_access`] keeps decoded: one per
/// (caller, operation), and a daemon has a handful of callers.
const ACCESS_MEMO_ENTRIES: u64 = 4096;

/// The rule that lists the groups owning a request's targets (for the approval message).
pub const OWNERS_RULE: &str = "data.aiops.approval_owners";

/// What a caller asks the API to do; policy data maps each to the roles that may.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    strum::IntoStaticStr,
)]
pub enum Operation {
    /// The action catalog and the API description.
    #[serde(rename = "catalog.read")]
    #[strum(serialize = "catalog.read")]
    CatalogRead,
    /// Parse a sentence without running it.
    #[serde(rename = "intents.parse")]
    #[strum(serialize = "intents.parse")]
    IntentsParse,
    /// Read a stored request.
    #[serde(rename = "intents.read")]
    #[strum(serialize = "intents.read")]
    IntentsRead,
    /// Submit a sentence at all (its risk class is not known until it is parsed).
    #[serde(rename = "intents.submit")]
    #[strum(serialize = "intents.submit")]
    IntentsSubmit,
    /// Submit a request of risk class `read`, `change`, `destructive`.
    #[serde(rename = "intents.submit.read")]
    #[strum(serialize = "intents.submit.read")]
    SubmitRead,
    #[serde(rename = "intents.submit.change")]
    #[strum(serialize = "intents.submit.change")]
    SubmitChange,
    #[serde(rename = "intents.submit.destructive")]
    #[strum(serialize = "intents.submit.destructive")]
    SubmitDestructive,
    /// List and show approvals (with their plans).
    #[serde(rename = "approvals.read")]
    #[strum(serialize = "approvals.read")]
    ApprovalsRead,
    /// Approve or reject (who may decide a particular approval is `approver_decision`'s).
    #[serde(rename = "approvals.decide")]
    #[strum(serialize = "approvals.decide")]
    ApprovalsDecide,
    /// Verify the audit chain.
    #[serde(rename = "audit.read")]
    #[strum(serialize = "audit.read")]
    AuditRead,
    /// Read the refused model answers (they hold users' sentences).
    #[serde(rename = "quarantine.read")]
    #[strum(serialize = "quarantine.read")]
    QuarantineRead,
    /// Read `/metrics` when it is not public (`auth.public_metrics = false`).
    #[serde(rename = "metrics.read")]
    #[strum(serialize = "metrics.read")]
    MetricsRead,
    /// Read secrets' metadata (paths, versions, last rotation; never a value): the MCP tool
    /// `vault_metadata`.
    #[serde(rename = "secrets.metadata")]
    #[strum(serialize = "secrets.metadata")]
    SecretsMetadata,
    /// Index runbook documents (`POST /api/v1/documents`).
    #[serde(rename = "documents.ingest")]
    #[strum(serialize = "documents.ingest")]
    DocumentsIngest,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Submitting a request of this risk class.
    pub fn submit(risk: Risk) -> Operation {
        match risk {
            Risk::Read => Operation::SubmitRead,
            Risk::Change => Operation::SubmitChange,
            Risk::Destructive => Operation::SubmitDestructive,
        }
    }
}

/// Input of [`PolicyEngine::evaluate_access`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq, Hash)]
pub struct AccessInput {
    pub caller: Caller,
    pub operation: Operation,
}

/// Input of [`PolicyEngine::approval_owners`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct OwnersInput {
    pub action: ActionId,
    pub params: Json,
}

/// Whether a caller may do something (approve, run an operation), and why.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct AccessDecision {
    pub allowed: bool,
    pub reasons: Vec<String>,
}

/// The shipped policy data (`policies/data.json`), compiled in.
const EMBEDDED_DATA: &str = include_str!("../../../policies/data.json");

/// The policy engine built from the shipped policies and data compiled into the binary.
/// Its revision equals that of `PolicyEngine::load("policies")` on the same sources.
pub fn embedded() -> Result<PolicyEngine, PolicyError> {
    let data: Json = serde_json::from_str(EMBEDDED_DATA).map_err(|e| PolicyError::Data {
        source_name: format!("embedded {DATA_FILE}"),
        message: e.to_string(),
    })?;
    let policies: Vec<(String, String)> = EMBEDDED_POLICIES
        .iter()
        .map(|(name, src)| ((*name).to_string(), (*src).to_string()))
        .collect();
    PolicyEngine::from_sources(&policies, data)
}

/// Where a decision is being made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Before planning.
    Decide,
    /// Right before execution (policies and roles may have changed meanwhile).
    Execute,
}

pub use aiops_core::{ActionId, AuthMethod, Caller, ParserKind, Risk};

/// The input document the policies see as `input`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PolicyInput {
    /// Catalog action name, e.g. `dns.create_a_record`.
    pub action: ActionId,
    /// Risk class from the catalog: `read`, `change` or `destructive`.
    pub risk: Risk,
    /// Validated, normalised parameters (defaults filled in).
    pub params: Json,
    pub dry_run: bool,
    pub stage: Stage,
    pub caller: Caller,
    /// Which parser read the sentence: policy may treat model-parsed changes differently
    /// (the shipped policy sends them to a human).
    pub parser: ParserKind,
    /// The parser's confidence, 0..=1.
    pub confidence: f64,
}

/// What the policy decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Allow,
    Deny,
    RequireApproval,
}

impl Outcome {
    /// The wire name (`allow`, `deny`, `require_approval`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Deny => "deny",
            Outcome::RequireApproval => "require_approval",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "allow" => Some(Outcome::Allow),
            "deny" => Some(Outcome::Deny),
            "require_approval" => Some(Outcome::RequireApproval),
            _ => None,
        }
    }
}

/// A policy decision, with the revision of the policies and data that made it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Decision {
    pub outcome: Outcome,
    /// Human-readable reasons (for a deny: every violated rule).
    pub reasons: Vec<String>,
    /// [`PolicyEngine::revision`] of the engine that decided.
    pub policy_revision: String,
    /// Distinct approvers needed: at least 1 for `require_approval`, else 0.
    pub approvals_required: u32,
}

/// Errors of this crate. Every one means "no decision": callers fail closed.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The policy directory or a file in it could not be read.
    #[error("cannot read policy source {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A Rego file failed to parse (or was rejected by the engine).
    #[error("policy {name} is invalid: {message}")]
    Parse { name: String, message: String },
    /// The policy data is not valid JSON or not an object.
    #[error("policy data {source_name} is invalid: {message}")]
    Data {
        source_name: String,
        message: String,
    },
    /// The policies do not compile together or do not define the decision rule.
    #[error("policies cannot be used: {0}")]
    Compile(String),
    /// The engine failed while evaluating (input conversion, builtin error, conflict, …).
    #[error("policy evaluation failed: {0}")]
    Eval(String),
    /// The decision rule produced something other than a well-formed decision object.
    #[error("policy returned a malformed decision: {0}")]
    MalformedDecision(String),
}

impl PolicyError {
    /// Stable machine-readable code for API errors and audit rows.
    pub fn code(&self) -> aiops_core::ErrorCode {
        use aiops_core::ErrorCode;
        match self {
            PolicyError::Io { .. }
            | PolicyError::Parse { .. }
            | PolicyError::Data { .. }
            | PolicyError::Compile(_) => ErrorCode::PolicyLoadFailed,
            PolicyError::Eval(_) => ErrorCode::PolicyEvalFailed,
            PolicyError::MalformedDecision(_) => ErrorCode::PolicyDecisionInvalid,
        }
    }
}

/// Loaded policies and data, ready to evaluate. `Send + Sync`; share it in an `Arc`.
///
/// The regorus engine needs `&mut` to evaluate, so each evaluation works on a clone of
/// one prepared (parsed, analysed, scheduled) engine that is never evaluated itself after
/// load. The clone shares the modules, the schedule, the function table and the data by
/// `Arc` and costs about 0.15 µs, against hundreds of microseconds for the evaluation; it
/// starts with empty evaluation state, so nothing one evaluation computed (rule values,
/// the input, the `data` tree it built) can reach another, and unlike a `Mutex` or a
/// pool, concurrent evaluations neither wait for each other nor need resetting. A warm
/// engine reused with `set_input` (a row of `benches/evaluate.rs`) is no faster, and
/// neither is `compile_with_entrypoint`'s `CompiledPolicy`, which builds an engine per call
/// itself: regorus resets its evaluation state on every `eval_rule` anyway.
pub struct PolicyEngine {
    engine: regorus::Engine,
    memo: memo::Memo,
    /// [`PolicyEngine::evaluate_access`]'s answers, decoded; on exactly when `memo` is.
    access_memo: memo::Typed<AccessInput, AccessDecision>,
    revision: String,
    data: Json,
    sources: Vec<String>,
}

impl std::fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyEngine")
            .field("revision", &self.revision)
            .field("sources", &self.sources)
            .finish_non_exhaustive()
    }
}

impl PolicyEngine {
    /// Loads every `*.rego` in `dir` except `*_test.rego`, plus `data.json` if present.
    /// Fails on parse errors.
    pub fn load(dir: &Path) -> Result<Self, PolicyError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| PolicyError::Io { path, source }
        };
        let mut policies = Vec::new();
        let mut data = Json::Object(serde_json::Map::new());
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let entry = entry.map_err(io(dir))?;
            let path = entry.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            if !entry.file_type().map_err(io(&path))?.is_file() && !path.is_file() {
                continue;
            }
            if name == DATA_FILE {
                let text = std::fs::read_to_string(&path).map_err(io(&path))?;
                data = serde_json::from_str(&text).map_err(|e| PolicyError::Data {
                    source_name: path.display().to_string(),
                    message: e.to_string(),
                })?;
            } else if name.ends_with(".rego") && !name.ends_with("_test.rego") {
                let text = std::fs::read_to_string(&path).map_err(io(&path))?;
                policies.push((name, text));
            }
        }
        let engine = Self::from_sources(&policies, data);
        if let Err(err) = &engine {
            tracing::error!(dir = %dir.display(), error = %err, "policy load failed");
        }
        engine
    }

    /// Same as [`PolicyEngine::load`], from in-memory `(name, rego source)` pairs and a
    /// data document (the whole `data` tree; the shipped policy reads `data.aiops.config`).
    pub fn from_sources(policies: &[(String, String)], data: Json) -> Result<Self, PolicyError> {
        if !data.is_object() {
            return Err(PolicyError::Data {
                source_name: DATA_FILE.to_string(),
                message: "the data document must be a JSON object".to_string(),
            });
        }
        let mut sorted: Vec<&(String, String)> = policies.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(w) = sorted.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(PolicyError::Parse {
                name: w[0].0.clone(),
                message: "two policy sources have the same name".to_string(),
            });
        }
        if sorted.is_empty() {
            return Err(PolicyError::Compile(
                "no policy sources were given (expected at least one *.rego)".to_string(),
            ));
        }

        let mut engine = regorus::Engine::new();
        for (name, src) in &sorted {
            engine
                .add_policy(name.clone(), src.clone())
                .map_err(|e| PolicyError::Parse {
                    name: name.clone(),
                    message: engine_error(&e),
                })?;
        }
        let data_value: regorus::Value =
            serde_json::from_value(data.clone()).map_err(|e| PolicyError::Data {
                source_name: DATA_FILE.to_string(),
                message: e.to_string(),
            })?;
        engine.add_data(data_value).map_err(|e| PolicyError::Data {
            source_name: DATA_FILE.to_string(),
            message: engine_error(&e),
        })?;
        RegexCache::default()
            .install(&mut engine)
            .map_err(|e| PolicyError::Compile(engine_error(&e)))?;

        // Prepare the engine once (analysis, scheduling) and check the decision rule
        // exists, so a broken policy set fails at load, not at the first request.
        engine.set_input(regorus::Value::new_object());
        engine.eval_rule(DECISION_RULE.to_string()).map_err(|e| {
            PolicyError::Compile(format!(
                "the policies must define {DECISION_RULE}: {}",
                engine_error(&e)
            ))
        })?;

        let revision = revision_of(&sorted, &data);
        tracing::info!(
            revision = %revision,
            policies = sorted.len(),
            "policies loaded"
        );
        let memo = memo::Memo::for_sources(sorted.iter().map(|(_, src)| src.as_str()));
        Ok(PolicyEngine {
            engine,
            access_memo: memo::Typed::new(memo.enabled(), ACCESS_MEMO_ENTRIES),
            memo,
            revision,
            data,
            sources: sorted.iter().map(|(n, _)| n.clone()).collect(),
        })
    }

    /// Hex SHA-256 over the loaded files' names and contents (sorted by name) and the
    /// data document (canonical JSON): identifies exactly what decided.
    pub fn revision(&self) -> &str {
        &self.revision
    }

    /// The data document the engine was loaded with.
    pub fn data(&self) -> &Json {
        &self.data
    }

    /// The managed DNS zones from the policy data (`data.aiops.config.dns.zones`), sorted.
    pub fn managed_zones(&self) -> Vec<String> {
        self.data
            .pointer("/aiops/config/dns/zones")
            .and_then(Json::as_object)
            .map(|zones| zones.keys().cloned().collect::<Vec<_>>())
            .map(|mut zones| {
                zones.sort();
                zones
            })
            .unwrap_or_default()
    }

    /// Evaluates `data.aiops.decision` for `input`. Any error or a result that is not a
    /// well-formed decision object is an `Err`: the caller must fail closed.
    pub fn evaluate(&self, input: &PolicyInput) -> Result<Decision, PolicyError> {
        let result = self.eval_rule(DECISION_RULE, input).inspect_err(|err| {
            tracing::error!(action = %input.action, error = %err, "policy evaluation failed");
        })?;
        let decision = parse_decision(&result, &self.revision).inspect_err(|err| {
            tracing::error!(action = %input.action, error = %err, "malformed policy decision");
        })?;
        tracing::debug!(
            action = %input.action,
            stage = ?input.stage,
            outcome = decision.outcome.as_str(),
            revision = %self.revision,
            "policy decision"
        );
        Ok(decision)
    }
}

impl PolicyEngine {
    /// Evaluates [`APPROVER_RULE`]: may this human approve or reject this request? Anything
    /// but a well-formed `{"allowed": bool, "reasons": [..]}` is an error (fail closed).
    pub fn evaluate_approver(&self, input: &ApproverInput) -> Result<AccessDecision, PolicyError> {
        self.eval_strict(APPROVER_RULE, input)
    }

    /// Evaluates [`ACCESS_RULE`]: may this caller run this API operation? Fails closed like
    /// [`PolicyEngine::evaluate_approver`].
    ///
    /// Every API request asks this for its caller and operation, so a known answer is kept
    /// decoded, by the typed input (`memo::Typed`): no JSON on that path.
    pub fn evaluate_access(&self, input: &AccessInput) -> Result<AccessDecision, PolicyError> {
        self.access_memo
            .get_or_eval(input, || self.eval_strict(ACCESS_RULE, input))
    }

    /// Evaluates [`OWNERS_RULE`]: the groups owning this request's targets (empty when
    /// nobody owns them).
    pub fn approval_owners(&self, input: &OwnersInput) -> Result<Vec<String>, PolicyError> {
        self.eval_strict(OWNERS_RULE, input)
    }

    /// Evaluates `rule` on `input`; anything but a value of type `T` is an error.
    fn eval_strict<T: serde::de::DeserializeOwned>(
        &self,
        rule: &'static str,
        input: &impl Serialize,
    ) -> Result<T, PolicyError> {
        let result = self.eval_rule(rule, input)?;
        if result == regorus::Value::Undefined {
            return Err(PolicyError::MalformedDecision(format!(
                "{rule} is undefined"
            )));
        }
        let json = serde_json::to_value(&result).map_err(|e| {
            PolicyError::MalformedDecision(format!("cannot convert the result: {e}"))
        })?;
        serde_json::from_value::<T>(json)
            .map_err(|e| PolicyError::MalformedDecision(format!("{rule}: {e}")))
    }
}

impl PolicyEngine {
    /// Evaluates `rule` with `input` on a fresh clone of the prepared engine (see the type's
    /// docs for why a clone and not a pool), unless the memo has policy's answer for exactly
    /// this input already (`memo.rs`).
    ///
    /// The input goes through `serde_json::Value` into regorus's own deserializer: about
    /// 3 µs for a `PolicyInput`, under 1% of an evaluation, and it keeps regorus's rules for
    /// numbers and object keys (a hand-written conversion would have to track them).
    fn eval_rule(
        &self,
        rule: &'static str,
        input: &impl Serialize,
    ) -> Result<regorus::Value, PolicyError> {
        // Straight to JSON text: it is both the memo's key and what the engine reads, so a
        // remembered answer costs one serialisation and a lookup.
        let json = serde_json::to_string(input)
            .map_err(|e| PolicyError::Eval(format!("cannot convert the input: {e}")))?;
        self.memo.get_or_eval(rule, json, |json| {
            let value = regorus::Value::from_json_str(json)
                .map_err(|e| PolicyError::Eval(format!("cannot convert the input: {e}")))?;
            let mut engine = self.engine.clone();
            engine.set_input(value);
            engine
                .eval_rule(rule.to_string())
                .map_err(|e| PolicyError::Eval(engine_error(&e)))
        })
    }

    /// Whether answers are remembered ([`volatile_builtin`]: off when the policies call one).
    pub fn memoizes(&self) -> bool {
        self.memo.enabled()
    }
}

/// The ceiling regorus's own `regex.*` builtins put on a compiled pattern (its
/// `REGEX_SIZE_LIMIT`, 100 KiB): the same patterns compile or fail here as there.
const REGEX_SIZE_LIMIT: usize = 100 * 1024;

/// At most this many distinct patterns are kept; beyond it a pattern is compiled per call
/// (still correct, only slower). The shipped policies use six.
const REGEX_CACHE_PATTERNS: usize = 256;

/// Compiled regular expressions by pattern, shared by every evaluation of one engine.
///
/// regorus 0.14's `regex.match` and `regex.split` compile their pattern on every call (its
/// pattern cache is the `cache` feature, which needs a crate this workspace does not
/// carry). The shipped policy checks DNS names, addresses and host patterns with bounded
/// repetitions (`{0,61}`), and compiling those was about 40% of a DNS decision. regorus
/// looks up extensions before builtins, so [`RegexCache::install`] registers the two
/// builtins the policies call per request as extensions that behave as the builtins do
/// (same arguments, size limit and results, an error wherever they raise one; a unit test
/// compares them) over this cache. A cached
/// `Regex` is immutable and safe to share between threads; the cache holds nothing that
/// depends on an input, only pattern → automaton.
#[derive(Clone, Default)]
struct RegexCache(Arc<RwLock<HashMap<String, regex::Regex>>>);

impl RegexCache {
    /// Registers `regex.match` and `regex.split` on `engine`, backed by this cache.
    fn install(&self, engine: &mut regorus::Engine) -> anyhow::Result<()> {
        let cache = self.clone();
        engine.add_extension(
            "regex.match".to_string(),
            2,
            Box::new(move |args: Vec<regorus::Value>| {
                let (pattern, value) = string_args("regex.match", &args)?;
                Ok(regorus::Value::Bool(cache.get(pattern)?.is_match(value)))
            }),
        )?;
        let cache = self.clone();
        engine.add_extension(
            "regex.split".to_string(),
            2,
            Box::new(move |args: Vec<regorus::Value>| {
                let (pattern, value) = string_args("regex.split", &args)?;
                let parts = cache
                    .get(pattern)?
                    .split(value)
                    .map(|part| regorus::Value::String(part.into()))
                    .collect::<Vec<_>>();
                Ok(regorus::Value::from(parts))
            }),
        )?;
        Ok(())
    }

    /// The compiled `pattern`, compiled now if it is not cached yet.
    fn get(&self, pattern: &str) -> anyhow::Result<regex::Regex> {
        // A poisoned lock only means another thread panicked mid-insert into a map of
        // immutable values; the map is still consistent, so go on with it.
        let cached = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(pattern)
            .cloned();
        if let Some(re) = cached {
            return Ok(re);
        }
        let re = regex::RegexBuilder::new(pattern)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| match e {
                regex::Error::CompiledTooBig(_) => {
                    anyhow::Error::new(regorus::LimitError::RegexSizeLimitExceeded {
                        limit: REGEX_SIZE_LIMIT,
                    })
                }
                _ => anyhow::anyhow!("invalid regex"),
            })?;
        let mut map = self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() < REGEX_CACHE_PATTERNS {
            map.insert(pattern.to_string(), re.clone());
        }
        Ok(re)
    }
}

/// The two string arguments of a `regex.*` builtin, refused like regorus refuses them.
fn string_args<'a>(name: &str, args: &'a [regorus::Value]) -> anyhow::Result<(&'a str, &'a str)> {
    let string = |v: &'a regorus::Value| match v {
        regorus::Value::String(s) => Ok(s.as_ref()),
        other => Err(anyhow::anyhow!(
            "`{name}` expects string argument. Got `{other}` instead"
        )),
    };
    match args {
        [pattern, value] => Ok((string(pattern)?, string(value)?)),
        _ => Err(anyhow::anyhow!("`{name}` expects 2 arguments")),
    }
}

/// A regorus error as one trimmed message (they start with a newline and a source excerpt).
fn engine_error(e: &dyn std::fmt::Display) -> String {
    format!("{e:#}").trim().to_string()
}

/// Checks the decision rule's value strictly: exactly `outcome`, `reasons` and
/// `approvals_required`, consistent with each other.
fn parse_decision(value: &regorus::Value, revision: &str) -> Result<Decision, PolicyError> {
    let bad = |msg: &str| PolicyError::MalformedDecision(msg.to_string());
    if *value == regorus::Value::Undefined {
        return Err(bad(&format!("{DECISION_RULE} is undefined")));
    }
    let json =
        serde_json::to_value(value).map_err(|e| bad(&format!("cannot convert the result: {e}")))?;
    let Json::Object(obj) = json else {
        return Err(bad(&format!("expected an object, got {json}")));
    };
    if let Some(extra) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "outcome" | "reasons" | "approvals_required"))
    {
        return Err(bad(&format!("unexpected field `{extra}`")));
    }
    let outcome = obj
        .get("outcome")
        .and_then(Json::as_str)
        .and_then(Outcome::parse)
        .ok_or_else(|| bad("`outcome` must be one of \"allow\", \"deny\", \"require_approval\""))?;
    let reasons = obj
        .get("reasons")
        .and_then(Json::as_array)
        .ok_or_else(|| bad("`reasons` must be an array of strings"))?
        .iter()
        .map(|r| r.as_str().map(str::to_string))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| bad("`reasons` must be an array of strings"))?;
    if outcome == Outcome::Deny && reasons.is_empty() {
        return Err(bad("a deny must give at least one reason"));
    }
    let approvals = obj
        .get("approvals_required")
        .and_then(|n| {
            n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
                    .map(|f| f as u64)
            })
        })
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| bad("`approvals_required` must be a non-negative integer"))?;
    match (outcome, approvals) {
        (Outcome::RequireApproval, 0) => {
            return Err(bad("require_approval needs approvals_required >= 1"));
        }
        (Outcome::Allow | Outcome::Deny, n) if n != 0 => {
            return Err(bad(&format!(
                "approvals_required must be 0 for {}, got {n}",
                outcome.as_str()
            )));
        }
        _ => {}
    }
    Ok(Decision {
        outcome,
        reasons,
        policy_revision: revision.to_string(),
        approvals_required: approvals,
    })
}

/// SHA-256 over length-prefixed (name, source) pairs in name order, then the canonical
/// JSON of the data document.
fn revision_of(sorted: &[&(String, String)], data: &Json) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"aiops-policy-revision-v1\0");
    for (name, src) in sorted {
        for part in [name.as_bytes(), src.as_bytes()] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
    }
    let canonical = aiops_core::canonical_json(data);
    hasher.update(b"data\0");
    hasher.update((canonical.len() as u64).to_le_bytes());
    hasher.update(canonical.as_bytes());
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rv(j: Json) -> regorus::Value {
        serde_json::from_value(j).unwrap()
    }

    #[test]
    fn parse_decision_accepts_well_formed() {
        let d = parse_decision(
            &rv(json!({"outcome": "require_approval", "reasons": ["x"], "approvals_required": 2})),
            "rev",
        )
        .unwrap();
        assert_eq!(d.outcome, Outcome::RequireApproval);
        assert_eq!(d.approvals_required, 2);
        assert_eq!(d.policy_revision, "rev");
    }

    #[test]
    fn parse_decision_rejects_odd_results() {
        let cases = [
            json!(true),
            json!("allow"),
            json!({"outcome": "allow"}),
            json!({"outcome": "maybe", "reasons": [], "approvals_required": 0}),
            json!({"outcome": "allow", "reasons": [1], "approvals_required": 0}),
            json!({"outcome": "allow", "reasons": "x", "approvals_required": 0}),
            json!({"outcome": "allow", "reasons": [], "approvals_required": 1}),
            json!({"outcome": "require_approval", "reasons": ["x"], "approvals_required": 0}),
            json!({"outcome": "require_approval", "reasons": ["x"], "approvals_required": -1}),
            json!({"outcome": "require_approval", "reasons": ["x"], "approvals_required": 1.5}),
            json!({"outcome": "deny", "reasons": [], "approvals_required": 0}),
            json!({"outcome": "allow", "reasons": [], "approvals_required": 0, "extra": 1}),
        ];
        for case in cases {
            let err = parse_decision(&rv(case.clone()), "rev").unwrap_err();
            assert_eq!(err.code(), "policy_decision_invalid", "{case}");
        }
        let err = parse_decision(&regorus::Value::Undefined, "rev").unwrap_err();
        assert!(err.to_string().contains("undefined"), "{err}");
    }

    /// A regorus engine over `rego` and no data; with the cached `regex.*` when `cache`.
    fn regex_engine(rego: &str, cache: Option<&RegexCache>) -> regorus::Engine {
        let mut engine = regorus::Engine::new();
        engine
            .add_policy("t.rego".to_string(), rego.to_string())
            .unwrap();
        if let Some(cache) = cache {
            cache.install(&mut engine).unwrap();
        }
        engine
    }

    #[test]
    fn cached_regex_builtins_answer_like_regorus_builtins() {
        let rego = "package t\n\nm := regex.match(input.p, input.v)\n\ns := regex.split(input.p, input.v)\n";
        let huge = format!("^(a{{0,61}}b){{{}}}$", 200);
        let cases = [
            json!({"p": "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", "v": "web-01"}),
            json!({"p": "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", "v": "-web"}),
            json!({"p": "[,:]", "v": "web01,web02:&db"}),
            json!({"p": "[,:]", "v": ""}),
            json!({"p": "x*", "v": "axbxxc"}),
            // Errors: an invalid pattern, a pattern over the size limit, a non-string.
            json!({"p": "(", "v": "a"}),
            json!({"p": huge, "v": "a"}),
            json!({"p": "a", "v": 1}),
            json!({"p": ["a"], "v": "a"}),
            // An absent argument makes the call undefined, not an error.
            json!({"p": "a"}),
        ];
        let cache = RegexCache::default();
        let mut plain = regex_engine(rego, None);
        let mut cached = regex_engine(rego, Some(&cache));
        for case in cases {
            for rule in ["data.t.m", "data.t.s"] {
                plain.set_input(rv(case.clone()));
                cached.set_input(rv(case.clone()));
                let want = plain.eval_rule(rule.to_string());
                let got = cached.eval_rule(rule.to_string());
                match (want, got) {
                    (Ok(want), Ok(got)) => assert_eq!(want, got, "{rule} {case}"),
                    (Err(_), Err(_)) => {}
                    (want, got) => panic!("{rule} {case}: regorus {want:?}, cached {got:?}"),
                }
            }
        }
        // The valid patterns were compiled once and kept; the invalid ones were not.
        let kept = cache.0.read().unwrap().len();
        assert_eq!(kept, 3, "distinct valid patterns");
    }

    #[test]
    fn engine_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<PolicyEngine>();
    }
}
