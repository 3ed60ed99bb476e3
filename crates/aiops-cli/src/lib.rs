//! `aiops`, the operator CLI for the aiopsd REST API.
//!
//! ```text
//! aiops [--url URL] [--token TOKEN] [--ca PEM] [--cert PEM --key PEM] [--json] ask "SENTENCE" [--dry-run] [--no-wait | --wait-timeout SECS]
//! aiops show ID
//! aiops rollback ID [--dry-run] [--no-wait | --wait-timeout SECS]
//! aiops approvals list [--state STATE] [--limit N [--cursor C]]
//! aiops approvals show ID
//! aiops approvals approve ID [--reason TEXT]
//! aiops approvals reject ID --reason TEXT
//! aiops ingest PATH... [--source NAME] [--no-prune]
//! ```
//!
//! `ask` and `rollback` wait (polling, default an hour) while the request is held for
//! approval or executing, then print a summary: policy, plan diff, execution, verification,
//! error. Exit codes (see [`error`]): 0 success, dry_run, answered (or held, with
//! `--no-wait`); 4 denied, unrecognized, failed (a diverged verification too); 5 still not
//! ended at `--wait-timeout`; 130 Ctrl-C while waiting (the request goes on server side).
//!
//! Code map: [`cli`] is the command line (clap), [`client`] the HTTP calls, [`render`] the
//! pure text rendering (tables, relative times, result sentences), [`outcome`] the same for
//! requests (summary, timeline, verification, and what an outcome means for the exit code),
//! [`wait`] the polling of a request until it ends, [`error`] the error lines and exit
//! codes. [`run`] ties them together; `main` only parses and exits.
//!
//! Configuration: flags, else `AIOPS_URL` (default `http://127.0.0.1:30080`),
//! `AIOPS_TOKEN`, and for TLS `AIOPS_CA`, `AIOPS_CLIENT_CERT`, `AIOPS_CLIENT_KEY`. The
//! token is a secret: it is sent only in the `Authorization` header, never printed, and
//! redacted from anything the CLI writes; the client key is read, never printed.

#![forbid(unsafe_code)]

pub mod cli;
pub mod client;
pub mod error;
pub mod ingest;
pub mod outcome;
pub mod render;
pub mod wait;

use std::io::Write;
use std::time::Duration;

use aiops_api::{
    ApprovalDetail, ApprovalList, DecisionBody, DecisionResponse, IntentRecord, IntentRequest,
    IntentResponse, RollbackRequest,
};
use aiops_core::{Channel, Verdict};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::cli::{ApprovalsCommand, Cli, Command, WaitArgs};
use crate::client::{Api, Reply};
use crate::error::{CliError, redact};
use crate::outcome::{Ending, Outcome};

/// Runs one command, prints its result (stdout) or error (stderr) and returns the exit code.
pub async fn run(cli: Cli) -> u8 {
    let token = cli.token().map(|t| t.expose().to_string());
    let token = token.as_deref();
    match execute(&cli).await {
        Ok(text) => {
            print_to(&mut std::io::stdout().lock(), &redact(&text, token));
            0
        }
        Err(e) => {
            if let Some(out) = e.stdout(cli.json) {
                print_to(&mut std::io::stdout().lock(), &redact(out, token));
            }
            print_to(&mut std::io::stderr().lock(), &e.render(token));
            e.exit_code()
        }
    }
}

/// Writes `text` and a newline; a closed pipe (`aiops … | head`) is not an error.
fn print_to(w: &mut impl Write, text: &str) {
    let _ = writeln!(w, "{}", text.trim_end_matches('\n'));
    let _ = w.flush();
}

