//! Runbook retrieval on the appliance: the vector index (an embedded Qdrant Edge shard or a
//! Qdrant server), the embedder (MiniLM in process or Ollama) and the hybrid retriever,
//! chosen from `[retrieval]`; ingest for `POST /api/v1/documents`; readiness.
//!
//! The retriever serves two callers: the retrieve stage of every request (context, never
//! a gate: with the index down the request goes on without it) and `ops.ask`'s executor.

pub mod config;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use aiops_api::{IngestRequest, IngestSummary, SkipKind, SkippedDocument};
use aiops_core::{ErrorCode, Retriever};
use aiops_retrieval::{
    Bm25, Embedder, HybridRetriever, IngestOptions, Ingestor, MiniLm, OllamaEmbedder,
    RetrievalError, RetrieverOptions, SkipReason, TextDocument,
};
use aiops_vector::{EdgeIndex, QdrantIndex, QdrantOptions, VectorIndex};
use serde_json::json;

pub use config::{EmbedderKind, IndexBackend, RetrievalConfig};

use crate::executors::ReadyCheck;
use crate::failure::Failure;
use crate::{Config, StartError};

/// The runbook index of this appliance and what reads and writes it.
pub struct Runbooks {
    index: Arc<dyn VectorIndex>,
    embedder: Arc<dyn Embedder>,
    retriever: Arc<HybridRetriever>,
    config: RetrievalConfig,
    /// One ingest at a time: two writers of the same document would interleave their adds
    /// and deletes, and each must leave a whole version behind.
    writer: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Runbooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runbooks")
            .field("index", &self.index.kind())
            .field("model", &self.embedder.model_id())
            .finish()
    }
}

/// The `source` every shipped runbook and default ingest belongs to.
pub const DEFAULT_SOURCE: &str = aiops_api::documents::DEFAULT_SOURCE;

fn start_error(what: &str, e: impl std::fmt::Display) -> StartError {
    crate::config::ConfigError(format!("retrieval: {what}: {e}")).into()
}

impl Runbooks {
    /// The configured retrieval, or `None` when `[retrieval] enabled = false`. A model that
    /// does not load, or an index built with another model, stops the start with the reason;
    /// a Qdrant server that is down does not (readiness reports it, requests go on without
    /// context, `ops.ask` answers 503 until it is back).
    pub async fn open(config: &Config) -> Result<Option<Arc<Runbooks>>, StartError> {
        let rc = &config.retrieval;
        if !rc.enabled {
            return Ok(None);
        }
        let timeout = Duration::from_millis(rc.timeout_ms);
        let embedder = embedder(config)
            .await
            .map_err(|e| start_error("the embedding model", e))?;
        let index: Arc<dyn VectorIndex> = match rc.backend {
            IndexBackend::Edge => Arc::new(EdgeIndex::new(config.data_dir.join("vectors"))),
            IndexBackend::Qdrant => Arc::new(
                QdrantIndex::connect(
                    &rc.qdrant_url,
                    QdrantOptions {
                        timeout,
                        ..Default::default()
                    },
                )
                .map_err(|e| start_error("Qdrant", e))?,
            ),
        };
        let retriever = Arc::new(HybridRetriever::new(
            Arc::clone(&index),
            Arc::clone(&embedder),
            Bm25::default(),
            RetrieverOptions {
                top_k: rc.top_k,
                min_similarity: rc.min_similarity,
                ..Default::default()
            },
        ));
        let runbooks = Runbooks {
            index,
            embedder,
            retriever,
            config: rc.clone(),
            writer: tokio::sync::Mutex::new(()),
        };
        match runbooks.check().await {
            Ok(()) => {}
            Err(e @ RetrievalError::ModelMismatch { .. }) => {
                return Err(start_error("the runbook index", e));
            }
            Err(e) if e.is_unavailable() => {
                tracing::warn!(error = %e, "the runbook index does not answer; requests go on without context until it does");
            }
            Err(e) => return Err(start_error("the runbook index", e)),
        }
        tracing::info!(
            index = runbooks.index.kind(),
            model = runbooks.embedder.model_id(),
            "runbook retrieval on"
        );
        Ok(Some(Arc::new(runbooks)))
    }

    /// Creates the collection when missing and refuses vectors of another model.
    async fn check(&self) -> Result<(), RetrievalError> {
        self.ingestor(DEFAULT_SOURCE).ensure().await?;
        self.retriever.check_model(DEFAULT_SOURCE).await
    }

    fn ingestor(&self, source: &str) -> Ingestor {
        let mut opts = IngestOptions::new(source);
        opts.collection = self.config.collection.clone();
        opts.max_file_bytes = self.config.max_document_bytes;
        opts.max_chunks_per_doc = self.config.max_chunks_per_document;
        Ingestor::new(
            Arc::clone(&self.index),
            Arc::clone(&self.embedder),
            Bm25::default(),
            opts,
        )
    }

    /// The retriever, as the retrieve stage and `ops.ask` see it.
    pub fn retriever(&self) -> Arc<dyn Retriever> {
        self.retriever.clone()
    }

