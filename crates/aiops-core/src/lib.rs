//! The typed values that travel down the request path, the approval state machine
//! ([`approval`]), and the action catalog.
//!
//! This crate is a pure core: it does no I/O, so everything here can be unit-tested and
//! reasoned about without servers. The catalog is data (`catalog/actions.json`, embedded in
//! the binary); every intent that leaves the parser is checked against its action's JSON
//! Schema here before any other stage sees it, which is what makes "only catalog actions run"
//! hold no matter which parser produced the intent.

#![forbid(unsafe_code)]

pub mod approval;
/// Declares a vocabulary enum: its string form (snake_case unless a variant renames it) is
/// the same for serde, strum (`Display`, `FromStr`, `&'static str`) and the OpenAPI schema,
/// and `as_str` gives it without allocating.
macro_rules! vocabulary {
    ($(#[$meta:meta])* pub enum $name:ident { $($body:tt)* }) => {
        $(#[$meta])*
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            PartialOrd,
            Ord,
            Serialize,
            Deserialize,
            strum::Display,
            strum::EnumString,
            strum::IntoStaticStr,
            strum::VariantArray,
            utoipa::ToSchema,
        )]
        #[serde(rename_all = "snake_case")]
        #[strum(serialize_all = "snake_case")]
        pub enum $name { $($body)* }

        impl $name {
            pub fn as_str(self) -> &'static str {
                self.into()
            }
        }
    };
}

mod catalog;
mod error;
mod hash;
mod stage;
mod types;
mod undo;
mod vocab;

pub use catalog::{
    ActionExample, ActionSpec, Catalog, ExecutorBinding, Risk, TargetKind, TargetSpec, zone_of,
};
pub use error::CoreError;
pub use hash::{canonical_json, plan_hash, sha256_hex};
pub use stage::{
    AnswerWriter, ContextChunk, IntentParser, NoRetriever, ParseContext, ParseOutcome,
    ParseVerdict, Proposal, QuarantineReason, Quarantined, Retrieval, RetrieveError, Retriever,
    WrittenAnswer,
};
pub use types::{Intent, Plan, Target, Verification};
pub use undo::{Condition, Inverse, InverseRule, VerifyRead, VerifySpec};
pub use vocab::{
    ActionId, Actor, ApprovalState, AuthMethod, Caller, Channel, ErrorCode, ParserKind,
    Reconciliation, RequestStatus, StageName, Verdict, VerificationOutcome, VerifyMode,
};