/// Does the HTTP work and returns what to print on success.
pub async fn execute(cli: &Cli) -> Result<String, CliError> {
    let api = Api::with_tls(&cli.url, cli.token().cloned(), &cli.tls())?;
    let cmd = match &cli.command {
        Command::Approvals(cmd) => cmd,
        Command::Ingest {
            paths,
            source,
            no_prune,
        } => return ingest(&api, cli, paths, source, !no_prune).await,
        Command::Ask {
            sentence,
            dry_run,
            wait,
        } => {
            let body = IntentRequest {
                nl: sentence.clone(),
                dry_run: *dry_run,
            };
            let url = api.endpoint(&["api", "v1", "intent"]);
            return submit(&api, cli, url, &body, *wait).await;
        }
        Command::Rollback { id, dry_run, wait } => {
            let body = RollbackRequest { dry_run: *dry_run };
            let url = api.endpoint(&["api", "v1", "intents", id, "rollback"]);
            return submit(&api, cli, url, &body, *wait).await;
        }
        Command::Show { id } => {
            let reply = api.get(api.endpoint(&["api", "v1", "intents", id])).await?;
            let now = OffsetDateTime::now_utc();
            return output(cli, &reply, "a request", |r: IntentRecord| {
                outcome::record_details(&r, now)
            });
        }
    };
    let now = OffsetDateTime::now_utc();
    match cmd {
        ApprovalsCommand::List {
            state,
            limit,
            cursor,
            page_size,
        } => {
            let page = |size: u32, cursor: Option<&str>| {
                let mut url = api.endpoint(&["api", "v1", "approvals"]);
                {
                    let mut query = url.query_pairs_mut();
                    if let Some(s) = state.state() {
                        query.append_pair("state", s.as_str());
                    }
                    query.append_pair("limit", &size.to_string());
                    if let Some(c) = cursor {
                        query.append_pair("cursor", c);
                    }
                }
                url
            };
            if let Some(limit) = limit {
                let reply = api.get(page(*limit, cursor.as_deref())).await?;
                return output(cli, &reply, "the approval list", |list: ApprovalList| {
                    render::approvals_page(&list, *state, *limit, now)
                });
            }
            let (list, only_page) =
                all_approvals(&api, cursor.clone(), |c| page(*page_size, c)).await?;
            if cli.json {
                // One page is the server's JSON, untouched; more are one list of them all.
                return Ok(match only_page {
                    Some(body) => body,
                    None => serde_json::to_string(&list).map_err(|e| {
                        CliError::Other(format!("cannot encode the approval list: {e}"))
                    })?,
                });
            }
            Ok(render::approvals_table(&list.approvals, *state, now))
        }
        ApprovalsCommand::Show { id } => {
            let reply = api
                .get(api.endpoint(&["api", "v1", "approvals", id]))
                .await?;
            output(cli, &reply, "the approval", |a: ApprovalDetail| {
                render::approval_details(&a, now)
            })
        }
        ApprovalsCommand::Approve { id, reason } => {
            decide(&api, cli, id, Verdict::Approve, reason.clone()).await
        }
        ApprovalsCommand::Reject { id, reason } => {
            decide(&api, cli, id, Verdict::Reject, Some(reason.clone())).await
        }
    }
}

/// Every approval from `cursor` on, following `next_cursor` page by page (`url` builds a
/// page's URL from a cursor); and the body as the server sent it when there was one page.
async fn all_approvals(
    api: &Api,
    mut cursor: Option<String>,
    url: impl Fn(Option<&str>) -> reqwest::Url,
) -> Result<(ApprovalList, Option<String>), CliError> {
    let mut all = ApprovalList {
        approvals: Vec::new(),
        next_cursor: None,
    };
    let mut pages = 0;
    loop {
        let reply = api.get(url(cursor.as_deref())).await?;
        let list: ApprovalList = reply.decode("the approval list")?;
        pages += 1;
        all.approvals.extend(list.approvals);
        match list.next_cursor {
            None if pages == 1 => return Ok((all, Some(reply.body))),
            None => return Ok((all, None)),
            // A server that answers the cursor it was given would send us round forever.
            Some(next) if cursor.as_deref() == Some(next.as_str()) => {
                return Err(CliError::Other(
                    "the server answered the same page twice (next_cursor did not advance)".into(),
                ));
            }
            Some(next) => cursor = Some(next),
        }
    }
}

