//! Embeddings from an Ollama server (`POST /api/embed`), for deployments that already run
//! one with a larger embedding model. Answers are checked: one vector per input, each of the
//! dimension the embedder was set up with.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use super::Embedder;
use crate::{Result, RetrievalError};

#[derive(Debug, Clone)]
pub struct OllamaEmbedder {
    client: reqwest::Client,
    base: String,
    model: String,
    model_id: String,
    dim: usize,
}

#[derive(Deserialize)]
struct EmbedResponse {
    embeddings: Vec<Vec<f32>>,
}

impl OllamaEmbedder {
    /// An embedder for `model` at `base` (`http://127.0.0.1:11434`); asks once for a vector
    /// to learn the model's dimension (and that it answers at all).
    pub async fn connect(base: &str, model: &str, timeout: Duration) -> Result<OllamaEmbedder> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| RetrievalError::Ollama(e.to_string()))?;
        let mut this = OllamaEmbedder {
            client,
            base: base.trim_end_matches('/').to_string(),
            model: model.to_string(),
            model_id: format!("ollama:{model}"),
            dim: 0,
        };
        let probe = this.request(&["dimension probe".to_string()]).await?;
        this.dim = probe.first().map_or(0, Vec::len);
        if this.dim == 0 {
            return Err(RetrievalError::Ollama(format!(
                "{model} returned an empty vector"
            )));
        }
        Ok(this)
    }

    async fn request(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let url = format!("{}/api/embed", self.base);
        let resp = self
            .client
            .post(&url)
            .json(&json!({ "model": self.model, "input": texts, "truncate": true }))
            .send()
            .await
            .map_err(|e| RetrievalError::Ollama(format!("{url}: {e}")))?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            let body: String = body.chars().take(200).collect();
            return Err(RetrievalError::Ollama(format!("{url}: {status}: {body}")));
        }
        let body: EmbedResponse = resp
            .json()
            .await
            .map_err(|e| RetrievalError::Ollama(format!("{url}: unreadable answer: {e}")))?;
        if body.embeddings.len() != texts.len() {
            return Err(RetrievalError::Ollama(format!(
                "{} vectors for {} inputs",
                body.embeddings.len(),
                texts.len()
            )));
        }
        Ok(body.embeddings)
    }
}

#[async_trait::async_trait]
impl Embedder for OllamaEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dim(&self) -> usize {
        self.dim
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let mut vectors = self.request(texts).await?;
        for v in &mut vectors {
            if v.len() != self.dim {
                return Err(RetrievalError::Ollama(format!(
                    "a vector of {} dimensions, expected {}",
                    v.len(),
                    self.dim
                )));
            }
            // Ollama normalises already; doing it here keeps the unit-length contract whatever
            // the server version.
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                v.iter_mut().for_each(|x| *x /= norm);
            }
        }
        Ok(vectors)
    }
}
