//! `k8s.scale_deployment`: a merge patch of `spec.replicas`, planned as a dry run.

use k8s_openapi::api::apps::v1::Deployment;
use serde_json::{Map, Value, json};

use super::params::{self, Named};
use super::plan::{change_plan, precondition, preconditions_of, to_json};
use super::{KubeExecutor, KubeOutcome, KubePlan, diff};
use crate::ExecError;

impl KubeExecutor {
    pub(super) async fn plan_scale(
        &self,
        params: &Map<String, Value>,
    ) -> Result<KubePlan, ExecError> {
        let target = Named::from_params(params, "name", "deployment")?;
        let replicas = params::replicas(params)?;
        let api = self.api::<Deployment>(target.namespace);
        let current = self
            .call(target.op("get", "deployments"), api.get(target.name))
            .await?;
        let patch = json!({ "spec": { "replicas": replicas } });
        let dry = self
            .merge_patch(&api, &target, "deployments", &patch, true)
            .await?;
        let lines = diff::object_diff(Some(&to_json(&current)?), &to_json(&dry)?);
        Ok(change_plan(lines, preconditions_of(&current.metadata)))
    }

    pub(super) async fn execute_scale(
        &self,
        params: &Map<String, Value>,
        plan: &KubePlan,
    ) -> Result<KubeOutcome, ExecError> {
        let target = Named::from_params(params, "name", "deployment")?;
        let replicas = params::replicas(params)?;
        let rv = precondition(plan, "resourceVersion")?;
        let api = self.api::<Deployment>(target.namespace);
        let patch = json!({
            "metadata": { "resourceVersion": rv },
            "spec": { "replicas": replicas },
        });
        let after = self
            .merge_patch(&api, &target, "deployments", &patch, false)
            .await?;
        Ok(KubeOutcome {
            changed: after.metadata.resource_version.as_deref() != Some(rv),
            result: json!({
                "deployment": target.qualified(),
                "replicas": after.spec.as_ref().and_then(|s| s.replicas),
            }),
        })
    }
}
