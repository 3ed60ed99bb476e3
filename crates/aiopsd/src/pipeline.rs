//! The request path: intake → retrieve → parse → decide → plan → approve → credentials →
//! execute. Each stage is a function returning a [`Step`]; [`Run::step`] records it. The
//! path returns a domain outcome ([`IntentResponse`]) or a [`Failure`]; only the API layer
//! knows HTTP.

use aiops_core::{
    ActionSpec, ErrorCode, Intent, ParseContext, Plan, RequestStatus, Retrieval, StageName,
    VerificationOutcome,
};
use aiops_policy::{Caller, Decision, Outcome, PolicyInput, Stage};
use aiops_store::{NewApproval, NewRequest, RequestUpdate};
use serde_json::{Value, json};

use crate::App;
use crate::credentials::Lease;
use crate::failure::Failure;
use crate::parse::{Parsed, validate};
use crate::run::{Halt, Record, Run, Step, StepOutcome, Write};
use aiops_api::{ApprovalSummary, IntentRequest, IntentResponse};

/// Runs a request down the whole path. Every outcome, including failures, is durable before
/// this returns (see `run`'s durability points).
pub async fn submit(
    app: &App,
    req: IntentRequest,
    caller: Caller,
) -> Result<IntentResponse, Failure> {
    let nl = req.nl.trim().to_string();
    if nl.is_empty() {
        return Err(Failure::invalid_request("`nl` must not be empty"));
    }
    let mut run = Run::start(app, caller);
    finish(run_path(&mut run, nl, req.dry_run).await, run)
}

/// Runs an already typed intent (an MCP tool call, validated against its schema) down the
/// path from decide on, as `caller`; answered like [`submit`].
pub async fn submit_call(
    app: &App,
    intent: Intent,
    dry_run: bool,
    caller: Caller,
) -> Result<IntentResponse, Failure> {
    let spec = spec_of(app, &intent)?;
    let mut run = Run::start(app, caller);
    let nl = format!(
        "{} call: {} {}",
        intent.parser,
        intent.action,
        Value::Object(intent.params.clone())
    );
    let result = async {
        intake(&mut run, nl, dry_run, None).await?;
        typed(&mut run, &intent, json!({})).await?;
        decide_and_act(&mut run, &intent, &spec, dry_run).await
    }
    .await;
    finish(result, run)
}

/// Runs a dry run's intent for real, bound to the plan its user reviewed (`shown`): when
/// planning now gives another plan (the world or the policy data moved since), the request
/// fails with `plan_changed` before anything is approved or executed.
pub async fn submit_reviewed(
    app: &App,
    nl: String,
    intent: Intent,
    shown: String,
    caller: Caller,
) -> Result<IntentResponse, Failure> {
    let spec = spec_of(app, &intent)?;
    let mut run = Run::start(app, caller);
    let result = async {
        intake(&mut run, nl, false, None).await?;
        typed(&mut run, &intent, json!({"reviewed_plan": shown})).await?;
        decide_plan_act(&mut run, &intent, &spec, false, Some(&shown)).await
    }
    .await;
    finish(result, run)
}

/// The catalog entry of an already typed intent.
fn spec_of(app: &App, intent: &Intent) -> Result<ActionSpec, Failure> {
    app.catalog
        .get(intent.action)
        .cloned()
        .ok_or_else(|| Failure::new(ErrorCode::UnknownAction, "not a catalog action"))
}

/// parse, for an intent no parser read (an MCP call, a rollback's inverse): records it with
/// `data` and how it came.
pub(crate) async fn typed(run: &mut Run<'_>, intent: &Intent, mut data: Value) -> Result<(), Halt> {
    data["parser"] = json!(intent.parser);
    data["action"] = json!(intent.action);
    let update = RequestUpdate {
        intent: Some(json!(intent)),
        ..Default::default()
    };
    run.step(StageName::Parse, async {
        Step::Next((), Record::new(StepOutcome::Parsed, data).update(update))
    })
    .await
}

