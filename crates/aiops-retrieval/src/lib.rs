//! Runbook retrieval (issue 10): documents become heading-sized chunks, each with a dense
//! embedding (all-MiniLM-L6-v2 in process, or Ollama) and a BM25 sparse vector, kept in a
//! [`VectorIndex`]; questions come back as ranked chunks with citations.
//!
//! - [`chunk`]: front matter, heading sections, size-limited pieces with overlap, stable ids.
//! - [`embed`]: the [`Embedder`] seam, [`MiniLm`] (candle) and [`OllamaEmbedder`].
//! - [`sparse`]: tokens, stable hashed indices and BM25 term weights (IDF is the index's).
//! - [`ingest`]: idempotent, per-document atomic ingest of files under paths.
//! - [`retriever`]: [`HybridRetriever`], the `aiops_core::Retriever` of the daemon, and
//!   [`HybridRetriever::answer`] for `ops.ask`.
//! - [`eval`]: recall@k, MRR and latencies over a question set.
//! - [`library`]: the indexed documents and their chunks, in order (MCP resources).
//!
//! Retrieved text is untrusted data (architecture invariant 5): it informs, never decides.

pub mod chunk;
pub mod embed;
mod error;
pub mod eval;
pub mod ingest;
pub mod library;
pub mod retriever;
pub mod sparse;

pub use aiops_vector::{
    Filter, Hit, IndexSpec, Point, Query, SparseVector, VectorError, VectorIndex,
};
pub use chunk::{Chunk, ChunkOptions, Document};
pub use embed::{Embedder, MiniLm, OllamaEmbedder};
pub use error::RetrievalError;
pub use eval::{EvalOptions, EvalReport, eval_retrieval};
pub use ingest::{
    IngestOptions, IngestSummary, Ingestor, Progress, SkipReason, Skipped, TextDocument,
};
pub use library::{IndexedChunk, IndexedDocument};
pub use retriever::{
    Answer, Citation, DEFAULT_MIN_SIMILARITY, HybridRetriever, Passage, RetrieverOptions,
};
pub use sparse::Bm25;

/// Results of this crate.
pub type Result<T, E = RetrievalError> = std::result::Result<T, E>;
