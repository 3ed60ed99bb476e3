//! One request on its way down the path, and the one combinator every stage goes through.
//!
//! [`Run::step`] times a stage's future, then records its outcome in one place: the audit row
//! together with the request's new state, the log line (inside the request's `intent_id`
//! span) and the stage-latency metric. So the three never disagree, and no stage writes an
//! event by hand. The response the caller gets is built from the same [`RequestUpdate`] the
//! store gets.
//!
//! **Durability points.** A stage's row is buffered in the run and committed with the next
//! durability point, in one transaction (which the store may share with other runs: group
//! commit). The points keep the path's invariants at the least cost:
//! - the end of the request (any terminal status, or `pending_approval`): nothing is
//!   acknowledged before it is durable, and the result is durable before it is reported;
//! - a record marked [`Record::durable`]: the `executing` record, so nothing touches the
//!   world before it is durable, and a refused decision, which answers an error.
//!
//! A request that does not execute costs one commit; one that executes costs two. A run that
//! stops before its next point (a crash, a store failure) leaves nothing of its buffered
//! stages behind: it was never acknowledged. The log line and the metric of a stage are
//! written once its row is committed.

use std::future::Future;
use std::time::{Duration, Instant};

use aiops_core::{ApprovalState, Caller, ErrorCode, RequestStatus, StageName};
use aiops_store::{
    ApprovalEnd, AuditEvent, Change, DecisionOutcome, NewApproval, NewDecision, NewRequest,
    RequestRecord, RequestUpdate,
};
use serde_json::{Value, json};
use tracing::Instrument;

use crate::App;
use crate::failure::Failure;
use aiops_api::{ApprovalSummary, ErrorBody, IntentResponse, PlanView};

/// What a stage's outcome is called in logs, metrics and audit rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::Display)]
#[strum(serialize_all = "snake_case")]
pub enum StepOutcome {
    Accepted,
    Skipped,
    Found,
    /// A stage whose backend is down, and the request went on without it.
    Unavailable,
    Parsed,
    Unrecognized,
    Allow,
    Deny,
    RequireApproval,
    Planned,
    Pending,
    Refused,
    Fetched,
    NoneNeeded,
    Started,
    Succeeded,
    Answered,
    Failed,
    DeniedAtExecution,
    ApprovalInsufficient,
    // Verification (`aiops_core::VerificationOutcome`).
    Verified,
    Unverified,
    Diverged,
    // Rollback: asked for (on the request it undoes), refused by a world that moved on.
    Requested,
    Conflict,
    // Recovery of an interrupted execution (`aiops_core::Reconciliation`).
    VerifiedAfterRestart,
    NothingApplied,
    StateUnknown,
    // Human decisions.
    Approved,
    Rejected,
    ApprovalRecorded,
    Unchanged,
    Closed,
    Expired,
}

impl StepOutcome {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl From<aiops_core::Reconciliation> for StepOutcome {
    fn from(r: aiops_core::Reconciliation) -> Self {
        match r {
            aiops_core::Reconciliation::VerifiedAfterRestart => StepOutcome::VerifiedAfterRestart,
            aiops_core::Reconciliation::NothingApplied => StepOutcome::NothingApplied,
            aiops_core::Reconciliation::StateUnknown => StepOutcome::StateUnknown,
        }
    }
}

impl From<aiops_core::VerificationOutcome> for StepOutcome {
    fn from(v: aiops_core::VerificationOutcome) -> Self {
        match v {
            aiops_core::VerificationOutcome::Verified => StepOutcome::Verified,
            aiops_core::VerificationOutcome::Unverified => StepOutcome::Unverified,
            aiops_core::VerificationOutcome::Diverged => StepOutcome::Diverged,
        }
    }
}

impl From<aiops_policy::Outcome> for StepOutcome {
    fn from(o: aiops_policy::Outcome) -> Self {
        match o {
            aiops_policy::Outcome::Allow => StepOutcome::Allow,
            aiops_policy::Outcome::Deny => StepOutcome::Deny,
            aiops_policy::Outcome::RequireApproval => StepOutcome::RequireApproval,
        }
    }
}

/// How a stage's outcome reaches the store: always with its audit row, in one transaction.
#[derive(Debug, Default)]
pub enum Write {
    /// Update the request (possibly with no field changes) and append the event.
    #[default]
    Update,
    /// Insert the accepted request with its intake event.
    CreateRequest(NewRequest),
    /// Create the pending approval, link it and set the request pending.
    CreateApproval(NewApproval),
    /// Append the event only: nothing about the request changes (a refused decision).
    Append,
}

/// What a stage records.
#[derive(Debug)]
pub struct Record {
    pub outcome: StepOutcome,
    pub data: Value,
    pub update: RequestUpdate,
    pub write: Write,
    /// Parts of the response that have no column of their own.
    pub reason: Option<String>,
    pub approval: Option<ApprovalSummary>,
    /// The answer of a question (`ops.ask`).
    pub answer: Option<String>,
    /// What reading the world back found (the verify stage).
    pub verification: Option<aiops_core::Verification>,
    /// Commit this record, and every one buffered before it, before the run goes on.
    pub durable: bool,
}

impl Record {
    pub fn new(outcome: StepOutcome, data: Value) -> Self {
        Record {
            outcome,
            data,
            update: RequestUpdate::default(),
            write: Write::Update,
            reason: None,
            approval: None,
            answer: None,
            verification: None,
            durable: false,
        }
    }

