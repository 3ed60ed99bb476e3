//! The seams of the request path that more than one implementation fills: how a sentence
//! becomes a proposed intent ([`IntentParser`]) and where runbook context comes from
//! ([`Retriever`]). The daemon picks the implementations from config when it builds the app;
//! the path only sees these traits.
//!
//! A parser *proposes*. Whatever it returns is checked against the catalog
//! (`Catalog::validate`) as its own step after parsing: that is the safety boundary, and
//! no parser can skip it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Catalog, ErrorCode, ParserKind};

/// A piece of runbook text retrieved for a request. Untrusted data: it may inform a parser
/// or an answer, never add an action or change a schema or policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextChunk {
    /// Where it came from, e.g. `runbooks/dns.md`.
    pub source: String,
    pub score: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
}

/// What a parser sees besides the sentence.
#[derive(Debug, Clone, Copy)]
pub struct ParseContext<'a> {
    pub catalog: &'a Catalog,
    /// Retrieved runbook context (empty when retrieval was skipped).
    pub context: &'a [ContextChunk],
}

/// An action and raw parameters as a parser read them, before catalog validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub action: String,
    pub params: Map<String, Value>,
    pub confidence: f64,
}

/// What a parser made of a sentence. `audit` is what the parse stage's audit row records
/// about how the answer came about (model, prompt revision, …); never secrets.
#[derive(Debug, Clone, PartialEq)]
pub enum ParseOutcome {
    Proposed {
        parser: ParserKind,
        proposal: Proposal,
        audit: Value,
    },
    Unrecognized {
        parser: ParserKind,
        reason: String,
        audit: Value,
    },
}

/// Sentence → proposed intent. Implementations must not fail the request: a parser that
/// cannot answer says `Unrecognized` with a reason.
#[async_trait::async_trait]
pub trait IntentParser: Send + Sync {
    /// Short name for logs and readiness, e.g. `rules`.
    fn name(&self) -> &'static str;
    async fn parse(&self, nl: &str, ctx: &ParseContext<'_>) -> ParseOutcome;
}

/// Runbook context for a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Retrieval {
    /// No retriever is configured, or it had nothing to search.
    Skipped {
        reason: String,
    },
    Found {
        chunks: Vec<ContextChunk>,
    },
}

/// Why retrieval failed; `code` is stable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct RetrieveError {
    pub code: ErrorCode,
    pub message: String,
}

/// Where runbook context comes from.
#[async_trait::async_trait]
pub trait Retriever: Send + Sync {
    fn name(&self) -> &'static str;
    async fn retrieve(&self, nl: &str) -> Result<Retrieval, RetrieveError>;
}

/// The retriever of an appliance without runbook retrieval: always skipped.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRetriever;

#[async_trait::async_trait]
impl Retriever for NoRetriever {
    fn name(&self) -> &'static str {
        "none"
    }

    async fn retrieve(&self, _nl: &str) -> Result<Retrieval, RetrieveError> {
        Ok(Retrieval::Skipped {
            reason: "no retriever configured".into(),
        })
    }
}
