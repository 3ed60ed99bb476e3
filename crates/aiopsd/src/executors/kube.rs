//! The `k8s.*` actions through the Kubernetes executor of `aiops-exec`.

use aiops_core::{ActionSpec, Intent, Plan, Target};
use aiops_exec::{KubeExecutor, KubePlan};
use serde_json::{Value, json};

use super::{Executor, ExecutorKind, PlanOutput, ReadyCheck};
use crate::config::Config;
use crate::credentials::Lease;
use crate::failure::Failure;

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
        })
    }

    async fn execute(
        &self,
        _spec: &ActionSpec,
        intent: &Intent,
        plan: &Plan,
        _lease: &Lease,
    ) -> Result<Value, Failure> {
        let kube_plan = KubePlan {
            diff: plan.diff.clone(),
            changes: plan.changes,
            preconditions: plan.executor_state.clone().unwrap_or(Value::Null),
        };
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
}
