//! The values the store takes and gives back: requests, approvals, decisions, Slack results.

use aiops_core::{ApprovalState, Channel, RequestStatus, Verdict};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::column::Text;
use crate::{AuditEvent, StoreError};

/// A new request, as accepted by the API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewRequest {
    pub id: String,
    pub nl: String,
    pub dry_run: bool,
    pub caller: String,
}

/// Fields to change on a request; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct RequestUpdate {
    pub status: Option<RequestStatus>,
    pub intent: Option<Value>,
    pub decision: Option<Value>,
    pub plan: Option<Value>,
    pub approval_id: Option<String>,
    pub execution: Option<Value>,
    pub error: Option<Value>,
    pub context: Option<Value>,
    /// Ends the request's executing approval in the same transaction, so the request and its
    /// approval never disagree about how it ended.
    pub approval_end: Option<ApprovalEnd>,
    /// Refused model answers of this request's parse, stored with the stage's event.
    pub quarantine: Vec<aiops_core::Quarantined>,
}

/// One change a request's run records: the request's new state (if any) and the audit row
/// that says why. A run buffers its changes between durability points and hands them to
/// [`crate::RequestStore::commit`], which applies them in order, atomically: all or none.
#[derive(Debug, Clone)]
pub enum Change {
    /// Inserts an accepted request (status `received`).
    CreateRequest(NewRequest, AuditEvent),
    /// Applies the set fields to a request (quarantined answers, the approval's end).
    Update(String, RequestUpdate, AuditEvent),
    /// Creates a pending approval, links it and sets its request `pending_approval`.
    CreateApproval(NewApproval, RequestUpdate, AuditEvent),
    /// Appends an event that changes no request (a refused decision, a note).
    Append(AuditEvent),
}

/// What a store's [`crate::RequestStore::commit`] has done since it opened: commits
/// (durability points of runs) and the transactions that carried them. Fewer transactions than
/// commits means group commit shared syncs between concurrent runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitStats {
    pub commits: u64,
    pub transactions: u64,
}

/// A stored refused model answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantineRecord {
    pub id: i64,
    /// RFC 3339.
    pub at: String,
    pub request_id: Option<String>,
    #[serde(flatten)]
    pub entry: aiops_core::Quarantined,
}

/// `executing → to` for an approval, with its reason.
#[derive(Debug, Clone)]
pub struct ApprovalEnd {
    pub approval_id: String,
    pub to: ApprovalState,
    pub reason: Option<String>,
}

/// A stored request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, sqlx::FromRow)]
pub struct RequestRecord {
    pub id: String,
    pub created_at: String,
    pub updated_at: String,
    pub nl: String,
    pub dry_run: bool,
    pub caller: String,
    #[sqlx(try_from = "Text")]
    pub status: RequestStatus,
    #[sqlx(json(nullable))]
    pub intent: Option<Value>,
    #[sqlx(json(nullable))]
    pub decision: Option<Value>,
    #[sqlx(json(nullable))]
    pub plan: Option<Value>,
    pub approval_id: Option<String>,
    #[sqlx(json(nullable))]
    pub execution: Option<Value>,
    #[sqlx(json(nullable))]
    pub error: Option<Value>,
    #[sqlx(json(nullable))]
    pub context: Option<Value>,
    /// When payload retention cleared `nl` (to ''), `intent`, `decision`, `plan`,
    /// `execution`, `context` and the error's message; `None` while the payload is whole.
    pub pruned_at: Option<String>,
    /// The action and plan hash, kept by pruning when it cleared `intent` and `plan`
    /// (`None` before): read them with [`RequestRecord::action`], [`RequestRecord::plan_hash`].
    pub kept_action: Option<String>,
    pub kept_plan_hash: Option<String>,
}

impl RequestRecord {
    /// The catalog action, once parsed, whether or not the payload was pruned.
    pub fn action(&self) -> Option<&str> {
        self.intent
            .as_ref()
            .and_then(|i| i["action"].as_str())
            .or(self.kept_action.as_deref())
    }

    /// The plan's hash, once planned, whether or not the payload was pruned.
    pub fn plan_hash(&self) -> Option<&str> {
        self.plan
            .as_ref()
            .and_then(|p| p["hash"].as_str())
            .or(self.kept_plan_hash.as_deref())
    }
}

/// A new approval waiting for a human.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewApproval {
    pub id: String,
    pub request_id: String,
    pub plan_hash: String,
    pub requester: String,
    pub approvals_required: u32,
    /// RFC 3339.
    pub expires_at: String,
}

/// A stored approval with its decisions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, sqlx::FromRow)]
pub struct ApprovalRecord {
    pub id: String,
    pub request_id: String,
    pub plan_hash: String,
    #[sqlx(try_from = "Text")]
    pub state: ApprovalState,
    pub requester: String,
    // Stored as a 64-bit integer: Postgres has no unsigned type for sqlx to decode into u32.
    #[sqlx(try_from = "i64")]
    pub approvals_required: u32,
    pub created_at: String,
    pub expires_at: String,
    pub updated_at: String,
    /// Why it was rejected, voided or failed.
    pub reason: Option<String>,
    /// The decisions recorded so far, in order.
    #[sqlx(skip)]
    pub decisions: Vec<DecisionRecord>,
    pub slack_channel: Option<String>,
    pub slack_ts: Option<String>,
}

