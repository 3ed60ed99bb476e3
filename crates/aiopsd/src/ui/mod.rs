//! The web console at `/ui`: sign in, ask (dry run first, then run exactly the reviewed
//! plan), the approvals inbox with plan diffs, request timelines, the audit list and chain
//! verification. Rendered on the server (`views.rs`, maud); the stylesheet is compiled in;
//! no script, no CDN.
//!
//! It is a front end of the same app as the API: the same authenticator signs users in,
//! every page asks policy (`access_decision`) for the operation it shows or performs, and
//! every change goes down `pipeline` like a `curl`. Forms carry the session's form token
//! (CSRF); pages are sent with a strict Content-Security-Policy, `X-Frame-Options: DENY`
//! and `no-store`.

mod session;
mod views;

use std::time::Duration;

use aiops_api::IntentRequest;
use aiops_core::{Channel, ErrorCode, RequestStatus, Verdict};
use aiops_policy::Operation;
use aiops_store::{ApprovalQuery, CursorList, RequestQuery};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::Markup;
use serde::Deserialize;

pub use session::Sessions;
use session::{Session, Signed, csrf_ok};
use views::page;

use crate::AppState;
use crate::auth::Credentials;
use crate::tls::ClientIdentity;

/// `[ui]`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct UiConfig {
    /// Serve the console at `/ui`.
    pub enabled: bool,
    /// How long a sign-in lasts.
    pub session_ttl_secs: u64,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            enabled: true,
            session_ttl_secs: 8 * 3600,
        }
    }
}

const STYLE: &str = include_str!("style.css");

/// No script, no frames, styles and images from here only, forms post here only.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/ask") }))
        .route("/ui/", get(|| async { Redirect::to("/ui/ask") }))
        .route("/ui/static/style.css", get(style))
        .route("/ui/login", get(login_page).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/ask", get(ask_page).post(ask))
        .route("/ui/ask/run", post(run_reviewed))
        .route("/ui/approvals", get(approvals))
        .route("/ui/approvals/{id}", get(approval))
        .route("/ui/approvals/{id}/decide", post(decide))
        .route("/ui/requests/{id}", get(request))
        .route("/ui/audit", get(audit))
        .route("/ui/runbooks", get(runbook))
        .layer(axum::middleware::map_response(security_headers))
}

async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

/// A page with its status.
fn html(status: StatusCode, markup: Markup) -> Response {
    (status, markup).into_response()
}

/// A page saying why something was refused, in the session's frame.
fn refused(session: &Session, status: StatusCode, title: &str, why: &str) -> Response {
    html(
        status,
        page(title, Some(session), views::notice("bad", why)),
    )
}

/// The refusal page when policy does not let this session's caller run `operation`.
fn forbidden(state: &AppState, session: &Session, operation: Operation) -> Option<Response> {
    let refusal = state.permit(&session.caller, operation).err()?;
    Some(refused(
        session,
        crate::api::status_for(refusal.code),
        "Not allowed",
        &refusal.message,
    ))
}

/// The refusal page when a form's token is not the session's: a form posted from another
/// site has not got it.
fn forged(session: &Session, sent: &str) -> Option<Response> {
    if csrf_ok(session, sent) {
        None
    } else {
        Some(refused(
            session,
            StatusCode::FORBIDDEN,
            "Form refused",
            "This form did not come from this console (its form token is missing or wrong). Reload the page and try again.",
        ))
    }
}

// ---------------------------------------------------------------------------------------
// Sign in and out
// ---------------------------------------------------------------------------------------

/// The user a verified client certificate signs in as, if it names one.
async fn certificate_user(
    state: &AppState,
    client: Option<&ClientIdentity>,
) -> Option<aiops_core::Caller> {
    let client = client?;
    state
        .authenticator
        .authenticate(Credentials {
            authorization: None,
            client: Some(client),
        })
        .await
        .ok()
        .filter(|c| c.auth == aiops_core::AuthMethod::ClientCertificate)
}

