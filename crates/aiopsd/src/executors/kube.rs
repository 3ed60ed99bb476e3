//! The `k8s.*` actions through the Kubernetes executor of `aiops-exec`.

use aiops_core::{ActionId, ActionSpec, Intent, Plan, Reconciliation, Target};
use aiops_exec::{KubeExecutor, KubeObservation, KubePlan};
use serde_json::{Value, json};

use super::{Executor, ExecutorKind, PlanOutput, ReadyCheck, Reconciled};
use crate::config::Config;
use crate::credentials::Lease;
use crate::failure::Failure;
use crate::verify::Observation;

pub struct KubeActions {
    kube: KubeExecutor,
}

impl KubeActions {
    pub async fn connect(config: &Config) -> Result<Self, Failure> {
        let kube = KubeExecutor::connect(config.kube.clone()).await?;
        Ok(KubeActions { kube })
    }
}

#[async_trait::async_trait]
impl Executor for KubeActions {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Kube
    }

    async fn plan(
        &self,
        _spec: &ActionSpec,
        intent: &Intent,
        _target: &Target,
    ) -> Result<PlanOutput, Failure> {
        let plan = self
            .kube
            .plan(intent.action.as_str(), &intent.params)
            .await?;
        Ok(PlanOutput {
            diff: plan.diff,
            changes: plan.changes,
            state: Some(plan.preconditions),
            before: Some(plan.before).filter(|b| !b.is_null()),
        })
    }

    async fn execute(
        &self,
        _spec: &ActionSpec,
        intent: &Intent,
        plan: &Plan,
        _lease: &Lease,
    ) -> Result<Value, Failure> {
        let kube_plan = kube_plan(plan);
        let out = self
            .kube
            .execute(intent.action.as_str(), &intent.params, &kube_plan)
            .await?;
        Ok(json!({
            "executor": "kube",
            "changed": out.changed,
            "result": out.result,
        }))
    }

    async fn ready(&self) -> Vec<ReadyCheck> {
        vec![ReadyCheck::of_version(
            "kubernetes",
            self.kube.version().await,
        )]
    }

    /// Re-reads the objects through the API server (GETs only).
    async fn observe(
        &self,
        _spec: &ActionSpec,
        intent: &Intent,
        plan: &Plan,
        execution: &Value,
    ) -> Result<Observation, Failure> {
        let executed = execution.get("result").unwrap_or(&Value::Null);
        let observed = self
            .kube
            .observe(
                intent.action.as_str(),
                &intent.params,
                &kube_plan(plan),
                executed,
            )
            .await?;
        Ok(match observed {
            KubeObservation::Matches { evidence } => Observation::Matches { evidence },
            KubeObservation::Differs { diff, evidence } => Observation::Differs { diff, evidence },
            KubeObservation::Settling { why, evidence } => Observation::Settling { why, evidence },
        })
    }

    /// A dry-run delete of a pod being deleted still succeeds with the same diff, so a
    /// delete is checked on the pod itself; the other actions by re-planning.
    async fn reconcile(&self, spec: &ActionSpec, intent: &Intent, plan: &Plan) -> Reconciled {
        if intent.action != ActionId::K8sDeletePod {
            return Reconciled::by_replan(plan, self.plan(spec, intent, &plan.target).await);
        }
        match self
            .kube
            .pod_deleted(&intent.params, &kube_plan(plan))
            .await
        {
            Ok(true) => Reconciled::new(
                Reconciliation::VerifiedAfterRestart,
                "the pod the plan names is gone or being deleted",
            ),
            Ok(false) => Reconciled::new(
                Reconciliation::NothingApplied,
                "the pod the plan names is still there and not being deleted",
            ),
            Err(e) => {
                Reconciled::unverifiable(format!("cannot read the pod after the restart: {e}"))
            }
        }
    }
}

/// The executor's plan inside a daemon plan.
fn kube_plan(plan: &Plan) -> KubePlan {
    KubePlan {
        diff: plan.diff.clone(),
        changes: plan.changes,
        preconditions: plan.executor_state.clone().unwrap_or(Value::Null),
        before: plan.before.clone().unwrap_or(Value::Null),
    }
}
