//! Typed parameters of the `k8s.*` actions, taken from the catalog-validated JSON object.
//! The catalog schema already bounds them; these checks keep the executor safe on its own.

use serde_json::{Map, Value};

use super::error::Op;
use crate::ExecError;

/// A namespaced object named by the parameters.
pub(super) struct Named<'a> {
    pub(super) namespace: &'a str,
    pub(super) name: &'a str,
    what: String,
}

impl<'a> Named<'a> {
    /// The object named by parameter `key` (and `namespace`); `kind` is for messages.
    pub(super) fn from_params(
        params: &'a Map<String, Value>,
        key: &str,
        kind: &str,
    ) -> Result<Self, ExecError> {
        let namespace = namespace(params)?;
        let name = string(params, key)?;
        Ok(Named {
            namespace,
            name,
            what: format!("{kind} {namespace}/{name}"),
        })
    }

    /// A call on this object, for error messages.
    pub(super) fn op<'b>(&'b self, verb: &'b str, resource: &'b str) -> Op<'b> {
        Op::new(verb, resource, &self.what)
    }

    /// `namespace/name`.
    pub(super) fn qualified(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// `namespace`, `default` when absent.
pub(super) fn namespace(params: &Map<String, Value>) -> Result<&str, ExecError> {
    match params.get("namespace") {
        None | Some(Value::Null) => Ok("default"),
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(other) => Err(ExecError::InvalidParams(format!(
            "namespace must be a non-empty string, got {other}"
        ))),
    }
}

/// A required non-empty string.
pub(super) fn string<'a>(params: &'a Map<String, Value>, key: &str) -> Result<&'a str, ExecError> {
    params
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ExecError::InvalidParams(format!("missing string parameter `{key}`")))
}

/// `replicas`: a required non-negative integer.
pub(super) fn replicas(params: &Map<String, Value>) -> Result<i32, ExecError> {
    params
        .get("replicas")
        .and_then(Value::as_i64)
        .and_then(|r| i32::try_from(r).ok())
        .filter(|r| *r >= 0)
        .ok_or_else(|| {
            ExecError::InvalidParams("`replicas` must be a non-negative integer".to_string())
        })
}

/// `port`: 1..=65535, 80 when absent.
pub(super) fn port(params: &Map<String, Value>) -> Result<i32, ExecError> {
    match params.get("port") {
        None | Some(Value::Null) => Ok(80),
        Some(v) => v
            .as_i64()
            .and_then(|p| i32::try_from(p).ok())
            .filter(|p| (1..=65535).contains(p))
            .ok_or_else(|| {
                ExecError::InvalidParams(format!("port must be an integer 1..=65535, got {v}"))
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        serde_json::from_value(v).expect("map")
    }

    #[test]
    fn params() {
        let p = map(json!({"name": "web", "replicas": 3}));
        assert_eq!(namespace(&p).expect("ns"), "default");
        assert_eq!(replicas(&p).expect("replicas"), 3);
        assert_eq!(port(&p).expect("port"), 80);
        let bad = map(json!({"replicas": -1, "port": 0}));
        assert_eq!(
            replicas(&bad).expect_err("negative").code(),
            "invalid_params"
        );
        assert_eq!(
            string(&bad, "name").expect_err("missing").code(),
            "invalid_params"
        );
        assert_eq!(port(&bad).expect_err("port 0").code(), "invalid_params");
    }
}
