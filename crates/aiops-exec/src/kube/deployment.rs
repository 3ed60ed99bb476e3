//! The two deployment actions (`scale`, `restart`) are one merge patch each: planned as a
//! server-side dry run diffed against the deployment now, executed held to the planned
//! `resourceVersion`. Their modules say what the patch is ([`Change`]); this one runs it.

use k8s_openapi::api::apps::v1::Deployment;
use serde_json::{Map, Value, json};

use super::params::Named;
use super::plan::{change_plan, locked_to, precondition, preconditions_of, to_json};
use super::{KubeExecutor, KubeOutcome, KubePlan, diff, restart, scale};
use crate::ExecError;

/// What a deployment action changes, read from its parameters.
pub(super) enum Change {
    /// `spec.replicas`.
    Scale { replicas: i32 },
    /// The pod template's restart annotation, set to `at`.
    Restart { at: String },
}

/// Reads a [`Change`] from the parameters (after the deployment's name, so a missing name
/// is the first error reported).
pub(super) type ChangeOf = fn(&Map<String, Value>) -> Result<Change, ExecError>;

impl Change {
    fn patch(&self) -> Value {
        match self {
            Change::Scale { replicas } => scale::replicas_patch(*replicas),
            Change::Restart { at } => restart::restart_patch(at),
        }
    }

    /// Replaces, in the dry run's object, what only execution knows (the restart time), so
    /// the diff and the plan hash do not depend on it.
    fn stabilise(&self, after: &mut Value) {
        if let Change::Restart { .. } = self {
            restart::keep_clock_out(after);
        }
    }

    /// What the change replaces, for its inverse: the replicas a scale overwrites (`null`
    /// when unset). A restart replaces nothing an action could put back.
    fn before(&self, current: &Deployment) -> Value {
        match self {
            Change::Scale { .. } => {
                json!({ "replicas": current.spec.as_ref().and_then(|s| s.replicas) })
            }
            Change::Restart { .. } => Value::Null,
        }
    }

    fn result(&self, target: &Named<'_>, after: &Deployment) -> Value {
        match self {
            Change::Scale { .. } => json!({
                "deployment": target.qualified(),
                "replicas": after.spec.as_ref().and_then(|s| s.replicas),
            }),
            Change::Restart { at } => {
                json!({ "deployment": target.qualified(), "restartedAt": at })
            }
        }
    }
}

impl KubeExecutor {
    pub(super) async fn plan_deployment(
        &self,
        params: &Map<String, Value>,
        change_of: ChangeOf,
    ) -> Result<KubePlan, ExecError> {
        let target = Named::from_params(params, "name", "deployment")?;
        let change = change_of(params)?;
        let (api, current) = self.get::<Deployment>(&target).await?;
        let dry = self
            .merge_patch(&api, &target, "deployments", &change.patch(), true)
            .await?;
        let mut after = to_json(&dry)?;
        change.stabilise(&mut after);
        let lines = diff::object_diff(Some(&to_json(&current)?), &after);
        Ok(change_plan(
            lines,
            preconditions_of(&current.metadata),
            change.before(&current),
        ))
    }

    pub(super) async fn execute_deployment(
        &self,
        params: &Map<String, Value>,
        change_of: ChangeOf,
        plan: &KubePlan,
    ) -> Result<KubeOutcome, ExecError> {
        let target = Named::from_params(params, "name", "deployment")?;
        let change = change_of(params)?;
        let rv = precondition(plan, "resourceVersion")?;
        let api = self.api::<Deployment>(target.namespace);
        let patch = locked_to(change.patch(), rv);
        let after = self
            .merge_patch(&api, &target, "deployments", &patch, false)
            .await?;
        Ok(KubeOutcome {
            changed: after.metadata.resource_version.as_deref() != Some(rv),
            result: change.result(&target, &after),
        })
    }
}
