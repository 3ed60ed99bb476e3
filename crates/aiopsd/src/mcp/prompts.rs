//! `plan_change`: a prompt that walks an agent through a change the way an operator would,
//! dry run first, the plan shown to the human, the real run only when asked for.

use rmcp::ErrorData as McpError;
use rmcp::model::{
    GetPromptResult, ListPromptsResult, Prompt, PromptArgument, PromptMessage, Role,
};
use serde_json::{Map, Value};

pub(super) const PLAN_CHANGE: &str = "plan_change";

pub(super) fn list() -> ListPromptsResult {
    ListPromptsResult::with_all_items(vec![Prompt::new(
        PLAN_CHANGE,
        Some(
            "Plan an infrastructure change safely: dry-run it, show the plan and the policy's \
             reasons, and run it only when the user confirms.",
        ),
        Some(vec![
            PromptArgument::new("change")
                .with_description("The change the user wants, in their words.")
                .with_required(true),
        ]),
    )])
}

pub(super) fn get(
    name: &str,
    arguments: Option<&Map<String, Value>>,
) -> Result<GetPromptResult, McpError> {
    if name != PLAN_CHANGE {
        return Err(McpError::invalid_params(
            format!("no prompt `{name}`"),
            None,
        ));
    }
    let change = arguments
        .and_then(|a| a.get("change"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| McpError::invalid_params("`change` is required", None))?;
    let text = format!(
        "The user wants this infrastructure change: {change}\n\n\
         Use the aiops tools and follow these steps:\n\
         1. If you need background, call `ops_ask` with a question and read the cited runbook \
         passages (or read the runbook resources).\n\
         2. Pick the one tool whose action matches the change. Fill in its arguments from the \
         user's words only; if something is missing or ambiguous, ask the user, do not guess.\n\
         3. Call it WITHOUT `dry_run` (a change dry-runs by default). Read the result: the plan \
         (`plan.diff`), the policy decision and its reasons.\n\
         4. Show the user the plan and the reasons. If the policy denied it, say why and stop.\n\
         5. Only when the user confirms, call the same tool with the same arguments and \
         `dry_run: false`.\n\
         6. If the result is `pending_approval`, tell the user the approval id and that a human \
         must approve it; poll `get_request` with the request id to see the outcome.\n\
         7. Report the final status and the verification (`verified`, `unverified` or \
         `diverged`). Never try another tool to get around a denial or a pending approval."
    );
    let mut result = GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)]);
    result.description = Some(format!("Plan and, once confirmed, make: {change}"));
    Ok(result)
}