    /// Indexes the request's documents, then (with `keep`) removes the source's others.
    pub async fn ingest(&self, user: &str, req: IngestRequest) -> Result<IngestSummary, Failure> {
        if req.source.is_empty() || req.source.len() > 64 {
            return Err(Failure::new(
                ErrorCode::InvalidRequest,
                "source must be 1 to 64 characters",
            ));
        }
        let _writer = self.writer.lock().await;
        let ingestor = self.ingestor(&req.source);
        let docs: Vec<TextDocument> = req
            .documents
            .into_iter()
            .map(|d| TextDocument {
                doc: d.path,
                text: d.text,
            })
            .collect();
        // Who asked; the ingestor logs what each step did.
        tracing::info!(%user, source = %req.source, documents = docs.len(), keep = req.keep.is_some(), "runbook ingest");
        let mut summary = wire_summary(ingestor.put(docs).await.map_err(failure)?);
        if let Some(keep) = req.keep {
            let keep: BTreeSet<String> = keep.into_iter().collect();
            summary.absorb(wire_summary(ingestor.retain(&keep).await.map_err(failure)?));
        }
        Ok(summary)
    }

    /// Every indexed document with its chunks in order (the MCP server's resources).
    pub async fn documents(&self) -> Result<Vec<aiops_retrieval::IndexedDocument>, Failure> {
        aiops_retrieval::library::documents(self.index.as_ref())
            .await
            .map_err(failure)
    }

    /// The index answers, and how many chunks it holds.
    pub async fn ready(&self) -> ReadyCheck {
        let (ok, detail) = match self.index.count().await {
            Ok(chunks) => (
                true,
                json!({"index": self.index.kind(), "model": self.embedder.model_id(), "chunks": chunks}),
            ),
            Err(e) => (
                false,
                json!({"index": self.index.kind(), "error": e.code(), "message": e.to_string()}),
            ),
        };
        ReadyCheck {
            name: "retrieval",
            ok,
            detail,
        }
    }
}

/// A retrieval error as the API's failure: an index or model that does not answer is 503.
fn failure(e: RetrievalError) -> Failure {
    let code = if e.is_unavailable() {
        ErrorCode::RetrievalUnavailable
    } else {
        ErrorCode::Internal
    };
    Failure::new(code, format!("runbook ingest failed ({}): {e}", e.code()))
}

fn wire_summary(s: aiops_retrieval::IngestSummary) -> IngestSummary {
    IngestSummary {
        source: s.source,
        documents: s.documents,
        chunks_added: s.chunks_added,
        chunks_kept: s.chunks_kept,
        chunks_removed: s.chunks_removed,
        documents_removed: s.documents_removed,
        skipped: s
            .skipped
            .into_iter()
            .map(|k| SkippedDocument {
                detail: k.reason.to_string(),
                reason: match k.reason {
                    SkipReason::TooLarge { .. } => SkipKind::TooLarge,
                    SkipReason::Binary => SkipKind::Binary,
                    SkipReason::NotUtf8 => SkipKind::NotUtf8,
                    SkipReason::TooManyChunks { .. } => SkipKind::TooManyChunks,
                    SkipReason::Unreadable { .. } => SkipKind::Unreadable,
                    SkipReason::UnsupportedPath => SkipKind::UnsupportedPath,
                },
                path: k.path,
            })
            .collect(),
        seconds: s.seconds,
    }
}

/// `aiopsd eval-retrieval`: ingests `corpus` into a scratch embedded index (removed after)
/// with the configured embedder, then scores the questions of `ask_jsonl`.
pub async fn evaluate(
    config: &Config,
    ask_jsonl: &std::path::Path,
    corpus: &std::path::Path,
) -> Result<aiops_retrieval::EvalReport, String> {
    let rc = &config.retrieval;
    let embedder = embedder(config).await?;
    // Removed when dropped, also when the evaluation fails half-way.
    let scratch = tempfile::Builder::new()
        .prefix("aiopsd-eval-retrieval-")
        .tempdir()
        .map_err(|e| format!("a scratch directory for the index: {e}"))?;
    let index: Arc<dyn VectorIndex> = Arc::new(EdgeIndex::new(scratch.path()));
    let source = corpus
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "corpus".into());
    let mut opts = aiops_retrieval::EvalOptions::new(source);
    opts.ingest.max_file_bytes = rc.max_document_bytes;
    opts.ingest.max_chunks_per_doc = rc.max_chunks_per_document;
    aiops_retrieval::eval_retrieval(index, embedder, ask_jsonl, corpus, &opts)
        .await
        .map_err(|e| e.to_string())
}

/// The configured embedder: MiniLM from `model_dir`, or Ollama's `/api/embed`.
async fn embedder(config: &Config) -> Result<Arc<dyn Embedder>, String> {
    let rc = &config.retrieval;
    Ok(match rc.embedder {
        EmbedderKind::Minilm => {
            let dir = rc.model_dir();
            let model = tokio::task::spawn_blocking(move || MiniLm::load(&dir))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| {
                    format!(
                        "{e} (install it with bootstrap/embeddings.sh, or set retrieval.model_dir)"
                    )
                })?;
            Arc::new(model)
        }
        EmbedderKind::Ollama => Arc::new(
            OllamaEmbedder::connect(
                &config.llm.host,
                &rc.ollama_model,
                Duration::from_millis(rc.timeout_ms),
            )
            .await
            .map_err(|e| format!("Ollama embeddings: {e}"))?,
        ),
    })
}
