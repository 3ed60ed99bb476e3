//! `k8s.restart_deployment`: what `kubectl rollout restart` does, a merge patch of the pod
//! template's `restartedAt` annotation. The plan's diff shows [`EXECUTION_TIME`] instead of
//! a time, so it (and the plan hash) does not depend on the clock.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::params::Named;
use super::plan::{change_plan, precondition, preconditions_of, to_json};
use super::{KubeExecutor, KubeOutcome, KubePlan, diff};
use crate::ExecError;

/// The annotation `kubectl rollout restart` sets on the pod template.
pub const RESTARTED_AT_ANNOTATION: &str = "kubectl.kubernetes.io/restartedAt";
/// Stands for the restart time in a plan's diff, so the diff (and the plan hash) does not
/// depend on the clock.
pub const EXECUTION_TIME: &str = "<time of execution>";

impl KubeExecutor {
    pub(super) async fn plan_restart(
        &self,
        params: &Map<String, Value>,
    ) -> Result<KubePlan, ExecError> {
        let target = Named::from_params(params, "name", "deployment")?;
        let api = self.api::<Deployment>(target.namespace);
        let current = self
            .call(target.op("get", "deployments"), api.get(target.name))
            .await?;
        let patch = restart_patch(&restart_time(), None);
        let dry = self
            .merge_patch(&api, &target, "deployments", &patch, true)
            .await?;
        let mut after = to_json(&dry)?;
        // The real restart time is only known at execution: keep the clock out of the diff.
        let pointer = format!(
            "/spec/template/metadata/annotations/{}",
            RESTARTED_AT_ANNOTATION
                .replace('~', "~0")
                .replace('/', "~1")
        );
        if let Some(value) = after.pointer_mut(&pointer) {
            *value = Value::String(EXECUTION_TIME.to_string());
        }
        let lines = diff::object_diff(Some(&to_json(&current)?), &after);
        Ok(change_plan(lines, preconditions_of(&current.metadata)))
    }

    pub(super) async fn execute_restart(
        &self,
        params: &Map<String, Value>,
        plan: &KubePlan,
    ) -> Result<KubeOutcome, ExecError> {
        let target = Named::from_params(params, "name", "deployment")?;
        let rv = precondition(plan, "resourceVersion")?;
        let api = self.api::<Deployment>(target.namespace);
        let at = restart_time();
        let patch = restart_patch(&at, Some(rv));
        let after = self
            .merge_patch(&api, &target, "deployments", &patch, false)
            .await?;
        Ok(KubeOutcome {
            changed: after.metadata.resource_version.as_deref() != Some(rv),
            result: json!({ "deployment": target.qualified(), "restartedAt": at }),
        })
    }
}

/// The restart annotation's value: RFC 3339 in UTC, whole seconds (as kubectl writes it).
fn restart_time() -> String {
    let now = Timestamp::now();
    Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string()
}

fn restart_patch(at: &str, resource_version: Option<&str>) -> Value {
    let mut patch = json!({
        "spec": { "template": { "metadata": { "annotations": { RESTARTED_AT_ANNOTATION: at } } } }
    });
    if let Some(rv) = resource_version {
        patch["metadata"] = json!({ "resourceVersion": rv });
    }
    patch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_patch_shape() {
        let p = restart_patch("2025-01-01T00:00:00Z", Some("42"));
        assert_eq!(
            p,
            json!({"metadata": {"resourceVersion": "42"},
                   "spec": {"template": {"metadata": {"annotations":
                       {"kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"}}}}})
        );
        let t = restart_time();
        assert!(t.ends_with('Z') && !t.contains('.'), "{t}");
    }
}
