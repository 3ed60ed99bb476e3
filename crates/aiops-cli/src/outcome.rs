//! Requests (`ask`, `rollback`, `show`), pure: the daemon's two answers about a request —
//! the `IntentResponse` of a submission and the stored `IntentRecord` — as one [`Outcome`],
//! its text (summary, timeline, verification) and what it means for the exit code
//! ([`ending`]). No I/O and no clock (the caller passes `now`).

use aiops_api::{
    ApprovalRecordView, ApprovalSummary, ErrorBody, IntentRecord, IntentResponse, TimelineEntry,
};
use aiops_core::{
    ActionId, ApprovalState, ErrorCode, RequestStatus, StageName, Verdict, Verification,
    VerificationOutcome,
};
use aiops_policy::Decision;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::render::{one_line, params_summary, relative_time, table, truncate};

/// The columns of the timeline in `show`.
pub const TIMELINE_HEADERS: [&str; 5] = ["SEQ", "AT", "STAGE", "OUTCOME", "DETAIL"];
/// The DETAIL column of the timeline is cut at this width (one row, one line).
pub const DETAIL_WIDTH: usize = 72;
/// A value quoted from evidence (what was read, what was found) is cut at this width.
const EVIDENCE_WIDTH: usize = 60;

/// An approval as the summary shows it, from either answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalLine {
    pub id: String,
    pub state: ApprovalState,
    pub required: u32,
    pub approvers: Vec<String>,
    /// RFC 3339.
    pub expires_at: String,
}

impl From<&ApprovalSummary> for ApprovalLine {
    fn from(a: &ApprovalSummary) -> Self {
        ApprovalLine {
            id: a.id.clone(),
            state: a.state,
            required: a.approvals_required,
            approvers: a.approvers.clone(),
            expires_at: a.expires_at.clone(),
        }
    }
}

impl From<&ApprovalRecordView> for ApprovalLine {
    fn from(a: &ApprovalRecordView) -> Self {
        ApprovalLine {
            id: a.id.clone(),
            state: a.state,
            required: a.approvals_required,
            approvers: a
                .decisions
                .iter()
                .filter(|d| d.decision == Verdict::Approve)
                .map(|d| d.approver.clone())
                .collect(),
            expires_at: a.expires_at.clone(),
        }
    }
}

impl ApprovalLine {
    /// "1 of 2 approvers".
    fn tally(&self) -> String {
        format!("{} of {} approvers", self.approvers.len(), self.required)
    }
}

/// A request as the CLI shows it, whichever answer it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub id: String,
    pub status: RequestStatus,
    pub action: Option<ActionId>,
    /// The parameters (a JSON object), once parsed.
    pub params: Option<Value>,
    /// Why the sentence was not recognized.
    pub reason: Option<String>,
    pub decision: Option<Decision>,
    /// The plan's diff, once planned.
    pub diff: Option<String>,
    pub approval: Option<ApprovalLine>,
    pub execution: Option<Value>,
    /// The answer of a question.
    pub answer: Option<String>,
    pub verification: Option<Verification>,
    pub rollback_of: Option<String>,
    pub rollbacks: Vec<String>,
    pub error: Option<ErrorBody>,
}

impl From<&IntentResponse> for Outcome {
    fn from(r: &IntentResponse) -> Self {
        Outcome {
            id: r.id.clone(),
            status: r.status,
            action: r.intent.as_ref().map(|i| i.action),
            params: r.intent.as_ref().map(|i| Value::Object(i.params.clone())),
            reason: r.reason.clone(),
            decision: r.decision.clone(),
            diff: r.plan.as_ref().map(|p| p.diff.clone()),
            approval: r.approval.as_ref().map(ApprovalLine::from),
            execution: r.execution.clone(),
            answer: r.answer.clone(),
            verification: r.verification.clone(),
            rollback_of: r.rollback_of.clone(),
            rollbacks: Vec::new(),
            error: r.error.clone(),
        }
    }
}

impl From<&IntentRecord> for Outcome {
    fn from(r: &IntentRecord) -> Self {
        // A record keeps no `reason`: the parse row of its timeline says why.
        let reason = (r.status == RequestStatus::Unrecognized)
            .then(|| {
                r.timeline
                    .iter()
                    .rev()
                    .filter(|e| e.stage == StageName::Parse.as_str())
                    .find_map(|e| e.data["reason"].as_str().map(str::to_string))
            })
            .flatten();
        Outcome {
            id: r.id.clone(),
            status: r.status,
            // `action` outlives payload retention; the intent does not.
            action: r.intent.as_ref().map(|i| i.action).or(r.action),
            params: r
                .intent
                .as_ref()
                .map(|i| &i.params)
                .or(r.plan.as_ref().map(|p| &p.params))
                .map(|p| Value::Object(p.clone())),
            reason,
            decision: r.decision.clone(),
            diff: r.plan.as_ref().map(|p| p.diff.clone()),
            approval: r.approval.as_ref().map(ApprovalLine::from),
            execution: r.execution.clone(),
            answer: r
                .execution
                .as_ref()
                .and_then(|e| e["answer"].as_str())
                .map(str::to_string),
            verification: r.verification.clone(),
            rollback_of: r.rollback_of.clone(),
            rollbacks: r.rollbacks.clone(),
            error: r.error.clone(),
        }
    }
}

