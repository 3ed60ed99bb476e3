//! The hybrid retriever: a question becomes a dense vector (the embedder) and a BM25 query
//! vector, the index fuses both rankings, and the best chunks come back with what a citation
//! needs. It is the daemon's `aiops_core::Retriever`, and [`HybridRetriever::answer`] is
//! `ops.ask`'s: passages with citations, or an explicit "no runbook".

use std::sync::Arc;

use aiops_core::{ContextChunk, ErrorCode, Retrieval, RetrieveError, Retriever};
use serde::Serialize;
use serde_json::Value;

use crate::embed::{Embedder, cosine};
use crate::ingest::keys;
use crate::sparse::Bm25;
use crate::{Result, RetrievalError};
use aiops_vector::{Filter, Hit, Query, VectorIndex};

/// How many chunks to return and how relevant they must be.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrieverOptions {
    pub top_k: usize,
    /// Chunks whose dense (cosine) similarity to the question is lower are not relevant,
    /// whatever their rank: the fused RRF score only orders, it cannot say "nothing fits".
    pub min_similarity: f32,
    pub filter: Filter,
}

/// What all-MiniLM-L6-v2 gives a question and a passage that answers it, at the least
/// (unrelated text scores around 0 to 0.15).
pub const DEFAULT_MIN_SIMILARITY: f32 = 0.3;

impl Default for RetrieverOptions {
    fn default() -> Self {
        RetrieverOptions {
            top_k: 3,
            min_similarity: DEFAULT_MIN_SIMILARITY,
            filter: Filter::default(),
        }
    }
}

/// The request path's view of a passage: where it comes from, and its text (which only
/// the model prompt sees, as quoted data; responses and audit rows carry ids and hashes).
impl From<Passage> for ContextChunk {
    fn from(p: Passage) -> ContextChunk {
        let c = p.citation;
        ContextChunk {
            doc: c.doc,
            heading: c.heading,
            chunk_id: c.chunk_id,
            content_hash: c.content_hash,
            source: c.source,
            // What a reader can judge: how close the passage is to the request (0..1).
            score: f64::from(p.similarity),
            title: c.title,
            text: p.text,
        }
    }
}

/// Where a passage comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Citation {
    pub source: String,
    pub doc: String,
    pub heading: String,
    pub title: Option<String>,
    pub chunk_id: String,
    pub content_hash: String,
}

/// A retrieved chunk: its text, scores and where it comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Passage {
    pub text: String,
    /// The fused (RRF) score the ranking used.
    pub score: f32,
    /// Cosine similarity of the chunk's dense vector to the question's.
    pub similarity: f32,
    pub citation: Citation,
}

impl Passage {
    /// Reads a hit's payload (the keys ingest writes); `question` is the query's vector.
    fn from_hit(hit: Hit, question: &[f32]) -> Passage {
        let similarity = if hit.dense.len() == question.len() {
            cosine(&hit.dense, question)
        } else {
            0.0
        };
        let s = |k: &str| {
            hit.payload
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Passage {
            text: s(keys::TEXT),
            score: hit.score,
            similarity,
            citation: Citation {
                source: s(keys::SOURCE),
                doc: s(keys::DOC),
                heading: s(keys::HEADING),
                title: hit
                    .payload
                    .get(keys::TITLE)
                    .and_then(Value::as_str)
                    .map(str::to_string),
                chunk_id: s(keys::CHUNK_ID),
                content_hash: s(keys::CONTENT_HASH),
            },
        }
    }
}

/// The answer to a runbook question.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Answer {
    Passages {
        passages: Vec<Passage>,
    },
    /// Nothing in the index answers it (or the index is empty).
    NoRunbook {
        reason: String,
    },
}

pub struct HybridRetriever {
    index: Arc<dyn VectorIndex>,
    embedder: Arc<dyn Embedder>,
    bm25: Bm25,
    opts: RetrieverOptions,
}

impl std::fmt::Debug for HybridRetriever {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HybridRetriever")
            .field("index", &self.index.kind())
            .field("model", &self.embedder.model_id())
            .field("opts", &self.opts)
            .finish()
    }
}

impl HybridRetriever {
    pub fn new(
        index: Arc<dyn VectorIndex>,
        embedder: Arc<dyn Embedder>,
        bm25: Bm25,
        opts: RetrieverOptions,
    ) -> Self {
        HybridRetriever {
            index,
            embedder,
            bm25,
            opts,
        }
    }

    /// Errors when `source` was indexed with another model (see `ingest::check_model`).
    pub async fn check_model(&self, source: &str) -> Result<()> {
        crate::ingest::check_model(
            self.index.as_ref(),
            source,
            self.embedder.model_id(),
            &self.bm25,
        )
        .await
    }

    /// The best `top_k` relevant chunks (similarity at or above the threshold), best first.
    pub async fn search(&self, question: &str) -> Result<Vec<Passage>> {
        // A few more candidates than wanted: some of the fused best may not be relevant.
        let hits = self
            .ranked(question, self.opts.top_k.saturating_mul(3))
            .await?;
        Ok(hits
            .into_iter()
            .filter(|c| c.similarity >= self.opts.min_similarity)
            .take(self.opts.top_k)
            .collect())
    }

    /// Up to `limit` chunks in the index's fused order, without threshold.
    pub async fn ranked(&self, question: &str, limit: usize) -> Result<Vec<Passage>> {
        let dense = self.embedder.embed_query(question).await?;
        let query = Query {
            dense,
            sparse: self.bm25.query(question),
            filter: self.opts.filter.clone(),
            limit,
        };
        let hits = self.index.search(&query).await?;
        Ok(hits
            .into_iter()
            .map(|h| Passage::from_hit(h, &query.dense))
            .collect())
    }

    /// `ops.ask`: the passages that answer `question`, with citations, or `NoRunbook`.
    pub async fn answer(&self, question: &str) -> Result<Answer> {
        let passages = self.search(question).await?;
        if passages.is_empty() {
            return Ok(Answer::NoRunbook {
                reason: "no runbook passage matches the question".into(),
            });
        }
        Ok(Answer::Passages { passages })
    }
}

fn unavailable(e: &RetrievalError) -> RetrieveError {
    RetrieveError {
        code: ErrorCode::RetrievalUnavailable,
        message: format!("runbook retrieval failed ({}): {e}", e.code()),
    }
}

#[async_trait::async_trait]
impl Retriever for HybridRetriever {
    fn name(&self) -> &'static str {
        "hybrid"
    }

    async fn retrieve(&self, nl: &str) -> Result<Retrieval, RetrieveError> {
        let chunks = self.search(nl).await.map_err(|e| unavailable(&e))?;
        // Counted only when nothing was found (one round trip per request, not two): an
        // empty index is "skipped", an index with nothing relevant is "found nothing".
        if chunks.is_empty()
            && self
                .index
                .count()
                .await
                .map_err(|e| unavailable(&e.into()))?
                == 0
        {
            return Ok(Retrieval::Skipped {
                reason: "the runbook index is empty".into(),
            });
        }
        Ok(Retrieval::Found {
            chunks: chunks.into_iter().map(ContextChunk::from).collect(),
        })
    }
}
