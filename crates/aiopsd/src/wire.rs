//! The request and response types of the intent path (catalog.md).

use aiops_core::{ApprovalState, ErrorCode, Intent, Plan, RequestStatus, Target};
use aiops_policy::Decision;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /api/v1/intent` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentRequest {
    pub nl: String,
    #[serde(default)]
    pub dry_run: bool,
}

/// `{"code": "...", "message": "..."}`, the `error` member of every error body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
}

/// The plan as shown to clients and approvers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlanView {
    pub hash: String,
    pub target: Target,
    pub diff: String,
    pub changes: bool,
}

impl From<&Plan> for PlanView {
    fn from(p: &Plan) -> Self {
        PlanView {
            hash: p.hash.clone(),
            target: p.target.clone(),
            diff: p.diff.clone(),
            changes: p.changes,
        }
    }
}

/// The approval a pending request waits for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApprovalSummary {
    pub id: String,
    pub state: ApprovalState,
    pub approvals_required: u32,
    /// Who has approved so far.
    pub approvers: Vec<String>,
    pub expires_at: String,
}

/// The response of `POST /api/v1/intent` (catalog.md).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IntentResponse {
    pub id: String,
    pub status: RequestStatus,
    pub intent: Option<Intent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub decision: Option<Decision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanView>,
    pub approval: Option<ApprovalSummary>,
    pub execution: Option<Value>,
    pub context: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

impl IntentResponse {
    pub fn new(id: &str) -> Self {
        IntentResponse {
            id: id.to_string(),
            status: RequestStatus::Received,
            intent: None,
            reason: None,
            decision: None,
            plan: None,
            approval: None,
            execution: None,
            context: Vec::new(),
            answer: None,
            error: None,
        }
    }
}
