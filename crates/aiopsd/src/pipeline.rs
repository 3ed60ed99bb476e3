//! The request path: intake → retrieve → parse → decide → plan → approve → credentials →
//! execute. Each stage hands a typed value to the next and records exactly one event
//! ([`Run::record`]) that writes the log line, the metric and the audit row together.

use std::time::Instant;

use aiops_core::{ApprovalState, Intent, Plan, RequestStatus, Risk, Target, Verdict};
use aiops_parser::ParseOutcome;
use aiops_policy::{Caller, Decision, Outcome, PolicyInput, Stage};
use aiops_store::{AuditEvent, NewApproval, NewRequest, RequestUpdate};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tracing::Instrument;

use crate::AppState;
use crate::credentials::Lease;
use crate::error::{ApiError, ErrorBody, status_for_code};
use crate::executors::Failure;

/// `POST /api/v1/intent` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentRequest {
    pub nl: String,
    #[serde(default)]
    pub dry_run: bool,
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

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApprovalView {
    pub id: String,
    pub state: String,
    pub approvals_required: u32,
    /// Who has approved so far.
    pub approvers: Vec<String>,
    pub expires_at: String,
}

/// The response of `POST /api/v1/intent` (catalog.md), also used for `/parse`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IntentResponse {
    pub id: String,
    pub status: String,
    pub intent: Option<Intent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub decision: Option<Decision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanView>,
    pub approval: Option<ApprovalView>,
    pub execution: Option<Value>,
    pub context: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

impl IntentResponse {
    fn new(id: &str) -> Self {
        IntentResponse {
            id: id.to_string(),
            status: RequestStatus::Received.to_string(),
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

    /// HTTP status: outcomes are 200 (202 while waiting for a human); a failed request
    /// answers the status of its error code.
    pub fn http_status(&self) -> StatusCode {
        match (self.status.parse::<RequestStatus>().ok(), &self.error) {
            (Some(RequestStatus::PendingApproval), _) => StatusCode::ACCEPTED,
            (Some(RequestStatus::Failed), Some(e)) => status_for_code(&e.code),
            (Some(RequestStatus::Failed), None) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::OK,
        }
    }
}

/// The result of the parse stage: an intent, or why there is none.
pub enum Parsed {
    Intent(Intent),
    Unrecognized(String),
}

/// Parses and validates against the catalog. Pure: used by `/intent`, `/parse` and `eval`.
pub fn parse_intent(catalog: &aiops_core::Catalog, nl: &str) -> Parsed {
    match aiops_parser::parse(nl) {
        ParseOutcome::Unrecognized { reason } => Parsed::Unrecognized(reason),
        ParseOutcome::Intent(p) => {
            match catalog.validate(
                &p.action,
                &p.params,
                aiops_core::ParserKind::Rules,
                p.confidence,
            ) {
                Ok(intent) => Parsed::Intent(intent),
                // The parser filled something the schema refuses: not confident, so nothing runs.
                Err(e) => Parsed::Unrecognized(e.to_string()),
            }
        }
    }
}

/// One request on its way down the path.
pub(crate) struct Run<'a> {
    state: &'a AppState,
    id: String,
    caller: Caller,
    resp: IntentResponse,
    /// The executing approval this run carries out, ended together with the request.
    approval_id: Option<String>,
}

impl<'a> Run<'a> {
    /// Picks a stored request up again (after its approval), as `caller`.
    pub(crate) fn resume(
        state: &'a AppState,
        rec: &aiops_store::RequestRecord,
        caller: Caller,
    ) -> Self {
        let mut resp = IntentResponse::new(&rec.id);
        resp.status = rec.status.to_string();
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
            .and_then(|v| serde_json::from_value::<Plan>(v).ok())
            .map(|p| PlanView::from(&p));
        Run {
            state,
            id: rec.id.clone(),
            caller,
            resp,
            approval_id: None,
        }
    }

    /// Makes this run carry out `approval_id`: its final stage ends the approval too.
    pub(crate) fn for_approval(mut self, approval_id: &str) -> Self {
        self.approval_id = Some(approval_id.to_string());
        self
    }

    /// The one place a stage outcome is recorded: log line, metric and audit row (with the
    /// request's new state, in the same transaction).
    async fn record(
        &self,
        stage: &'static str,
        outcome: &str,
        started: Instant,
        update: RequestUpdate,
        data: Value,
    ) -> Result<(), ApiError> {
        let elapsed = started.elapsed();
        self.state.metrics.observe_stage(stage, outcome, elapsed);
        tracing::info!(
            stage,
            outcome,
            elapsed_ms = elapsed.as_millis() as u64,
            "stage"
        );
        self.state
            .store
            .update_request(
                &self.id,
                update,
                AuditEvent::new(Some(&self.id), stage, outcome, data),
            )
            .await?;
        Ok(())
    }

