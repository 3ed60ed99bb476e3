//! Audit events and the row hash that chains them.

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
}

impl AuditEvent {
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
        }
    }
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
    pub prev_hash: String,
    pub hash: String,
}

/// The result of recomputing the chain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChainReport {
    pub ok: bool,
    pub events: u64,
    pub head: String,
    /// The first row that does not verify, if any.
    pub first_bad_seq: Option<i64>,
    pub reason: Option<String>,
}

/// The hash of one row. `data` is the exact stored text (canonical JSON), so verifying needs
/// no re-serialisation that could differ between versions.
pub fn event_hash(
    prev_hash: &str,
    seq: i64,
    at: &str,
    request_id: Option<&str>,
    stage: &str,
    outcome: &str,
    data: &str,
) -> String {
    let doc = json!({
        "prev_hash": prev_hash,
        "seq": seq,
        "at": at,
        "request_id": request_id,
        "stage": stage,
        "outcome": outcome,
        "data": data,
    });
    aiops_core::sha256_hex(aiops_core::canonical_json(&doc))
}
