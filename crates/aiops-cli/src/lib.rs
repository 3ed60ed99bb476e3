//! `aiops`, the operator CLI for the aiopsd REST API.
//!
//! ```text
//! aiops [--url URL] [--token TOKEN] [--json] approvals list [--state STATE]
//! aiops approvals show ID
//! aiops approvals approve ID [--reason TEXT]
//! aiops approvals reject ID --reason TEXT
//! ```
//!
//! Code map: [`cli`] is the command line (clap), [`client`] the HTTP calls, [`render`] the
//! pure text rendering (tables, relative times, result sentences), [`error`] the error
//! lines and exit codes. [`run`] ties them together; `main` only parses and exits.
//!
//! Configuration: flags, else `AIOPS_URL` (default `http://127.0.0.1:30080`) and
//! `AIOPS_TOKEN`. The token is a secret: it is sent only in the `Authorization` header,
//! never printed, and redacted from anything the CLI writes.

#![forbid(unsafe_code)]

pub mod cli;
pub mod client;
pub mod error;
pub mod render;

use std::io::Write;

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::cli::{ApprovalsCommand, Cli, Command};
use crate::client::Api;
use crate::error::{CliError, redact};
use crate::render::{ApprovalView, Verdict};

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
            if cli.json
                && let Some(raw) = e.raw_body()
            {
                print_to(&mut std::io::stdout().lock(), &redact(raw, token));
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
    let api = Api::new(&cli.url, cli.token().cloned())?;
    let Command::Approvals(cmd) = &cli.command;
    match cmd {
        ApprovalsCommand::List { state } => {
            let mut url = api.endpoint(&["api", "v1", "approvals"]);
            if let Some(s) = state.query() {
                url.query_pairs_mut().append_pair("state", s);
            }
            let reply = api.get(url).await?;
            if cli.json {
                reply.clone().into_json()?;
                return Ok(reply.body);
            }
            let (_, body) = reply.into_json()?;
            let list: Vec<ApprovalView> = serde_json::from_value(body["approvals"].clone())
                .map_err(|e| unexpected("the approval list", &e))?;
            Ok(render::approvals_table(
                &list,
                *state,
                OffsetDateTime::now_utc(),
            ))
        }
        ApprovalsCommand::Show { id } => {
            let reply = api
                .get(api.endpoint(&["api", "v1", "approvals", id]))
                .await?;
            if cli.json {
                reply.clone().into_json()?;
                return Ok(reply.body);
            }
            let (_, body) = reply.into_json()?;
            let view: ApprovalView =
                serde_json::from_value(body).map_err(|e| unexpected("the approval", &e))?;
            Ok(render::approval_details(&view, OffsetDateTime::now_utc()))
        }
        ApprovalsCommand::Approve { id, reason } => {
            decide(&api, cli.json, id, Verdict::Approve, reason.as_deref()).await
        }
        ApprovalsCommand::Reject { id, reason } => {
            decide(&api, cli.json, id, Verdict::Reject, Some(reason)).await
        }
    }
}

async fn decide(
    api: &Api,
    json_out: bool,
    id: &str,
    verdict: Verdict,
    reason: Option<&str>,
) -> Result<String, CliError> {
    let verb = match verdict {
        Verdict::Approve => "approve",
        Verdict::Reject => "reject",
    };
    let url = api.endpoint(&["api", "v1", "approvals", id, verb]);
    let body: Value = json!({"reason": reason, "channel": "cli"});
    let reply = api.post_json(url, &body).await?;
    if json_out {
        reply.clone().into_json()?;
        return Ok(reply.body);
    }
    let (_, body) = reply.into_json()?;
    Ok(render::decision_result(verdict, &body))
}

fn unexpected(what: &str, e: &serde_json::Error) -> CliError {
    CliError::Other(format!(
        "the server's answer does not look like {what} ({e}); is --url pointing at aiopsd?"
    ))
}
