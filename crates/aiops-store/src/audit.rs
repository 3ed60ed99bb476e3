//! Audit events and the row hash that chains them.

use aiops_core::{Actor, VerifyMode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The `prev_hash` of the first row.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One stage outcome, as handed to the store.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditEvent {
    pub request_id: Option<String>,
    pub stage: String,
    pub outcome: String,
    /// Structured details. Callers must never put secret values here.
    pub data: Value,
    /// Who did it and how they authenticated; the daemon itself unless [`AuditEvent::by`].
    pub actor: Actor,
}

impl AuditEvent {
    /// An event of the daemon itself; name the human or client with [`AuditEvent::by`].
    pub fn new(
        request_id: Option<&str>,
        stage: impl Into<String>,
        outcome: impl Into<String>,
        data: Value,
    ) -> Self {
        AuditEvent {
            request_id: request_id.map(str::to_string),
            stage: stage.into(),
            outcome: outcome.into(),
            data,
            actor: Actor::system(),
        }
    }

    pub fn by(mut self, actor: Actor) -> Self {
        self.actor = actor;
        self
    }
}

/// The audit event of an approval's step (stage `approve`).
pub(crate) fn approval_event(request_id: &str, outcome: &str, data: Value) -> AuditEvent {
    AuditEvent::new(Some(request_id), "approve", outcome, data)
}

/// A stored audit row.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: String,
    pub request_id: Option<String>,
    pub stage: String,
    pub outcome: String,
    pub data: Value,
    /// `None` on rows written before rows named their actor.
    pub actor: Option<Actor>,
    pub prev_hash: String,
    pub hash: String,
}

/// The result of recomputing the chain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChainReport {
    pub ok: bool,
    /// Rows in the chain up to the first bad one (all of them when `ok`).
    pub events: u64,
    pub head: String,
    /// The first row that does not verify, if any.
    pub first_bad_seq: Option<i64>,
    pub reason: Option<String>,
    pub mode: VerifyMode,
    /// The checkpoint row this verification started after (0: the genesis).
    pub from_seq: i64,
    /// Rows recomputed by this verification.
    pub checked: u64,
}

/// The fields of one row that its hash covers. `data` and `actor` are the exact stored text
/// (canonical JSON), so verifying needs no re-serialisation that could differ between
/// versions.
#[derive(Debug, Clone, Copy)]
pub struct HashedRow<'a> {
    pub prev_hash: &'a str,
    pub seq: i64,
    pub at: &'a str,
    pub request_id: Option<&'a str>,
    pub stage: &'a str,
    pub outcome: &'a str,
    pub data: &'a str,
    /// Empty on rows written before rows named their actor: their hash never covered one,
    /// so it is left out of the document and those rows still verify.
    pub actor: &'a str,
}

/// The hash of one row.
pub fn event_hash(row: HashedRow<'_>) -> String {
    let mut doc = json!({
        "prev_hash": row.prev_hash,
        "seq": row.seq,
        "at": row.at,
        "request_id": row.request_id,
        "stage": row.stage,
        "outcome": row.outcome,
        "data": row.data,
    });
    if !row.actor.is_empty() {
        doc["actor"] = Value::String(row.actor.to_string());
    }
    aiops_core::sha256_hex(aiops_core::canonical_json(&doc))
}
