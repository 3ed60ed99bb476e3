use serde_json::Value;
use sha2::{Digest, Sha256};

/// Serialises JSON with object keys sorted at every depth and no insignificant white space,
/// so that the same value always hashes the same whatever map order produced it.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*key).clone()).to_string());
                out.push(':');
                write_canonical(&map[*key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

pub fn sha256_hex(bytes: impl AsRef<[u8]>) -> String {
    hex::encode(Sha256::digest(bytes.as_ref()))
}

/// The hash an approval is bound to: the exact action, parameters, target and dry-run diff.
/// Anything that would change what runs changes this hash.
pub fn plan_hash(action: &str, params: &Value, target: &Value, diff: &str) -> String {
    let doc = serde_json::json!({
        "action": action,
        "params": params,
        "target": target,
        "diff": diff,
    });
    sha256_hex(canonical_json(&doc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let a = json!({"b": 1, "a": {"y": [1, {"d": 2, "c": 3}], "x": "s"}});
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"x":"s","y":[1,{"c":3,"d":2}]},"b":1}"#
        );
    }

    #[test]
    fn plan_hash_changes_with_every_component() {
        let p = json!({"name": "a.local", "ip": "10.0.0.1"});
        let t = json!({"zone": "local"});
        let base = plan_hash("dns.create_a_record", &p, &t, "+ a.local A 10.0.0.1");
        assert_eq!(base.len(), 64);
        assert_ne!(
            base,
            plan_hash("dns.delete_record", &p, &t, "+ a.local A 10.0.0.1")
        );
        assert_ne!(
            base,
            plan_hash(
                "dns.create_a_record",
                &json!({"name": "a.local", "ip": "10.0.0.2"}),
                &t,
                "+ a.local A 10.0.0.1"
            )
        );
        assert_ne!(
            base,
            plan_hash(
                "dns.create_a_record",
                &p,
                &json!({"zone": "corp"}),
                "+ a.local A 10.0.0.1"
            )
        );
        assert_ne!(base, plan_hash("dns.create_a_record", &p, &t, ""));
        // key order does not matter
        let p2 = json!({"ip": "10.0.0.1", "name": "a.local"});
        assert_eq!(
            base,
            plan_hash("dns.create_a_record", &p2, &t, "+ a.local A 10.0.0.1")
        );
    }
}