    /// Ends the request in a terminal status.
    async fn finish(
        mut self,
        stage: &'static str,
        outcome: &str,
        started: Instant,
        final_status: RequestStatus,
        mut update: RequestUpdate,
        data: Value,
    ) -> Result<IntentResponse, ApiError> {
        self.resp.status = final_status.to_string();
        update.status = Some(final_status);
        if let Some(approval_id) = self.approval_id.clone() {
            let to = match final_status {
                RequestStatus::Success => ApprovalState::Succeeded,
                RequestStatus::Denied => ApprovalState::Void,
                _ => ApprovalState::Failed,
            };
            let reason = match final_status {
                RequestStatus::Success => None,
                RequestStatus::Denied => Some(
                    self.resp
                        .error
                        .as_ref()
                        .map(|e| e.message.clone())
                        .unwrap_or_else(|| "policy denies it now".to_string()),
                ),
                _ => self.resp.error.as_ref().map(|e| e.message.clone()),
            };
            update.approval_end = Some(aiops_store::ApprovalEnd {
                approval_id,
                to,
                reason,
            });
        }
        self.record(stage, outcome, started, update, data).await?;
        self.state
            .metrics
            .intents
            .get_or_create(&crate::metrics::StatusLabels {
                status: final_status.to_string(),
            })
            .inc();
        Ok(self.resp)
    }

    pub(crate) async fn fail(
        mut self,
        stage: &'static str,
        started: Instant,
        f: Failure,
    ) -> Result<IntentResponse, ApiError> {
        tracing::warn!(stage, code = f.code, error = %f.message, "stage failed");
        let error = ErrorBody {
            code: f.code.to_string(),
            message: f.message.clone(),
        };
        self.resp.error = Some(error.clone());
        let data = json!({"code": f.code, "message": f.message});
        let update = RequestUpdate {
            error: Some(json!(error)),
            ..Default::default()
        };
        self.finish(
            stage,
            "failed",
            started,
            RequestStatus::Failed,
            update,
            data,
        )
        .await
    }

    fn policy_input(
        &self,
        intent: &Intent,
        risk: Risk,
        dry_run: bool,
        stage: Stage,
    ) -> PolicyInput {
        PolicyInput {
            action: intent.action.clone(),
            risk,
            params: Value::Object(intent.params.clone()),
            dry_run,
            stage,
            caller: self.caller.clone(),
        }
    }
}

/// Runs a request down the whole path. The request is stored before anything else happens;
/// from then on every outcome, including failures, is recorded before this returns.
pub async fn submit(
    state: &AppState,
    req: IntentRequest,
    caller: Caller,
) -> Result<IntentResponse, ApiError> {
    let nl = req.nl.trim().to_string();
    if nl.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "`nl` must not be empty",
        ));
    }
    let id = ulid::Ulid::new().to_string();
    let span = tracing::info_span!("intent", intent_id = %id);
    run_path(state, id, nl, req.dry_run, caller)
        .instrument(span)
        .await
}

