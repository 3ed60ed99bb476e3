//! The crate's one error type; `code()` is stable (logs, API errors, metrics use it).

use std::path::PathBuf;

use aiops_vector::VectorError;

#[derive(Debug, thiserror::Error)]
pub enum RetrievalError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The embedding model's files are missing or do not load.
    #[error("embedding model: {0}")]
    ModelLoad(String),
    /// The model failed on an input (tokenizer or tensor error).
    #[error("embedding failed: {0}")]
    Embed(String),
    /// Ollama's embedding endpoint failed or answered something unusable.
    #[error("ollama embeddings: {0}")]
    Ollama(String),
    /// The index holds vectors of another embedding model (or sparse encoding).
    #[error("the index was built with {indexed}, this daemon embeds with {current}: re-ingest")]
    ModelMismatch { indexed: String, current: String },
    #[error(transparent)]
    Index(#[from] VectorError),
    /// A question file of the evaluation is malformed.
    #[error("evaluation data {path}: {message}")]
    EvalData { path: PathBuf, message: String },
}

impl RetrievalError {
    pub fn code(&self) -> &'static str {
        match self {
            RetrievalError::Io { .. } => "retrieval_io",
            RetrievalError::ModelLoad(_) => "embedding_model_unavailable",
            RetrievalError::Embed(_) => "embedding_failed",
            RetrievalError::Ollama(_) => "ollama_embeddings_failed",
            RetrievalError::ModelMismatch { .. } => "embedding_model_mismatch",
            RetrievalError::Index(e) => e.code(),
            RetrievalError::EvalData { .. } => "eval_data_invalid",
        }
    }

    /// The index, or the embedding service, does not answer: retry later (HTTP 503).
    pub fn is_unavailable(&self) -> bool {
        match self {
            RetrievalError::Index(e) => matches!(e, aiops_vector::VectorError::Unavailable(_)),
            RetrievalError::Ollama(_) => true,
            _ => false,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| RetrievalError::Io { path, source }
    }
}