    /// Makes this record a durability point (see the module docs).
    pub fn durable(mut self) -> Self {
        self.durable = true;
        self
    }

    pub fn update(mut self, update: RequestUpdate) -> Self {
        self.update = update;
        self
    }

    pub fn write(mut self, write: Write) -> Self {
        self.write = write;
        self
    }

    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    pub fn approval(mut self, approval: ApprovalSummary) -> Self {
        self.approval = Some(approval);
        self
    }

    pub fn answer(mut self, answer: String) -> Self {
        self.answer = Some(answer);
        self
    }

    pub fn verification(mut self, verification: aiops_core::Verification) -> Self {
        self.verification = Some(verification);
        self
    }
}

/// A stage's result.
#[derive(Debug)]
pub enum Step<T> {
    /// Record and go on with the value.
    Next(T, Record),
    /// Record and stop the request in this status (a terminal one, or `pending_approval`).
    End(RequestStatus, Record),
    /// Record the failure and stop the request as `failed` (or `denied` for policy codes).
    Fail(Failure),
}

impl<T> Step<T> {
    pub fn fail(code: ErrorCode, message: impl Into<String>) -> Self {
        Step::Fail(Failure::new(code, message))
    }
}

/// Why a run stopped before its last stage.
#[derive(Debug)]
pub enum Halt {
    /// The request ended (its outcome is recorded and in the response).
    Ended,
    /// The store could not record a stage: nothing after it ran.
    Store(Failure),
}

impl From<Failure> for Halt {
    fn from(f: Failure) -> Self {
        Halt::Store(f)
    }
}

/// One request on its way down the path.
pub struct Run<'a> {
    pub(crate) app: &'a App,
    pub(crate) id: String,
    pub(crate) caller: Caller,
    pub(crate) resp: IntentResponse,
    /// The executing approval this run carries out, ended together with the request.
    approval_id: Option<String>,
    span: tracing::Span,
    /// Stage outcomes recorded since the last durability point, not yet committed.
    pending: Vec<Change>,
    /// Their log lines and metrics, written once they are committed.
    observed: Vec<Observed>,
}

/// A recorded stage outcome's log line and metrics.
struct Observed {
    stage: StageName,
    outcome: StepOutcome,
    elapsed: Duration,
    end: Option<RequestStatus>,
}

impl<'a> Run<'a> {
    /// A new request, not yet stored: its first step must be intake.
    pub fn start(app: &'a App, caller: Caller) -> Self {
        let id = ulid::Ulid::new().to_string();
        Self::with_id(app, id, caller, |id| IntentResponse::received(id))
    }

    fn with_id(
        app: &'a App,
        id: String,
        caller: Caller,
        resp: impl FnOnce(&str) -> IntentResponse,
    ) -> Self {
        let span = tracing::info_span!("intent", intent_id = %id);
        Run {
            app,
            resp: resp(&id),
            id,
            caller,
            approval_id: None,
            span,
            pending: Vec::new(),
            observed: Vec::new(),
        }
    }