async fn login_page(
    State(state): State<AppState>,
    client: Option<axum::Extension<ClientIdentity>>,
) -> Response {
    let cert = certificate_user(&state, client.as_ref().map(|c| &c.0)).await;
    html(
        StatusCode::OK,
        page(
            "Sign in",
            None,
            views::login(None, cert.as_ref().map(|c| c.user.as_str())),
        ),
    )
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    certificate: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    client: Option<axum::Extension<ClientIdentity>>,
    Form(form): Form<LoginForm>,
) -> Response {
    let client = client.as_ref().map(|c| &c.0);
    let caller = if form.certificate.is_some() {
        certificate_user(&state, client).await
    } else {
        let token = form.token.trim();
        if token.is_empty() {
            None
        } else {
            let authorization = format!("Bearer {token}");
            state
                .authenticator
                .authenticate(Credentials {
                    authorization: Some(&authorization),
                    client: None,
                })
                .await
                .ok()
                .filter(|c| c.auth != aiops_core::AuthMethod::Anonymous)
        }
    };
    let Some(caller) = caller else {
        tracing::warn!("console sign-in refused");
        let cert = certificate_user(&state, client).await;
        return html(
            StatusCode::UNAUTHORIZED,
            page(
                "Sign in",
                None,
                views::login(
                    Some("Those credentials are not valid."),
                    cert.as_ref().map(|c| c.user.as_str()),
                ),
            ),
        );
    };
    tracing::info!(user = %caller.user, auth = caller.auth.as_str(), "console sign-in");
    let ttl = Duration::from_secs(state.config.ui.session_ttl_secs);
    let (id, _) = state.ui_sessions.create(caller);
    let mut resp = Redirect::to("/ui/ask").into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        session::set_cookie(&id, ttl, state.config.tls.is_some()),
    );
    resp
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Signed(s): Signed,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(r) = forged(&s, &form.csrf) {
        return r;
    }
    if let Some(id) = session::cookie_id(&headers) {
        state.ui_sessions.remove(&id);
    }
    let mut resp = Redirect::to("/ui/login").into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, session::clear_cookie());
    resp
}

// ---------------------------------------------------------------------------------------
// Ask
// ---------------------------------------------------------------------------------------

async fn ask_page(State(state): State<AppState>, Signed(s): Signed) -> Response {
    if let Some(r) = forbidden(&state, &s, Operation::IntentsSubmit) {
        return r;
    }
    html(
        StatusCode::OK,
        page("Ask", Some(&s), views::ask_form(&s, "")),
    )
}

#[derive(Deserialize)]
struct AskForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    nl: String,
}

/// A dry run: the parse, the decision with its reasons and the plan, with the button that
/// runs exactly that plan.
async fn ask(
    State(state): State<AppState>,
    Signed(s): Signed,
    Form(form): Form<AskForm>,
) -> Response {
    if let Some(r) =
        forged(&s, &form.csrf).or_else(|| forbidden(&state, &s, Operation::IntentsSubmit))
    {
        return r;
    }
    let nl = form.nl.trim().to_string();
    if nl.is_empty() || nl.chars().count() > 2000 {
        return html(
            StatusCode::UNPROCESSABLE_ENTITY,
            page("Ask", Some(&s), views::ask_form(&s, &nl)),
        );
    }
    let req = IntentRequest {
        nl: nl.clone(),
        dry_run: true,
    };
    let caller = s.caller.clone();
    let app = state.clone();
    let ask_nl = nl.clone();
    // Changes are dry-run first and run only from the reviewed plan; a read (a lookup, a
    // question) changes nothing, so its reviewed plan is run at once.
    let result = tokio::spawn(async move {
        let dry = crate::pipeline::submit(&app, req, caller.clone()).await?;
        let read = dry
            .intent
            .as_ref()
            .and_then(|i| app.catalog.get(i.action))
            .is_some_and(|spec| spec.risk == aiops_core::Risk::Read);
        match (&dry.intent, &dry.plan) {
            (Some(intent), Some(plan)) if read && dry.status == RequestStatus::DryRun => {
                crate::pipeline::submit_reviewed(
                    &app,
                    ask_nl,
                    intent.clone(),
                    plan.hash.clone(),
                    caller,
                )
                .await
            }
            _ => Ok(dry),
        }
    })
    .await;
    match result {
        Ok(Ok(resp)) => html(
            StatusCode::OK,
            page("Ask", Some(&s), views::outcome(&s, &resp, &nl)),
        ),
        Ok(Err(f)) => refused(&s, StatusCode::SERVICE_UNAVAILABLE, "Ask", &f.message),
        Err(_) => refused(
            &s,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Ask",
            "internal error",
        ),
    }
}

