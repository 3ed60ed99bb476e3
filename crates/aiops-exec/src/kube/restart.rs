//! `k8s.restart_deployment`: what `kubectl rollout restart` does, a merge patch of the pod
//! template's `restartedAt` annotation. The plan's diff shows [`EXECUTION_TIME`] instead of
//! a time, so it (and the plan hash) does not depend on the clock.

use k8s_openapi::jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::deployment::Change;
use crate::ExecError;

/// The annotation `kubectl rollout restart` sets on the pod template.
pub const RESTARTED_AT_ANNOTATION: &str = "kubectl.kubernetes.io/restartedAt";
/// Stands for the restart time in a plan's diff, so the diff (and the plan hash) does not
/// depend on the clock.
pub const EXECUTION_TIME: &str = "<time of execution>";

/// The change of `k8s.restart_deployment`: the annotation set to now.
pub(super) fn change(_params: &Map<String, Value>) -> Result<Change, ExecError> {
    Ok(Change::Restart { at: restart_time() })
}

/// The real restart time is only known at execution: the dry run's object shows
/// [`EXECUTION_TIME`] instead, keeping the clock out of the diff.
pub(super) fn keep_clock_out(after: &mut Value) {
    let pointer = format!(
        "/spec/template/metadata/annotations/{}",
        RESTARTED_AT_ANNOTATION
            .replace('~', "~0")
            .replace('/', "~1")
    );
    if let Some(value) = after.pointer_mut(&pointer) {
        *value = Value::String(EXECUTION_TIME.to_string());
    }
}

/// The restart annotation's value: RFC 3339 in UTC, whole seconds (as kubectl writes it).
fn restart_time() -> String {
    let now = Timestamp::now();
    Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string()
}

pub(super) fn restart_patch(at: &str) -> Value {
    json!({
        "spec": { "template": { "metadata": { "annotations": { RESTARTED_AT_ANNOTATION: at } } } }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::plan::locked_to;

    #[test]
    fn restart_patch_shape() {
        let p = locked_to(restart_patch("2025-01-01T00:00:00Z"), "42");
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
