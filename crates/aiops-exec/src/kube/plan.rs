//! What planning hands to execution ([`KubePlan`]) and what execution reports
//! ([`KubeOutcome`]), with the helpers that build preconditions and read them back.

use ::kube::api::Preconditions;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use serde_json::{Value, json};

use crate::ExecError;

/// The diff of a plan that changes nothing.
pub const NO_CHANGES: &str = "no changes";
/// The diff of a read-only action.
pub const READ_ONLY: &str = "read-only";

/// The result of planning one action.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KubePlan {
    /// Readable and deterministic: one `path: old -> new` line per field that would
    /// change (no resourceVersion, no timestamps); [`NO_CHANGES`] or [`READ_ONLY`].
    pub diff: String,
    /// Whether executing would change anything.
    pub changes: bool,
    /// What execution holds the server to (`resourceVersion`, `uid`, …); not part of the
    /// diff.
    pub preconditions: Value,
    /// The part of the world the change replaces, read while planning: what an inverse
    /// needs to put it back (`{"replicas": 2}` before a scale). `Null` when there is
    /// nothing to record. Defaulted so plans stored before it existed still read.
    #[serde(default)]
    pub before: Value,
}

/// The result of executing one action.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KubeOutcome {
    /// Whether the cluster changed.
    pub changed: bool,
    /// Structured result, e.g. `{"deployment":"shop/web","replicas":5}`.
    pub result: Value,
}

/// The plan of a change: the diff lines (none: [`NO_CHANGES`]), its preconditions and
/// what it replaces.
pub(super) fn change_plan(lines: Vec<String>, preconditions: Value, before: Value) -> KubePlan {
    KubePlan {
        changes: !lines.is_empty(),
        diff: if lines.is_empty() {
            NO_CHANGES.to_string()
        } else {
            lines.join("\n")
        },
        preconditions,
        before,
    }
}

/// The plan of a read-only action: nothing to hold the server to, nothing replaced.
pub(super) fn read_only_plan() -> KubePlan {
    KubePlan {
        diff: READ_ONLY.to_string(),
        changes: false,
        preconditions: json!({}),
        before: Value::Null,
    }
}

/// `{"resourceVersion": …, "uid": …}` of an object.
pub(super) fn preconditions_of(meta: &ObjectMeta) -> Value {
    json!({ "resourceVersion": meta.resource_version, "uid": meta.uid })
}

/// `{"name": …, "resourceVersion": … or null, "uid": … or null}` of an object that may
/// not exist yet.
pub(super) fn object_preconditions(name: &str, meta: Option<&ObjectMeta>) -> Value {
    json!({
        "name": name,
        "resourceVersion": meta.and_then(|m| m.resource_version.clone()),
        "uid": meta.and_then(|m| m.uid.clone()),
    })
}

/// A merge `patch` held to `resource_version` (the API server's optimistic lock): it
/// fails as a conflict if the object changed since.
pub(super) fn locked_to(mut patch: Value, resource_version: &str) -> Value {
    patch["metadata"]["resourceVersion"] = json!(resource_version);
    patch
}

/// The precondition `key` of a plan made by [`preconditions_of`].
pub(super) fn precondition<'a>(plan: &'a KubePlan, key: &str) -> Result<&'a str, ExecError> {
    plan.preconditions
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ExecError::InvalidParams(format!(
                "the plan has no `{key}` precondition: plan the action again"
            ))
        })
}

/// The planned resourceVersion of one applied object (`None`: it did not exist), from an
/// entry made by [`object_preconditions`] under `key`.
pub(super) fn planned_rv<'a>(
    plan: &'a KubePlan,
    key: &str,
    name: &str,
) -> Result<Option<&'a str>, ExecError> {
    Ok(planned_entry(plan, key, name)?
        .get("resourceVersion")
        .and_then(Value::as_str))
}

/// The entry made by [`object_preconditions`] under `key` for object `name`. A plan for
/// another object (parameters changed since planning) is refused.
pub(super) fn planned_entry<'a>(
    plan: &'a KubePlan,
    key: &str,
    name: &str,
) -> Result<&'a Value, ExecError> {
    plan.preconditions
        .get(key)
        .filter(|e| e.get("name").and_then(Value::as_str) == Some(name))
        .ok_or_else(|| {
            ExecError::InvalidParams(format!(
                "the plan has no precondition for {key} {name}: plan the action again"
            ))
        })
}

/// A delete's preconditions from [`preconditions_of`]'s value.
pub(super) fn delete_preconditions(preconditions: &Value) -> Preconditions {
    let field = |key: &str| {
        preconditions
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Preconditions {
        resource_version: field("resourceVersion"),
        uid: field("uid"),
    }
}

/// An object as JSON, for diffs.
pub(super) fn to_json<T: Serialize>(value: &T) -> Result<Value, ExecError> {
    serde_json::to_value(value).map_err(|e| ExecError::Failed {
        message: format!("cannot represent a Kubernetes object as JSON: {e}"),
        outcome: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_without_changes_say_so() {
        let plan = change_plan(vec![], json!({}), Value::Null);
        assert!(!plan.changes);
        assert_eq!(plan.diff, NO_CHANGES);
        assert_eq!(plan.before, Value::Null);
    }

    #[test]
    fn plans_stored_without_before_still_read() {
        let plan: KubePlan = serde_json::from_value(json!({
            "diff": "spec.replicas: 2 -> 5", "changes": true,
            "preconditions": {"resourceVersion": "1", "uid": "u"}
        }))
        .expect("a plan without `before`");
        assert_eq!(plan.before, Value::Null);
    }
}
