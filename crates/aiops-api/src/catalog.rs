//! `GET /api/v1/catalog`: the actions this daemon can run at all.

use aiops_core::{ActionId, ActionSpec, Risk};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// The catalog and its revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CatalogView {
    pub revision: String,
    pub actions: Vec<ActionView>,
}

/// One catalog action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ActionView {
    /// E.g. `dns.create_a_record`.
    pub name: ActionId,
    pub description: String,
    pub risk: Risk,
    /// Which executor runs it: `ansible`, `dns`, `kube` or `retrieval`.
    pub executor: String,
    /// The JSON Schema its parameters must satisfy.
    #[schema(value_type = Object)]
    pub schema: Value,
    /// How a change is read back after it ran (`{"read", "settle_ms"}`); absent for reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub verify: Option<Value>,
    /// How a change is undone: rules (`if`, then `action` with `params`, or `refuse`), the
    /// first that applies wins; empty for reads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub inverse: Vec<Value>,
    /// Reached only as another action's rollback; parsers are not offered it.
    #[serde(default)]
    pub internal: bool,
}

impl From<&ActionSpec> for ActionView {
    fn from(a: &ActionSpec) -> Self {
        ActionView {
            name: a.name,
            description: a.description.clone(),
            risk: a.risk,
            executor: a.executor.name().to_string(),
            schema: a.schema.clone(),
            verify: a.verify.as_ref().and_then(|v| serde_json::to_value(v).ok()),
            inverse: a
                .inverse
                .iter()
                .filter_map(|r| serde_json::to_value(r).ok())
                .collect(),
            internal: a.internal,
        }
    }
}