/// The response of a run that stopped, or the store failure that stopped it.
pub(crate) fn finish(result: Result<(), Halt>, run: Run<'_>) -> Result<IntentResponse, Failure> {
    match result {
        Ok(()) | Err(Halt::Ended) => Ok(run.into_response()),
        Err(Halt::Store(f)) => Err(f),
    }
}

async fn run_path(run: &mut Run<'_>, nl: String, dry_run: bool) -> Result<(), Halt> {
    let app = run.app;
    intake(run, nl.clone(), dry_run, None).await?;
    let context = run.step(StageName::Retrieve, retrieve(app, &nl)).await?;
    let (intent, spec) = run
        .step(StageName::Parse, parse(app, &nl, &context))
        .await?;
    decide_and_act(run, &intent, &spec, dry_run).await
}

/// intake: recorded with the request's first durability point (its end, or the start of
/// its execution); nothing is acknowledged before then. A rollback names the request it
/// undoes.
pub(crate) async fn intake(
    run: &mut Run<'_>,
    nl: String,
    dry_run: bool,
    rollback_of: Option<&str>,
) -> Result<(), Halt> {
    let mut data =
        json!({"dry_run": dry_run, "caller": run.caller.user, "nl_chars": nl.chars().count()});
    if let Some(id) = rollback_of {
        data["rollback_of"] = json!(id);
    }
    let new = NewRequest {
        id: run.id().to_string(),
        nl,
        dry_run,
        caller: run.caller.user.clone(),
    };
    run.step(StageName::Intake, async {
        Step::Next(
            (),
            Record::new(StepOutcome::Accepted, data).write(Write::CreateRequest(new)),
        )
    })
    .await
}

/// decide → plan → approve or execute: the path of any intent, parsed or a rollback's.
pub(crate) async fn decide_and_act(
    run: &mut Run<'_>,
    intent: &Intent,
    spec: &ActionSpec,
    dry_run: bool,
) -> Result<(), Halt> {
    decide_plan_act(run, intent, spec, dry_run, None).await
}

/// [`decide_and_act`], and with `reviewed` the plan must have that hash.
async fn decide_plan_act(
    run: &mut Run<'_>,
    intent: &Intent,
    spec: &ActionSpec,
    dry_run: bool,
    reviewed: Option<&str>,
) -> Result<(), Halt> {
    let app = run.app;
    let input = policy_input(&run.caller, intent, spec, dry_run, Stage::Decide);
    let decision = run.step(StageName::Decide, decide(app, input)).await?;
    let plan = run
        .step(StageName::Plan, plan(app, spec, intent, dry_run, reviewed))
        .await?;
    if decision.outcome == Outcome::RequireApproval {
        let approval = pending_approval(app, run, intent, &plan, &decision);
        return run.step(StageName::Approve, approval).await;
    }
    execute(run, spec, intent, &plan, dry_run).await
}

/// retrieve: runbook context for the request.
async fn retrieve(app: &App, nl: &str) -> Step<Vec<aiops_core::ContextChunk>> {
    match app.retriever.retrieve(nl).await {
        Ok(Retrieval::Skipped { reason }) => Step::Next(
            Vec::new(),
            Record::new(StepOutcome::Skipped, json!({"reason": reason})),
        ),
        Ok(Retrieval::Found { chunks }) => {
            // Clients get where each passage is; the audit row gets ids and hashes, never text.
            let context: Vec<Value> = chunks
                .iter()
                .map(|c| json!({"doc": c.doc, "heading": c.heading, "chunk_id": c.chunk_id, "score": c.score}))
                .collect();
            let audited: Vec<Value> = chunks
                .iter()
                .map(|c| json!({"chunk_id": c.chunk_id, "content_hash": c.content_hash, "score": c.score}))
                .collect();
            let record = Record::new(
                StepOutcome::Found,
                json!({"retriever": app.retriever.name(), "chunks": audited}),
            )
            .update(RequestUpdate {
                context: Some(Value::Array(context)),
                ..Default::default()
            });
            Step::Next(chunks, record)
        }
        // Context informs, it never gates: with the index down the request goes on without
        // it (an `ops.ask` then fails at its executor, which needs the index).
        Err(e) => {
            tracing::warn!(code = %e.code, error = %e.message, "retrieval unavailable; parsing without context");
            Step::Next(
                Vec::new(),
                Record::new(
                    StepOutcome::Unavailable,
                    json!({"retriever": app.retriever.name(), "code": e.code, "error": e.message}),
                ),
            )
        }
    }
}

