//! `k8s.delete_pod`: a delete held to the pod's `uid` and `resourceVersion`, planned as a
//! dry-run delete. A pod recreated under the same name since planning is a conflict.

use ::kube::api::DeleteParams;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Map, Value, json};

use super::params::Named;
use super::plan::{delete_preconditions, precondition, preconditions_of};
use super::{KubeExecutor, KubeOutcome, KubePlan, diff};
use crate::ExecError;

impl KubeExecutor {
    pub(super) async fn plan_delete_pod(
        &self,
        params: &Map<String, Value>,
    ) -> Result<KubePlan, ExecError> {
        let target = Named::from_params(params, "name", "pod")?;
        let (api, current) = self.get::<Pod>(&target).await?;
        let preconditions = preconditions_of(&current.metadata);
        let dry = DeleteParams {
            dry_run: true,
            preconditions: Some(delete_preconditions(&preconditions)),
            ..DeleteParams::default()
        };
        self.call(target.op("delete", "pods"), api.delete(target.name, &dry))
            .await?;
        let uid = current.metadata.uid.as_deref().unwrap_or(diff::NONE);
        Ok(KubePlan {
            diff: format!("pod {}: present (uid {uid}) -> deleted", target.qualified()),
            changes: true,
            preconditions,
            // A deleted pod is not put back by an action: its controller recreates it.
            before: Value::Null,
        })
    }

    pub(super) async fn execute_delete_pod(
        &self,
        params: &Map<String, Value>,
        plan: &KubePlan,
    ) -> Result<KubeOutcome, ExecError> {
        let target = Named::from_params(params, "name", "pod")?;
        precondition(plan, "uid")?;
        precondition(plan, "resourceVersion")?;
        let api = self.api::<Pod>(target.namespace);
        let delete = DeleteParams {
            preconditions: Some(delete_preconditions(&plan.preconditions)),
            ..DeleteParams::default()
        };
        self.call(
            target.op("delete", "pods"),
            api.delete(target.name, &delete),
        )
        .await?;
        Ok(KubeOutcome {
            changed: true,
            result: json!({
                "pod": target.qualified(),
                "deleted": true,
                "uid": plan.preconditions.get("uid"),
            }),
        })
    }

    /// For `k8s.delete_pod`: whether the pod `plan` named is deleted or being deleted
    /// (gone, replaced under its name by another uid, or marked for deletion). Re-planning
    /// cannot tell a pod being deleted from one left alone; this can. For reconciling a
    /// delete the daemon was stopped in the middle of.
    pub async fn pod_deleted(
        &self,
        params: &Map<String, Value>,
        plan: &KubePlan,
    ) -> Result<bool, ExecError> {
        Ok(self.read_planned_pod(params, plan).await?.0)
    }

    /// [`Self::pod_deleted`]'s answer, with the pod now under the planned name (if any) so
    /// `observe` can show what it found.
    pub(super) async fn read_planned_pod(
        &self,
        params: &Map<String, Value>,
        plan: &KubePlan,
    ) -> Result<(bool, Option<Pod>), ExecError> {
        let target = Named::from_params(params, "name", "pod")?;
        let planned_uid = precondition(plan, "uid")?;
        match self.get::<Pod>(&target).await {
            Err(ExecError::NotFound { .. }) => Ok((true, None)),
            Err(e) => Err(e),
            Ok((_, pod)) => {
                let deleted = pod.metadata.uid.as_deref() != Some(planned_uid)
                    || pod.metadata.deletion_timestamp.is_some();
                Ok((deleted, Some(pod)))
            }
        }
    }
}
