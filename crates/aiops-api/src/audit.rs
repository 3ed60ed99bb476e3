//! `GET /api/v1/audit/verify`: the result of recomputing the hash-chained audit log.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Whether the audit chain verifies, and where it first breaks if not. Mirrors the
/// store's report (the store crate stays free of API concerns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChainReportView {
    pub ok: bool,
    /// Rows checked.
    pub events: u64,
    /// Hash of the last row.
    pub head: String,
    /// The first row that does not verify.
    #[schema(required = true)]
    pub first_bad_seq: Option<i64>,
    #[schema(required = true)]
    pub reason: Option<String>,
}