/// parse: the configured parser proposes, the catalog decides.
async fn parse(
    app: &App,
    nl: &str,
    context: &[aiops_core::ContextChunk],
) -> Step<(Intent, ActionSpec)> {
    let ctx = ParseContext {
        catalog: &app.catalog,
        context,
    };
    let outcome = app.parser.parse(nl, &ctx).await;
    for q in &outcome.quarantined {
        app.metrics.count_quarantined(q.reason);
    }
    // Refused answers are stored with this stage's event; they never reach policy.
    let quarantine = outcome.quarantined.clone();
    match validate(&app.catalog, &outcome) {
        (Parsed::Unrecognized(reason), data) => Step::End(
            RequestStatus::Unrecognized,
            Record::new(StepOutcome::Unrecognized, data)
                .reason(reason)
                .update(RequestUpdate {
                    quarantine,
                    ..Default::default()
                }),
        ),
        (Parsed::Intent(intent), data) => {
            // validate() only returns catalog actions; this is a defence in depth.
            let Some(spec) = app.catalog.get(intent.action).cloned() else {
                return Step::fail(ErrorCode::UnknownAction, "not a catalog action");
            };
            let record = Record::new(StepOutcome::Parsed, data).update(RequestUpdate {
                intent: Some(json!(intent)),
                quarantine,
                ..Default::default()
            });
            Step::Next((intent, spec), record)
        }
    }
}

pub(crate) fn policy_input(
    caller: &Caller,
    intent: &Intent,
    spec: &ActionSpec,
    dry_run: bool,
    stage: Stage,
) -> PolicyInput {
    PolicyInput {
        action: intent.action,
        risk: spec.risk,
        params: Value::Object(intent.params.clone()),
        dry_run,
        stage,
        caller: caller.clone(),
        parser: intent.parser,
        confidence: intent.confidence,
    }
}

/// Whether the caller's roles may submit a request of this risk class (policy's
/// `access_decision` on `intents.submit.<risk>`): `None` when they may, else the step that
/// ends the request as denied, with a `forbidden` error. Asked at decide and again at
/// execute, since roles can change while an approval waits.
fn refused_by_role<T>(app: &App, input: &PolicyInput) -> Option<Step<T>> {
    let operation = aiops_policy::Operation::submit(input.risk);
    let access = match app.policy.evaluate_access(&aiops_policy::AccessInput {
        caller: input.caller.clone(),
        operation,
    }) {
        Ok(a) => a,
        Err(e) => return Some(Step::fail(ErrorCode::PolicyError, e.to_string())),
    };
    if access.allowed {
        return None;
    }
    let message = access.reasons.join("; ");
    Some(Step::End(
        RequestStatus::Denied,
        Record::new(
            StepOutcome::Refused,
            json!({"operation": operation.as_str(), "reasons": access.reasons}),
        )
        .update(RequestUpdate {
            error: Some(json!({"code": ErrorCode::Forbidden, "message": message})),
            ..Default::default()
        }),
    ))
}

/// decide: the caller's roles, then policy on the typed intent, before planning.
async fn decide(app: &App, input: PolicyInput) -> Step<Decision> {
    if let Some(refused) = refused_by_role(app, &input) {
        return refused;
    }
    let decision = match app.policy.evaluate(&input) {
        Ok(d) => d,
        Err(e) => return Step::fail(ErrorCode::PolicyError, e.to_string()),
    };
    app.metrics.count_decision(decision.outcome);
    let data = json!({"outcome": decision.outcome, "reasons": decision.reasons, "policy_revision": decision.policy_revision});
    let record = Record::new(decision.outcome.into(), data).update(RequestUpdate {
        decision: Some(json!(decision)),
        ..Default::default()
    });
    if decision.outcome == Outcome::Deny {
        return Step::End(RequestStatus::Denied, record);
    }
    Step::Next(decision, record)
}