#[derive(Deserialize)]
struct RunForm {
    #[serde(default)]
    csrf: String,
    request: String,
    plan_hash: String,
}

/// Runs the reviewed dry run's intent for real, bound to the plan hash the page showed.
async fn run_reviewed(
    State(state): State<AppState>,
    Signed(s): Signed,
    Form(form): Form<RunForm>,
) -> Response {
    if let Some(r) =
        forged(&s, &form.csrf).or_else(|| forbidden(&state, &s, Operation::IntentsSubmit))
    {
        return r;
    }
    let not_found = || {
        refused(
            &s,
            StatusCode::NOT_FOUND,
            "Run",
            "No such dry run of yours.",
        )
    };
    let Ok(Some(dry)) = crate::records::intent_record(&state, &form.request).await else {
        return not_found();
    };
    // Only the user's own dry run, and only one that planned.
    if dry.caller != s.caller.user || dry.status != RequestStatus::DryRun {
        return not_found();
    }
    let (Some(intent), Some(nl)) = (dry.intent.clone(), dry.nl.clone()) else {
        return not_found();
    };
    let caller = s.caller.clone();
    let app = state.clone();
    let shown = form.plan_hash.clone();
    let result = tokio::spawn(async move {
        crate::pipeline::submit_reviewed(&app, nl, intent, shown, caller).await
    })
    .await;
    match result {
        Ok(Ok(resp))
            if resp
                .error
                .as_ref()
                .is_some_and(|e| e.code == ErrorCode::PlanChanged) =>
        {
            let nl = dry.nl.unwrap_or_default();
            html(
                StatusCode::CONFLICT,
                page(
                    "The plan changed",
                    Some(&s),
                    maud::html! {
                        (views::notice("bad", "The plan is not the one you reviewed: nothing was run. Dry-run it again and review the new plan."))
                        (views::ask_form(&s, &nl))
                    },
                ),
            )
        }
        Ok(Ok(resp)) => Redirect::to(&format!("/ui/requests/{}", resp.id)).into_response(),
        Ok(Err(f)) => refused(&s, StatusCode::SERVICE_UNAVAILABLE, "Run", &f.message),
        Err(_) => refused(
            &s,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Run",
            "internal error",
        ),
    }
}

// ---------------------------------------------------------------------------------------
// Approvals
// ---------------------------------------------------------------------------------------

async fn approvals(State(state): State<AppState>, Signed(s): Signed) -> Response {
    if let Some(r) = forbidden(&state, &s, Operation::ApprovalsRead) {
        return r;
    }
    let mut items = Vec::new();
    // Pending first (the longest waiting on top), then up to a page of decided ones.
    for filter in [Some(aiops_core::ApprovalState::Pending), None] {
        let query = ApprovalQuery {
            state: filter,
            limit: 100,
            after: None,
        };
        match crate::approvals::list(&state, &query).await {
            Ok(page) => items.extend(
                page.items
                    .into_iter()
                    .filter(|a| filter.is_some() || !a.state.is_open()),
            ),
            Err(f) => return refused(&s, StatusCode::SERVICE_UNAVAILABLE, "Approvals", &f.message),
        }
    }
    // What each waiting approval would change, in the inbox itself.
    let mut rows = Vec::with_capacity(items.len());
    for a in items {
        let plan = if a.state.is_open() {
            crate::records::intent_record(&state, &a.request_id)
                .await
                .ok()
                .flatten()
                .and_then(|r| r.plan)
                .map(|p| p.diff)
        } else {
            None
        };
        rows.push((a, plan));
    }
    html(
        StatusCode::OK,
        page("Approvals", Some(&s), views::approvals(&rows)),
    )
}

