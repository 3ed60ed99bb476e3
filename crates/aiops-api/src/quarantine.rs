//! `GET /api/v1/quarantine`: model answers the product refused, for review. Read-only.

use aiops_core::{ParserKind, QuarantineReason};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One refused model answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QuarantineEntry {
    pub id: i64,
    /// RFC 3339.
    pub at: String,
    /// The request whose parse produced it.
    #[schema(required = true)]
    pub request_id: Option<String>,
    pub parser: ParserKind,
    /// The model that answered, with its digest.
    pub model: String,
    pub prompt_revision: String,
    pub reason: QuarantineReason,
    /// What exactly failed.
    pub detail: String,
    /// The answer exactly as received (bounded).
    pub raw_output: String,
}

/// A page of the quarantine, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QuarantineList {
    pub entries: Vec<QuarantineEntry>,
    /// Pass as `before` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<i64>,
}
