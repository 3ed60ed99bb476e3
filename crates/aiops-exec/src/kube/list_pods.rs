//! `k8s.list_pods`: read-only. Planning lists one pod (the server answers and RBAC allows
//! it); execution lists them all, page by page, as structured summaries the way
//! `kubectl get pods -o wide` shows them (the summaries are pure: the clock is an argument).

use ::kube::api::{ListParams, ObjectList};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::error::Op;
use super::plan::read_only_plan;
use super::{KubeExecutor, KubeOutcome, KubePlan, params};
use crate::ExecError;

/// Pods per list call.
const PAGE: u32 = 500;

impl KubeExecutor {
    pub(super) async fn plan_list_pods(
        &self,
        params: &Map<String, Value>,
    ) -> Result<KubePlan, ExecError> {
        let namespace = params::namespace(params)?;
        self.list_pods(namespace, &ListParams::default().limit(1))
            .await?;
        Ok(read_only_plan())
    }

    pub(super) async fn execute_list_pods(
        &self,
        params: &Map<String, Value>,
    ) -> Result<KubeOutcome, ExecError> {
        let namespace = params::namespace(params)?;
        let mut pods = Vec::new();
        let mut list_params = ListParams::default().limit(PAGE);
        loop {
            let page = self.list_pods(namespace, &list_params).await?;
            let next = page.metadata.continue_.clone().filter(|c| !c.is_empty());
            pods.extend(page.items);
            match next {
                Some(token) => list_params = list_params.continue_token(&token),
                None => break,
            }
        }
        pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        let now = Timestamp::now();
        let entries: Vec<Value> = pods.iter().map(|p| pod_summary(p, now)).collect();
        Ok(KubeOutcome {
            changed: false,
            result: json!({ "namespace": namespace, "count": entries.len(), "pods": entries }),
        })
    }

    /// One page of the pods in `namespace`. Planning lists one pod: the server answers and
    /// RBAC allows the call.
    async fn list_pods(
        &self,
        namespace: &str,
        list_params: &ListParams,
    ) -> Result<ObjectList<Pod>, ExecError> {
        let what = format!("pods in namespace {namespace}");
        let api = self.api::<Pod>(namespace);
        self.call(Op::new("list", "pods", &what), api.list(list_params))
            .await
    }
}

/// `{name, phase, ready: "1/2", restarts, age: "5m", age_seconds, node}` of one pod, the
/// way `kubectl get pods -o wide` shows it. `node` is null while the pod is unscheduled.
fn pod_summary(pod: &Pod, now: Timestamp) -> Value {
    let status = pod.status.as_ref();
    let statuses = status
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default();
    let total = pod
        .spec
        .as_ref()
        .map(|s| s.containers.len())
        .unwrap_or_default()
        .max(statuses.len());
    let ready = statuses.iter().filter(|c| c.ready).count();
    let restarts: i64 = statuses.iter().map(|c| i64::from(c.restart_count)).sum();
    let age_seconds = pod
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| (now.as_second() - t.0.as_second()).max(0));
    json!({
        "name": pod.metadata.name.clone().unwrap_or_default(),
        "phase": status.and_then(|s| s.phase.clone()).unwrap_or_else(|| "Unknown".to_string()),
        "ready": format!("{ready}/{total}"),
        "restarts": restarts,
        "age": age_seconds.map(humanise),
        "age_seconds": age_seconds,
        "node": pod.spec.as_ref().and_then(|s| s.node_name.clone()),
    })
}

/// kubectl's short age: `42s`, `5m`, `3h`, `2d`.
fn humanise(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 120 * 60 => format!("{}m", s / 60),
        s if s < 48 * 3600 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_a_pending_and_a_running_pod() {
        let now: Timestamp = "2025-01-01T01:00:00Z".parse().expect("ts");
        let pending: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web-1", "creationTimestamp": "2025-01-01T00:59:30Z"},
            "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]},
            "status": {"phase": "Pending"}
        }))
        .expect("pod");
        assert_eq!(
            pod_summary(&pending, now),
            json!({"name": "web-1", "phase": "Pending", "ready": "0/2", "restarts": 0,
                   "age": "30s", "age_seconds": 30, "node": null})
        );
        let running: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web-2", "creationTimestamp": "2024-12-31T22:00:00Z"},
            "spec": {"nodeName": "n1", "containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 2, "image": "x", "imageID": ""},
                {"name": "b", "ready": false, "restartCount": 1, "image": "y", "imageID": ""}]}
        }))
        .expect("pod");
        assert_eq!(
            pod_summary(&running, now),
            json!({"name": "web-2", "phase": "Running", "ready": "1/2", "restarts": 3,
                   "age": "3h", "age_seconds": 10800, "node": "n1"})
        );
    }

    #[test]
    fn ages() {
        assert_eq!(humanise(5), "5s");
        assert_eq!(humanise(600), "10m");
        assert_eq!(humanise(7200), "2h");
        assert_eq!(humanise(3 * 86400), "3d");
    }
}
