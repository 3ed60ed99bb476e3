use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A catalog action with validated, normalised parameters (defaults filled in).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Intent {
    pub action: crate::ActionId,
    pub params: Map<String, Value>,
    /// Which parser produced it.
    pub parser: crate::ParserKind,
    pub confidence: f64,
}

/// What an action is aimed at, as the policy and the plan see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    DnsZone { zone: Option<String>, name: String },
    K8sNamespace { namespace: String },
    Playbook { playbook: String },
    None,
}

/// The result of planning: what would change, and the hash an approval binds to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Plan {
    pub action: crate::ActionId,
    pub params: Map<String, Value>,
    pub target: Target,
    /// Human-readable dry-run diff (secrets scrubbed by the executor).
    pub diff: String,
    /// Whether the dry run says the real run would change anything.
    pub changes: bool,
    pub hash: String,
    /// What the executor holds the real run to (e.g. a Kubernetes `resourceVersion`).
    /// Deliberately outside the hash: an approval binds what the human saw, the diff; a
    /// changed object still fails execution through this precondition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_state: Option<Value>,
    /// The part of the world the change replaces, read by the same dry run (a record's old
    /// addresses, a Deployment's old replicas): what the catalog's inverse needs to undo it.
    /// Outside the hash like `executor_state`: the diff already shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
}

impl Plan {
    pub fn new(intent: &Intent, target: Target, diff: String, changes: bool) -> Self {
        let target_value = serde_json::to_value(&target).unwrap_or(Value::Null);
        let hash = crate::plan_hash(
            intent.action.as_str(),
            &Value::Object(intent.params.clone()),
            &target_value,
            &diff,
        );
        Plan {
            action: intent.action,
            params: intent.params.clone(),
            target,
            diff,
            changes,
            hash,
            executor_state: None,
            before: None,
        }
    }

    /// Attaches the state the change replaces (not hashed).
    pub fn with_before(mut self, before: Option<Value>) -> Self {
        self.before = before;
        self
    }

    /// Attaches the executor's preconditions (not hashed).
    pub fn with_executor_state(mut self, state: Option<Value>) -> Self {
        self.executor_state = state;
        self
    }
}

/// What reading the world back after a change found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Verification {
    pub outcome: crate::VerificationOutcome,
    /// Why it could not be read (`unverified`), or what differs (`diverged`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `diverged`: one `what: planned -> found` line per difference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// What was read, from where (`{"read", "from", "found", …}`); also in the audit row.
    #[schema(value_type = Object)]
    pub evidence: Value,
    /// RFC 3339: when the last reading was taken.
    pub at: String,
    /// How many readings it took.
    pub attempts: u32,
}
