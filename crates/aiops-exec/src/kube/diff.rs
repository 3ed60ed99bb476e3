//! Readable, deterministic diffs between two versions of a Kubernetes object. Pure: no
//! I/O, no clock.
//!
//! Only what a user changes is compared: `metadata.labels`, `metadata.annotations` and
//! `spec`. Fields the server maintains (`resourceVersion`, `generation`, `uid`,
//! `managedFields`, timestamps, `status`) never appear, so the same change planned twice
//! gives the same diff (the plan hash depends on it).
//!
//! One line per changed leaf, sorted by path: `spec.replicas: 2 -> 5`. Objects are walked
//! key by key (keys joined with `.`, so an annotation key keeps its own dots); arrays and
//! scalars are leaves; strings are shown bare, other values as compact JSON; a missing
//! value is `<none>`.

use std::collections::BTreeMap;

use serde_json::Value;

/// How a missing value is shown.
pub(crate) const NONE: &str = "<none>";

/// The parts of an object that are compared.
const DIFFED: &[&[&str]] = &[
    &["metadata", "labels"],
    &["metadata", "annotations"],
    &["spec"],
];

/// The changed leaves between `before` (`None`: the object does not exist yet) and
/// `after`, one `path: old -> new` line each, sorted by path.
pub(crate) fn object_diff(before: Option<&Value>, after: &Value) -> Vec<String> {
    let mut old = BTreeMap::new();
    let mut new = BTreeMap::new();
    for path in DIFFED {
        let prefix = path.join(".");
        if let Some(v) = before.and_then(|b| lookup(b, path)) {
            flatten(&prefix, v, &mut old);
        }
        if let Some(v) = lookup(after, path) {
            flatten(&prefix, v, &mut new);
        }
    }
    let mut paths: Vec<&String> = old.keys().chain(new.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter_map(|path| {
            let (o, n) = (old.get(path), new.get(path));
            (o != n).then(|| format!("{path}: {} -> {}", show(o), show(n)))
        })
        .collect()
}

/// Where `live` does not hold what `desired` sets, one `path: desired -> live` line each,
/// sorted by path. Only what `desired` names is compared, so fields the server or a
/// controller adds (defaults, extra keys of an array item) are no difference. Objects are
/// walked key by key; arrays and scalars are leaves, as in [`object_diff`]: an array must
/// have as many items as desired, each holding what its desired item sets.
pub(crate) fn subset_diff(prefix: &str, desired: &Value, live: Option<&Value>) -> Vec<String> {
    let mut lines = Vec::new();
    subset_lines(prefix, desired, live, &mut lines);
    lines.sort();
    lines
}

fn subset_lines(path: &str, desired: &Value, live: Option<&Value>, out: &mut Vec<String>) {
    match desired {
        Value::Object(map) => {
            for (key, d) in map {
                subset_lines(
                    &format!("{path}.{key}"),
                    d,
                    live.and_then(|l| l.get(key)),
                    out,
                );
            }
        }
        leaf if !holds(leaf, live) => {
            out.push(format!("{path}: {} -> {}", show(Some(leaf)), show(live)));
        }
        _ => {}
    }
}

/// Whether `live` holds everything `desired` sets (`null` sets nothing).
fn holds(desired: &Value, live: Option<&Value>) -> bool {
    match (desired, live) {
        (Value::Null, _) => true,
        (Value::Object(d), Some(Value::Object(l))) => d.iter().all(|(key, v)| holds(v, l.get(key))),
        (Value::Array(d), Some(Value::Array(l))) => {
            d.len() == l.len() && d.iter().zip(l).all(|(d, l)| holds(d, Some(l)))
        }
        (Value::Object(_) | Value::Array(_), _) => false,
        (scalar, live) => live == Some(scalar),
    }
}

/// The value at `path`, if every step is an object key.
pub(crate) fn lookup<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(key))
}

/// Shows one value the way diffs print it.
pub(crate) fn show(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => NONE.to_string(),
        Some(Value::String(s)) => s.clone(),
        // Keys sorted, whatever order the map keeps them in (serde_json keeps insertion
        // order when some crate of the build enables `preserve_order`).
        Some(other) => aiops_core::canonical_json(other),
    }
}

