//! `[retrieval]`: runbook retrieval on or off, the vector index and the embedder.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where the vectors are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum IndexBackend {
    /// A Qdrant Edge shard in `<data_dir>/vectors`, in process (the embedded default).
    #[default]
    Edge,
    /// A Qdrant server over gRPC (`qdrant_url`).
    Qdrant,
}

/// What turns text into dense vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EmbedderKind {
    /// all-MiniLM-L6-v2 in process (candle), from `model_dir`.
    #[default]
    Minilm,
    /// Ollama's `/api/embed` at `[llm] base_url` with `ollama_model`.
    Ollama,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RetrievalConfig {
    /// Off by default in the library; `bootstrap/dev-up.sh` and the shipped configs turn it
    /// on. Off, the retrieve stage records `skipped` and `ops.ask` answers 503.
    pub enabled: bool,
    pub backend: IndexBackend,
    /// The Qdrant server's gRPC URL, for `backend = "qdrant"`.
    pub qdrant_url: String,
    /// The collection (Qdrant) holding the runbook chunks.
    pub collection: String,
    pub embedder: EmbedderKind,
    /// all-MiniLM-L6-v2's files (`bootstrap/embeddings.sh` prints the directory as
    /// `AIOPS_EMBED_MODEL_DIR`); default `$AIOPS_EMBED_MODEL_DIR`, else
    /// `~/.cache/aiops/embeddings/all-minilm-l6-v2`.
    pub model_dir: Option<PathBuf>,
    /// The Ollama embedding model, for `embedder = "ollama"`.
    pub ollama_model: String,
    /// Passages attached to each request's context.
    pub top_k: usize,
    /// Passages whose similarity to the question is below this are not relevant: with none
    /// left, `ops.ask` says no runbook covers the question.
    pub min_similarity: f32,
    /// Documents larger than this are skipped (with the reason) at ingest.
    pub max_document_bytes: u64,
    /// Documents with more chunks than this are skipped at ingest.
    pub max_chunks_per_document: usize,
    pub timeout_ms: u64,
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        RetrievalConfig {
            enabled: false,
            backend: IndexBackend::Edge,
            qdrant_url: "http://127.0.0.1:6334".into(),
            collection: "runbooks".into(),
            embedder: EmbedderKind::Minilm,
            model_dir: None,
            ollama_model: "all-minilm".into(),
            top_k: 3,
            min_similarity: 0.3,
            max_document_bytes: 1024 * 1024,
            max_chunks_per_document: 500,
            timeout_ms: 5000,
        }
    }
}

impl RetrievalConfig {
    /// Where the MiniLM files are: the configured directory, else the bootstrap's.
    pub fn model_dir(&self) -> PathBuf {
        if let Some(dir) = &self.model_dir {
            return dir.clone();
        }
        if let Some(dir) = std::env::var_os("AIOPS_EMBED_MODEL_DIR").filter(|d| !d.is_empty()) {
            return PathBuf::from(dir);
        }
        let cache = std::env::var_os("AIOPS_CACHE")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/aiops")))
            .unwrap_or_else(|| PathBuf::from(".cache/aiops"));
        cache.join("embeddings/all-minilm-l6-v2")
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.top_k == 0 || self.top_k > 20 {
            return Err("retrieval.top_k must be between 1 and 20".into());
        }
        if !(0.0..=1.0).contains(&self.min_similarity) {
            return Err("retrieval.min_similarity must be between 0 and 1".into());
        }
        if self.max_document_bytes == 0 || self.max_chunks_per_document == 0 || self.timeout_ms == 0
        {
            return Err(
                "retrieval.max_document_bytes, max_chunks_per_document and timeout_ms must be greater than zero"
                    .into(),
            );
        }
        if self.collection.is_empty() {
            return Err("retrieval.collection must not be empty".into());
        }
        Ok(())
    }
}
