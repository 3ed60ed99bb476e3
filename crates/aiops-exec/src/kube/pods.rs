//! Structured pod summaries for `k8s.list_pods` (pure: the clock is an argument).

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

/// `{name, phase, ready: "1/2", restarts, age: "5m", age_seconds, node}` of one pod, the
/// way `kubectl get pods -o wide` shows it. `node` is null while the pod is unscheduled.
pub(crate) fn pod_summary(pod: &Pod, now: Timestamp) -> Value {
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
