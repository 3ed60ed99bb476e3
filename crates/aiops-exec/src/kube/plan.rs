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
}

/// The result of executing one action.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KubeOutcome {
    /// Whether the cluster changed.
    pub changed: bool,
    /// Structured result, e.g. `{"deployment":"shop/web","replicas":5}`.
    pub result: Value,
}

/// The plan of a change: the diff lines (none: [`NO_CHANGES`]) and its preconditions.
pub(super) fn change_plan(lines: Vec<String>, preconditions: Value) -> KubePlan {
    KubePlan {
        changes: !lines.is_empty(),
        diff: if lines.is_empty() {
            NO_CHANGES.to_string()
        } else {
            lines.join("\n")
        },
        preconditions,
    }
}

/// The plan of a read-only action: nothing to hold the server to.
pub(super) fn read_only_plan() -> KubePlan {
    KubePlan {
        diff: READ_ONLY.to_string(),
        changes: false,
        preconditions: json!({}),
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
    let entry = plan
        .preconditions
        .get(key)
        .filter(|e| e.get("name").and_then(Value::as_str) == Some(name))
        .ok_or_else(|| {
            ExecError::InvalidParams(format!(
                "the plan has no precondition for {key} {name}: plan the action again"
            ))
        })?;
    Ok(entry.get("resourceVersion").and_then(Value::as_str))
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
        let plan = change_plan(vec![], json!({}));
        assert!(!plan.changes);
        assert_eq!(plan.diff, NO_CHANGES);
    }
}
