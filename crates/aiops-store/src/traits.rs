//! What the daemon asks of a store, as three narrow traits and their sum [`Store`]. The
//! daemon holds one `Arc<dyn Store>`; method names are the same whichever trait they sit in.

use aiops_core::ApprovalState;

use crate::{
    ApprovalQuery, ApprovalRecord, AuditEvent, AuditRecord, ChainReport, Change, CommitStats,
    DecisionOutcome, NewApproval, NewDecision, NewRequest, Page, PruneReport, QuarantineRecord,
    RequestQuery, RequestRecord, RequestSummary, RequestUpdate, SlackResult, StoreError,
};

/// Requests and the audit chain.
#[async_trait::async_trait]
pub trait RequestStore: Send + Sync {
    /// `sqlite`, `postgres`.
    fn kind(&self) -> &'static str;
    async fn ping(&self) -> Result<(), StoreError>;
    /// Applies `changes` in order and durably, all or none: the one durability point of a
    /// run's buffered stage outcomes. Concurrent commits may share one transaction and one
    /// sync to disk (group commit); each still succeeds or fails on its own.
    async fn commit(&self, changes: Vec<Change>) -> Result<(), StoreError>;
    /// Commits and transactions since the store opened (exported as metrics).
    fn commit_stats(&self) -> CommitStats;
    /// Inserts an accepted request and its intake event atomically.
    async fn create_request(&self, req: &NewRequest, event: AuditEvent) -> Result<(), StoreError>;
    /// Applies `update` to a request and appends `event`, atomically.
    async fn update_request(
        &self,
        id: &str,
        update: RequestUpdate,
        event: AuditEvent,
    ) -> Result<(), StoreError>;
    async fn get_request(&self, id: &str) -> Result<Option<RequestRecord>, StoreError>;
    /// The audit events of one request, in chain order.
    async fn events_for(&self, request_id: &str) -> Result<Vec<AuditRecord>, StoreError>;
    /// Appends an event that belongs to no state change (start-up, recovery notes).
    async fn append_event(&self, event: AuditEvent) -> Result<(), StoreError>;
    /// Recomputes the whole chain from the genesis; records a checkpoint when it verifies.
    async fn verify_chain(&self) -> Result<ChainReport, StoreError>;
    /// Recomputes the rows after the latest checkpoint (all of them when there is none),
    /// anchored on the checkpoint's row still having its recorded hash; records a checkpoint
    /// when it verifies. Time grows with the events since the last checkpoint.
    async fn verify_incremental(&self) -> Result<ChainReport, StoreError>;
    /// Settles what a dead process left before any execution started: requests still
    /// `received` fail as `interrupted` ("nothing was changed"), and approvals caught
    /// `executing` whose request never started executing fail (never re-run). Returns the
    /// failed requests' ids. Requests caught `executing` are left alone: see
    /// [`RequestStore::interrupted_executions`].
    ///
    /// "A dead process": SQLite, every process but this one (call it once, at start-up,
    /// holding the data directory). Postgres, the replicas whose lease expired: this takes
    /// their requests over (see [`Replicas`]); call it periodically.
    async fn fail_interrupted(&self) -> Result<Vec<String>, StoreError>;
    /// Requests caught `executing` by a restart, oldest first: the change may or may not
    /// have happened. The daemon reconciles each against the world (it re-plans, never
    /// re-runs) and ends it, with its still-`executing` approval, in one transaction.
    /// Postgres: those this replica took over from dead ones ([`RequestStore::fail_interrupted`]).
    async fn interrupted_executions(&self) -> Result<Vec<RequestRecord>, StoreError>;
    /// Quarantined model answers, newest first: at most `limit`, older than `before_id`
    /// when given (pagination by id).
    async fn list_quarantine(
        &self,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<QuarantineRecord>, StoreError>;
    /// One page of requests, newest first, without their payloads (keyset pagination on the
    /// id: rows inserted while a client pages never shift or repeat the rows it has yet to
    /// see).
    async fn list_requests(&self, query: &RequestQuery)
    -> Result<Page<RequestSummary>, StoreError>;
    /// Clears the payload of at most `limit` final requests (never `received`, `executing`
    /// or `pending_approval`) that last changed before `before_ms` and still have one,
    /// oldest first, and appends one `retention`/`pruned` event by the system, in one
    /// transaction. Audit rows are never touched. A pass that finds nothing records nothing.
    async fn prune_payloads(&self, before_ms: i64, limit: u32) -> Result<PruneReport, StoreError>;
}

/// Approvals and their compare-and-set state machine (`aiops_core::approval`).
#[async_trait::async_trait]
pub trait ApprovalStore: Send + Sync {
    /// Creates an approval, links it to its request and sets the request pending, atomically.
    async fn create_approval(
        &self,
        approval: &NewApproval,
        update: RequestUpdate,
        event: AuditEvent,
    ) -> Result<(), StoreError>;
    async fn get_approval(&self, id: &str) -> Result<Option<ApprovalRecord>, StoreError>;
    /// One page of approvals (all, or those in a state), oldest first (keyset pagination
    /// on the id, as [`RequestStore::list_requests`]).
    async fn list_approvals(
        &self,
        query: &ApprovalQuery,
    ) -> Result<Page<ApprovalRecord>, StoreError>;
    /// Records a decision atomically, as `aiops_core::approval::decide` says: refuses closed
    /// or expired approvals and the requester, is idempotent per approver, and moves
    /// `pending` to `approved` once enough distinct approvers agreed, or to `rejected` on the
    /// first rejection. Appends the audit event(s) in the same transaction.
    async fn decide_approval(&self, d: &NewDecision) -> Result<DecisionOutcome, StoreError>;
    /// Moves one `approved` approval to `executing` (compare-and-set: exactly one worker
    /// wins, on any replica) and returns it.
    async fn claim_approved(&self) -> Result<Option<ApprovalRecord>, StoreError>;
    /// Ends an executing approval (`succeeded`, `failed` or `void`), updates its request and
    /// appends `event`, atomically; marks the Slack message for an update.
    async fn finish_approval(
        &self,
        id: &str,
        state: ApprovalState,
        reason: Option<String>,
        update: RequestUpdate,
        event: AuditEvent,
    ) -> Result<(), StoreError>;
    /// Expires every pending approval whose deadline has passed; their requests fail with
    /// `approval_expired`. Returns the expired approvals.
    async fn expire_due(&self, now_ms: i64) -> Result<Vec<ApprovalRecord>, StoreError>;
}

/// The durable Slack outbox (messages about approvals) and the replay guard for signed
/// Slack requests.
#[async_trait::async_trait]
pub trait SlackOutbox: Send + Sync {
    /// Approvals whose Slack message is due to be posted (never posted, next attempt due).
    async fn slack_posts_due(&self, now_ms: i64) -> Result<Vec<ApprovalRecord>, StoreError>;
    /// Approvals whose Slack message must be updated after a state change.
    async fn slack_updates_due(&self, now_ms: i64) -> Result<Vec<ApprovalRecord>, StoreError>;
    /// Records the outcome of a Slack call: `posted` (channel and ts) / `updated`, or a
    /// failure with the time of the next attempt. Posting is audited.
    async fn slack_result(&self, id: &str, result: SlackResult) -> Result<(), StoreError>;
    /// Remembers an accepted Slack signature; `false` when it was seen before (a replay).
    /// Forgets signatures older than `forget_before_ms`.
    async fn slack_nonce(
        &self,
        signature: &str,
        now_ms: i64,
        forget_before_ms: i64,
    ) -> Result<bool, StoreError>;
}

/// How a store is shared between processes. SQLite is not: one serving process per file
/// (the daemon's data-directory lock), so whatever is in flight at start-up was left by a
/// dead process. Postgres is: several replicas serve one database, each holds a **lease**
/// (a row with an expiry, renewed by [`Replicas::renew_lease`]) and owns the requests it
/// runs; [`RequestStore::fail_interrupted`] takes over the requests of replicas whose lease
/// expired, and the daemon calls it periodically.
#[async_trait::async_trait]
pub trait Replicas: Send + Sync {
    /// How long this process's lease lives without renewal; `None` when the store is not
    /// shared (then nothing needs renewing and leftovers are settled once, at start-up).
    fn lease_ttl(&self) -> Option<std::time::Duration> {
        None
    }
    /// Extends this process's lease. [`StoreError::LeaseLost`] when another replica took it
    /// over (this process was presumed dead and may write nothing more).
    async fn renew_lease(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// The daemon's view of its store: all four parts. One implementation per database;
/// anything that implements the four parts is a `Store`.
pub trait Store: RequestStore + ApprovalStore + SlackOutbox + Replicas {}

impl<T: RequestStore + ApprovalStore + SlackOutbox + Replicas + ?Sized> Store for T {}
