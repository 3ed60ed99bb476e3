//! The shared vocabulary of the request path: who asks, how a request and an approval
//! stand, what a human decided, which parser read the sentence. Every crate uses these
//! enums; their string forms (snake_case) are what the store keeps and clients see, so a
//! typo is a compile error rather than a state nobody handles.

use serde::{Deserialize, Serialize};

/// Who asked, as authenticated by the API layer, and how they proved it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Caller {
    pub user: String,
    pub roles: Vec<String>,
    /// How the caller authenticated. Records written before this field existed read as
    /// `bearer`, the only method there was.
    #[serde(default = "AuthMethod::legacy")]
    pub auth: AuthMethod,
}

impl Caller {
    /// The user name of a request nobody authenticated.
    pub const ANONYMOUS: &'static str = "anonymous";
    /// The user name the daemon itself acts under (recovery, the approval worker's
    /// bookkeeping, Slack delivery).
    pub const SYSTEM: &'static str = "aiopsd";

    pub fn new(user: impl Into<String>, roles: Vec<String>, auth: AuthMethod) -> Self {
        Caller {
            user: user.into(),
            roles,
            auth,
        }
    }

    pub fn anonymous() -> Self {
        Caller::new(Self::ANONYMOUS, Vec::new(), AuthMethod::Anonymous)
    }

    /// The daemon itself: no roles, so policy grants it nothing a human did not.
    pub fn system() -> Self {
        Caller::new(Self::SYSTEM, Vec::new(), AuthMethod::System)
    }

    pub fn is_anonymous(&self) -> bool {
        self.auth == AuthMethod::Anonymous || self.user == Self::ANONYMOUS
    }

    /// Who did it, as an audit row records it.
    pub fn actor(&self) -> Actor {
        Actor {
            user: self.user.clone(),
            auth: self.auth,
        }
    }
}

vocabulary! {
    /// How a caller proved who they are.
    pub enum AuthMethod {
        /// An API bearer token (`Authorization: Bearer …`).
        Bearer,
        /// A TLS client certificate (mTLS) mapped to a configured user.
        ClientCertificate,
        /// A Slack user id on a request Slack signed (the Slack endpoint only).
        Slack,
        /// Nobody: allowed only for reads, on loopback, when `auth.allow_anonymous = "read"`.
        Anonymous,
        /// The daemon acting on its own (recovery, the approval worker, delivery).
        System,
    }
}

impl AuthMethod {
    fn legacy() -> Self {
        AuthMethod::Bearer
    }
}

/// The identity an audit row names: who, and how they authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub user: String,
    pub auth: AuthMethod,
}

impl Actor {
    pub fn system() -> Self {
        Caller::system().actor()
    }
}

vocabulary! {
    /// How much of the audit chain a verification recomputes.
    pub enum VerifyMode {
        /// Every row from the genesis: time grows with the whole chain.
        Full,
        /// The rows after the latest checkpoint, anchored on that checkpoint's row still
        /// having the hash recorded for it: time grows with the events since. An edit to an
        /// earlier row that leaves every later hash alone is found by a full verify only.
        Incremental,
    }
}

vocabulary! {
    /// Lifecycle of a request as stored. Terminal states never change again, except that a
    /// `pending_approval` request moves on when its approval is decided.
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
}

impl RequestStatus {
    /// Whether the request has ended (nothing more will happen to it).
    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            RequestStatus::Received | RequestStatus::Executing | RequestStatus::PendingApproval
        )
    }
}

vocabulary! {
    /// Approval states: `pending → approved | rejected | expired`, then
    /// `approved → executing → succeeded | failed | void`.
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
}

impl ApprovalState {
    /// Whether humans can still decide it.
    pub fn is_open(self) -> bool {
        self == ApprovalState::Pending
    }
}

vocabulary! {
    /// What a human decided.
    pub enum Verdict {
        Approve,
        Reject,
    }
}

vocabulary! {
    /// Which front end a human used to decide.
    pub enum Channel {
        Rest,
        Cli,
        Slack,
        Web,
    }
}

