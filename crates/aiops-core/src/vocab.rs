//! The shared vocabulary of the request path: who asks, how a request and an approval
//! stand, what a human decided, which parser read the sentence. Every crate uses these
//! enums; their string forms (snake_case) are what the store keeps and clients see, so a
//! typo is a compile error rather than a state nobody handles.

use serde::{Deserialize, Serialize};

/// Who asked, as authenticated by the API layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    pub user: String,
    pub roles: Vec<String>,
}

impl Caller {
    /// The user name of a request nobody authenticated.
    pub const ANONYMOUS: &'static str = "anonymous";

    pub fn anonymous() -> Self {
        Caller {
            user: Self::ANONYMOUS.to_string(),
            roles: Vec::new(),
        }
    }

    pub fn is_anonymous(&self) -> bool {
        self.user == Self::ANONYMOUS
    }
}

/// Lifecycle of a request as stored. Terminal states never change again, except that a
/// `pending_approval` request moves on when its approval is decided.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RequestStatus {
    Received,
    Executing,
    Success,
    DryRun,
    PendingApproval,
    Denied,
    Unrecognized,
    Answered,
    Failed,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether the request has ended (nothing more will happen to it).
    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            RequestStatus::Received | RequestStatus::Executing | RequestStatus::PendingApproval
        )
    }
}

/// Approval states: `pending → approved | rejected | expired`, then
/// `approved → executing → succeeded | failed | void`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ApprovalState {
    Pending,
    Approved,
    Rejected,
    Expired,
    Executing,
    Succeeded,
    Failed,
    Void,
}

impl ApprovalState {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether humans can still decide it.
    pub fn is_open(self) -> bool {
        self == ApprovalState::Pending
    }
}

/// What a human decided.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Verdict {
    Approve,
    Reject,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Which front end a human used to decide.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Channel {
    Rest,
    Cli,
    Slack,
    Web,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Which parser turned the sentence into an intent.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ParserKind {
    /// The deterministic rules parser.
    Rules,
    /// A language model, verified by grounding.
    Llm,
}

impl ParserKind {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use strum::VariantArray;

    use super::*;

    #[test]
    fn string_forms_round_trip_and_match_serde() {
        for s in RequestStatus::VARIANTS {
            assert_eq!(RequestStatus::from_str(s.as_str()).ok(), Some(*s));
            assert_eq!(
                serde_json::to_value(s).ok(),
                Some(serde_json::json!(s.as_str()))
            );
        }
        for s in ApprovalState::VARIANTS {
            assert_eq!(ApprovalState::from_str(s.as_str()).ok(), Some(*s));
            assert_eq!(
                serde_json::to_value(s).ok(),
                Some(serde_json::json!(s.as_str()))
            );
        }
        assert_eq!(RequestStatus::PendingApproval.as_str(), "pending_approval");
        assert_eq!(RequestStatus::DryRun.as_str(), "dry_run");
        assert!(RequestStatus::from_str("nonsense").is_err());
    }

    #[test]
    fn terminal_and_open_states() {
        assert!(!RequestStatus::PendingApproval.is_terminal());
        assert!(!RequestStatus::Executing.is_terminal());
        assert!(RequestStatus::Denied.is_terminal());
        assert!(ApprovalState::Pending.is_open());
        assert!(!ApprovalState::Approved.is_open());
    }
}