async fn approval(
    State(state): State<AppState>,
    Signed(s): Signed,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = forbidden(&state, &s, Operation::ApprovalsRead) {
        return r;
    }
    let found = match state.store.get_approval(&id).await {
        Ok(found) => found,
        Err(e) => {
            return refused(
                &s,
                StatusCode::SERVICE_UNAVAILABLE,
                "Approval",
                &crate::failure::Failure::from(e).message,
            );
        }
    };
    let Some(a) = found else {
        return refused(&s, StatusCode::NOT_FOUND, "Approval", "No such approval.");
    };
    let detail = match crate::approvals::detail(&state, &a, true).await {
        Ok(d) => d,
        Err(f) => return refused(&s, StatusCode::SERVICE_UNAVAILABLE, "Approval", &f.message),
    };
    let record = crate::records::intent_record(&state, &detail.request_id)
        .await
        .ok()
        .flatten();
    let diff = record
        .as_ref()
        .and_then(|r| r.plan.as_ref())
        .map(|p| p.diff.clone());
    html(
        StatusCode::OK,
        page(
            "Approval",
            Some(&s),
            views::approval(&s, &detail, diff.as_deref(), record.as_ref()),
        ),
    )
}

#[derive(Deserialize)]
struct DecideForm {
    #[serde(default)]
    csrf: String,
    verdict: String,
    #[serde(default)]
    reason: String,
}