vocabulary! {
    /// Which parser turned the sentence into an intent.
    pub enum ParserKind {
        /// The deterministic rules parser.
        Rules,
        /// A language model, verified by grounding.
        Llm,
        /// Not a parser: the catalog's inverse of an earlier change (`POST
        /// /api/v1/intents/{id}/rollback`), as deterministic as the rules.
        Rollback,
        /// Not a parser: an MCP tool call, whose arguments are the action's typed parameters
        /// (checked against its schema like any parser's output; nothing is interpreted).
        Mcp,
    }
}

vocabulary! {
    /// The catalog's action ids. The catalog file (`catalog/actions.json`) is the source of the
    /// actions' schemas and descriptions; this enum is the one place their names are spelled, so
    /// code that binds an action to an executor matches exhaustively instead of comparing strings.
    /// `Catalog` refuses a catalog whose action names and this enum disagree.
    pub enum ActionId {
        #[serde(rename = "dns.create_a_record")]
        #[strum(serialize = "dns.create_a_record")]
        DnsCreateARecord,
        #[serde(rename = "dns.delete_record")]
        #[strum(serialize = "dns.delete_record")]
        DnsDeleteRecord,
        #[serde(rename = "dns.lookup")]
        #[strum(serialize = "dns.lookup")]
        DnsLookup,
        #[serde(rename = "k8s.scale_deployment")]
        #[strum(serialize = "k8s.scale_deployment")]
        K8sScaleDeployment,
        #[serde(rename = "k8s.restart_deployment")]
        #[strum(serialize = "k8s.restart_deployment")]
        K8sRestartDeployment,
        #[serde(rename = "k8s.list_pods")]
        #[strum(serialize = "k8s.list_pods")]
        K8sListPods,
        #[serde(rename = "k8s.delete_pod")]
        #[strum(serialize = "k8s.delete_pod")]
        K8sDeletePod,
        #[serde(rename = "k8s.expose_service")]
        #[strum(serialize = "k8s.expose_service")]
        K8sExposeService,
        #[serde(rename = "k8s.unexpose_service")]
        #[strum(serialize = "k8s.unexpose_service")]
        K8sUnexposeService,
        #[serde(rename = "ansible.run_playbook")]
        #[strum(serialize = "ansible.run_playbook")]
        AnsibleRunPlaybook,
        #[serde(rename = "ops.ask")]
        #[strum(serialize = "ops.ask")]
        OpsAsk,
    }
}

impl PartialEq<str> for ActionId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ActionId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

vocabulary! {
    /// What reading the world back after a change found.
    pub enum VerificationOutcome {
        /// The world matches the plan.
        Verified,
        /// The world could not be read (or had not settled in time); the reason says why.
        Unverified,
        /// The world differs from the plan: the request fails though the executor said ok.
        Diverged,
    }
}

vocabulary! {
    /// The stages of the request path, as the audit log, the metrics and the logs name them.
    pub enum StageName {
        Intake,
        Retrieve,
        Parse,
        Decide,
        Plan,
        /// Waiting for, and deciding, a human approval.
        Approve,
        Credentials,
        Execute,
        /// Reading the world back after a change.
        Verify,
        /// A rollback asked for (on the request it undoes) or refused.
        Rollback,
        /// Start-up settling what a previous process left half-done.
        Recover,
        /// Payload retention clearing the payloads of old, finished requests.
        Retention,
    }
}

vocabulary! {
    /// How start-up recovery found an execution the daemon was stopped in the middle of,
    /// after re-planning it against the world (it never runs it again). Recorded as the
    /// outcome of the request's `recover` audit row.
    pub enum Reconciliation {
        /// The world already matches the plan: the request is `success` ("succeeded,
        /// verified after restart").
        VerifiedAfterRestart,
        /// The world still matches the state the plan started from: the request is `failed`
        /// ("interrupted, nothing applied").
        NothingApplied,
        /// Neither, or the action cannot be checked: the request is `failed` ("interrupted,
        /// state unknown") and an operator is alerted.
        StateUnknown,
    }
}

