//! `k8s.scale_deployment`: a merge patch of `spec.replicas`, planned as a dry run.

use serde_json::{Map, Value, json};

use super::params::{self, Named};
use super::{KubeExecutor, KubeOutcome, KubePlan};
use crate::ExecError;

impl KubeExecutor {
    pub(super) async fn plan_scale(
        &self,
        params: &Map<String, Value>,
    ) -> Result<KubePlan, ExecError> {
        let target = Named::from_params(params, "name", "deployment")?;
        let replicas = params::replicas(params)?;
        self.plan_deployment_patch(&target, &replicas_patch(replicas), |_| ())
            .await
    }

    pub(super) async fn execute_scale(
        &self,
        params: &Map<String, Value>,
        plan: &KubePlan,
    ) -> Result<KubeOutcome, ExecError> {
        let target = Named::from_params(params, "name", "deployment")?;
        let replicas = params::replicas(params)?;
        let (after, changed) = self
            .execute_deployment_patch(&target, plan, replicas_patch(replicas))
            .await?;
        Ok(KubeOutcome {
            changed,
            result: json!({
                "deployment": target.qualified(),
                "replicas": after.spec.as_ref().and_then(|s| s.replicas),
            }),
        })
    }
}

fn replicas_patch(replicas: i32) -> Value {
    json!({ "spec": { "replicas": replicas } })
}
