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
}

impl From<&ActionSpec> for ActionView {
    fn from(a: &ActionSpec) -> Self {
        ActionView {
            name: a.name,
            description: a.description.clone(),
            risk: a.risk,
            executor: a.executor.name().to_string(),
            schema: a.schema.clone(),
        }
    }
}
