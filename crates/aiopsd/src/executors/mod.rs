//! The `Executor` seam: one implementation per executor kind, chosen from config when the
//! app is built. This module decides *which* executor runs an action; the implementations
//! decide *what* to run (playbook variables, a DNS query, a Kubernetes call), and
//! `aiops-exec` is what touches the world.

mod ansible;
mod dns;
mod kube;
mod reconcile;
mod retrieval;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aiops_core::{
    ActionSpec, ErrorCode, ExecutorBinding, Intent, Plan, Reconciliation, Risk, Target,
};
use serde_json::{Value, json};

pub use ansible::AnsibleExecutor;
pub use dns::DnsExecutor;
pub use kube::KubeActions;
pub use reconcile::Reconciled;
pub use retrieval::{NO_RUNBOOK, RunbookAnswers};

use crate::config::Config;
use crate::credentials::Lease;
use crate::failure::Failure;
use crate::verify::Observation;

/// The kinds of executor an action can be bound to (`ExecutorBinding` in the catalog).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, strum::IntoStaticStr, strum::Display,
)]
#[strum(serialize_all = "snake_case")]
pub enum ExecutorKind {
    Ansible,
    Dns,
    Kube,
    Retrieval,
}

impl ExecutorKind {
    pub fn of(binding: &ExecutorBinding) -> Self {
        match binding {
            ExecutorBinding::Ansible { .. } => ExecutorKind::Ansible,
            ExecutorBinding::Dns => ExecutorKind::Dns,
            ExecutorBinding::Kube => ExecutorKind::Kube,
            ExecutorBinding::Retrieval => ExecutorKind::Retrieval,
        }
    }
}

/// What planning found: the dry-run diff, whether a real run would change anything, and
/// the executor's preconditions for that run.
#[derive(Debug, Clone)]
pub struct PlanOutput {
    pub diff: String,
    pub changes: bool,
    pub state: Option<Value>,
    /// What the change replaces, for its inverse (`Plan::before`).
    pub before: Option<Value>,
}

impl PlanOutput {
    /// A plan with no preconditions and nothing recorded for an inverse.
    pub fn new(diff: String, changes: bool) -> Self {
        PlanOutput {
            diff,
            changes,
            state: None,
            before: None,
        }
    }
}

/// One readiness check of an executor's backend, for `/readyz`.
#[derive(Debug, Clone)]
pub struct ReadyCheck {
    pub name: &'static str,
    pub ok: bool,
    pub detail: Value,
}

impl ReadyCheck {
    /// A backend that is up when it reports its version: `{"version"}` or `{"error"}`.
    pub fn of_version(name: &'static str, version: Result<String, aiops_exec::ExecError>) -> Self {
        ReadyCheck {
            name,
            ok: version.is_ok(),
            detail: match version {
                Ok(v) => json!({"version": v}),
                Err(e) => json!({"error": e.to_string()}),
            },
        }
    }
}

/// Runs the actions bound to one executor kind.
#[async_trait::async_trait]
pub trait Executor: Send + Sync {
    fn kind(&self) -> ExecutorKind;

    /// The secret paths this action needs at its credentials stage.
    fn secret_paths(&self, spec: &ActionSpec) -> Vec<String> {
        spec.secrets.clone()
    }

    /// Plans with the backend's own dry run. Needs no credentials: approval comes first.
    async fn plan(
        &self,
        spec: &ActionSpec,
        intent: &Intent,
        target: &Target,
    ) -> Result<PlanOutput, Failure>;

    /// Runs the action for real. Returns the `execution` object of the response.
    async fn execute(
        &self,
        spec: &ActionSpec,
        intent: &Intent,
        plan: &Plan,
        lease: &Lease,
    ) -> Result<Value, Failure>;

    /// Live checks of the backend, for readiness.
    async fn ready(&self) -> Vec<ReadyCheck>;

    /// Reads back what an execution of `plan` (which reported `execution`) did, through
    /// this executor's own read path, and compares it with the plan (module `verify`).
    async fn observe(
        &self,
        spec: &ActionSpec,
        intent: &Intent,
        plan: &Plan,
        execution: &Value,
    ) -> Result<Observation, Failure> {
        let _ = (spec, plan, execution);
        Ok(Observation::NoReadPath(format!(
            "the {} executor has no read path for `{}`",
            self.kind(),
            intent.action
        )))
    }

    /// What an execution of `plan`, interrupted by a stop, did to the world: found by
    /// re-planning, never by running it again (module `reconcile`). Executors whose dry
    /// run cannot witness a run override this.
    async fn reconcile(&self, spec: &ActionSpec, intent: &Intent, plan: &Plan) -> Reconciled {
        Reconciled::by_replan(plan, self.plan(spec, intent, &plan.target).await)
    }
}

