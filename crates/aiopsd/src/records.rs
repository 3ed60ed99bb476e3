//! Stored requests as clients read them back: the record with its stage timeline.

use serde_json::{Value, json};

use crate::App;
use crate::failure::Failure;

/// The stored request `id` with its approval and audit timeline; `None` when unknown.
pub async fn intent_record(app: &App, id: &str) -> Result<Option<Value>, Failure> {
    let Some(rec) = app.store.get_request(id).await? else {
        return Ok(None);
    };
    let approval = match &rec.approval_id {
        Some(aid) => app.store.get_approval(aid).await?.map(|a| json!(a)),
        None => None,
    };
    let timeline: Vec<Value> = app
        .store
        .events_for(id)
        .await?
        .into_iter()
        .map(|e| json!({"seq": e.seq, "at": e.at, "stage": e.stage, "outcome": e.outcome, "data": e.data}))
        .collect();
    Ok(Some(json!({
        "id": rec.id,
        "status": rec.status,
        "nl": rec.nl,
        "dry_run": rec.dry_run,
        "caller": rec.caller,
        "created_at": rec.created_at,
        "updated_at": rec.updated_at,
        "intent": rec.intent,
        "decision": rec.decision,
        "plan": rec.plan,
        "approval": approval,
        "execution": rec.execution,
        "error": rec.error,
        "context": rec.context.unwrap_or_else(|| json!([])),
        "timeline": timeline,
    })))
}