/// Plans `intent` with its executor's dry run.
pub(crate) async fn make_plan(
    app: &App,
    spec: &ActionSpec,
    intent: &Intent,
) -> Result<Plan, Failure> {
    let target = app.catalog.target(intent, &app.zones);
    let planned = app.executors.plan(spec, intent, &target).await?;
    Ok(Plan::new(intent, target, planned.diff, planned.changes)
        .with_executor_state(planned.state)
        .with_before(planned.before))
}

/// plan: the dry run; a dry-run request ends here.
async fn plan(
    app: &App,
    spec: &ActionSpec,
    intent: &Intent,
    dry_run: bool,
    reviewed: Option<&str>,
) -> Step<Plan> {
    let plan = match make_plan(app, spec, intent).await {
        Ok(p) => p,
        Err(f) => return Step::Fail(f),
    };
    if let Some(shown) = reviewed
        && shown != plan.hash
    {
        return Step::Fail(Failure::new(
            ErrorCode::PlanChanged,
            format!(
                "the plan changed since it was reviewed (reviewed {shown}, now {}): dry-run it again",
                plan.hash
            ),
        ));
    }
    let data = json!({"hash": plan.hash, "changes": plan.changes, "target": plan.target});
    let mut update = RequestUpdate {
        plan: Some(json!(plan)),
        ..Default::default()
    };
    if dry_run {
        update.execution = Some(json!({
            "executor": spec.executor.name(),
            "changed": false,
            "would_change": plan.changes,
            "diff": plan.diff,
            "result": "dry run: nothing was changed",
        }));
        return Step::End(
            RequestStatus::DryRun,
            Record::new(StepOutcome::Planned, data).update(update),
        );
    }
    Step::Next(plan, Record::new(StepOutcome::Planned, data).update(update))
}

/// approve: stores an approval bound to the plan's hash; the request waits for humans.
fn pending_approval<'f>(
    app: &'f App,
    run: &Run<'_>,
    intent: &Intent,
    plan: &Plan,
    decision: &Decision,
) -> impl std::future::Future<Output = Step<()>> + 'f {
    let ttl = app
        .config
        .approvals
        .ttl_secs_by_action
        .get(intent.action.as_str())
        .copied()
        .unwrap_or(app.config.approvals.ttl_secs);
    let approvals_required = decision.approvals_required.max(1);
    let request_id = run.id().to_string();
    let requester = run.caller.user.clone();
    let plan_hash = plan.hash.clone();
    async move {
        let expires = time::OffsetDateTime::now_utc()
            + time::Duration::seconds(i64::try_from(ttl).unwrap_or(i64::MAX / 2));
        let expires_at = match expires.format(&time::format_description::well_known::Rfc3339) {
            Ok(t) => t,
            Err(e) => return Step::fail(ErrorCode::Internal, e.to_string()),
        };
        let approval_id = ulid::Ulid::new().to_string();
        let data = json!({"approval_id": approval_id, "plan_hash": plan_hash,
                          "approvals_required": approvals_required, "expires_at": expires_at});
        let summary = ApprovalSummary {
            id: approval_id.clone(),
            state: aiops_core::ApprovalState::Pending,
            approvals_required,
            approvers: Vec::new(),
            expires_at: expires_at.clone(),
        };
        let approval = NewApproval {
            id: approval_id,
            request_id,
            plan_hash,
            requester,
            approvals_required,
            expires_at,
        };
        Step::End(
            RequestStatus::PendingApproval,
            Record::new(StepOutcome::Pending, data)
                .write(Write::CreateApproval(approval))
                .approval(summary),
        )
    }
}