async fn decide(
    State(state): State<AppState>,
    Signed(s): Signed,
    Path(id): Path<String>,
    Form(form): Form<DecideForm>,
) -> Response {
    if let Some(r) =
        forged(&s, &form.csrf).or_else(|| forbidden(&state, &s, Operation::ApprovalsDecide))
    {
        return r;
    }
    let verdict = match form.verdict.as_str() {
        "approve" => Verdict::Approve,
        "reject" => Verdict::Reject,
        _ => {
            return refused(
                &s,
                StatusCode::UNPROCESSABLE_ENTITY,
                "Approval",
                "Approve or reject.",
            );
        }
    };
    let reason = Some(form.reason.trim().to_string()).filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > 1000) {
        return refused(
            &s,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Approval",
            "The reason is longer than 1000 characters.",
        );
    }
    // The same rules as everywhere: policy decides who may, the requester never.
    match crate::approvals::decide(&state, &id, &s.caller, Channel::Web, verdict, reason).await {
        Ok(crate::approvals::DecisionReply::Closed { message, .. }) => {
            refused(&s, StatusCode::CONFLICT, "Approval", &message)
        }
        Ok(_) => Redirect::to(&format!("/ui/approvals/{id}")).into_response(),
        Err(f) => {
            let status = crate::api::status_for(f.code);
            refused(&s, status, "Approval", &f.message)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Requests and the audit
// ---------------------------------------------------------------------------------------

async fn request(
    State(state): State<AppState>,
    Signed(s): Signed,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = forbidden(&state, &s, Operation::IntentsRead) {
        return r;
    }
    match crate::records::intent_record(&state, &id).await {
        Ok(Some(rec)) => html(
            StatusCode::OK,
            page(&format!("Request {id}"), Some(&s), views::request(&rec)),
        ),
        Ok(None) => refused(&s, StatusCode::NOT_FOUND, "Request", "No such request."),
        Err(f) => refused(&s, StatusCode::SERVICE_UNAVAILABLE, "Request", &f.message),
    }
}

#[derive(Deserialize)]
struct RunbookQuery {
    doc: String,
}

/// A cited runbook, whole: what an answer's passage links to (`#c-<chunk id>`).
async fn runbook(
    State(state): State<AppState>,
    Signed(s): Signed,
    Query(q): Query<RunbookQuery>,
) -> Response {
    // Runbooks are what `ops.ask` reads: who may ask may read them.
    if let Some(r) = forbidden(&state, &s, Operation::SubmitRead) {
        return r;
    }
    let Some(runbooks) = &state.runbooks else {
        return refused(
            &s,
            StatusCode::NOT_FOUND,
            "Runbook",
            "Runbook retrieval is off.",
        );
    };
    let docs = match runbooks.documents().await {
        Ok(d) => d,
        Err(f) => return refused(&s, StatusCode::SERVICE_UNAVAILABLE, "Runbook", &f.message),
    };
    match docs.iter().find(|d| d.doc == q.doc) {
        Some(doc) => html(
            StatusCode::OK,
            page(&doc.doc, Some(&s), views::runbook(doc)),
        ),
        None => refused(&s, StatusCode::NOT_FOUND, "Runbook", "No such runbook."),
    }
}

#[derive(Deserialize, Default)]
struct AuditQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    caller: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    verify: Option<String>,
}

async fn audit(
    State(state): State<AppState>,
    Signed(s): Signed,
    Query(q): Query<AuditQuery>,
) -> Response {
    if let Some(r) = forbidden(&state, &s, Operation::AuditRead) {
        return r;
    }
    let bad = |why: &str| refused(&s, StatusCode::UNPROCESSABLE_ENTITY, "Audit", why);
    let status = match q.status.trim() {
        "" => None,
        other => match other.parse::<RequestStatus>() {
            Ok(st) => Some(st),
            Err(_) => return bad("Unknown status."),
        },
    };
    let cursor = match crate::api::page_cursor(q.cursor.as_deref(), CursorList::Requests) {
        Ok(c) => c,
        Err(_) => return bad("That page is not known."),
    };
    let query = RequestQuery {
        status,
        caller: Some(q.caller.trim().to_string()).filter(|c| !c.is_empty()),
        limit: 50,
        cursor,
    };
    let page_of = match state.store.list_requests(&query).await {
        Ok(p) => p,
        Err(e) => {
            return refused(
                &s,
                StatusCode::SERVICE_UNAVAILABLE,
                "Audit",
                &crate::failure::Failure::from(e).message,
            );
        }
    };
    let action = q.action.trim();
    let since = q.since.trim();
    let items: Vec<aiops_api::IntentSummary> = page_of
        .items
        .into_iter()
        .map(crate::api::intent_summary)
        .filter(|r| action.is_empty() || r.action.is_some_and(|a| a.as_str() == action))
        .filter(|r| since.is_empty() || r.created_at.as_str() >= since)
        .collect();
    let chain = if q.verify.is_some() {
        Some(match state.store.verify_incremental().await {
            Ok(r) if r.ok => (
                true,
                format!(
                    "The audit chain verifies: {} events, head {}.",
                    r.events, r.head
                ),
            ),
            Ok(r) => (
                false,
                format!(
                    "The audit chain does NOT verify: first bad row {:?} ({}).",
                    r.first_bad_seq,
                    r.reason.unwrap_or_default()
                ),
            ),
            Err(e) => (false, crate::failure::Failure::from(e).message),
        })
    } else {
        None
    };
    let filter = views::AuditFilter {
        action,
        caller: q.caller.trim(),
        status: q.status.trim(),
        since,
    };
    let next = page_of.next.map(|c| c.encode());
    html(
        StatusCode::OK,
        page(
            "Audit",
            Some(&s),
            views::audit(&items, next.as_deref(), &filter, chain),
        ),
    )
}
