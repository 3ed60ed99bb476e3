//! The aiopsd REST API's wire types: every request and response body, shared by the
//! daemon (which serialises them) and the `aiops` CLI (which reads them), so the two
//! cannot drift apart. Each type derives [`utoipa::ToSchema`]; [`ApiSchemas`] lists them
//! all for the daemon's OpenAPI 3.1 document, and the tests check that each schema
//! accepts the JSON the daemon actually sends.
//!
//! One module per resource: [`intent`] (`/intent`, `/parse`, `/intents`, `/intents/{id}`),
//! [`approval`] (`/approvals…`), [`audit`] (`/audit/verify`), [`catalog`] (`/catalog`), [`documents`] (`/documents`)
//! and [`error`] (the error bodies every route may answer). Pure data: no I/O.

#![forbid(unsafe_code)]

pub mod approval;
pub mod audit;
pub mod catalog;
pub mod documents;
pub mod error;
pub mod intent;
pub mod quarantine;

pub use approval::{
    ApprovalConflict, ApprovalDetail, ApprovalList, ApprovalRecordView, DecisionBody,
    DecisionRecordView, DecisionResponse,
};
pub use audit::{ChainReportView, VerifyQuery};
pub use catalog::{ActionView, CatalogView};
pub use documents::{
    ContextRef, DocumentUpload, IngestRequest, IngestSummary, SkipKind, SkippedDocument,
};
pub use error::{ErrorBody, ErrorResponse};
pub use intent::{
    ApprovalSummary, IntentList, IntentRecord, IntentRequest, IntentResponse, IntentSummary,
    ParseRequest, ParseResponse, ParseStatus, PlanView, RollbackRequest, TimelineEntry,
};
pub use quarantine::{QuarantineEntry, QuarantineList};

/// Every wire type's schema, for merging into the daemon's OpenAPI document (which adds
/// the paths): `ApiSchemas::openapi()` or `.merge(ApiSchemas::openapi())`.
#[derive(Debug, utoipa::OpenApi)]
#[openapi(components(schemas(
    IntentRequest,
    RollbackRequest,
    IntentResponse,
    PlanView,
    ApprovalSummary,
    ParseRequest,
    ParseResponse,
    ParseStatus,
    IntentRecord,
    IntentList,
    IntentSummary,
    TimelineEntry,
    ApprovalDetail,
    ApprovalList,
    ApprovalRecordView,
    DecisionRecordView,
    DecisionBody,
    DecisionResponse,
    ApprovalConflict,
    ChainReportView,
    CatalogView,
    ActionView,
    ErrorBody,
    ErrorResponse,
    QuarantineEntry,
    QuarantineList,
    IngestRequest,
    DocumentUpload,
    IngestSummary,
    SkipKind,
    SkippedDocument,
    ContextRef,
    aiops_core::QuarantineReason,
    aiops_core::Intent,
    aiops_core::Target,
    aiops_core::Plan,
    aiops_core::Verification,
    aiops_core::VerificationOutcome,
    aiops_core::Risk,
    aiops_core::RequestStatus,
    aiops_core::ApprovalState,
    aiops_core::Verdict,
    aiops_core::Channel,
    aiops_core::ParserKind,
    aiops_core::ActionId,
    aiops_core::ErrorCode,
    aiops_core::StageName,
    aiops_policy::Decision,
    aiops_policy::Outcome,
)))]
pub struct ApiSchemas;