/// Leaves of `value` under `prefix`. Nulls and empty objects are absent values.
fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (key, v) in map {
                flatten(&format!("{prefix}.{key}"), v, out);
            }
        }
        leaf => {
            out.insert(prefix.to_string(), leaf.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalar_change_is_one_line() {
        let before = json!({"metadata": {"resourceVersion": "1", "generation": 1},
                            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}}});
        let after = json!({"metadata": {"resourceVersion": "2", "generation": 2},
                           "spec": {"replicas": 5, "selector": {"matchLabels": {"app": "web"}}},
                           "status": {"replicas": 5}});
        assert_eq!(
            object_diff(Some(&before), &after),
            vec!["spec.replicas: 2 -> 5"]
        );
    }

    #[test]
    fn no_change_is_empty_and_server_fields_are_ignored() {
        let before = json!({"metadata": {"resourceVersion": "1", "uid": "a",
                                         "managedFields": [{"manager": "x"}]},
                            "spec": {"replicas": 2}});
        let after = json!({"metadata": {"resourceVersion": "9", "uid": "a",
                                        "managedFields": [{"manager": "y"}]},
                           "spec": {"replicas": 2}, "status": {"x": 1}});
        assert!(object_diff(Some(&before), &after).is_empty());
    }

    #[test]
    fn added_and_removed_keys_and_dotted_annotation_keys() {
        let before = json!({"metadata": {"labels": {"old": "1"}},
                            "spec": {"template": {"metadata": {}}}});
        let after = json!({"metadata": {"labels": {"new": "2"}},
                           "spec": {"template": {"metadata": {"annotations":
                               {"kubectl.kubernetes.io/restartedAt": "t"}}}}});
        assert_eq!(
            object_diff(Some(&before), &after),
            vec![
                "metadata.labels.new: <none> -> 2",
                "metadata.labels.old: 1 -> <none>",
                "spec.template.metadata.annotations.kubectl.kubernetes.io/restartedAt: <none> -> t",
            ]
        );
    }

    #[test]
    fn json_values_print_with_sorted_keys() {
        let mut map = serde_json::Map::new();
        map.insert("z".into(), json!(1));
        map.insert("a".into(), json!([{"y": true, "b": "s"}]));
        assert_eq!(
            show(Some(&Value::Object(map))),
            r#"{"a":[{"b":"s","y":true}],"z":1}"#
        );
        assert_eq!(show(None), "<none>");
        assert_eq!(show(Some(&json!("text"))), "text");
    }

    #[test]
    fn subset_ignores_what_the_server_adds_and_names_what_differs() {
        let desired = json!({"hostnames": ["a.example.com"],
                             "rules": [{"backendRefs": [{"name": "web", "port": 80}]}],
                             "issuerRef": {"name": "ca", "kind": null}});
        let live = json!({"hostnames": ["a.example.com"],
                          "rules": [{"backendRefs": [{"name": "web", "port": 80, "weight": 1}],
                                     "matches": [{"path": {"type": "PathPrefix"}}]}],
                          "issuerRef": {"name": "ca", "group": "cert-manager.io"},
                          "extra": true});
        assert!(subset_diff("spec", &desired, Some(&live)).is_empty());

        let changed = json!({"hostnames": ["b.example.com"],
                             "rules": [{"backendRefs": [{"name": "web", "port": 81}]}],
                             "issuerRef": {}});
        assert_eq!(
            subset_diff("spec", &desired, Some(&changed)),
            vec![
                "spec.hostnames: [\"a.example.com\"] -> [\"b.example.com\"]",
                "spec.issuerRef.name: ca -> <none>",
                "spec.rules: [{\"backendRefs\":[{\"name\":\"web\",\"port\":80}]}] -> [{\"backendRefs\":[{\"name\":\"web\",\"port\":81}]}]",
            ]
        );
        // An extra item is a difference: the route would send traffic elsewhere too.
        let longer = json!({"hostnames": ["a.example.com", "b.example.com"]});
        assert_eq!(
            subset_diff(
                "spec",
                &json!({"hostnames": ["a.example.com"]}),
                Some(&longer)
            ),
            vec!["spec.hostnames: [\"a.example.com\"] -> [\"a.example.com\",\"b.example.com\"]"]
        );
        assert_eq!(
            subset_diff("spec", &json!({"replicas": 3}), None),
            vec!["spec.replicas: 3 -> <none>"]
        );
    }

    #[test]
    fn creation_lists_every_field_and_arrays_are_leaves() {
        let after = json!({"metadata": {"name": "r"},
                           "spec": {"hostnames": ["a.example.com"], "port": 80}});
        assert_eq!(
            object_diff(None, &after),
            vec![
                "spec.hostnames: <none> -> [\"a.example.com\"]",
                "spec.port: <none> -> 80"
            ]
        );
    }
}
