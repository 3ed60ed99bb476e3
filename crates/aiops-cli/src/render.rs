//! Pure rendering: the API's typed answers in, text out. No I/O and no clock (the caller
//! passes `now`), so every table and sentence here is unit-tested.

use aiops_api::{ApprovalDetail, ApprovalList, DecisionResponse};
use aiops_core::{ApprovalState, Verdict};
use comfy_table::{Table, presets::NOTHING};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cli::StateFilter;

/// The widest the TARGET/PARAMS column gets before it is cut with `…`.
pub const PARAMS_WIDTH: usize = 40;
/// Other free-text columns (action, requester) are cut at this width.
pub const TEXT_WIDTH: usize = 24;
/// The columns of `approvals list`.
pub const LIST_HEADERS: [&str; 7] = [
    "ID",
    "ACTION",
    "TARGET/PARAMS",
    "REQUESTER",
    "STATE",
    "APPROVALS",
    "EXPIRES",
];
/// The columns of the decisions in `approvals show`.
pub const DECISION_HEADERS: [&str; 5] = ["AT", "BY", "DECISION", "CHANNEL", "REASON"];

/// Columns padded to their widest cell, two spaces apart, no borders and no trailing
/// blanks; every line starts with `indent` spaces. Cells never wrap: the caller cuts
/// free text ([`truncate`]) so one row stays one line whatever the terminal.
pub fn table(headers: &[&str], rows: Vec<Vec<String>>, indent: u16) -> String {
    let mut t = Table::new();
    t.load_style(NOTHING)
        .set_header(headers.to_vec())
        .add_rows(rows);
    let last = headers.len().saturating_sub(1);
    for (i, column) in t.column_iter_mut().enumerate() {
        let left = if i == 0 { indent } else { 0 };
        column.set_padding((left, if i == last { 0 } else { 2 }));
    }
    t.trim_fmt()
}

/// Display width in characters (the CLI's text is ASCII but for ids and names a user chose).
fn width(s: &str) -> usize {
    s.chars().count()
}