impl Reconciliation {
    /// How the request's record says it, e.g. `failed: interrupted, nothing applied`.
    pub fn summary(self) -> &'static str {
        match self {
            Reconciliation::VerifiedAfterRestart => "succeeded (verified after restart)",
            Reconciliation::NothingApplied => "failed: interrupted, nothing applied",
            Reconciliation::StateUnknown => "failed: interrupted, state unknown",
        }
    }

    /// The status the request ends in.
    pub fn status(self) -> RequestStatus {
        match self {
            Reconciliation::VerifiedAfterRestart => RequestStatus::Success,
            Reconciliation::NothingApplied | Reconciliation::StateUnknown => RequestStatus::Failed,
        }
    }
}

vocabulary! {
    /// Every stable error code a client or an audit row can see. Each crate's error enum maps
    /// its variants onto these; the API layer maps these (and only these) onto HTTP statuses.
    pub enum ErrorCode {
        // The request itself.
        BadRequest,
        MalformedJson,
        InvalidRequest,
        UnsupportedMediaType,
        PayloadTooLarge,
        MethodNotAllowed,
        NotFound,
        Unauthorized,
        Forbidden,
        Conflict,
        /// Too many requests from one caller; `Retry-After` says when to try again.
        RateLimited,
        /// The daemon is serving as many requests as it may; `Retry-After` says when to retry.
        Overloaded,
        // The catalog and its parameters.
        UnknownAction,
        InvalidParams,
        InvalidCatalog,
        InvalidPlaybook,
        InvalidDnsQuery,
        // Policy.
        PolicyError,
        PolicyLoadFailed,
        PolicyEvalFailed,
        PolicyDecisionInvalid,
        // Approvals.
        ApprovalRequired,
        ApprovalClosed,
        ApprovalExpired,
        ApprovalRejected,
        ApprovalVoid,
        ApprovalFailed,
        // After a change.
        /// The executor said it succeeded, but the world read back differs from the plan.
        VerificationDiverged,
        /// The request has no inverse to run (nothing changed, or the action cannot be undone).
        NotReversible,
        /// The plan of a run differs from the one its user reviewed (the console's "Run this
        /// plan"): nothing was approved or executed.
        PlanChanged,
        // Backends.
        CredentialsUnavailable,
        InvalidSecretPath,
        InvalidSecretsConfig,
        ExecutorUnavailable,
        ExecutorFailed,
        ExecutorTimeout,
        ExecutorConfig,
        DnsUnavailable,
        RetrievalUnavailable,
        StoreUnavailable,
        StoreError,
        StoreCorrupt,
        StoreMigrationFailed,
        /// The daemon stopped while the request was in flight.
        Interrupted,
        Io,
        Internal,
    }
}

impl ErrorCode {
    /// The code a crate's `code()` string names; `Internal` for a string no crate should
    /// produce (a unit test in each crate keeps its codes inside this enum).
    pub fn from_code(code: &str) -> ErrorCode {
        code.parse().unwrap_or(ErrorCode::Internal)
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Debug;
    use std::str::FromStr;

    use strum::VariantArray;

    use super::*;

    /// Every variant's string form parses back to it and is its serde form.
    fn round_trips<T>()
    where
        T: VariantArray + FromStr + Serialize + Into<&'static str> + Copy + PartialEq + Debug,
    {
        for v in T::VARIANTS {
            let s: &'static str = (*v).into();
            assert_eq!(T::from_str(s).ok(), Some(*v));
            assert_eq!(serde_json::to_value(v).ok(), Some(serde_json::json!(s)));
        }
    }

    #[test]
    fn string_forms_round_trip_and_match_serde() {
        round_trips::<RequestStatus>();
        round_trips::<ApprovalState>();
        round_trips::<ActionId>();
        round_trips::<Verdict>();
        round_trips::<Channel>();
        round_trips::<ParserKind>();
        round_trips::<StageName>();
        round_trips::<ErrorCode>();
        round_trips::<Reconciliation>();
        assert_eq!(RequestStatus::PendingApproval.as_str(), "pending_approval");
        assert_eq!(RequestStatus::DryRun.as_str(), "dry_run");
        assert!(RequestStatus::from_str("nonsense").is_err());
        assert_eq!(ActionId::DnsCreateARecord.as_str(), "dns.create_a_record");
        for c in ErrorCode::VARIANTS {
            assert_eq!(ErrorCode::from_code(c.as_str()), *c);
        }
        assert_eq!(ErrorCode::from_code("no_such_code"), ErrorCode::Internal);
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
