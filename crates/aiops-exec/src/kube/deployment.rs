//! The merge patch both deployment actions (`scale`, `restart`) are: planned as a server-side
//! dry run diffed against the deployment now, executed held to the planned `resourceVersion`.

use k8s_openapi::api::apps::v1::Deployment;
use serde_json::Value;

use super::params::Named;
use super::plan::{change_plan, locked_to, precondition, preconditions_of, to_json};
use super::{KubeExecutor, KubePlan, diff};
use crate::ExecError;

impl KubeExecutor {
    /// Plans a merge `patch` of the deployment `target`. `stable` edits the dry run's object
    /// before the diff, for values only execution knows (the restart time), so that the diff
    /// and the plan hash do not depend on them.
    pub(super) async fn plan_deployment_patch(
        &self,
        target: &Named<'_>,
        patch: &Value,
        stable: impl FnOnce(&mut Value),
    ) -> Result<KubePlan, ExecError> {
        let (api, current) = self.get::<Deployment>(target).await?;
        let dry = self
            .merge_patch(&api, target, "deployments", patch, true)
            .await?;
        let mut after = to_json(&dry)?;
        stable(&mut after);
        let lines = diff::object_diff(Some(&to_json(&current)?), &after);
        Ok(change_plan(lines, preconditions_of(&current.metadata)))
    }

    /// Applies `patch` to the deployment `target`, held to the plan's `resourceVersion`:
    /// the deployment after, and whether it changed.
    pub(super) async fn execute_deployment_patch(
        &self,
        target: &Named<'_>,
        plan: &KubePlan,
        patch: Value,
    ) -> Result<(Deployment, bool), ExecError> {
        let rv = precondition(plan, "resourceVersion")?;
        let api = self.api::<Deployment>(target.namespace);
        let after = self
            .merge_patch(&api, target, "deployments", &locked_to(patch, rv), false)
            .await?;
        let changed = after.metadata.resource_version.as_deref() != Some(rv);
        Ok((after, changed))
    }
}