/// Cuts `s` to at most `max` characters, ending in `…` when it was cut. Newlines become
/// spaces so one cell stays on one line.
pub fn truncate(s: &str, max: usize) -> String {
    let flat = one_line(s);
    if width(&flat) <= max {
        return flat;
    }
    let mut out: String = flat.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `s` with control characters (newlines, tabs, escapes) as spaces: one cell, one line,
/// and nothing a server sends can move the terminal's cursor.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `name=x.local type=A`: the target (`name`) first, then the other parameters.
pub fn params_summary(params: &Value) -> String {
    let Some(map) = params.as_object() else {
        return match params {
            Value::Null => "-".into(),
            other => other.to_string(),
        };
    };
    if map.is_empty() {
        return "-".into();
    }
    let value = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut parts = Vec::with_capacity(map.len());
    if let Some(name) = map.get("name") {
        parts.push(format!("name={}", value(name)));
    }
    parts.extend(
        map.iter()
            .filter(|(k, _)| k.as_str() != "name")
            .map(|(k, v)| format!("{k}={}", value(v))),
    );
    parts.join(" ")
}

/// "5s", "29m", "2h 5m", "3d 4h": a duration as an operator reads it (truncated, not rounded).
pub fn human_duration(secs: u64) -> String {
    const MIN: u64 = 60;
    const HOUR: u64 = 60 * MIN;
    const DAY: u64 = 24 * HOUR;
    match secs {
        s if s < MIN => format!("{s}s"),
        s if s < HOUR => format!("{}m", s / MIN),
        s if s < DAY => match (s % HOUR) / MIN {
            0 => format!("{}h", s / HOUR),
            m => format!("{}h {m}m", s / HOUR),
        },
        s => match (s % DAY) / HOUR {
            0 => format!("{}d", s / DAY),
            h => format!("{}d {h}h", s / DAY),
        },
    }
}

/// "in 29m", "3m ago" or "now", relative to `now`; the text as given when it is not
/// RFC 3339.
pub fn relative_time(rfc3339: &str, now: OffsetDateTime) -> String {
    let Ok(at) = OffsetDateTime::parse(rfc3339, &Rfc3339) else {
        return rfc3339.to_string();
    };
    let secs = (at - now).whole_seconds();
    match secs {
        0 => "now".into(),
        s if s > 0 => format!("in {}", human_duration(s.unsigned_abs())),
        s => format!("{} ago", human_duration(s.unsigned_abs())),
    }
}

/// The EXPIRES cell: relative for approvals still waiting (or expired); the deadline no
/// longer matters once someone decided.
fn expires_cell(a: &ApprovalDetail, now: OffsetDateTime) -> String {
    match a.state {
        ApprovalState::Pending | ApprovalState::Expired => relative_time(&a.expires_at, now),
        _ => "-".into(),
    }
}

/// What `approvals list` prints for an empty list.
pub fn empty_message(filter: StateFilter) -> String {
    match filter.state() {
        Some(state) => format!("no {state} approvals"),
        None => "no approvals".into(),
    }
}

/// The `approvals list` table.
pub fn approvals_table(
    list: &[ApprovalDetail],
    filter: StateFilter,
    now: OffsetDateTime,
) -> String {
    if list.is_empty() {
        return empty_message(filter);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|a| {
            vec![
                a.id.clone(),
                truncate(or_dash(&a.action), TEXT_WIDTH),
                truncate(&params_summary(&a.params), PARAMS_WIDTH),
                truncate(or_dash(&a.requester), TEXT_WIDTH),
                a.state.to_string(),
                a.tally(),
                expires_cell(a, now),
            ]
        })
        .collect();
    table(&LIST_HEADERS, rows, 0)
}

/// One page of `--limit` approvals, and how to ask for the next when there is one.
pub fn approvals_page(
    list: &ApprovalList,
    filter: StateFilter,
    limit: u32,
    now: OffsetDateTime,
) -> String {
    let table = approvals_table(&list.approvals, filter, now);
    match &list.next_cursor {
        Some(cursor) => format!(
            "{table}\nmore: aiops approvals list --state {filter} --limit {limit} --cursor {cursor}"
        ),
        None => table,
    }
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

/// `key: value` lines with the values aligned.
pub fn key_values(pairs: &[(&str, String)]) -> String {
    let w = pairs.iter().map(|(k, _)| width(k)).max().unwrap_or(0) + 1;
    pairs
        .iter()
        .map(|(k, v)| {
            format!("{:<w$} {v}", format!("{k}:"))
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `approvals show` text: fields, decisions, then the plan diff exactly as planned.
pub fn approval_details(a: &ApprovalDetail, now: OffsetDateTime) -> String {
    let mut pairs: Vec<(&str, String)> = vec![
        ("id", a.id.clone()),
        ("state", a.state.to_string()),
        ("action", or_dash(&a.action).to_string()),
        ("risk", a.risk.map_or("-", |r| r.as_str()).to_string()),
        (
            "params",
            match &a.params {
                Value::Null => "-".into(),
                p => p.to_string(),
            },
        ),
        ("requester", or_dash(&a.requester).to_string()),
        ("request", a.nl.clone().unwrap_or_else(|| "-".into())),
        (
            "request id",
            match &a.request_status {
                Some(s) => format!("{} ({s})", a.request_id),
                None => a.request_id.clone(),
            },
        ),
        ("approvals", {
            let mut t = a.tally();
            if !a.approvers.is_empty() {
                t.push_str(&format!(" ({})", a.approvers.join(", ")));
            }
            t
        }),
        ("created", a.created_at.clone()),
        (
            "expires",
            format!("{} ({})", a.expires_at, relative_time(&a.expires_at, now)),
        ),
        ("plan hash", or_dash(&a.plan_hash).to_string()),
    ];
    if let Some(r) = &a.reason {
        pairs.push(("reason", r.clone()));
    }
    let mut out = key_values(&pairs);

    out.push_str("\n\n");
    if a.decisions.is_empty() {
        out.push_str("decisions: none");
    } else {
        out.push_str("decisions:\n");
        let rows: Vec<Vec<String>> = a
            .decisions
            .iter()
            .map(|d| {
                vec![
                    d.at.clone(),
                    d.approver.clone(),
                    d.decision.to_string(),
                    format!("via {}", d.channel),
                    one_line(d.reason.as_deref().unwrap_or_default()),
                ]
            })
            .collect();
        out.push_str(&table(&DECISION_HEADERS, rows, 2));
    }

    out.push_str("\n\n");
    match a.diff() {
        Some(diff) => {
            out.push_str("plan diff:\n");
            out.push_str(diff);
        }
        None => out.push_str("plan diff: (none recorded)"),
    }
    out
}

/// The one-line result of a successful (HTTP 200) approve or reject.
pub fn decision_result(verdict: Verdict, reply: &DecisionResponse) -> String {
    let a = &reply.approval;
    let done = match verdict {
        Verdict::Approve => "approved",
        Verdict::Reject => "rejected",
    };
    if !reply.changed {
        return format!(
            "already {done} by you; {} is {} ({})",
            a.id,
            a.state,
            a.tally()
        );
    }
    match (verdict, a.state) {
        (Verdict::Approve, ApprovalState::Approved) => {
            format!("approved {} ({}); execution queued", a.id, a.tally())
        }
        (Verdict::Approve, ApprovalState::Pending) => {
            let missing = (a.approvals_required as usize).saturating_sub(a.approvers.len());
            format!(
                "approved {} ({}); waiting for {missing} more approval{}",
                a.id,
                a.tally(),
                if missing == 1 { "" } else { "s" }
            )
        }
        (Verdict::Reject, ApprovalState::Rejected) => {
            format!("rejected {}; the request is denied", a.id)
        }
        (_, state) => format!(
            "{done} {} ({}); the approval is now {state}",
            a.id,
            a.tally()
        ),
    }
}

/// What `aiops ingest` did, as a few lines and a table of skipped documents.
pub fn ingest_summary(s: &aiops_api::IngestSummary) -> String {
    let mut out = key_values(&[
        ("source", s.source.clone()),
        ("documents", s.documents.to_string()),
        (
            "chunks",
            format!(
                "{} added, {} kept, {} removed",
                s.chunks_added, s.chunks_kept, s.chunks_removed
            ),
        ),
        ("documents removed", s.documents_removed.to_string()),
        ("seconds", format!("{:.2}", s.seconds)),
    ]);
    if !s.skipped.is_empty() {
        out.push_str(&format!("\nskipped {}:\n", s.skipped.len()));
        let rows = s
            .skipped
            .iter()
            .map(|d| vec![d.path.clone(), d.detail.clone()])
            .collect();
        out.push_str(&table(&["PATH", "REASON"], rows, 2));
    }
    out
}

#[cfg(test)]
mod tests {
    use aiops_api::DecisionRecordView;
    use aiops_core::Channel;
    use serde_json::json;

    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::parse("2025-01-01T12:00:00Z", &Rfc3339).unwrap()
    }

    fn approval(id: &str, params: Value, approvers: &[&str], required: u32) -> ApprovalDetail {
        serde_json::from_value(json!({
            "id": id,
            "request_id": "r1",
            "state": "pending",
            "action": "dns.delete_record",
            "risk": "destructive",
            "params": params,
            "nl": "delete the A record x.local",
            "requester": "alice",
            "approvals_required": required,
            "approvers": approvers,
            "decisions": [],
            "created_at": "2025-01-01T11:59:00Z",
            "expires_at": "2025-01-01T12:29:30Z",
            "plan_hash": "ab".repeat(32),
            "reason": null,
            "request_status": "pending_approval",
        }))
        .unwrap()
    }

    #[test]
    fn the_table_is_aligned() {
        let list = [
            approval(
                "01JAAAAAAAAAAAAAAAAAAAAAAA",
                json!({"name": "x.local", "type": "A"}),
                &[],
                1,
            ),
            approval(
                "01JB",
                json!({"type": "TXT", "name": "a-much-longer-name.local"}),
                &["bob"],
                2,
            ),
        ];
        let t = approvals_table(&list, ApprovalState::Pending.into(), now());
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3, "{t}");
        for header in &LIST_HEADERS[1..] {
            let col = lines[0].find(header).unwrap();
            for l in &lines[1..] {
                let before = &l[..col];
                assert!(before.ends_with("  "), "column {header} not aligned:\n{t}");
                assert_ne!(&l[col..col + 1], " ", "column {header} not aligned:\n{t}");
            }
        }
        assert!(lines[1].contains("name=x.local type=A"), "{t}");
        assert!(
            lines[2].contains("name=a-much-longer-name.local type=TXT"),
            "the target first: {t}"
        );
        assert!(lines[1].contains("0/1") && lines[2].contains("1/2"), "{t}");
        assert!(lines[1].ends_with("in 29m"), "{t}");
        assert!(
            lines.iter().all(|l| !l.ends_with(' ')),
            "trailing blanks:\n{t}"
        );
    }

    #[test]
    fn long_params_are_cut() {
        let long = "n".repeat(100);
        let list = [approval("01J", json!({"name": long, "type": "A"}), &[], 1)];
        let t = approvals_table(&list, ApprovalState::Pending.into(), now());
        let row = t.lines().nth(1).unwrap();
        let cell = row.split("  ").find(|c| c.starts_with("name=")).unwrap();
        assert_eq!(cell.chars().count(), PARAMS_WIDTH, "{t}");
        assert!(cell.ends_with('…'), "{t}");
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("line1\nline2", 20), "line1 line2");
    }

    #[test]
    fn empty_lists_say_so() {
        assert_eq!(
            approvals_table(&[], ApprovalState::Pending.into(), now()),
            "no pending approvals"
        );
        assert_eq!(
            approvals_table(&[], ApprovalState::Failed.into(), now()),
            "no failed approvals"
        );
        assert_eq!(
            approvals_table(&[], StateFilter::ALL, now()),
            "no approvals"
        );
    }

    #[test]
    fn params_render_compactly() {
        assert_eq!(
            params_summary(&json!({"ttl": 60, "name": "a.local"})),
            "name=a.local ttl=60"
        );
        assert_eq!(params_summary(&json!({})), "-");
        assert_eq!(params_summary(&Value::Null), "-");
    }

    #[test]
    fn expiry_is_relative() {
        let n = now();
        assert_eq!(relative_time("2025-01-01T12:29:59Z", n), "in 29m");
        assert_eq!(relative_time("2025-01-01T12:00:45Z", n), "in 45s");
        assert_eq!(relative_time("2025-01-01T12:00:00Z", n), "now");
        assert_eq!(relative_time("2025-01-01T11:57:00Z", n), "3m ago");
        assert_eq!(relative_time("2025-01-01T14:05:00Z", n), "in 2h 5m");
        assert_eq!(relative_time("2025-01-01T13:00:00+00:00", n), "in 1h");
        assert_eq!(relative_time("2025-01-04T16:00:00Z", n), "in 3d 4h");
        assert_eq!(relative_time("2025-01-01T13:00:00+01:00", n), "now");
        assert_eq!(relative_time("tomorrow", n), "tomorrow");
    }

    #[test]
    fn decided_approvals_show_no_countdown() {
        let mut a = approval("01J", json!({"name": "x.local"}), &["bob"], 1);
        a.state = ApprovalState::Succeeded;
        let t = approvals_table(&[a], StateFilter::ALL, now());
        assert!(
            t.lines()
                .nth(1)
                .unwrap()
                .ends_with("succeeded  1/1        -"),
            "{t}"
        );
    }

    #[test]
    fn show_lists_fields_decisions_and_the_diff_verbatim() {
        let mut a = approval("01J", json!({"name": "x.local", "type": "A"}), &["bob"], 2);
        a.decisions = vec![DecisionRecordView {
            approver: "bob".into(),
            decision: Verdict::Approve,
            channel: Channel::Cli,
            reason: Some("ticket OPS-1\nsee the runbook".into()),
            at: "2025-01-01T12:00:00Z".into(),
        }];
        let diff = "--- zone local\n- x.local. 3600 IN A 10.0.0.1\n  (nothing added)";
        a.plan = Some(Some(
            serde_json::from_value(json!({
                "action": "dns.delete_record",
                "params": {"name": "x.local", "type": "A"},
                "target": {"kind": "dns_zone", "zone": "local", "name": "x.local"},
                "diff": diff,
                "changes": true,
                "hash": "ab".repeat(32),
            }))
            .unwrap(),
        ));
        let text = approval_details(&a, now());
        assert!(text.ends_with(&format!("plan diff:\n{diff}")), "{text}");
        assert!(text.contains("approvals:  1/2 (bob)"), "{text}");
        assert!(
            text.contains("expires:    2025-01-01T12:29:30Z (in 29m)"),
            "{text}"
        );
        // The decisions: a header and one line per decision, indented, the reason on it.
        let decisions: Vec<&str> = text.split("\n\n").nth(1).unwrap().lines().collect();
        assert_eq!(decisions.len(), 3, "{text}");
        assert!(decisions[1].starts_with("  AT"), "{text}");
        let row = decisions[2];
        assert!(row.starts_with("  2025-01-01T12:00:00Z  bob"), "{text}");
        assert!(row.contains("approve") && row.contains("via cli"), "{text}");
        assert!(row.ends_with("ticket OPS-1 see the runbook"), "{text}");
        assert_eq!(
            decisions[1].find("REASON"),
            row.find("ticket"),
            "aligned:\n{text}"
        );
        // Keys aligned: every value of the field block starts in the same column.
        let block: Vec<&str> = text.split("\n\n").next().unwrap().lines().collect();
        let col = block[0].find("01J").unwrap();
        for l in &block {
            let (k, _) = l.split_once(':').unwrap();
            assert!(
                k.len() < col && l[k.len() + 1..col].chars().all(|c| c == ' '),
                "{text}"
            );
        }
        let bare = approval("01K", Value::Null, &[], 1);
        let text = approval_details(&bare, now());
        assert!(
            text.contains("decisions: none") && text.ends_with("plan diff: (none recorded)"),
            "{text}"
        );
    }

    #[test]
    fn decision_results_read_as_sentences() {
        let reply = |changed: bool, state: ApprovalState, approvers: &[&str], required: u32| {
            let mut approval = approval("01J", json!({"name": "x.local"}), approvers, required);
            approval.state = state;
            DecisionResponse {
                changed,
                message: None,
                approval,
            }
        };
        use ApprovalState::*;
        let cases = [
            (
                Verdict::Approve,
                reply(true, Approved, &["bob"], 1),
                "approved 01J (1/1); execution queued",
            ),
            (
                Verdict::Approve,
                reply(true, Pending, &["bob"], 2),
                "approved 01J (1/2); waiting for 1 more approval",
            ),
            (
                Verdict::Approve,
                reply(true, Pending, &["bob"], 3),
                "approved 01J (1/3); waiting for 2 more approvals",
            ),
            (
                Verdict::Approve,
                reply(false, Executing, &["bob"], 1),
                "already approved by you; 01J is executing (1/1)",
            ),
            (
                Verdict::Reject,
                reply(true, Rejected, &[], 1),
                "rejected 01J; the request is denied",
            ),
            (
                Verdict::Reject,
                reply(false, Rejected, &[], 1),
                "already rejected by you; 01J is rejected (0/1)",
            ),
            (
                Verdict::Approve,
                reply(true, Expired, &[], 1),
                "approved 01J (0/1); the approval is now expired",
            ),
        ];
        for (verdict, reply, want) in cases {
            assert_eq!(decision_result(verdict, &reply), want);
        }
    }

    #[test]
    fn key_values_align() {
        assert_eq!(
            key_values(&[
                ("id", "1".into()),
                ("plan hash", "h".into()),
                ("empty", String::new())
            ]),
            "id:        1\nplan hash: h\nempty:"
        );
    }
}
