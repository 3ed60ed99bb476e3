//! `POST /api/v1/documents` (admin only): runbook documents into the retrieval index, and
//! the context references every intent response carries.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The corpus documents belong to when a request names none.
pub const DEFAULT_SOURCE: &str = "runbooks";

/// Documents to index. Each is replaced as a whole: its unchanged chunks are kept, new ones
/// added and vanished ones deleted, and a failure leaves its previous version in place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestRequest {
    /// The corpus (payload `source`; searches can filter on it). Default `runbooks`.
    #[serde(default = "default_source")]
    pub source: String,
    #[serde(default)]
    pub documents: Vec<DocumentUpload>,
    /// When present, the complete list of the source's document paths: every other document
    /// of the source is deleted (how `aiops ingest` mirrors a directory tree).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<Vec<String>>,
}

fn default_source() -> String {
    DEFAULT_SOURCE.to_string()
}

/// One Markdown (`.md`, `.markdown`) or plain-text (`.txt`) document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentUpload {
    /// Relative path, the document's identity within its source (e.g. `dns-records.md`).
    pub path: String,
    /// The whole document, front matter included.
    pub text: String,
}

/// Why a document was not indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SkipKind {
    TooLarge,
    Binary,
    NotUtf8,
    TooManyChunks,
    Unreadable,
    /// Not `.md`, `.markdown` or `.txt`, or not a relative path inside the tree.
    UnsupportedPath,
}

/// A document left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SkippedDocument {
    pub path: String,
    pub reason: SkipKind,
    /// The reason in words (sizes and limits).
    pub detail: String,
}

/// What an ingest did.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct IngestSummary {
    pub source: String,
    /// Documents read and indexed (unchanged ones included).
    pub documents: usize,
    pub chunks_added: usize,
    pub chunks_kept: usize,
    pub chunks_removed: usize,
    /// Documents of the source deleted because `keep` no longer lists them.
    pub documents_removed: usize,
    pub skipped: Vec<SkippedDocument>,
    pub seconds: f64,
}

impl IngestSummary {
    /// Adds another batch's counts (the CLI uploads a tree in batches).
    pub fn absorb(&mut self, other: IngestSummary) {
        self.documents += other.documents;
        self.chunks_added += other.chunks_added;
        self.chunks_kept += other.chunks_kept;
        self.chunks_removed += other.chunks_removed;
        self.documents_removed += other.documents_removed;
        self.skipped.extend(other.skipped);
        self.seconds += other.seconds;
    }
}

/// A retrieved runbook passage an intent response points at. The text itself stays in the
/// index: responses and audit rows carry where it is, not what it says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ContextRef {
    /// The document, relative to its source (e.g. `dns-records.md`).
    pub doc: String,
    /// The heading path of the section (e.g. `TSIG key rotation > Verify`).
    pub heading: String,
    pub chunk_id: String,
    /// Fused rank score; higher is better.
    pub score: f32,
}