/// credentials → re-check policy → execute. Shared by direct runs and approved ones.
pub(crate) async fn execute(
    run: &mut Run<'_>,
    spec: &ActionSpec,
    intent: &Intent,
    plan: &Plan,
    dry_run: bool,
) -> Result<(), Halt> {
    let app = run.app;
    let lease = run
        .step(StageName::Credentials, credentials(app, spec))
        .await?;
    let input = policy_input(&run.caller, intent, spec, dry_run, Stage::Execute);
    let approved_by = match run.approval_id() {
        Some(id) => app
            .store
            .get_approval(id)
            .await
            .map_err(Failure::from)?
            .map(|a| {
                a.decisions
                    .iter()
                    .filter(|d| d.decision == aiops_core::Verdict::Approve)
                    .count()
            })
            .unwrap_or(0),
        None => 0,
    };
    run.step(
        StageName::Execute,
        recheck(app, input, spec, plan, dry_run, approved_by),
    )
    .await?;
    let execution = run
        .step(StageName::Execute, act(app, spec, intent, plan, lease))
        .await?;
    run.step(
        StageName::Verify,
        verify(app, spec, intent, plan, execution),
    )
    .await
}

/// verify: the world read back through the executor's own read path (module `verify`).
/// Buffered with the execution's row: both are durable with the request's end.
async fn verify(
    app: &App,
    spec: &ActionSpec,
    intent: &Intent,
    plan: &Plan,
    mut execution: Value,
) -> Step<()> {
    let settle = crate::verify::settle_of(app, spec);
    let verification = crate::verify::verify(app, spec, intent, plan, &execution, settle).await;
    app.metrics.count_verification_outcome(verification.outcome);
    execution["verification"] = json!(verification);
    let data = json!({
        "outcome": verification.outcome,
        "reason": verification.reason,
        "diff": verification.diff,
        "evidence": verification.evidence,
        "attempts": verification.attempts,
    });
    let mut update = RequestUpdate {
        execution: Some(execution),
        ..Default::default()
    };
    let status = if verification.outcome == VerificationOutcome::Diverged {
        let message = format!(
            "the executor reported success, but the world read back differs from the plan: {}",
            verification
                .diff
                .as_deref()
                .unwrap_or_default()
                .replace('\n', "; ")
        );
        update.error = Some(json!({"code": ErrorCode::VerificationDiverged, "message": message}));
        RequestStatus::Failed
    } else {
        RequestStatus::Success
    };
    Step::End(
        status,
        Record::new(verification.outcome.into(), data)
            .update(update)
            .verification(verification),
    )
}

/// credentials: exactly the secrets the action declares, just before it runs.
async fn credentials(app: &App, spec: &ActionSpec) -> Step<Lease> {
    let paths = app.executors.secret_paths(spec);
    let lease = if paths.is_empty() {
        Lease::empty()
    } else {
        match Lease::fetch(app.secrets.as_ref(), &paths).await {
            Ok(l) => l,
            Err(e) => return Step::fail(ErrorCode::CredentialsUnavailable, e.to_string()),
        }
    };
    let outcome = if paths.is_empty() {
        StepOutcome::NoneNeeded
    } else {
        StepOutcome::Fetched
    };
    let data = json!({"source": app.secrets.kind(), "paths": lease.paths(), "request_ids": lease.request_ids()});
    Step::Next(lease, Record::new(outcome, data))
}