/// What an outcome means for the command's exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// `success`, `dry_run`, `answered`: exit 0.
    Done,
    /// Not ended yet (`received`, `executing`, `pending_approval`).
    Open,
    /// Ended without succeeding; `why` in the server's words.
    Unsuccessful {
        why: String,
        code: Option<ErrorCode>,
    },
}

/// Whether `o` succeeded, failed (and why) or has not ended.
pub fn ending(o: &Outcome) -> Ending {
    let code = o.error.as_ref().map(|e| e.code);
    let message = o.error.as_ref().map(|e| e.message.clone());
    let diverged = o
        .verification
        .as_ref()
        .filter(|v| v.outcome == VerificationOutcome::Diverged);
    match o.status {
        RequestStatus::Failed => Ending::Unsuccessful {
            why: message
                .or_else(|| diverged.and_then(|v| v.reason.clone()))
                .unwrap_or_else(|| "the daemon recorded no reason".into()),
            code: code.or(diverged.map(|_| ErrorCode::VerificationDiverged)),
        },
        RequestStatus::Denied => Ending::Unsuccessful {
            why: message
                .or_else(|| {
                    o.decision
                        .as_ref()
                        .filter(|d| !d.reasons.is_empty())
                        .map(|d| d.reasons.join("; "))
                })
                .unwrap_or_else(|| "the policy denied it".into()),
            code,
        },
        RequestStatus::Unrecognized => Ending::Unsuccessful {
            why: o
                .reason
                .clone()
                .or(message)
                .unwrap_or_else(|| "no catalog action matches the sentence".into()),
            code,
        },
        // The executor said ok but the world says otherwise: not a success, whatever the
        // status (the daemon fails such a request; an older one may not).
        RequestStatus::Success | RequestStatus::DryRun | RequestStatus::Answered => {
            match diverged {
                Some(v) => Ending::Unsuccessful {
                    why: v
                        .reason
                        .clone()
                        .unwrap_or_else(|| "the world read back differs from the plan".into()),
                    code: Some(ErrorCode::VerificationDiverged),
                },
                None => Ending::Done,
            }
        }
        RequestStatus::Received | RequestStatus::Executing | RequestStatus::PendingApproval => {
            Ending::Open
        }
    }
}

/// One `key: value` line, and lines under the value (aligned with it).
struct Field {
    key: &'static str,
    value: String,
    more: Vec<String>,
}

fn field(key: &'static str, value: impl Into<String>) -> Field {
    Field {
        key,
        value: value.into(),
        more: Vec::new(),
    }
}