    /// Picks a stored request up again (after its approval, or for a decision), as `caller`.
    pub fn resume(app: &'a App, rec: &RequestRecord, caller: Caller) -> Self {
        Self::with_id(app, rec.id.clone(), caller, |id| {
            let mut resp = IntentResponse::received(id);
            resp.status = rec.status;
            resp.intent = rec
                .intent
                .clone()
                .and_then(|v| serde_json::from_value(v).ok());
            resp.decision = rec
                .decision
                .clone()
                .and_then(|v| serde_json::from_value(v).ok());
            resp.plan = rec
                .plan
                .clone()
                .and_then(|v| serde_json::from_value::<aiops_core::Plan>(v).ok())
                .map(|p| PlanView::from(&p));
            resp
        })
    }

    /// Makes this run carry out `approval_id`: its final stage ends the approval too.
    pub fn for_approval(mut self, approval_id: &str) -> Self {
        self.approval_id = Some(approval_id.to_string());
        self
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn approval_id(&self) -> Option<&str> {
        self.approval_id.as_deref()
    }

    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    pub fn into_response(self) -> IntentResponse {
        self.resp
    }

    /// Buffers an audit row about another request (the link a rollback leaves on the
    /// request it undoes), committed with this run's next durability point.
    pub fn note(&mut self, event: AuditEvent) {
        self.pending.push(Change::Append(event));
    }

    /// Runs one stage: times `fut`, then records its outcome (log, metric, audit row with
    /// the request's new state) and maps it: `Next` gives the value to the caller, `End` and
    /// `Fail` stop the run with the outcome recorded.
    pub async fn step<T>(
        &mut self,
        stage: StageName,
        fut: impl Future<Output = Step<T>>,
    ) -> Result<T, Halt> {
        let started = Instant::now();
        let step = fut.instrument(self.span.clone()).await;
        match step {
            Step::Next(value, record) => {
                self.record(stage, started, record, None).await?;
                Ok(value)
            }
            Step::End(status, record) => {
                self.record(stage, started, record, Some(status)).await?;
                Err(Halt::Ended)
            }
            Step::Fail(failure) => {
                self.record_failure(stage, started, failure).await?;
                Err(Halt::Ended)
            }
        }
    }

    async fn record_failure(
        &mut self,
        stage: StageName,
        started: Instant,
        f: Failure,
    ) -> Result<(), Halt> {
        let _enter = self.span.enter();
        tracing::warn!(stage = stage.as_str(), code = %f.code, error = %f.message, "stage failed");
        drop(_enter);
        let error = ErrorBody {
            code: f.code,
            message: f.message.clone(),
        };
        let record = Record::new(
            StepOutcome::Failed,
            json!({"code": f.code, "message": f.message}),
        )
        .update(RequestUpdate {
            error: Some(json!(error)),
            ..Default::default()
        });
        self.record(stage, started, record, Some(RequestStatus::Failed))
            .await
    }

    /// The one place a stage outcome is recorded: buffered, and committed at once when it
    /// ends the request or is a durability point.
    async fn record(
        &mut self,
        stage: StageName,
        started: Instant,
        mut record: Record,
        end: Option<RequestStatus>,
    ) -> Result<(), Halt> {
        if let Some(status) = end {
            record.update.status = Some(status);
            if let Some(approval_id) = self.approval_id.clone() {
                record.update.approval_end = Some(approval_end(approval_id, status, &record));
            }
        }
        mirror(&mut self.resp, &record);
        let event = AuditEvent::new(
            Some(&self.id),
            stage.as_str(),
            record.outcome.as_str(),
            record.data,
        )
        .by(self.caller.actor());
        let change = match record.write {
            Write::Update => Change::Update(self.id.clone(), record.update, event),
            Write::CreateRequest(req) => Change::CreateRequest(req, event),
            Write::CreateApproval(approval) => {
                Change::CreateApproval(approval, record.update, event)
            }
            Write::Append => Change::Append(event),
        };
        self.pending.push(change);
        self.observed.push(Observed {
            stage,
            outcome: record.outcome,
            elapsed: started.elapsed(),
            end,
        });
        if end.is_some() || record.durable {
            self.commit().await?;
        }
        Ok(())
    }

    /// A durability point: commits every buffered stage outcome in one transaction, then
    /// writes their log lines and metrics.
    async fn commit(&mut self) -> Result<(), Halt> {
        let changes = std::mem::take(&mut self.pending);
        let observed = std::mem::take(&mut self.observed);
        if let Err(e) = self.app.store.commit(changes).await {
            let _enter = self.span.enter();
            for o in &observed {
                tracing::error!(stage = o.stage.as_str(), outcome = o.outcome.as_str(), error = %e, "stage could not be recorded");
            }
            return Err(Halt::Store(Failure::from(e)));
        }
        for o in observed {
            self.observe(o.stage, o.outcome, o.elapsed);
            if let Some(status) = o.end {
                self.app.metrics.count_request(status);
            }
        }
        Ok(())
    }

    /// The log line and the metric of a recorded stage outcome.
    fn observe(&self, stage: StageName, outcome: StepOutcome, elapsed: Duration) {
        let _enter = self.span.enter();
        self.app
            .metrics
            .observe_stage(stage.as_str(), outcome.as_str(), elapsed);
        tracing::info!(
            stage = stage.as_str(),
            outcome = outcome.as_str(),
            elapsed_ms = elapsed.as_millis() as u64,
            "stage"
        );
    }

    /// A human decision on this request's approval. The store applies the approval state
    /// machine and writes the audit row of the transition in the same transaction; this
    /// records the log line and the metric with the outcome.
    pub async fn decide(&mut self, d: NewDecision) -> Result<DecisionOutcome, Halt> {
        let started = Instant::now();
        let outcome = self.app.store.decide_approval(&d).await.map_err(|e| {
            let _enter = self.span.enter();
            tracing::error!(stage = "approve", error = %e, "decision could not be recorded");
            Halt::Store(Failure::from(e))
        })?;
        let label = match &outcome {
            DecisionOutcome::Recorded { approval } => match approval.state {
                ApprovalState::Approved => StepOutcome::Approved,
                ApprovalState::Rejected => StepOutcome::Rejected,
                _ => StepOutcome::ApprovalRecorded,
            },
            DecisionOutcome::Unchanged { .. } => StepOutcome::Unchanged,
            DecisionOutcome::Closed { .. } => StepOutcome::Closed,
            DecisionOutcome::Expired { .. } => StepOutcome::Expired,
        };
        self.observe(StageName::Approve, label, started.elapsed());
        Ok(outcome)
    }
}

/// How the approval a run carries out ends, given how its request ends.
fn approval_end(approval_id: String, status: RequestStatus, record: &Record) -> ApprovalEnd {
    let error = record
        .update
        .error
        .as_ref()
        .and_then(|e| serde_json::from_value::<ErrorBody>(e.clone()).ok());
    let (to, reason) = match status {
        RequestStatus::Success => (ApprovalState::Succeeded, None),
        RequestStatus::Denied => (
            ApprovalState::Void,
            Some(
                error
                    .map(|e| e.message)
                    .unwrap_or_else(|| "policy denies it now".to_string()),
            ),
        ),
        _ => match error {
            Some(e) if e.code == ErrorCode::ApprovalVoid => (ApprovalState::Void, Some(e.message)),
            Some(e) => (ApprovalState::Failed, Some(e.message)),
            None => (ApprovalState::Failed, None),
        },
    };
    ApprovalEnd {
        approval_id,
        to,
        reason,
    }
}

/// Mirrors what a stage records into the response, so both say the same.
fn mirror(resp: &mut IntentResponse, record: &Record) {
    {
        let u = &record.update;
        if let Some(status) = u.status {
            resp.status = status;
        }
        if let Some(v) = &u.intent {
            resp.intent = serde_json::from_value(v.clone()).ok();
        }
        if let Some(v) = &u.decision {
            resp.decision = serde_json::from_value(v.clone()).ok();
        }
        if let Some(v) = &u.plan {
            resp.plan = serde_json::from_value::<aiops_core::Plan>(v.clone())
                .ok()
                .map(|p| PlanView::from(&p));
        }
        if let Some(v) = &u.execution {
            resp.execution = Some(v.clone());
        }
        if let Some(v) = &u.error {
            resp.error = serde_json::from_value(v.clone()).ok();
        }
        if let Some(Value::Array(items)) = &u.context {
            resp.context = items.clone();
        }
        if let Some(reason) = &record.reason {
            resp.reason = Some(reason.clone());
        }
        if let Some(approval) = &record.approval {
            resp.approval = Some(approval.clone());
        }
        if let Some(answer) = &record.answer {
            resp.answer = Some(answer.clone());
        }
        if let Some(verification) = &record.verification {
            resp.verification = Some(verification.clone());
        }
    }
}
