//! Text → dense vectors. The [`Embedder`] seam has two implementations: [`MiniLm`]
//! (all-MiniLM-L6-v2 in process with candle: no server, the default) and [`OllamaEmbedder`]
//! (any embedding model an Ollama serves). The model id travels with every stored vector, so
//! vectors of different models are never compared.

mod minilm;
mod ollama;

pub use minilm::MiniLm;
pub use ollama::OllamaEmbedder;

use crate::{Result, RetrievalError};

/// Text → unit-length dense vectors of one model.
#[async_trait::async_trait]
pub trait Embedder: Send + Sync {
    /// Names the model (and its weights' source), e.g. `sentence-transformers/all-MiniLM-L6-v2`.
    fn model_id(&self) -> &str;
    fn dim(&self) -> usize;
    /// One vector per text, in order.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>>;
    /// A query's vector; implementations may cache (questions repeat, documents do not).
    async fn embed_query(&self, text: &str) -> Result<Vec<f32>> {
        self.embed(&[text.to_string()])
            .await?
            .pop()
            .ok_or_else(|| RetrievalError::Embed("no vector for the query".into()))
    }
}

/// Cosine similarity of two unit vectors (their dot product).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
