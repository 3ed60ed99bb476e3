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
    /// The document, relative to its corpus (e.g. `dns-records.md`).
    pub doc: String,
    /// The heading path of the section, e.g. `TSIG key rotation > Verification`.
    pub heading: String,
    /// Stable id of the chunk (a content hash): what answers cite.
    pub chunk_id: String,
    /// Hash of the chunk's text, for the audit row (which never holds the text).
    pub content_hash: String,
    /// The corpus it came from (e.g. `runbooks`).
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

vocabulary! {
    /// Why a model's answer was not taken as an intent. Stable snake_case strings: the
    /// quarantine table and metrics use them.
    pub enum QuarantineReason {
        /// Not JSON, or not the shape the format schema asked for.
        Malformed,
        /// An action outside the catalog, or parameters its schema refuses.
        SchemaInvalid,
        /// A value that does not occur in the sentence.
        Ungrounded,
        /// A word of the sentence that the answer does not account for: the model may have
        /// dropped or misread something.
        Incomplete,
        /// The sentence has no verb the lexicon ties to the proposed action.
        NoVerbEvidence,
        /// The rules parser read the sentence differently.
        Disagrees,
        /// The model said itself that it was not confident.
        LowConfidence,
    }
}

/// A parser's answer that was refused: kept for review, never executed, never shown to policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quarantined {
    pub parser: ParserKind,
    /// The model that answered (name and digest).
    pub model: String,
    pub prompt_revision: String,
    /// The answer exactly as received (bounded in size by the parser).
    pub raw_output: String,
    pub reason: QuarantineReason,
    /// What exactly failed, e.g. which value was not in the sentence.
    pub detail: String,
}

/// What a parser made of a sentence.
#[derive(Debug, Clone, PartialEq)]
pub enum ParseVerdict {
    Proposed(Proposal),
    Unrecognized { reason: String },
}

/// A parser's answer: the verdict, which parser gave it, what the parse stage's audit row
/// records about how it came about (models, prompt revision, …; never secrets), and every
/// answer that was refused on the way (quarantined by the parse stage).
#[derive(Debug, Clone, PartialEq)]
pub struct ParseOutcome {
    pub parser: ParserKind,
    pub verdict: ParseVerdict,
    pub audit: Value,
    pub quarantined: Vec<Quarantined>,
}

impl ParseOutcome {
    pub fn proposed(parser: ParserKind, proposal: Proposal) -> Self {
        ParseOutcome {
            parser,
            verdict: ParseVerdict::Proposed(proposal),
            audit: Value::Null,
            quarantined: Vec::new(),
        }
    }

    pub fn unrecognized(parser: ParserKind, reason: impl Into<String>) -> Self {
        ParseOutcome {
            parser,
            verdict: ParseVerdict::Unrecognized {
                reason: reason.into(),
            },
            audit: Value::Null,
            quarantined: Vec::new(),
        }
    }
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

/// Writes an answer to a question from retrieved passages (`ops.ask`); the model-backed one
/// lives in `aiops-llm`. Untrusted like any model output: the caller keeps only answers whose
/// citations are all among the passages.
#[async_trait::async_trait]
pub trait AnswerWriter: Send + Sync {
    /// An answer citing only the given passages' chunk ids, or `None` (then the passages
    /// themselves are the answer).
    async fn write(&self, question: &str, passages: &[ContextChunk]) -> Option<WrittenAnswer>;
}

/// A generated answer and the chunk ids it cites.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WrittenAnswer {
    pub text: String,
    pub citations: Vec<String>,
    /// Who wrote it (the model), for the record.
    pub writer: String,
}

impl WrittenAnswer {
    /// Whether it may be shown: some text, at least one citation, and every citation one of
    /// the passages'.
    pub fn cites_only(&self, passages: &[ContextChunk]) -> bool {
        !self.text.trim().is_empty()
            && !self.citations.is_empty()
            && self
                .citations
                .iter()
                .all(|c| passages.iter().any(|p| &p.chunk_id == c))
    }
}