/// Policy again, right before acting: policies and roles may have changed since the
/// decision. Then the request is marked `executing`, so a crash mid-run is visible and
/// never re-run.
async fn recheck(
    app: &App,
    input: PolicyInput,
    spec: &ActionSpec,
    plan: &Plan,
    dry_run: bool,
    approved_by: usize,
) -> Step<()> {
    if let Some(refused) = refused_by_role(app, &input) {
        return refused;
    }
    let recheck = match app.policy.evaluate(&input) {
        Ok(d) => d,
        Err(e) => return Step::fail(ErrorCode::PolicyError, e.to_string()),
    };
    let decision_update = RequestUpdate {
        decision: Some(json!(recheck)),
        ..Default::default()
    };
    if recheck.outcome == Outcome::Deny {
        return Step::End(
            RequestStatus::Denied,
            Record::new(
                StepOutcome::DeniedAtExecution,
                json!({"reasons": recheck.reasons, "policy_revision": recheck.policy_revision}),
            )
            .update(decision_update),
        );
    }
    // Policy may now want a human (or more of them) than it did: a direct run without an
    // approval, or an approval with fewer approvers than policy now asks for, does not run.
    let needed = usize::try_from(recheck.approvals_required.max(1)).unwrap_or(usize::MAX);
    if recheck.outcome == Outcome::RequireApproval && !dry_run && approved_by < needed {
        let message = format!(
            "policy now requires {needed} approver(s) before this runs; it has {approved_by}"
        );
        let error = json!({"code": ErrorCode::ApprovalRequired, "message": message});
        return Step::End(
            RequestStatus::Denied,
            Record::new(
                StepOutcome::ApprovalInsufficient,
                json!({"reasons": recheck.reasons, "approved_by": approved_by, "needed": needed}),
            )
            .update(RequestUpdate {
                error: Some(error),
                ..decision_update
            }),
        );
    }
    // A durability point: nothing touches the world before this record is on disk.
    Step::Next(
        (),
        Record::new(
            StepOutcome::Started,
            json!({"executor": spec.executor.name(), "plan_hash": plan.hash}),
        )
        .update(RequestUpdate {
            status: Some(RequestStatus::Executing),
            ..Default::default()
        })
        .durable(),
    )
}

/// execute: the executor acts; the lease (and its secrets) is dropped right after.
async fn act(
    app: &App,
    spec: &ActionSpec,
    intent: &Intent,
    plan: &Plan,
    lease: Lease,
) -> Step<Value> {
    let result = app.executors.execute(spec, intent, plan, &lease).await;
    drop(lease);
    match result {
        // A question is answered, not executed: its answer and citations are the outcome.
        Ok(execution) if spec.executor == aiops_core::ExecutorBinding::Retrieval => {
            let answer = execution["answer"].as_str().unwrap_or_default().to_string();
            let cited: Vec<Value> = execution["citations"]
                .as_array()
                .map(|c| {
                    c.iter()
                        .map(|c| json!({"chunk_id": c["chunk_id"]}))
                        .collect()
                })
                .unwrap_or_default();
            Step::End(
                RequestStatus::Answered,
                Record::new(
                    StepOutcome::Answered,
                    json!({"citations": cited, "generated": execution["generated"]}),
                )
                .update(RequestUpdate {
                    execution: Some(execution),
                    ..Default::default()
                })
                .answer(answer),
            )
        }
        Ok(execution) => {
            let changed = execution
                .get("changed")
                .cloned()
                .unwrap_or(Value::Bool(false));
            let record = Record::new(StepOutcome::Succeeded, json!({"changed": changed})).update(
                RequestUpdate {
                    execution: Some(execution.clone()),
                    ..Default::default()
                },
            );
            // A change is not done until it is read back (the verify stage); a read is.
            if spec.verify.is_some() {
                Step::Next(execution, record)
            } else {
                Step::End(RequestStatus::Success, record)
            }
        }
        Err(f) => Step::Fail(f),
    }
}

/// Re-plans a stored request (the worker, before running an approved one).
pub(crate) async fn replan(
    run: &mut Run<'_>,
    spec: &ActionSpec,
    intent: &Intent,
) -> Result<Plan, Halt> {
    let app = run.app;
    run.step(StageName::Plan, async {
        match make_plan(app, spec, intent).await {
            Ok(plan) => {
                let data = json!({"hash": plan.hash, "changes": plan.changes, "replan": true});
                Step::Next(plan, Record::new(StepOutcome::Planned, data))
            }
            Err(f) => Step::Fail(f),
        }
    })
    .await
}