/// One human's decision on an approval.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, sqlx::FromRow)]
pub struct DecisionRecord {
    pub approver: String,
    #[sqlx(try_from = "Text")]
    pub decision: Verdict,
    #[sqlx(try_from = "Text")]
    pub channel: Channel,
    pub reason: Option<String>,
    pub at: String,
}

/// A decision as handed to the store.
#[derive(Debug, Clone)]
pub struct NewDecision {
    pub approval_id: String,
    pub approver: String,
    /// How the approver authenticated (named in the audit row).
    pub auth: aiops_core::AuthMethod,
    pub verdict: Verdict,
    pub channel: Channel,
    pub reason: Option<String>,
    pub now_ms: i64,
}

/// The result of recording a decision.
#[derive(Debug, Clone, PartialEq)]
pub enum DecisionOutcome {
    /// Recorded; the approval is now in `state` (still `pending` while more approvers are needed).
    Recorded { approval: ApprovalRecord },
    /// This approver already made this same decision: nothing changed.
    Unchanged { approval: ApprovalRecord },
    /// The approval is no longer open, or this approver may not decide it (they already
    /// decided otherwise, or they asked for the change).
    Closed { approval: ApprovalRecord },
    /// The decision arrived after the deadline; the approval is now `expired`.
    Expired { approval: ApprovalRecord },
}

/// The result of one Slack call for an approval's message.
#[derive(Debug, Clone)]
pub enum SlackResult {
    Posted {
        channel: String,
        ts: String,
    },
    Updated,
    /// Retried after an exponential backoff (2 s, 4 s, … capped at about 8.5 min).
    Failed {
        now_ms: i64,
        error: String,
    },
}

/// Where a page of a list ended: the key (id) of its last item, for the next page to start
/// after. Clients see it only as an opaque token ([`Cursor::encode`]: base64url of the
/// list's name and the key) and hand it back unchanged; [`Cursor::decode`] refuses anything
/// else, including a cursor of the other list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    list: CursorList,
    last_id: String,
}

/// The lists a [`Cursor`] can page through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorList {
    /// Approvals, oldest first.
    Approvals,
    /// Requests, newest first.
    Requests,
}

impl CursorList {
    /// The prefix inside the token; the `1` is the format's version.
    fn tag(self) -> &'static str {
        match self {
            CursorList::Approvals => "a1:",
            CursorList::Requests => "r1:",
        }
    }
}

impl Cursor {
    /// The cursor after the item with id `last_id` of `list`.
    pub fn after(list: CursorList, last_id: impl Into<String>) -> Self {
        Cursor {
            list,
            last_id: last_id.into(),
        }
    }

    pub fn list(&self) -> CursorList {
        self.list
    }

    /// The id of the last item of the page this cursor ends.
    pub fn last_id(&self) -> &str {
        &self.last_id
    }

    /// The token clients hand back.
    pub fn encode(&self) -> String {
        use base64::Engine as _;
        let text = format!("{}{}", self.list.tag(), self.last_id);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    }

    /// Reads a token of `list` back; [`StoreError::InvalidCursor`] for anything this store
    /// did not issue for that list.
    pub fn decode(token: &str, list: CursorList) -> Result<Self, StoreError> {
        use base64::Engine as _;
        let invalid = || {
            StoreError::InvalidCursor(
                "not a cursor of this list; pass the previous page's next_cursor unchanged".into(),
            )
        };
        // Ids are short; a long token is not one of ours (and is not worth decoding).
        if token.is_empty() || token.len() > 256 {
            return Err(invalid());
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let last_id = text.strip_prefix(list.tag()).ok_or_else(invalid)?;
        if last_id.is_empty() || last_id.chars().any(char::is_control) {
            return Err(invalid());
        }
        Ok(Cursor::after(list, last_id))
    }
}

/// One page of a list and the cursor of the next (`None`: this is the last page).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

/// Which approvals [`crate::ApprovalStore::list_approvals`] answers: oldest first (by id,
/// a ULID), in `state` when given, at most `limit` (at least 1), after `after`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalQuery {
    pub state: Option<ApprovalState>,
    pub limit: u32,
    /// A cursor of [`CursorList::Approvals`].
    pub after: Option<Cursor>,
}

/// Which requests [`crate::RequestStore::list_requests`] answers: newest first (by id, a
/// ULID), filtered by `status` and `caller` when given, at most `limit` (at least 1), older
/// than `cursor`.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestQuery {
    pub status: Option<RequestStatus>,
    pub caller: Option<String>,
    pub limit: u32,
    /// A cursor of [`CursorList::Requests`].
    pub cursor: Option<Cursor>,
}

/// A request as a list shows it: what it is and how it stands, never its payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct RequestSummary {
    pub id: String,
    pub created_at: String,
    pub updated_at: String,
    #[sqlx(try_from = "Text")]
    pub status: RequestStatus,
    pub caller: String,
    pub dry_run: bool,
    /// The catalog action, once parsed (kept when the payload is pruned).
    pub action: Option<String>,
    /// When payload retention cleared the request's payload.
    pub pruned_at: Option<String>,
}

/// What one pass of [`crate::RequestStore::prune_payloads`] cleared, as its audit event
/// (stage `retention`, outcome `pruned`) records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruneReport {
    /// RFC 3339: requests that last changed before this were eligible.
    pub cutoff: String,
    /// Requests cleared by this pass.
    pub count: u64,
    /// The smallest and largest id cleared (`None` when nothing was).
    pub first_id: Option<String>,
    pub last_id: Option<String>,
}
