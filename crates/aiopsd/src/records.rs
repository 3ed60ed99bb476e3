//! Stored requests as clients read them back: the record with its stage timeline.

use aiops_api::{ErrorBody, IntentRecord, TimelineEntry};

use crate::App;
use crate::failure::Failure;

/// The stored request `id` with its approval and audit timeline; `None` when unknown.
pub async fn intent_record(app: &App, id: &str) -> Result<Option<IntentRecord>, Failure> {
    let Some(rec) = app.store.get_request(id).await? else {
        return Ok(None);
    };
    let approval = match &rec.approval_id {
        Some(aid) => app
            .store
            .get_approval(aid)
            .await?
            .map(|a| crate::approvals::record_view(&a)),
        None => None,
    };
    let events = app.store.events_for(id).await?;
    let rollback_of = crate::rollback::rollback_of(&events);
    let rollbacks = crate::rollback::rollback_ids(&events);
    let verification = rec
        .execution
        .as_ref()
        .and_then(|e| e.get("verification"))
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    let timeline = events
        .into_iter()
        .map(|e| TimelineEntry {
            seq: e.seq,
            at: e.at,
            stage: e.stage,
            outcome: e.outcome,
            data: e.data,
            hash: e.hash,
        })
        .collect();
    // Kept by payload retention, so they answer after pruning too.
    let action = rec.action().and_then(|a| a.parse().ok());
    let plan_hash = rec.plan_hash().map(str::to_string);
    Ok(Some(IntentRecord {
        id: rec.id,
        status: rec.status,
        // Pruning leaves '' in the column; the answer says `null`.
        nl: rec.pruned_at.is_none().then_some(rec.nl),
        dry_run: rec.dry_run,
        caller: rec.caller,
        created_at: rec.created_at,
        updated_at: rec.updated_at,
        intent: typed(rec.intent),
        decision: typed(rec.decision),
        plan: typed(rec.plan),
        approval,
        execution: rec.execution,
        error: typed::<ErrorBody>(rec.error),
        context: match rec.context {
            Some(serde_json::Value::Array(items)) => items,
            _ => Vec::new(),
        },
        timeline,
        action,
        plan_hash,
        pruned_at: rec.pruned_at,
        verification,
        rollback_of,
        rollbacks,
    }))
}

/// A stored JSON column as its type; a column that no longer parses reads as absent.
fn typed<T: serde::de::DeserializeOwned>(v: Option<serde_json::Value>) -> Option<T> {
    v.and_then(|v| serde_json::from_value(v).ok())
}