async fn run_path(
    state: &AppState,
    id: String,
    nl: String,
    dry_run: bool,
    caller: Caller,
) -> Result<IntentResponse, ApiError> {
    // intake: nothing is acknowledged before it is stored.
    let t = Instant::now();
    state
        .store
        .create_request(
            &NewRequest {
                id: id.clone(),
                nl: nl.clone(),
                dry_run,
                caller: caller.user.clone(),
            },
            AuditEvent::new(
                Some(&id),
                "intake",
                "accepted",
                json!({"dry_run": dry_run, "caller": caller.user, "nl_chars": nl.chars().count()}),
            ),
        )
        .await?;
    state
        .metrics
        .observe_stage("intake", "accepted", t.elapsed());
    let mut run = Run {
        state,
        id: id.clone(),
        caller,
        resp: IntentResponse::new(&id),
        approval_id: None,
    };

    // retrieve: the slot for runbook context (a later stage); recorded so the timeline is whole.
    let t = Instant::now();
    run.record(
        "retrieve",
        "skipped",
        t,
        RequestUpdate::default(),
        json!({"reason": "no retriever configured"}),
    )
    .await?;

    // parse
    let t = Instant::now();
    let intent = match parse_intent(&state.catalog, &nl) {
        Parsed::Unrecognized(reason) => {
            run.resp.reason = Some(reason.clone());
            return run
                .finish(
                    "parse",
                    "unrecognized",
                    t,
                    RequestStatus::Unrecognized,
                    RequestUpdate::default(),
                    json!({"reason": reason}),
                )
                .await;
        }
        Parsed::Intent(intent) => intent,
    };
    let Some(spec) = state.catalog.get(&intent.action).cloned() else {
        // validate() only returns catalog actions; this is a defence in depth.
        return run
            .fail(
                "parse",
                t,
                Failure::new("unknown_action", "not a catalog action"),
            )
            .await;
    };
    run.resp.intent = Some(intent.clone());
    run.record(
        "parse",
        "parsed",
        t,
        RequestUpdate { intent: Some(json!(intent)), ..Default::default() },
        json!({"action": intent.action, "params": intent.params, "parser": intent.parser, "confidence": intent.confidence}),
    )
    .await?;

    // decide
    let t = Instant::now();
    let decision =
        match state
            .policy
            .evaluate(&run.policy_input(&intent, spec.risk, dry_run, Stage::Decide))
        {
            Ok(d) => d,
            Err(e) => {
                return run
                    .fail("decide", t, Failure::new("policy_error", e.to_string()))
                    .await;
            }
        };
    state
        .metrics
        .decisions
        .get_or_create(&crate::metrics::OutcomeLabels {
            outcome: outcome_str(decision.outcome).into(),
        })
        .inc();
    run.resp.decision = Some(decision.clone());
    let decision_update = RequestUpdate {
        decision: Some(json!(decision)),
        ..Default::default()
    };
    let decision_data = json!({"outcome": decision.outcome, "reasons": decision.reasons, "policy_revision": decision.policy_revision});
    if decision.outcome == Outcome::Deny {
        return run
            .finish(
                "decide",
                "deny",
                t,
                RequestStatus::Denied,
                decision_update,
                decision_data,
            )
            .await;
    }
    run.record(
        "decide",
        outcome_str(decision.outcome),
        t,
        decision_update,
        decision_data,
    )
    .await?;

    // plan
    let t = Instant::now();
    let target = state.catalog.target(&intent, &state.zones);
    let planned = match state.executors.plan(&spec, &intent, &target).await {
        Ok(p) => p,
        Err(f) => return run.fail("plan", t, f).await,
    };
    let plan = Plan::new(&intent, target, planned.diff, planned.changes)
        .with_executor_state(planned.state);
    run.resp.plan = Some(PlanView::from(&plan));
    let plan_update = RequestUpdate {
        plan: Some(json!(plan)),
        ..Default::default()
    };
    let plan_data = json!({"hash": plan.hash, "changes": plan.changes, "target": plan.target});
    if dry_run {
        run.resp.execution = Some(json!({
            "executor": spec.executor.name(),
            "changed": false,
            "would_change": plan.changes,
            "diff": plan.diff,
            "result": "dry run: nothing was changed",
        }));
        let update = RequestUpdate {
            execution: run.resp.execution.clone(),
            ..plan_update
        };
        return run
            .finish(
                "plan",
                "planned",
                t,
                RequestStatus::DryRun,
                update,
                plan_data,
            )
            .await;
    }
    run.record("plan", "planned", t, plan_update, plan_data)
        .await?;

    // approve
    if decision.outcome == Outcome::RequireApproval {
        let t = Instant::now();
        let approval_id = ulid::Ulid::new().to_string();
        let ttl = state
            .config
            .approvals
            .ttl_secs_by_action
            .get(&intent.action)
            .copied()
            .unwrap_or(state.config.approvals.ttl_secs);
        let expires = time::OffsetDateTime::now_utc()
            + time::Duration::seconds(i64::try_from(ttl).unwrap_or(i64::MAX / 2));
        let expires_at = expires
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(|e| {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
            })?;
        let approvals_required = decision.approvals_required.max(1);
        let approval = NewApproval {
            id: approval_id.clone(),
            request_id: id.clone(),
            plan_hash: plan.hash.clone(),
            requester: run.caller.user.clone(),
            approvals_required,
            expires_at: expires_at.clone(),
        };
        run.resp.status = RequestStatus::PendingApproval.to_string();
        run.resp.approval = Some(ApprovalView {
            id: approval_id.clone(),
            state: "pending".into(),
            approvals_required,
            approvers: Vec::new(),
            expires_at: expires_at.clone(),
        });
        state
            .store
            .create_approval(
                &approval,
                RequestUpdate::default(),
                AuditEvent::new(Some(&id), "approve", "pending", json!({"approval_id": approval_id, "plan_hash": plan.hash, "approvals_required": approvals_required, "expires_at": expires_at})),
            )
            .await?;
        state
            .metrics
            .observe_stage("approve", "pending", t.elapsed());
        state
            .metrics
            .intents
            .get_or_create(&crate::metrics::StatusLabels {
                status: RequestStatus::PendingApproval.to_string(),
            })
            .inc();
        tracing::info!(stage = "approve", outcome = "pending", approval_id, "stage");
        return Ok(run.resp);
    }

    execute(run, &spec, &intent, &plan, dry_run).await
}