/// The executors of this appliance, by kind.
#[derive(Clone, Default)]
pub struct Executors {
    by_kind: BTreeMap<ExecutorKind, Arc<dyn Executor>>,
    /// Secrets read outside any action (Slack's signing secret), for start-up checks.
    extra_secret_paths: Vec<String>,
}

impl std::fmt::Debug for Executors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executors")
            .field("kinds", &self.by_kind.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Executors {
    /// Builds the configured executors. Connecting to Kubernetes does not contact the API
    /// server; a bad kubeconfig is a start-up error.
    /// `zones` are the managed DNS zones (readiness probes the first).
    pub async fn from_config(config: &Config, zones: &[String]) -> Result<Self, Failure> {
        let mut executors = Executors::default();
        let dns = dns::DnsTarget::from_config(config);
        executors.register(Arc::new(AnsibleExecutor::new(config, dns)));
        let probe_zone = zones.first().cloned().unwrap_or_default();
        executors.register(Arc::new(DnsExecutor::new(dns, probe_zone)));
        if config.kube.enabled {
            executors.register(Arc::new(KubeActions::connect(config).await?));
        }
        if config.slack.enabled {
            executors
                .extra_secret_paths
                .push(config.slack.secret_path.clone());
        }
        Ok(executors)
    }

    /// Adds (or replaces) the executor of its kind. Tests register fakes through this.
    pub fn register(&mut self, executor: Arc<dyn Executor>) {
        self.by_kind.insert(executor.kind(), executor);
    }

    /// The executor an action is bound to, or why there is none on this appliance.
    pub fn for_action(&self, spec: &ActionSpec) -> Result<&dyn Executor, Failure> {
        let kind = ExecutorKind::of(&spec.executor);
        self.by_kind.get(&kind).map(Arc::as_ref).ok_or_else(|| match kind {
            ExecutorKind::Retrieval => Failure::new(
                ErrorCode::RetrievalUnavailable,
                "runbook retrieval is not configured on this appliance",
            ),
            ExecutorKind::Kube => Failure::new(
                ErrorCode::ExecutorUnavailable,
                "the Kubernetes executor is not configured on this appliance ([kube] enabled = false)",
            ),
            other => Failure::new(
                ErrorCode::ExecutorUnavailable,
                format!("no {other} executor is configured on this appliance"),
            ),
        })
    }

    /// The secret paths this action needs; none when it has no executor here.
    pub fn secret_paths(&self, spec: &ActionSpec) -> Vec<String> {
        self.for_action(spec)
            .map(|e| e.secret_paths(spec))
            .unwrap_or_default()
    }

    /// Every secret path the daemon reads: each catalog action's, plus Slack's when enabled.
    pub fn all_secret_paths(&self, catalog: &aiops_core::Catalog) -> Vec<String> {
        catalog
            .actions()
            .flat_map(|a| self.secret_paths(a))
            .chain(self.extra_secret_paths.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    pub async fn plan(
        &self,
        spec: &ActionSpec,
        intent: &Intent,
        target: &Target,
    ) -> Result<PlanOutput, Failure> {
        self.for_action(spec)?.plan(spec, intent, target).await
    }

    pub async fn execute(
        &self,
        spec: &ActionSpec,
        intent: &Intent,
        plan: &Plan,
        lease: &Lease,
    ) -> Result<Value, Failure> {
        self.for_action(spec)?
            .execute(spec, intent, plan, lease)
            .await
    }

    pub async fn observe(
        &self,
        spec: &ActionSpec,
        intent: &Intent,
        plan: &Plan,
        execution: &Value,
    ) -> Result<Observation, Failure> {
        self.for_action(spec)?
            .observe(spec, intent, plan, execution)
            .await
    }

    /// What an interrupted execution of `plan` did (see [`Executor::reconcile`]). A
    /// read-only action changed nothing; an action with no executor here cannot be checked.
    pub async fn reconcile(&self, spec: &ActionSpec, intent: &Intent, plan: &Plan) -> Reconciled {
        if spec.risk == Risk::Read {
            return Reconciled::new(
                Reconciliation::NothingApplied,
                "a read-only action changes nothing; its answer was lost with the stop: ask again",
            );
        }
        match self.for_action(spec) {
            Ok(executor) => executor.reconcile(spec, intent, plan).await,
            Err(f) => Reconciled::unverifiable(format!(
                "cannot re-plan it on this appliance: {}",
                f.message
            )),
        }
    }

    /// Every executor's readiness checks.
    pub async fn ready(&self) -> Vec<ReadyCheck> {
        let checks = futures_util::future::join_all(self.by_kind.values().map(|e| e.ready())).await;
        checks.into_iter().flatten().collect()
    }
}

/// A string parameter of a validated intent (the schema guarantees the ones we read).
fn str_param(intent: &Intent, key: &str) -> String {
    intent
        .params
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}
