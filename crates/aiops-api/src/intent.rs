//! Requests: `POST /api/v1/intent`, `POST /api/v1/parse`, `GET /api/v1/intents` and
//! `GET /api/v1/intents/{id}`.

use aiops_core::{
    ActionId, ApprovalState, Intent, Plan, RequestStatus, Risk, Target, Verification,
};
use aiops_policy::Decision;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::approval::ApprovalRecordView;
use crate::error::ErrorBody;

/// `POST /api/v1/intent` body: one sentence, optionally as a dry run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntentRequest {
    /// The request in plain language; must not be blank.
    pub nl: String,
    /// Plan only: nothing is changed.
    #[serde(default)]
    pub dry_run: bool,
}

/// `POST /api/v1/parse` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParseRequest {
    /// The sentence to parse; must not be blank.
    pub nl: String,
}

/// Whether `/parse` found a catalog action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParseStatus {
    Parsed,
    Unrecognized,
}

/// `POST /api/v1/parse` answer: the intent and its risk class, or why there is none.
/// Parsing has no side effects: nothing is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ParseResponse {
    pub status: ParseStatus,
    /// Always present; `null` when unrecognized.
    #[schema(required = true)]
    pub intent: Option<Intent>,
    /// The action's risk class (parsed only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<Risk>,
    /// Why nothing was recognized (unrecognized only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ParseResponse {
    pub fn parsed(intent: Intent, risk: Option<Risk>) -> Self {
        ParseResponse {
            status: ParseStatus::Parsed,
            intent: Some(intent),
            risk,
            reason: None,
        }
    }

    pub fn unrecognized(reason: impl Into<String>) -> Self {
        ParseResponse {
            status: ParseStatus::Unrecognized,
            intent: None,
            risk: None,
            reason: Some(reason.into()),
        }
    }
}

/// The plan as answered to the requester: what would change and the hash an approval
/// binds to (the stored `Plan` also carries the action and parameters).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlanView {
    pub hash: String,
    pub target: Target,
    /// Human-readable dry-run diff.
    pub diff: String,
    /// Whether the real run would change anything.
    pub changes: bool,
    /// What the change replaces, kept so it can be undone (`POST
    /// /api/v1/intents/{id}/rollback`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
}

impl From<&Plan> for PlanView {
    fn from(p: &Plan) -> Self {
        PlanView {
            hash: p.hash.clone(),
            target: p.target.clone(),
            diff: p.diff.clone(),
            changes: p.changes,
            before: p.before.clone(),
        }
    }
}

/// The approval a request waits for, as answered to the requester.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApprovalSummary {
    pub id: String,
    pub state: ApprovalState,
    pub approvals_required: u32,
    /// Who has approved so far.
    pub approvers: Vec<String>,
    /// RFC 3339.
    pub expires_at: String,
}

/// `POST /api/v1/intent` answer: 200 for an outcome, 202 while it waits for approval, the
/// error code's status when it failed (then `error` says why).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IntentResponse {
    /// The request id (a ULID), for `GET /api/v1/intents/{id}`.
    pub id: String,
    pub status: RequestStatus,
    #[schema(required = true)]
    pub intent: Option<Intent>,
    /// Why the sentence was not recognized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[schema(required = true)]
    pub decision: Option<Decision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanView>,
    #[schema(required = true)]
    pub approval: Option<ApprovalSummary>,
    /// What the executor reported; its shape depends on the executor.
    #[schema(value_type = Option<Object>)]
    #[schema(required = true)]
    pub execution: Option<Value>,
    /// The runbook passages retrieved for the request, best first (empty when retrieval
    /// is off or found nothing).
    #[schema(value_type = Vec<crate::ContextRef>)]
    pub context: Vec<Value>,
    /// The answer of a question action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// What reading the world back after the change found (changes that ran only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// The request this one rolls back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

impl IntentResponse {
    /// A request just received: nothing decided yet.
    pub fn received(id: impl Into<String>) -> Self {
        IntentResponse {
            id: id.into(),
            status: RequestStatus::Received,
            intent: None,
            reason: None,
            decision: None,
            plan: None,
            approval: None,
            execution: None,
            context: Vec::new(),
            answer: None,
            verification: None,
            rollback_of: None,
            error: None,
        }
    }
}

/// One audit event of a request, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TimelineEntry {
    /// Position in the audit chain.
    pub seq: i64,
    /// RFC 3339.
    pub at: String,
    /// `intake`, `retrieve`, `parse`, `decide`, `plan`, `approve`, `credentials`, `execute`.
    pub stage: String,
    pub outcome: String,
    /// What the stage recorded (never a secret).
    #[schema(value_type = Object)]
    pub data: Value,
    /// The audit row's hash in the chain (SHA-256, hex): what `GET /api/v1/audit/verify`
    /// recomputes.
    #[serde(default)]
    pub hash: String,
}

/// `GET /api/v1/intents/{id}`: the stored request, its approval and its audit timeline.
/// Once payload retention pruned it (`pruned_at`), `nl`, `intent`, `decision`, `plan`,
/// `execution` are `null`, `context` is empty and `error` keeps only its code; `action` and
/// `plan_hash` still say what it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IntentRecord {
    pub id: String,
    pub status: RequestStatus,
    /// The sentence; `null` once pruned.
    #[schema(required = true)]
    pub nl: Option<String>,
    pub dry_run: bool,
    /// Who asked.
    pub caller: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    #[schema(required = true)]
    pub intent: Option<Intent>,
    #[schema(required = true)]
    pub decision: Option<Decision>,
    /// The plan as stored (with action and parameters), unlike `PlanView`.
    #[schema(required = true)]
    pub plan: Option<Plan>,
    #[schema(required = true)]
    pub approval: Option<ApprovalRecordView>,
    #[schema(value_type = Option<Object>)]
    #[schema(required = true)]
    pub execution: Option<Value>,
    #[schema(required = true)]
    pub error: Option<ErrorBody>,
    #[schema(value_type = Vec<crate::ContextRef>)]
    pub context: Vec<Value>,
    pub timeline: Vec<TimelineEntry>,
    /// The catalog action, once parsed (also after pruning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<ActionId>,
    /// The plan's hash, once planned (also after pruning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_hash: Option<String>,
    /// RFC 3339: when payload retention cleared the payload; absent while it is whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pruned_at: Option<String>,
    /// What reading the world back after the change found (changes that ran only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// The request this one rolls back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<String>,
    /// The requests that roll this one back, oldest first (from the audit trail).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollbacks: Vec<String>,
}

/// One request as `GET /api/v1/intents` lists it: what it is and how it stands, never its
/// sentence or payload (`GET /api/v1/intents/{id}` has those).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IntentSummary {
    /// The request id (a ULID).
    pub id: String,
    pub status: RequestStatus,
    /// Who asked.
    pub caller: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    pub dry_run: bool,
    /// The catalog action, once parsed.
    #[schema(required = true)]
    pub action: Option<ActionId>,
    /// RFC 3339: when payload retention cleared the payload.
    #[schema(required = true)]
    pub pruned_at: Option<String>,
}

/// `GET /api/v1/intents` answer: one page, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IntentList {
    pub intents: Vec<IntentSummary>,
    /// Pass as `cursor` for the next page; `null` on the last page. Opaque: send it back
    /// unchanged.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// `POST /api/v1/intents/{id}/rollback` body (optional): roll back as a dry run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// Plan the inverse only: nothing is changed.
    #[serde(default)]
    pub dry_run: bool,
}