/// credentials → re-check policy → execute. Shared by direct runs and approved ones.
pub(crate) async fn execute(
    mut run: Run<'_>,
    spec: &aiops_core::ActionSpec,
    intent: &Intent,
    plan: &Plan,
    dry_run: bool,
) -> Result<IntentResponse, ApiError> {
    let state = run.state;
    // credentials
    let t = Instant::now();
    let paths = state.executors.secret_paths(spec);
    let lease = if paths.is_empty() {
        Lease::empty()
    } else {
        match Lease::fetch(state.secrets.as_ref(), &paths).await {
            Ok(l) => l,
            Err(e) => {
                return run
                    .fail(
                        "credentials",
                        t,
                        Failure::new("credentials_unavailable", e.to_string()),
                    )
                    .await;
            }
        }
    };
    run.record(
        "credentials",
        if paths.is_empty() {
            "none_needed"
        } else {
            "fetched"
        },
        t,
        RequestUpdate::default(),
        json!({"source": state.secrets.kind(), "paths": lease.paths(), "request_ids": lease.request_ids()}),
    )
    .await?;

    // Policy again, right before acting: policies may have changed since the decision.
    let t = Instant::now();
    let recheck =
        match state
            .policy
            .evaluate(&run.policy_input(intent, spec.risk, dry_run, Stage::Execute))
        {
            Ok(d) => d,
            Err(e) => {
                return run
                    .fail("execute", t, Failure::new("policy_error", e.to_string()))
                    .await;
            }
        };
    if recheck.outcome == Outcome::Deny {
        run.resp.decision = Some(recheck.clone());
        return run
            .finish(
                "execute",
                "denied_at_execution",
                t,
                RequestStatus::Denied,
                RequestUpdate {
                    decision: Some(json!(recheck)),
                    ..Default::default()
                },
                json!({"reasons": recheck.reasons, "policy_revision": recheck.policy_revision}),
            )
            .await;
    }
    // Policy may now want a human (or more of them) than it did: a direct run without an
    // approval, or an approval with fewer approvers than policy now asks for, does not run.
    if recheck.outcome == Outcome::RequireApproval && !dry_run {
        let approved_by = match &run.approval_id {
            Some(aid) => state
                .store
                .get_approval(aid)
                .await?
                .map(|a| {
                    a.decisions
                        .iter()
                        .filter(|d| d.decision == Verdict::Approve)
                        .count()
                })
                .unwrap_or(0),
            None => 0,
        };
        let needed = usize::try_from(recheck.approvals_required.max(1)).unwrap_or(usize::MAX);
        if approved_by < needed {
            let message = format!(
                "policy now requires {needed} approver(s) before this runs; it has {approved_by}"
            );
            run.resp.decision = Some(recheck.clone());
            run.resp.error = Some(ErrorBody {
                code: "approval_required".into(),
                message: message.clone(),
            });
            return run
                .finish(
                    "execute",
                    "approval_insufficient",
                    t,
                    RequestStatus::Denied,
                    RequestUpdate {
                        decision: Some(json!(recheck)),
                        error: Some(json!({"code": "approval_required", "message": message})),
                        ..Default::default()
                    },
                    json!({"reasons": recheck.reasons, "approved_by": approved_by, "needed": needed}),
                )
                .await;
        }
    }

    // execute: mark it first, so a crash mid-run is visible and never re-run.
    run.record(
        "execute",
        "started",
        t,
        RequestUpdate {
            status: Some(RequestStatus::Executing),
            ..Default::default()
        },
        json!({"executor": spec.executor.name(), "plan_hash": plan.hash}),
    )
    .await?;
    let t = Instant::now();
    match state.executors.execute(spec, intent, plan, &lease).await {
        Ok(execution) => {
            drop(lease);
            let changed = execution
                .get("changed")
                .cloned()
                .unwrap_or(Value::Bool(false));
            run.resp.execution = Some(execution.clone());
            run.finish(
                "execute",
                "succeeded",
                t,
                RequestStatus::Success,
                RequestUpdate {
                    execution: Some(execution),
                    ..Default::default()
                },
                json!({"changed": changed}),
            )
            .await
        }
        Err(f) => run.fail("execute", t, f).await,
    }
}

fn outcome_str(o: Outcome) -> &'static str {
    match o {
        Outcome::Allow => "allow",
        Outcome::Deny => "deny",
        Outcome::RequireApproval => "require_approval",
    }
}
