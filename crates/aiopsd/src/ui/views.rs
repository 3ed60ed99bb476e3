//! The console's pages (maud: markup checked at compile time, every interpolation escaped).
//! No script at all: forms and links only, so the Content-Security-Policy forbids scripts
//! outright.

use aiops_api::{ApprovalDetail, IntentRecord, IntentResponse, IntentSummary};
use maud::{DOCTYPE, Markup, html};

use super::session::Session;

/// The page frame: navigation for a signed-in user, the content, the stylesheet.
pub(super) fn page(title: &str, session: Option<&Session>, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · aiops" }
                link rel="stylesheet" href="/ui/static/style.css";
            }
            body {
                header {
                    nav aria-label="Main" {
                        a.brand href="/ui/ask" { "aiops" }
                        @if let Some(s) = session {
                            a href="/ui/ask" { "Ask" }
                            a href="/ui/approvals" { "Approvals" }
                            a href="/ui/audit" { "Audit" }
                            span.who { (s.caller.user) }
                            form.inline method="post" action="/ui/logout" {
                                (csrf(s))
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    (content)
                }
            }
        }
    }
}

/// The hidden form token of `session`.
pub(super) fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

pub(super) fn notice(kind: &str, text: &str) -> Markup {
    html! { p class={"notice " (kind)} role="status" { (text) } }
}

pub(super) fn login(error: Option<&str>, cert_user: Option<&str>) -> Markup {
    html! {
        @if let Some(e) = error { (notice("bad", e)) }
        form method="post" action="/ui/login" {
            label for="token" { "API token" }
            input id="token" name="token" type="password" autocomplete="off" required;
            button type="submit" { "Sign in" }
        }
        @if let Some(user) = cert_user {
            form method="post" action="/ui/login" {
                input type="hidden" name="certificate" value="1";
                button type="submit" { "Sign in as " (user) " (client certificate)" }
            }
        }
    }
}

pub(super) fn ask_form(session: &Session, nl: &str) -> Markup {
    html! {
        form method="post" action="/ui/ask" {
            (csrf(session))
            label for="nl" { "What should change?" }
            textarea id="nl" name="nl" rows="3" required placeholder="Add DNS A record for test.local to 192.168.1.100" { (nl) }
            button type="submit" { "Dry run" }
        }
    }
}

/// A plan's diff, each line marked as an addition, a removal or context.
pub(super) fn diff(text: &str) -> Markup {
    html! {
        pre.diff aria-label="Plan diff" {
            @for line in text.lines() {
                @let class = if line.starts_with("+++") || line.starts_with("---") { "hdr" } else if line.starts_with('+') { "add" } else if line.starts_with('-') { "del" } else { "ctx" };
                span class=(class) { (line) } "\n"
            }
        }
    }
}

fn reasons(list: &[String]) -> Markup {
    html! { ul.reasons { @for r in list { li { (r) } } } }
}

/// The answer to a dry run (or any request): parse, decision, plan, answer, and — for a
/// dry run that policy would let run — the button that runs exactly this plan.
pub(super) fn outcome(session: &Session, resp: &IntentResponse, nl: &str) -> Markup {
    html! {
        (ask_form(session, nl))
        section aria-labelledby="result" {
            h2 id="result" { "Result: " span.status { (resp.status) } }
            p { "Request " a href={"/ui/requests/" (resp.id)} { (resp.id) } }
            @if let Some(reason) = &resp.reason { (notice("warn", reason)) }
            @if let Some(e) = &resp.error { (notice("bad", &format!("{} ({})", e.message, e.code))) }
            @if let Some(intent) = &resp.intent {
                h3 { "Parse" }
                dl {
                    dt { "Action" } dd { code { (intent.action) } }
                    dt { "Parameters" } dd { code { (serde_json::Value::Object(intent.params.clone())) } }
                    dt { "Parser" } dd { (intent.parser) " (confidence " (format!("{:.2}", intent.confidence)) ")" }
                }
            }
            @if let Some(d) = &resp.decision {
                h3 { "Policy: " (d.outcome.as_str()) }
                (reasons(&d.reasons))
            }
            @if let Some(plan) = &resp.plan {
                h3 { "Plan" }
                (diff(&plan.diff))
                p.hash { "Plan hash " code { (plan.hash) } }
                @if resp.status == aiops_core::RequestStatus::DryRun {
                    form method="post" action="/ui/ask/run" {
                        (csrf(session))
                        input type="hidden" name="request" value=(resp.id);
                        input type="hidden" name="plan_hash" value=(plan.hash);
                        button.primary type="submit" { "Run this plan" }
                    }
                }
            }
            @if let Some(answer) = &resp.answer {
                h3 { "Answer" }
                p.answer { (answer) }
            }
            @let cited = passages(resp);
            @if !cited.is_empty() {
                h3 { "Runbook passages" }
                ol.passages {
                    @for c in cited {
                        @let doc = c.get("doc").and_then(|v| v.as_str()).unwrap_or_default();
                        @let heading = c.get("heading").and_then(|v| v.as_str()).unwrap_or_default();
                        @let chunk = c.get("chunk_id").and_then(|v| v.as_str()).unwrap_or_default();
                        li { a href={"/ui/runbooks?doc=" (urlencode(doc)) "#c-" (chunk)} { (doc) } " › " (heading) }
                    }
                }
            }
            @if let Some(a) = &resp.approval {
                p { "Waiting for approval " a href={"/ui/approvals/" (a.id)} { (a.id) } " (" (a.approvals_required) " approver(s))." }
            }
        }
    }
}