/// Fields with their values aligned; each line without trailing blanks.
fn fields(rows: &[Field]) -> String {
    let w = rows
        .iter()
        .map(|f| f.key.chars().count())
        .max()
        .unwrap_or(0)
        + 1;
    let mut lines = Vec::new();
    for f in rows {
        lines.push(format!("{:<w$} {}", format!("{}:", f.key), f.value));
        lines.extend(f.more.iter().map(|m| format!("{:w$} {m}", "")));
    }
    lines
        .iter()
        .map(|l| l.trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The head of a summary: what was asked, what policy said, what it waits for.
fn head(o: &Outcome, now: OffsetDateTime) -> Vec<Field> {
    let mut rows = vec![field("id", &o.id), field("status", o.status.as_str())];
    if let Some(action) = o.action {
        rows.push(field("action", action.as_str()));
    }
    if let Some(params) = &o.params {
        rows.push(field("params", one_line(&params_summary(params))));
    }
    if let Some(reason) = &o.reason {
        rows.push(field("reason", one_line(reason)));
    }
    if let Some(d) = &o.decision {
        let mut f = field("policy", d.outcome.as_str());
        match d.reasons.as_slice() {
            [] => {}
            [one] => f.value = format!("{}: {}", d.outcome.as_str(), one_line(one)),
            many => f.more = many.iter().map(|r| format!("- {}", one_line(r))).collect(),
        }
        rows.push(f);
    }
    if let Some(a) = &o.approval {
        rows.push(field("approval", approval_value(a, now)));
    }
    if let Some(of) = &o.rollback_of {
        rows.push(field("rollback of", of));
    }
    if !o.rollbacks.is_empty() {
        rows.push(field("rolled back by", o.rollbacks.join(", ")));
    }
    rows
}

/// "01J… pending, 0 of 1 approvers, expires in 29m" (the approvers' names once any).
fn approval_value(a: &ApprovalLine, now: OffsetDateTime) -> String {
    let mut v = format!("{} {}, {}", a.id, a.state, a.tally());
    if !a.approvers.is_empty() {
        v.push_str(&format!(" ({})", a.approvers.join(", ")));
    }
    if a.state.is_open() {
        v.push_str(&format!(", expires {}", relative_time(&a.expires_at, now)));
    }
    v
}

/// The tail of a summary: what ran, what reading it back found, what went wrong.
fn tail(o: &Outcome) -> Vec<Field> {
    let mut rows = Vec::new();
    if let Some(e) = &o.execution {
        rows.push(field("execution", execution_line(e)));
    }
    if let Some(answer) = &o.answer {
        let mut lines = answer.trim().lines().map(one_line);
        let mut f = field("answer", lines.next().unwrap_or_default());
        f.more = lines.collect();
        rows.push(f);
    }
    if let Some(v) = &o.verification {
        rows.push(verification_field(v));
    }
    if let Some(e) = &o.error {
        rows.push(field(
            "error",
            format!("{} ({})", one_line(&e.message), e.code),
        ));
    }
    rows
}

/// The execution's result in one line: "ansible: Record added successfully (changed)".
pub fn execution_line(e: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(executor) = e["executor"].as_str() {
        parts.push(format!("{executor}:"));
    }
    if let Some(result) = e["result"].as_str().filter(|r| !r.trim().is_empty()) {
        parts.push(truncate(result.trim(), DETAIL_WIDTH));
    }
    let changed = match (e["changed"].as_bool(), e["would_change"].as_bool()) {
        (_, Some(true)) => Some("would change"),
        (_, Some(false)) => Some("would change nothing"),
        (Some(true), None) => Some("changed"),
        (Some(false), None) => Some("nothing changed"),
        (None, None) => None,
    };
    match changed {
        Some(c) if parts.len() > 1 => parts.push(format!("({c})")),
        Some(c) => parts.push(c.to_string()),
        None if parts.is_empty() => parts.push(truncate(&e.to_string(), DETAIL_WIDTH)),
        None => {}
    }
    parts.join(" ")
}

/// The verification: its outcome (with the reason), the differences one a line for
/// `diverged`, then where it was read and how often.
fn verification_field(v: &Verification) -> Field {
    let mut f = field("verification", v.outcome.as_str());
    if let Some(reason) = v.reason.as_deref().filter(|r| !r.trim().is_empty()) {
        f.value = format!("{}: {}", v.outcome, one_line(reason.trim()));
    }
    if let Some(diff) = &v.diff {
        f.more.extend(
            diff.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| one_line(l.trim_end())),
        );
    }
    let readings = match v.attempts {
        1 => "1 reading".to_string(),
        n => format!("{n} readings"),
    };
    f.more.push(match evidence_source(&v.evidence) {
        Some(source) => format!("{source} ({readings}, {})", v.at),
        None => format!("({readings}, {})", v.at),
    });
    f
}

/// The verification alone, as `ask` and `show` print it.
pub fn verification_block(v: &Verification) -> String {
    fields(&[verification_field(v)])
}

/// Where a verification read the world, from its evidence: "read c.local A from
/// 127.0.0.1:53: found 10.1.1.3". Executors name the place `from` (or `server`, `source`);
/// `None` when the evidence says neither what nor where (an unreadable world).
pub fn evidence_source(evidence: &Value) -> Option<String> {
    let text = |key: &str| -> Option<String> {
        match evidence.get(key)? {
            Value::Null => None,
            Value::String(s) if s.trim().is_empty() => None,
            Value::String(s) => Some(truncate(s.trim(), EVIDENCE_WIDTH)),
            other => Some(truncate(&other.to_string(), EVIDENCE_WIDTH)),
        }
    };
    let what = text("read");
    let place = text("from")
        .or_else(|| text("server"))
        .or_else(|| text("source"));
    let mut out = match (what, place) {
        (Some(w), Some(p)) => format!("read {w} from {p}"),
        (Some(w), None) => format!("read {w}"),
        (None, Some(p)) => format!("read from {p}"),
        (None, None) => return None,
    };
    if let Some(found) = text("found") {
        out.push_str(&format!(": found {found}"));
    }
    Some(out)
}

/// The plan's diff, verbatim (it is what approvers saw).
fn diff_block(o: &Outcome) -> Option<String> {
    let diff = o.diff.as_deref()?.trim_end();
    Some(if diff.is_empty() {
        "plan diff: (no changes)".into()
    } else {
        format!("plan diff:\n{diff}")
    })
}

/// What to do next, when there is something.
fn hint(o: &Outcome) -> Option<String> {
    let id = &o.id;
    match o.status {
        RequestStatus::Success if o.rollbacks.is_empty() && ending(o) == Ending::Done => {
            Some(format!("hint: undo it with `aiops rollback {id}`"))
        }
        RequestStatus::PendingApproval => Some(match &o.approval {
            Some(a) => format!(
                "hint: an approver runs `aiops approvals approve {}`; follow it with `aiops show {id}`",
                a.id
            ),
            None => format!("hint: follow it with `aiops show {id}`"),
        }),
        RequestStatus::Received | RequestStatus::Executing => {
            Some(format!("hint: follow it with `aiops show {id}`"))
        }
        _ => None,
    }
}

/// Joins non-empty sections with a blank line.
fn sections(parts: impl IntoIterator<Item = Option<String>>) -> String {
    parts
        .into_iter()
        .flatten()
        .filter(|s| !s.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// What `ask` and `rollback` print: the request, the policy, the approval, the plan diff,
/// the execution, the verification, the error, and a hint.
pub fn summary(o: &Outcome, now: OffsetDateTime) -> String {
    sections([
        Some(fields(&head(o, now))),
        diff_block(o),
        Some(fields(&tail(o))),
        hint(o),
    ])
}

/// What `show` prints: the summary's fields with who asked and when, the timeline, the
/// plan diff, then the execution, verification and error.
pub fn record_details(r: &IntentRecord, now: OffsetDateTime) -> String {
    let o = Outcome::from(r);
    let mut rows = head(&o, now);
    // After id and status: who asked what, and when.
    let mut asked = vec![field("caller", &r.caller)];
    asked.push(field(
        "request",
        match &r.nl {
            Some(nl) => one_line(nl),
            None => "(pruned)".into(),
        },
    ));
    if r.dry_run {
        asked.push(field("dry run", "yes"));
    }
    asked.push(field("created", timestamp(&r.created_at, now)));
    asked.push(field("updated", timestamp(&r.updated_at, now)));
    if let Some(at) = &r.pruned_at {
        asked.push(field("pruned", timestamp(at, now)));
    }
    rows.splice(2..2, asked);
    let timeline = if r.timeline.is_empty() {
        "timeline: none".to_string()
    } else {
        format!("timeline:\n{}", timeline_table(&r.timeline))
    };
    sections([
        Some(fields(&rows)),
        Some(timeline),
        diff_block(&o),
        Some(fields(&tail(&o))),
        hint(&o),
    ])
}

/// "2026-12-02T04:49:05Z (3m ago)".
fn timestamp(rfc3339: &str, now: OffsetDateTime) -> String {
    format!("{} ({})", short_time(rfc3339), relative_time(rfc3339, now))
}

/// An RFC 3339 time in UTC to the second ("2026-12-02T04:49:05Z"); as given when it does
/// not parse.
pub fn short_time(rfc3339: &str) -> String {
    let Ok(at) = OffsetDateTime::parse(rfc3339, &Rfc3339) else {
        return rfc3339.to_string();
    };
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// The timeline: one row per audit event, its data summed up in one cut line.
pub fn timeline_table(entries: &[TimelineEntry]) -> String {
    let rows = entries
        .iter()
        .map(|e| {
            vec![
                e.seq.to_string(),
                short_time(&e.at),
                one_line(&e.stage),
                one_line(&e.outcome),
                truncate(&entry_detail(e), DETAIL_WIDTH),
            ]
        })
        .collect();
    table(&TIMELINE_HEADERS, rows, 2)
}

/// One audit event's data in words: what matters for its stage (the reasons of `decide`,
/// `changed` of `execute`, where `verify` read), else its plain fields.
pub fn entry_detail(e: &TimelineEntry) -> String {
    let data = &e.data;
    let text = |key: &str| data.get(key).and_then(Value::as_str).map(one_line);
    // A failed stage records the error code and message (`message`, or `error` in some).
    if let Some(code) = data.get("code").and_then(Value::as_str)
        && let Some(message) = text("message").or_else(|| text("error"))
    {
        return format!("{code}: {message}");
    }
    let stage: Option<StageName> = e.stage.parse().ok();
    match stage {
        Some(StageName::Decide) => {
            let reasons: Vec<String> = data["reasons"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(one_line)
                .collect();
            if !reasons.is_empty() {
                return reasons.join("; ");
            }
        }
        Some(StageName::Execute) => {
            if let Some(changed) = data["changed"].as_bool() {
                return if changed {
                    "changed"
                } else {
                    "nothing changed"
                }
                .into();
            }
        }
        Some(StageName::Verify) => return verify_detail(e),
        Some(StageName::Parse) => {
            if let Some(action) = text("action") {
                return match data.get("params") {
                    Some(p) => format!("{action} {}", params_summary(p)),
                    None => action,
                };
            }
            if let Some(reason) = text("reason") {
                return reason;
            }
        }
        Some(StageName::Plan) => {
            if let Some(changes) = data["changes"].as_bool() {
                let what = if changes { "changes" } else { "no changes" };
                return match text("hash") {
                    Some(h) => format!("{what}, hash {}", h.chars().take(12).collect::<String>()),
                    None => what.into(),
                };
            }
        }
        _ => {}
    }
    plain_fields(data)
}

/// `verify`: the outcome and where it was read; the reason when not verified. The row's
/// data is the verification itself, or holds it as `verification`.
fn verify_detail(e: &TimelineEntry) -> String {
    let v = match e.data.get("verification") {
        Some(inner) if inner.is_object() => inner,
        _ => &e.data,
    };
    let outcome = v["outcome"]
        .as_str()
        .map(one_line)
        .unwrap_or_else(|| one_line(&e.outcome));
    let mut parts = vec![outcome];
    if let Some(reason) = v["reason"].as_str().filter(|r| !r.trim().is_empty()) {
        parts.push(one_line(reason.trim()));
    }
    if let Some(source) = v.get("evidence").and_then(evidence_source) {
        parts.push(source);
    }
    parts.join(", ")
}

/// `key=value` for the scalar fields; nested values as compact JSON (the cell is cut).
fn plain_fields(data: &Value) -> String {
    match data {
        Value::Object(map) if map.is_empty() => String::new(),
        Value::Object(map) => scalar_fields(map),
        Value::Null => String::new(),
        other => one_line(&other.to_string()),
    }
}

fn scalar_fields(map: &Map<String, Value>) -> String {
    map.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}={}", one_line(s)),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The spinner's line while a request waits: "waiting for approval 01J… (1 of 2
/// approvers, expires in 29m)".
pub fn waiting_line(o: &Outcome, now: OffsetDateTime) -> String {
    match (o.status, &o.approval) {
        (RequestStatus::PendingApproval, Some(a)) => format!(
            "waiting for approval {} ({}, expires {}) …",
            a.id,
            a.tally(),
            relative_time(&a.expires_at, now)
        ),
        (RequestStatus::PendingApproval, None) => {
            format!("request {} is waiting for approval …", o.id)
        }
        (RequestStatus::Executing, _) => format!("request {} is executing …", o.id),
        (status, _) => format!("request {} is {status} …", o.id),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::parse("2026-12-02T04:50:00Z", &Rfc3339).unwrap()
    }

    fn response(v: Value) -> IntentResponse {
        serde_json::from_value(v).unwrap()
    }

    fn pending() -> IntentResponse {
        response(json!({
            "id": "01M8THBH1CJP1B3B9PH30WCB6F",
            "status": "pending_approval",
            "intent": {"action": "dns.delete_record", "params": {"name": "c.local", "type": "A"},
                       "parser": "rules", "confidence": 0.95},
            "decision": {"outcome": "require_approval",
                         "reasons": ["dns.delete_record is destructive: approval required"],
                         "policy_revision": "d8", "approvals_required": 2},
            "plan": {"hash": "25d3", "target": {"kind": "dns_zone", "zone": "local", "name": "c.local"},
                     "diff": "--- before\n+++ after\n-c.local 3600 IN A 10.1.1.3\n", "changes": true},
            "approval": {"id": "01M8THBJSMQT0CYEKA8BC7RMQG", "state": "pending",
                         "approvals_required": 2, "approvers": ["bob"],
                         "expires_at": "2026-12-02T05:19:10.452754281Z"},
            "execution": null,
            "context": []
        }))
    }

    fn verification(v: Value) -> Verification {
        serde_json::from_value(v).unwrap()
    }

    fn success_with(v: Verification) -> Outcome {
        let mut r = response(json!({
            "id": "01M8THBDYZFYCDE9TDQ6HK30J3",
            "status": "success",
            "intent": {"action": "dns.create_a_record",
                       "params": {"ip": "10.1.1.3", "name": "c.local", "ttl": 3600},
                       "parser": "rules", "confidence": 0.93},
            "decision": {"outcome": "allow", "reasons": ["non-production: allowed"],
                         "policy_revision": "d8", "approvals_required": 0},
            "plan": {"hash": "b1d7", "target": {"kind": "dns_zone", "zone": "local", "name": "c.local"},
                     "diff": "+c.local 3600 IN A 10.1.1.3\n", "changes": true},
            "approval": null,
            "execution": {"executor": "ansible", "changed": true, "result": "Record added successfully"},
            "context": []
        }));
        r.verification = Some(v);
        Outcome::from(&r)
    }

    #[test]
    fn a_pending_response_says_what_it_waits_for() {
        let o = Outcome::from(&pending());
        assert_eq!(ending(&o), Ending::Open);
        let text = summary(&o, now());
        let want = "\
id:       01M8THBH1CJP1B3B9PH30WCB6F
status:   pending_approval
action:   dns.delete_record
params:   name=c.local type=A
policy:   require_approval: dns.delete_record is destructive: approval required
approval: 01M8THBJSMQT0CYEKA8BC7RMQG pending, 1 of 2 approvers (bob), expires in 29m

plan diff:
--- before
+++ after
-c.local 3600 IN A 10.1.1.3

hint: an approver runs `aiops approvals approve 01M8THBJSMQT0CYEKA8BC7RMQG`; follow it with `aiops show 01M8THBH1CJP1B3B9PH30WCB6F`";
        assert_eq!(text, want);
        assert_eq!(
            waiting_line(&o, now()),
            "waiting for approval 01M8THBJSMQT0CYEKA8BC7RMQG (1 of 2 approvers, expires in 29m) …"
        );
    }

    #[test]
    fn a_verified_success_shows_where_it_was_read_and_how_to_undo_it() {
        let o = success_with(verification(json!({
            "outcome": "verified",
            "evidence": {"read": "c.local A", "from": "127.0.0.1:53", "found": ["10.1.1.3"]},
            "at": "2026-12-02T04:49:08Z",
            "attempts": 1
        })));
        assert_eq!(ending(&o), Ending::Done);
        let text = summary(&o, now());
        assert!(
            text.ends_with(
                "\
execution:    ansible: Record added successfully (changed)
verification: verified
              read c.local A from 127.0.0.1:53: found [\"10.1.1.3\"] (1 reading, 2026-12-02T04:49:08Z)

hint: undo it with `aiops rollback 01M8THBDYZFYCDE9TDQ6HK30J3`"
            ),
            "{text}"
        );
        assert!(
            text.contains("policy: allow: non-production: allowed"),
            "{text}"
        );
        assert!(
            text.contains("plan diff:\n+c.local 3600 IN A 10.1.1.3\n\n"),
            "{text}"
        );
    }

    #[test]
    fn an_unverified_change_says_why_and_still_succeeds() {
        let v = verification(json!({
            "outcome": "unverified",
            "reason": "the world could not be read back: connection refused",
            "evidence": {"error": {"code": "dns_unavailable", "message": "connection refused"}},
            "at": "2026-12-02T04:49:08Z",
            "attempts": 4
        }));
        assert_eq!(
            verification_block(&v),
            "\
verification: unverified: the world could not be read back: connection refused
              (4 readings, 2026-12-02T04:49:08Z)"
        );
        assert_eq!(ending(&success_with(v)), Ending::Done);
    }

    #[test]
    fn a_diverged_change_lists_the_differences_and_fails() {
        let v = verification(json!({
            "outcome": "diverged",
            "reason": "the world read back differs from the plan",
            "diff": "addresses: [10.1.1.3] -> [10.9.9.9]\nttl: 3600 -> 300",
            "evidence": {"read": "c.local A", "server": "127.0.0.1:53"},
            "at": "2026-12-02T04:49:10Z",
            "attempts": 3
        }));
        assert_eq!(
            verification_block(&v),
            "\
verification: diverged: the world read back differs from the plan
              addresses: [10.1.1.3] -> [10.9.9.9]
              ttl: 3600 -> 300
              read c.local A from 127.0.0.1:53 (3 readings, 2026-12-02T04:49:10Z)"
        );
        // Even under a status that says success: the world is the proof.
        let o = success_with(v.clone());
        assert_eq!(
            ending(&o),
            Ending::Unsuccessful {
                why: "the world read back differs from the plan".into(),
                code: Some(ErrorCode::VerificationDiverged),
            }
        );
        assert!(
            !summary(&o, now()).contains("aiops rollback"),
            "no undo hint"
        );
        // As the daemon answers it: failed, with the error.
        let mut o = success_with(v);
        o.status = RequestStatus::Failed;
        o.error = Some(ErrorBody::new(
            ErrorCode::VerificationDiverged,
            "c.local A: the world differs from the plan",
        ));
        assert_eq!(
            ending(&o),
            Ending::Unsuccessful {
                why: "c.local A: the world differs from the plan".into(),
                code: Some(ErrorCode::VerificationDiverged),
            }
        );
    }

    #[test]
    fn endings_of_requests_that_did_not_succeed_say_why() {
        let unrecognized = Outcome::from(&response(json!({
            "id": "01M8", "status": "unrecognized", "intent": null,
            "reason": "'make' with these objects is not a catalog action",
            "decision": null, "approval": null, "execution": null, "context": []
        })));
        assert_eq!(
            ending(&unrecognized),
            Ending::Unsuccessful {
                why: "'make' with these objects is not a catalog action".into(),
                code: None
            }
        );
        let text = summary(&unrecognized, now());
        assert_eq!(
            text,
            "id:     01M8\nstatus: unrecognized\nreason: 'make' with these objects is not a catalog action"
        );
        let denied = Outcome::from(&response(json!({
            "id": "01M9", "status": "denied", "intent": null,
            "decision": {"outcome": "deny", "reasons": ["production zone", "outside hours"],
                         "policy_revision": "d8", "approvals_required": 0},
            "approval": null, "execution": null, "context": []
        })));
        assert_eq!(
            ending(&denied),
            Ending::Unsuccessful {
                why: "production zone; outside hours".into(),
                code: None
            }
        );
        assert!(
            summary(&denied, now())
                .contains("policy: deny\n        - production zone\n        - outside hours"),
            "{}",
            summary(&denied, now())
        );
        let conflict = Outcome::from(&response(json!({
            "id": "01MA", "status": "failed", "intent": null, "decision": null,
            "approval": null, "execution": null, "context": [], "rollback_of": "01M7",
            "error": {"code": "conflict", "message": "c.local A is now 10.2.2.2, not 10.1.1.3 as the change left it"}
        })));
        assert_eq!(
            ending(&conflict),
            Ending::Unsuccessful {
                why: "c.local A is now 10.2.2.2, not 10.1.1.3 as the change left it".into(),
                code: Some(ErrorCode::Conflict)
            }
        );
        let text = summary(&conflict, now());
        assert!(text.contains("rollback of: 01M7"), "{text}");
        assert!(
            text.ends_with(
                "error: c.local A is now 10.2.2.2, not 10.1.1.3 as the change left it (conflict)"
            ),
            "{text}"
        );
        let mut dry = conflict.clone();
        dry.status = RequestStatus::DryRun;
        dry.error = None;
        assert_eq!(ending(&dry), Ending::Done);
    }

    #[test]
    fn execution_lines_are_short() {
        assert_eq!(
            execution_line(&json!({"executor": "kube", "changed": false, "result": "already 3"})),
            "kube: already 3 (nothing changed)"
        );
        assert_eq!(
            execution_line(
                &json!({"executor": "ansible", "changed": false, "would_change": true,
                                   "result": "dry run: nothing was changed"})
            ),
            "ansible: dry run: nothing was changed (would change)"
        );
        assert_eq!(execution_line(&json!({"changed": true})), "changed");
        assert_eq!(execution_line(&json!({"x": 1})), "{\"x\":1}");
    }

    fn entry(seq: i64, stage: &str, outcome: &str, data: Value) -> TimelineEntry {
        TimelineEntry {
            seq,
            at: format!("2026-12-02T04:49:0{seq}.503263453Z"),
            stage: stage.into(),
            outcome: outcome.into(),
            data,
            hash: format!("{seq:064x}"),
        }
    }

    #[test]
    fn the_timeline_is_a_table_of_one_line_rows() {
        let long = "r".repeat(200);
        let entries = [
            entry(
                1,
                "intake",
                "accepted",
                json!({"caller": "alice", "dry_run": false, "nl_chars": 34}),
            ),
            entry(
                2,
                "parse",
                "parsed",
                json!({"action": "dns.create_a_record",
                                              "params": {"name": "c.local", "ip": "10.1.1.3"}, "parser": "rules"}),
            ),
            entry(
                3,
                "decide",
                "allow",
                json!({"outcome": "allow", "reasons": ["non-production: allowed", long]}),
            ),
            entry(
                4,
                "plan",
                "planned",
                json!({"changes": true, "hash": "b1d75078f5366baf016649374ccb3f75"}),
            ),
            entry(5, "execute", "succeeded", json!({"changed": true})),
            entry(
                6,
                "verify",
                "verified",
                json!({"outcome": "verified",
                "evidence": {"read": "c.local A", "from": "127.0.0.1:53"}, "at": "x", "attempts": 1}),
            ),
            entry(
                7,
                "execute",
                "failed",
                json!({"code": "executor_failed", "message": "exit 2\nstderr"}),
            ),
            entry(
                8,
                "future_stage",
                "done",
                json!({"k": "v", "n": 1, "gone": null}),
            ),
        ];
        let t = timeline_table(&entries);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), entries.len() + 1, "{t}");
        assert!(lines[0].starts_with("  SEQ  AT"), "{t}");
        let detail = lines[0].find("DETAIL").unwrap();
        let cell = |i: usize| &lines[i][detail..];
        assert!(
            lines[1].starts_with("  1    2026-12-02T04:49:01Z  intake"),
            "{t}"
        );
        assert_eq!(cell(1), "caller=alice dry_run=false nl_chars=34");
        assert_eq!(cell(2), "dns.create_a_record name=c.local ip=10.1.1.3");
        assert!(cell(3).starts_with("non-production: allowed; rrr"), "{t}");
        assert_eq!(cell(3).chars().count(), DETAIL_WIDTH, "{t}");
        assert!(cell(3).ends_with('…'), "{t}");
        assert_eq!(cell(4), "changes, hash b1d75078f536");
        assert_eq!(cell(5), "changed");
        assert_eq!(cell(6), "verified, read c.local A from 127.0.0.1:53");
        assert_eq!(cell(7), "executor_failed: exit 2 stderr");
        assert_eq!(cell(8), "k=v n=1");
        assert!(lines.iter().all(|l| !l.ends_with(' ')), "{t}");
    }

    #[test]
    fn show_has_who_when_the_timeline_and_the_links() {
        let record: IntentRecord = serde_json::from_value(json!({
            "id": "01M8THBDYZFYCDE9TDQ6HK30J3",
            "status": "success",
            "nl": "add dns record c.local to 10.1.1.3",
            "dry_run": false,
            "caller": "alice",
            "created_at": "2026-12-02T04:49:05.503167199Z",
            "updated_at": "2026-12-02T04:49:08Z",
            "intent": null, "decision": null, "plan": null, "approval": null,
            "execution": {"executor": "ansible", "changed": true},
            "error": null, "context": [],
            "action": "dns.create_a_record",
            "timeline": [
                {"seq": 9, "at": "2026-12-02T04:49:05.5Z", "stage": "intake", "outcome": "accepted", "data": {}},
                {"seq": 14, "at": "2026-12-02T04:49:08Z", "stage": "verify", "outcome": "unverified",
                 "data": {"outcome": "unverified", "reason": "not settled", "evidence": {"server": "ns1"}}}
            ],
            "verification": {"outcome": "unverified", "reason": "not settled",
                             "evidence": {"server": "ns1"}, "at": "2026-12-02T04:49:08Z", "attempts": 2},
            "rollback_of": "01M7AAAAAAAAAAAAAAAAAAAAAA",
            "rollbacks": ["01M9AAAAAAAAAAAAAAAAAAAAAA"]
        }))
        .unwrap();
        let text = record_details(&record, now());
        let want_head = "\
id:             01M8THBDYZFYCDE9TDQ6HK30J3
status:         success
caller:         alice
request:        add dns record c.local to 10.1.1.3
created:        2026-12-02T04:49:05Z (54s ago)
updated:        2026-12-02T04:49:08Z (52s ago)
action:         dns.create_a_record
rollback of:    01M7AAAAAAAAAAAAAAAAAAAAAA
rolled back by: 01M9AAAAAAAAAAAAAAAAAAAAAA

timeline:
  SEQ  AT                    STAGE   OUTCOME     DETAIL
  9    2026-12-02T04:49:05Z  intake  accepted
  14   2026-12-02T04:49:08Z  verify  unverified  unverified, not settled, read from ns1

execution:    ansible: changed
verification: unverified: not settled
              read from ns1 (2 readings, 2026-12-02T04:49:08Z)";
        assert_eq!(text, want_head);
        // Already rolled back: no undo hint. Pruned: the sentence says so.
        let mut pruned = record.clone();
        pruned.nl = None;
        pruned.pruned_at = Some("2026-12-02T04:49:59Z".into());
        pruned.rollbacks.clear();
        pruned.timeline.clear();
        let text = record_details(&pruned, now());
        assert!(text.contains("request:     (pruned)"), "{text}");
        assert!(
            text.contains("pruned:      2026-12-02T04:49:59Z (1s ago)"),
            "{text}"
        );
        assert!(text.contains("\n\ntimeline: none\n\n"), "{text}");
        assert!(
            text.ends_with("hint: undo it with `aiops rollback 01M8THBDYZFYCDE9TDQ6HK30J3`"),
            "{text}"
        );
    }

    #[test]
    fn an_unrecognized_record_finds_its_reason_in_the_timeline() {
        let record: IntentRecord = serde_json::from_value(json!({
            "id": "01M8", "status": "unrecognized", "nl": "make me a sandwich", "dry_run": false,
            "caller": "alice", "created_at": "x", "updated_at": "x",
            "intent": null, "decision": null, "plan": null, "approval": null,
            "execution": null, "error": null, "context": [],
            "timeline": [{"seq": 1, "at": "x", "stage": "parse", "outcome": "unrecognized",
                          "data": {"parser": "rules", "reason": "nothing matches"}}]
        }))
        .unwrap();
        let o = Outcome::from(&record);
        assert_eq!(o.reason.as_deref(), Some("nothing matches"));
        assert!(matches!(ending(&o), Ending::Unsuccessful { why, .. } if why == "nothing matches"));
    }

    #[test]
    fn a_record_counts_only_approving_decisions() {
        let a: ApprovalRecordView = serde_json::from_value(json!({
            "id": "01A", "request_id": "01R", "plan_hash": "h", "state": "pending",
            "requester": "alice", "approvals_required": 2,
            "created_at": "x", "expires_at": "2026-12-02T05:00:00Z", "updated_at": "x",
            "reason": null, "slack_channel": null, "slack_ts": null,
            "decisions": [
                {"approver": "bob", "decision": "approve", "channel": "cli", "reason": null, "at": "x"},
                {"approver": "eve", "decision": "reject", "channel": "cli", "reason": null, "at": "x"}
            ]
        }))
        .unwrap();
        let line = ApprovalLine::from(&a);
        assert_eq!(line.approvers, ["bob"]);
        assert_eq!(
            approval_value(&line, now()),
            "01A pending, 1 of 2 approvers (bob), expires in 10m"
        );
    }

    #[test]
    fn evidence_names_what_and_where_when_it_can() {
        assert_eq!(evidence_source(&json!({})), None);
        assert_eq!(evidence_source(&json!({"error": {"code": "x"}})), None);
        assert_eq!(
            evidence_source(
                &json!({"read": "deployment shop/api", "source": "https://10.0.0.1:6443"})
            ),
            Some("read deployment shop/api from https://10.0.0.1:6443".into())
        );
        assert_eq!(
            evidence_source(&json!({"read": {"name": "c.local"}})),
            Some("read {\"name\":\"c.local\"}".into())
        );
        assert_eq!(short_time("not a time"), "not a time");
        assert_eq!(
            short_time("2026-12-02T06:49:05.9+02:00"),
            "2026-12-02T04:49:05Z"
        );
    }
}
