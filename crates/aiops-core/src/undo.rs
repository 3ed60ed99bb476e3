//! What the catalog says about a change after it ran: how to verify it against the world
//! ([`VerifySpec`]) and how to undo it ([`InverseRule`]), both as data in `actions.json`.
//!
//! An inverse is a list of rules, the first whose condition holds wins. A rule either names
//! the inverse action and its parameters, or refuses with a reason. Parameter values are
//! JSON; a string that is exactly `{path}` is replaced by the value at that path in
//! `{"params": <the change's parameters>, "before": <the plan's before state>}`, so
//! `"{before.replicas}"` stays a number. The resulting intent still goes through
//! [`crate::Catalog::validate`] like any other.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::ActionId;

/// How the world is read back after a change (the executor's own read path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerifyRead {
    /// The record set from the authoritative DNS server.
    DnsAnswer,
    /// The Deployment's spec and, where a controller reports status, its rollout.
    Deployment,
    /// The applied objects' specs.
    Objects,
    /// The pod is gone, or being deleted.
    PodGone,
    /// The playbook again in check mode: it must report no changes.
    PlaybookCheck,
}

/// An action's verifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifySpec {
    pub read: VerifyRead,
    /// How long the world may take to converge (DNS propagation, a rollout) before the
    /// last reading is final. The daemon's `[verify] max_settle_ms` caps it.
    pub settle_ms: u64,
}

/// A condition of an inverse rule, read from `{"params", "before"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Condition {
    /// The array at `count` has at least `min` items (a missing value counts 0).
    Count { count: String, min: usize },
    /// The value at `path` equals `is`.
    Is { path: String, is: Value },
    /// The value at `path` differs from `is_not`.
    IsNot { path: String, is_not: Value },
}

/// One rule of an action's inverse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InverseRule {
    /// Applies only when this holds; a rule without one always applies.
    #[serde(default, rename = "if", skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
    /// The inverse action…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<ActionId>,
    /// …with these parameters (templates, see the module docs)…
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub params: Map<String, Value>,
    /// …or no inverse, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refuse: Option<String>,
}

/// What undoing one change would be.
#[derive(Debug, Clone, PartialEq)]
pub enum Inverse {
    /// Run this action with these (not yet validated) parameters.
    Action {
        action: ActionId,
        params: Map<String, Value>,
    },
    /// There is none; the reason says why.
    Refused(String),
}

impl InverseRule {
    /// Checked when the catalog loads: exactly one of `action` and `refuse`, params only
    /// with an action.
    pub(crate) fn check(&self) -> Result<(), String> {
        match (&self.action, &self.refuse) {
            (Some(_), None) => Ok(()),
            (None, Some(_)) if self.params.is_empty() => Ok(()),
            (None, Some(_)) => Err("a refusing inverse rule has no params".into()),
            _ => Err("an inverse rule names exactly one of `action` and `refuse`".into()),
        }
    }
}

/// The inverse of a change with `params` whose plan saw `before`: the first rule that
/// applies. No rule applying is a refusal too.
pub fn resolve(rules: &[InverseRule], params: &Map<String, Value>, before: &Value) -> Inverse {
    let scope = json!({"params": params, "before": before});
    for rule in rules {
        if !rule.condition.as_ref().is_none_or(|c| holds(c, &scope)) {
            continue;
        }
        if let Some(reason) = &rule.refuse {
            return Inverse::Refused(reason.clone());
        }
        let Some(action) = rule.action else { continue };
        let mut filled = Map::new();
        for (key, template) in &rule.params {
            match fill(template, &scope) {
                Some(v) => {
                    filled.insert(key.clone(), v);
                }
                None => {
                    return Inverse::Refused(format!(
                        "the plan did not record what `{key}` was before the change"
                    ));
                }
            }
        }
        return Inverse::Action {
            action,
            params: filled,
        };
    }
    Inverse::Refused("no inverse applies to this change".into())
}

fn holds(condition: &Condition, scope: &Value) -> bool {
    match condition {
        Condition::Count { count, min } => {
            let n = lookup(scope, count)
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            n >= *min
        }
        Condition::Is { path, is } => lookup(scope, path) == Some(is),
        Condition::IsNot { path, is_not } => lookup(scope, path) != Some(is_not),
    }
}