/// The passages behind a response: an answer's citations (`ops.ask`), else the context the
/// request retrieved.
fn passages(resp: &IntentResponse) -> &[serde_json::Value] {
    resp.execution
        .as_ref()
        .and_then(|e| e.get("citations"))
        .and_then(|c| c.as_array())
        .filter(|c| !c.is_empty())
        .map_or(resp.context.as_slice(), Vec::as_slice)
}

pub(super) fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// How long ago an RFC 3339 time was, coarsely (`3 min`, `2 h`, `4 d`).
fn age(at: &str) -> String {
    let Ok(then) = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
    else {
        return at.to_string();
    };
    let secs = (time::OffsetDateTime::now_utc() - then)
        .whole_seconds()
        .max(0);
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86400 => format!("{} h", secs / 3600),
        _ => format!("{} d", secs / 86400),
    }
}

/// One indexed runbook, its chunks in order, each an anchor (`#c-<chunk id>`) that answers
/// link to.
pub(super) fn runbook(doc: &aiops_retrieval::IndexedDocument) -> Markup {
    html! {
        p { "Source " code { (doc.source) } @if let Some(t) = &doc.title { " · " (t) } }
        @for c in &doc.chunks {
            section id={"c-" (c.chunk_id)} {
                h2 { (if c.heading.is_empty() { doc.doc.as_str() } else { c.heading.as_str() }) }
                pre.chunk { (c.text) }
            }
        }
    }
}

/// The inbox: each approval with, while it waits, its plan diff under it.
pub(super) fn approvals(items: &[(ApprovalDetail, Option<String>)]) -> Markup {
    html! {
        @if items.is_empty() { p { "Nothing waits for a decision." } }
        @else {
            table id="approvals" {
                thead { tr { th scope="col" { "Action" } th scope="col" { "Risk" } th scope="col" { "Requester" } th scope="col" { "Age" } th scope="col" { "Expires" } th scope="col" { "Approvals" } th scope="col" { "State" } } }
                tbody {
                    @for (a, plan) in items {
                        tr {
                            td { a href={"/ui/approvals/" (a.id)} { (a.action) } }
                            td { (a.risk.map(|r| r.as_str()).unwrap_or("?")) }
                            td { (a.requester) }
                            td { time datetime=(a.created_at) { (age(&a.created_at)) } }
                            td { (a.expires_at) }
                            td { (a.approvers.len()) "/" (a.approvals_required) }
                            td { (a.state) }
                        }
                        @if let Some(d) = plan {
                            tr.plan { td colspan="7" { (diff(d)) } }
                        }
                    }
                }
            }
        }
    }
}

