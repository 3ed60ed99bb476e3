//! Approvals: `GET /api/v1/approvals[?state=&limit=&cursor=]`, `GET /api/v1/approvals/{id}` and
//! `POST /api/v1/approvals/{id}/{approve,reject}`.

use aiops_core::{ApprovalState, Channel, Plan, RequestStatus, Risk, Verdict};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::ErrorBody;

/// One human's decision on an approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DecisionRecordView {
    pub approver: String,
    pub decision: Verdict,
    /// The front end the human used.
    pub channel: Channel,
    #[schema(required = true)]
    pub reason: Option<String>,
    /// RFC 3339.
    pub at: String,
}

/// An approval as approvers see it: what it would change and who decided so far.
/// `GET /api/v1/approvals/{id}` adds the stored `plan`; lists and decision answers omit it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApprovalDetail {
    pub id: String,
    pub request_id: String,
    pub state: ApprovalState,
    /// The catalog action (empty if the request has no intent).
    pub action: String,
    #[schema(required = true)]
    pub risk: Option<Risk>,
    /// The action's parameters.
    #[schema(value_type = Option<Object>, required = true)]
    pub params: Value,
    /// The sentence that asked for it.
    #[schema(required = true)]
    pub nl: Option<String>,
    pub requester: String,
    pub approvals_required: u32,
    /// Who has approved so far.
    pub approvers: Vec<String>,
    pub decisions: Vec<DecisionRecordView>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub expires_at: String,
    pub plan_hash: String,
    /// Why it was rejected, voided or failed.
    #[schema(required = true)]
    pub reason: Option<String>,
    #[schema(required = true)]
    pub request_status: Option<RequestStatus>,
    /// Absent from lists; `null` in `show` when the request has no stored plan.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[schema(value_type = Option<Plan>)]
    pub plan: Option<Option<Plan>>,
}

impl ApprovalDetail {
    /// "1/2": approvals recorded over approvals required.
    pub fn tally(&self) -> String {
        format!("{}/{}", self.approvers.len(), self.approvals_required)
    }

    /// The plan's diff, when `show` sent one.
    pub fn diff(&self) -> Option<&str> {
        self.plan.as_ref()?.as_ref().map(|p| p.diff.as_str())
    }
}

/// A member that is present decodes to `Some`, even when `null` (absent stays `None`
/// through `default`), so `show`'s `"plan": null` survives a round trip.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `GET /api/v1/approvals` answer: one page, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApprovalList {
    pub approvals: Vec<ApprovalDetail>,
    /// Pass as `cursor` for the next page; `null` on the last page. Opaque: send it back
    /// unchanged. (Absent from daemons that answered every approval at once.)
    #[serde(default)]
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// The optional body of `POST /api/v1/approvals/{id}/{approve,reject}` (an empty body
/// is no reason). Over HTTP only `rest` (the default) and `cli` are accepted as channel:
/// Slack decisions come signed through the Slack endpoint, never as a claim in a body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// Why; at most 1000 characters. Recorded in the audit trail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `rest` (default) or `cli`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
}

impl DecisionBody {
    /// The channel to record for an HTTP decision: `rest` unless the body says `cli`;
    /// any other channel is refused (returned as the error).
    pub fn http_channel(&self) -> Result<Channel, Channel> {
        match self.channel {
            None | Some(Channel::Rest) => Ok(Channel::Rest),
            Some(Channel::Cli) => Ok(Channel::Cli),
            Some(other) => Err(other),
        }
    }
}

/// A decision's 200 answer: whether it changed anything, and the approval now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DecisionResponse {
    /// False when the same person had already recorded the same decision.
    pub changed: bool,
    /// Why nothing changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub approval: ApprovalDetail,
}

/// A decision's 409 answer: the approval is closed or expired (`approval_closed`,
/// `approval_expired`); `state` is where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApprovalConflict {
    pub error: ErrorBody,
    pub state: ApprovalState,
}

/// The stored approval record, as `GET /api/v1/intents/{id}` embeds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApprovalRecordView {
    pub id: String,
    pub request_id: String,
    pub plan_hash: String,
    pub state: ApprovalState,
    pub requester: String,
    pub approvals_required: u32,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub expires_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// Why it was rejected, voided or failed.
    #[schema(required = true)]
    pub reason: Option<String>,
    /// The decisions recorded so far, in order.
    pub decisions: Vec<DecisionRecordView>,
    /// Where the Slack message was posted, once it was.
    #[schema(required = true)]
    pub slack_channel: Option<String>,
    #[schema(required = true)]
    pub slack_ts: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_decisions_come_from_rest_or_cli_only() {
        let body = |channel| DecisionBody {
            reason: None,
            channel,
        };
        assert_eq!(body(None).http_channel(), Ok(Channel::Rest));
        assert_eq!(body(Some(Channel::Rest)).http_channel(), Ok(Channel::Rest));
        assert_eq!(body(Some(Channel::Cli)).http_channel(), Ok(Channel::Cli));
        assert_eq!(
            body(Some(Channel::Slack)).http_channel(),
            Err(Channel::Slack)
        );
        assert_eq!(body(Some(Channel::Web)).http_channel(), Err(Channel::Web));
    }
}
