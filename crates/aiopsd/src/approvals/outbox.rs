//! The Slack outbox: posts new approvals and updates their messages after state changes.
//! Failures are retried with exponential backoff; the approval stays actionable by REST
//! and CLI meanwhile.

use aiops_secrets::ExposeSecret;
use aiops_store::{SlackResult, now_ms};
use serde_json::json;

use crate::App;
use crate::failure::Failure;
use crate::slack;

/// Posts new approvals to Slack and updates messages after state changes. Failures are
/// retried with exponential backoff; the approval stays actionable by REST and CLI meanwhile.
pub(super) async fn drain(state: &App) -> Result<(), Failure> {
    let now = now_ms();
    let posts = state.store.slack_posts_due(now).await?;
    let updates = state.store.slack_updates_due(now).await?;
    if posts.is_empty() && updates.is_empty() {
        return Ok(());
    }
    let token = match state.secrets.read(&state.config.slack.secret_path).await {
        Ok(s) => s.field("bot_token").map(|t| t.expose_secret().to_string()),
        Err(e) => {
            tracing::warn!(error = %e, "slack bot token unavailable");
            None
        }
    };
    for (a, is_post) in posts
        .iter()
        .map(|a| (a, true))
        .chain(updates.iter().map(|a| (a, false)))
    {
        let Some(token) = token.as_deref() else {
            state
                .store
                .slack_result(
                    &a.id,
                    SlackResult::Failed {
                        now_ms: now,
                        error: "no bot token".into(),
                    },
                )
                .await?;
            continue;
        };
        let rec = state.store.get_request(&a.request_id).await?;
        // The action outlives payload retention (a message updated that late still names it).
        let action = rec
            .as_ref()
            .and_then(|r| r.action())
            .unwrap_or_default()
            .to_string();
        let diff = str_field(rec.as_ref().and_then(|r| r.plan.as_ref()), "diff");
        let outcome = rec.as_ref().and_then(|r| {
            r.error
                .as_ref()
                .and_then(|e| e["message"].as_str().map(str::to_string))
                .or_else(|| {
                    r.execution
                        .as_ref()
                        .and_then(|x| x["result"].as_str().map(str::to_string))
                })
                .map(|o| format!("{}: {o}", r.status))
        });
        let owners = owners_of(state, rec.as_ref());
        let view = slack::MessageView {
            approval: a,
            nl: rec.as_ref().map(|r| r.nl.as_str()).unwrap_or_default(),
            action: &action,
            diff: &diff,
            outcome: outcome.as_deref(),
            owners: &owners,
        };
        let result = if is_post {
            let msg = slack::message(&state.config.slack.channel, &view);
            state
                .slack
                .call("chat.postMessage", token, &msg)
                .await
                .map(|v| SlackResult::Posted {
                    channel: v["channel"]
                        .as_str()
                        .unwrap_or(&state.config.slack.channel)
                        .to_string(),
                    ts: v["ts"].as_str().unwrap_or_default().to_string(),
                })
        } else {
            let channel = a
                .slack_channel
                .clone()
                .unwrap_or_else(|| state.config.slack.channel.clone());
            let mut msg = slack::message(&channel, &view);
            msg["ts"] = json!(a.slack_ts);
            state
                .slack
                .call("chat.update", token, &msg)
                .await
                .map(|_| SlackResult::Updated)
        };
        let result = result.unwrap_or_else(|error| SlackResult::Failed { now_ms: now, error });
        state.store.slack_result(&a.id, result).await?;
    }
    Ok(())
}

/// A string field of a stored JSON document; empty when the document or field is absent.
fn str_field(doc: Option<&serde_json::Value>, key: &str) -> String {
    doc.and_then(|d| d[key].as_str())
        .unwrap_or_default()
        .to_string()
}

/// The groups owning the request's targets (policy's `approval_owners`), for the message:
/// only their members (or an admin) can approve. Empty when nobody owns them, or when the
/// request's intent cannot be read back (the message then names no group; deciding is
/// still checked by policy).
fn owners_of(state: &App, rec: Option<&aiops_store::RequestRecord>) -> Vec<String> {
    let Some(intent) = rec
        .and_then(|r| r.intent.clone())
        .and_then(|v| serde_json::from_value::<aiops_core::Intent>(v).ok())
    else {
        return Vec::new();
    };
    state
        .policy
        .approval_owners(&aiops_policy::OwnersInput {
            action: intent.action,
            params: serde_json::Value::Object(intent.params),
        })
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "approval owners could not be evaluated");
            Vec::new()
        })
}