async fn ingest(
    api: &Api,
    cli: &Cli,
    paths: &[std::path::PathBuf],
    source: &str,
    prune: bool,
) -> Result<String, CliError> {
    let docs = ingest::collect(paths)?;
    // Drawn on stderr, and only on a terminal: `--json` output and pipes stay clean.
    let bar = if cli.json {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(docs.len() as u64)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {wide_msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let summary = ingest::send(api, source, &docs, prune, |path| {
        bar.inc(1);
        bar.set_message(path.to_string());
    })
    .await;
    bar.finish_and_clear();
    let summary = summary?;
    if cli.json {
        return serde_json::to_string_pretty(&summary)
            .map_err(|e| CliError::Other(format!("cannot encode the summary: {e}")));
    }
    Ok(render::ingest_summary(&summary))
}

/// Submits a request (`ask`, `rollback`), waits for it to end unless told not to, and
/// prints its summary (its JSON with `--json`); the exit code says how it ended.
async fn submit(
    api: &Api,
    cli: &Cli,
    url: reqwest::Url,
    body: &impl Serialize,
    wait: WaitArgs,
) -> Result<String, CliError> {
    let reply = api.submit_json(url, body).await?;
    let resp = intent_answer(&reply)?;
    let mut shown = Outcome::from(&resp);
    let mut raw = reply.body;
    if let Some(timeout) = wait.timeout()
        && !resp.status.is_terminal()
    {
        let followed = follow(api, cli, &shown, timeout).await?;
        let ended = followed.ended;
        if let Some((record, body)) = followed.last {
            shown = Outcome::from(&record);
            raw = body;
        }
        if !ended {
            return Err(CliError::WaitTimeout {
                id: shown.id.clone(),
                status: shown.status,
                waited: timeout,
                printed: printed(cli, &shown, raw),
            });
        }
    }
    let ending = outcome::ending(&shown);
    let printed = printed(cli, &shown, raw);
    match ending {
        Ending::Done | Ending::Open => Ok(printed),
        Ending::Unsuccessful { why, code } => Err(CliError::Unsuccessful {
            id: shown.id,
            status: shown.status,
            code,
            why,
            printed,
        }),
    }
}

/// What `ask` and `rollback` print on stdout: the server's JSON with `--json` (the last
/// record after waiting, else the answer), else the summary.
fn printed(cli: &Cli, shown: &Outcome, raw: String) -> String {
    if cli.json {
        raw
    } else {
        outcome::summary(shown, OffsetDateTime::now_utc())
    }
}

/// The answer to a submission. A request the daemon recorded answers an `IntentResponse`
/// whatever the status (a failed one answers its error code's status, 403 a denied one);
/// a call it refused (401, 404, 409, 413, 422, 429…) answers the plain error body.
fn intent_answer(reply: &Reply) -> Result<IntentResponse, CliError> {
    match serde_json::from_str::<IntentResponse>(&reply.body) {
        Ok(resp) => Ok(resp),
        Err(_) => reply.decode("an intent response"),
    }
}

/// Waits for the request of `shown` to end (a spinner on a terminal, one line otherwise);
/// Ctrl-C stops the waiting only.
async fn follow(
    api: &Api,
    cli: &Cli,
    shown: &Outcome,
    timeout: Duration,
) -> Result<wait::Followed, CliError> {
    let token = cli.token().map(|t| t.expose().to_string());
    let first = outcome::waiting_line(shown, OffsetDateTime::now_utc());
    // Drawn on stderr, only on a terminal (indicatif hides it otherwise): stdout stays the
    // summary or the JSON.
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    if bar.is_hidden() {
        // A script's log still says why the command takes its time.
        let _ = writeln!(
            std::io::stderr().lock(),
            "{}",
            redact(
                &format!(
                    "{first} (up to {})",
                    render::human_duration(timeout.as_secs())
                ),
                token.as_deref()
            )
        );
    } else {
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {wide_msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.set_message(first);
        bar.enable_steady_tick(Duration::from_millis(120));
    }
    let id = shown.id.clone();
    let progress = |p: wait::Progress<'_>| {
        let now = OffsetDateTime::now_utc();
        match p {
            // An ended request is summed up once the bar is gone.
            wait::Progress::Record(r) if r.status.is_terminal() => {}
            wait::Progress::Record(r) => {
                bar.set_message(outcome::waiting_line(&Outcome::from(r), now));
            }
            wait::Progress::Trouble(e) => {
                let why = e.render(token.as_deref());
                let why = why.lines().next().unwrap_or_default();
                bar.set_message(format!(
                    "request {id}: {} (retrying)",
                    why.trim_start_matches("aiops: ")
                ));
            }
        }
    };
    let result = tokio::select! {
        r = wait::follow(api, &shown.id, shown.status, timeout, progress) => r,
        // Only the waiting stops: the request is the daemon's, and goes on there. (Should
        // the handler fail to install, the branch is off and Ctrl-C kills as usual.)
        Ok(()) = tokio::signal::ctrl_c() => Err(CliError::Interrupted { id: shown.id.clone() }),
    };
    bar.finish_and_clear();
    result
}

/// The server's JSON untouched with `--json` (once it is a 2xx JSON answer), else the
/// answer decoded as `T` and rendered.
fn output<T: DeserializeOwned>(
    cli: &Cli,
    reply: &Reply,
    what: &str,
    render: impl FnOnce(T) -> String,
) -> Result<String, CliError> {
    if cli.json {
        reply.json()?;
        return Ok(reply.body.clone());
    }
    reply.decode(what).map(render)
}

async fn decide(
    api: &Api,
    cli: &Cli,
    id: &str,
    verdict: Verdict,
    reason: Option<String>,
) -> Result<String, CliError> {
    // The route's last segment is the verdict itself: `…/approve`, `…/reject`.
    let url = api.endpoint(&["api", "v1", "approvals", id, verdict.as_str()]);
    let body = DecisionBody {
        reason,
        channel: Some(Channel::Cli),
    };
    let reply = api.post_json(url, &body).await?;
    output(cli, &reply, "a decision", |r: DecisionResponse| {
        render::decision_result(verdict, &r)
    })
}
