//! `GET /api/v1/audit/verify`: the result of recomputing the hash-chained audit log.

use aiops_core::VerifyMode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Query of `GET /api/v1/audit/verify`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VerifyQuery {
    /// `incremental` (the default): the rows since the latest checkpoint; `full`: every
    /// row from the genesis.
    pub mode: Option<VerifyMode>,
}

/// Whether the audit chain verifies, and where it first breaks if not. Mirrors the
/// store's report (the store crate stays free of API concerns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChainReportView {
    pub ok: bool,
    /// Rows in the chain up to the first bad one (all of them when `ok`).
    pub events: u64,
    /// Hash of the last row.
    pub head: String,
    /// The first row that does not verify.
    #[schema(required = true)]
    pub first_bad_seq: Option<i64>,
    #[schema(required = true)]
    pub reason: Option<String>,
    pub mode: VerifyMode,
    /// The checkpoint row this verification started after (0: the genesis).
    pub from_seq: i64,
    /// Rows recomputed by this verification.
    pub checked: u64,
}