pub(super) fn approval(
    session: &Session,
    a: &ApprovalDetail,
    plan_diff: Option<&str>,
    record: Option<&IntentRecord>,
) -> Markup {
    html! {
        dl id="approval" {
            dt { "Action" } dd { code { (a.action) } }
            dt { "Risk" } dd { (a.risk.map(|r| r.as_str()).unwrap_or("?")) }
            dt { "Parameters" } dd { code { (a.params) } }
            @if let Some(nl) = &a.nl { dt { "Asked" } dd { (nl) } }
            dt { "Requester" } dd { (a.requester) }
            dt { "State" } dd { (a.state) }
            dt { "Approvals" } dd { (a.approvers.len()) " of " (a.approvals_required) }
            dt { "Expires" } dd { (a.expires_at) }
            dt { "Request" } dd { a href={"/ui/requests/" (a.request_id)} { (a.request_id) } }
        }
        @if let Some(d) = plan_diff { h2 { "Plan" } (diff(d)) }
        @if let Some(rec) = record {
            @if let Some(d) = &rec.decision { h2 { "Policy" } (reasons(&d.reasons)) }
        }
        @if a.state.is_open() {
            form method="post" action={"/ui/approvals/" (a.id) "/decide"} {
                (csrf(session))
                label for="reason" { "Reason (optional)" }
                input id="reason" name="reason" type="text" maxlength="1000";
                div.buttons {
                    button.primary type="submit" name="verdict" value="approve" { "Approve" }
                    button.danger type="submit" name="verdict" value="reject" { "Reject" }
                }
            }
        }
        @if let Some(rec) = record { h2 { "Timeline" } (timeline(rec)) }
    }
}

pub(super) fn timeline(rec: &IntentRecord) -> Markup {
    html! {
        ol.timeline id="timeline" {
            @for e in &rec.timeline {
                li {
                    span.stage { (e.stage) } " "
                    span.outcome { (e.outcome) } " "
                    time { (e.at) }
                    " " span.hash title="audit hash" { code { (e.hash.get(..12).unwrap_or(&e.hash)) "…" } }
                    details { summary { "data" } pre { (serde_json::to_string_pretty(&e.data).unwrap_or_default()) } }
                }
            }
        }
    }
}

pub(super) fn request(rec: &IntentRecord) -> Markup {
    html! {
        dl {
            dt { "Status" } dd.status { (rec.status) }
            @if let Some(nl) = &rec.nl { dt { "Asked" } dd { (nl) } }
            dt { "Caller" } dd { (rec.caller) }
            dt { "Created" } dd { (rec.created_at) }
            @if let Some(h) = &rec.plan_hash { dt { "Plan hash" } dd { code { (h) } } }
            @if let Some(v) = &rec.verification { dt { "Verification" } dd { (v.outcome) } }
        }
        @if let Some(plan) = &rec.plan { h2 { "Plan" } (diff(&plan.diff)) }
        @if !rec.context.is_empty() {
            h2 { "Retrieved context" }
            ol.passages { @for c in &rec.context { li { (c.get("doc").and_then(|v| v.as_str()).unwrap_or_default()) " › " (c.get("heading").and_then(|v| v.as_str()).unwrap_or_default()) } } }
        }
        h2 { "Timeline" }
        (timeline(rec))
        p { a href="/ui/audit?verify=1" { "Verify the audit chain" } }
    }
}

pub(super) struct AuditFilter<'a> {
    pub action: &'a str,
    pub caller: &'a str,
    pub status: &'a str,
    pub since: &'a str,
}

pub(super) fn audit(
    items: &[IntentSummary],
    next: Option<&str>,
    filter: &AuditFilter<'_>,
    chain: Option<(bool, String)>,
) -> Markup {
    html! {
        @if let Some((ok, text)) = chain { (notice(if ok { "good" } else { "bad" }, &text)) }
        form.filters method="get" action="/ui/audit" {
            label for="f-action" { "Action" } input id="f-action" name="action" value=(filter.action);
            label for="f-caller" { "Caller" } input id="f-caller" name="caller" value=(filter.caller);
            label for="f-status" { "Status" } input id="f-status" name="status" value=(filter.status);
            label for="f-since" { "Since (date)" } input id="f-since" name="since" type="date" value=(filter.since);
            button type="submit" { "Filter" }
            a href="/ui/audit?verify=1" { "Verify chain" }
        }
        table id="requests" {
            thead { tr { th scope="col" { "Request" } th scope="col" { "Action" } th scope="col" { "Caller" } th scope="col" { "Status" } th scope="col" { "Created" } } }
            tbody {
                @for r in items {
                    tr {
                        td { a href={"/ui/requests/" (r.id)} { (r.id) } }
                        td { (r.action.map(|a| a.as_str()).unwrap_or("-")) }
                        td { (r.caller) }
                        td { (r.status) }
                        td { (r.created_at) }
                    }
                }
            }
        }
        @if let Some(c) = next {
            a href={"/ui/audit?cursor=" (urlencode(c)) "&action=" (urlencode(filter.action)) "&caller=" (urlencode(filter.caller)) "&status=" (urlencode(filter.status)) "&since=" (urlencode(filter.since))} { "Older →" }
        }
    }
}