/// A template value: `"{path}"` is the value there (`None` when missing or null), anything
/// else is itself.
fn fill(template: &Value, scope: &Value) -> Option<Value> {
    match template
        .as_str()
        .and_then(|s| s.strip_prefix('{')?.strip_suffix('}'))
    {
        Some(path) => lookup(scope, path).filter(|v| !v.is_null()).cloned(),
        None => Some(template.clone()),
    }
}

/// `before.records.0` → `scope["before"]["records"][0]`.
fn lookup<'a>(scope: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(scope, |v, key| match v {
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
        Value::Object(map) => map.get(key),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(v: Value) -> Vec<InverseRule> {
        serde_json::from_value(v).unwrap()
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn the_first_applying_rule_wins_and_templates_keep_their_types() {
        let r = rules(json!([
            {"if": {"count": "before.records", "min": 2}, "refuse": "several"},
            {"if": {"count": "before.records", "min": 1}, "action": "dns.create_a_record",
             "params": {"name": "{params.name}", "ip": "{before.records.0}", "ttl": "{before.ttl}"}},
            {"action": "dns.delete_record", "params": {"name": "{params.name}", "type": "A"}}
        ]));
        let params = obj(json!({"name": "a.local", "ip": "10.0.0.2", "ttl": 60}));
        assert_eq!(
            resolve(&r, &params, &json!({"records": [], "ttl": null})),
            Inverse::Action {
                action: ActionId::DnsDeleteRecord,
                params: obj(json!({"name": "a.local", "type": "A"}))
            }
        );
        assert_eq!(
            resolve(&r, &params, &json!({"records": ["10.0.0.1"], "ttl": 300})),
            Inverse::Action {
                action: ActionId::DnsCreateARecord,
                params: obj(json!({"name": "a.local", "ip": "10.0.0.1", "ttl": 300}))
            }
        );
        assert_eq!(
            resolve(&r, &params, &json!({"records": ["10.0.0.1", "10.0.0.3"]})),
            Inverse::Refused("several".into())
        );
    }

    #[test]
    fn a_missing_before_value_refuses_instead_of_guessing() {
        let r = rules(json!([{"action": "k8s.scale_deployment",
            "params": {"name": "{params.name}", "replicas": "{before.replicas}"}}]));
        let params = obj(json!({"name": "web", "replicas": 5}));
        assert!(matches!(
            resolve(&r, &params, &Value::Null),
            Inverse::Refused(m) if m.contains("replicas")
        ));
        assert_eq!(
            resolve(&r, &params, &json!({"replicas": 1})),
            Inverse::Action {
                action: ActionId::K8sScaleDeployment,
                params: obj(json!({"name": "web", "replicas": 1}))
            }
        );
    }

    #[test]
    fn is_and_is_not_compare_values() {
        let r = rules(json!([
            {"if": {"path": "params.type", "is_not": "A"}, "refuse": "only A"},
            {"if": {"path": "before.existed", "is": true}, "refuse": "existed"},
            {"action": "dns.lookup", "params": {"name": "{params.name}"}}
        ]));
        let a = obj(json!({"name": "x.local", "type": "A"}));
        let txt = obj(json!({"name": "x.local", "type": "TXT"}));
        assert_eq!(
            resolve(&r, &txt, &json!({})),
            Inverse::Refused("only A".into())
        );
        assert_eq!(
            resolve(&r, &a, &json!({"existed": true})),
            Inverse::Refused("existed".into())
        );
        assert!(matches!(
            resolve(&r, &a, &json!({"existed": false})),
            Inverse::Action { .. }
        ));
        assert!(matches!(resolve(&[], &a, &json!({})), Inverse::Refused(_)));
    }

    #[test]
    fn rules_name_an_action_or_a_refusal_not_both() {
        for bad in [
            json!({"action": "dns.lookup", "refuse": "x"}),
            json!({}),
            json!({"refuse": "x", "params": {"a": 1}}),
        ] {
            let rule: InverseRule = serde_json::from_value(bad.clone()).unwrap();
            assert!(rule.check().is_err(), "{bad}");
        }
    }
}
