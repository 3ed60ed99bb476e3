//! The hybrid retriever: a question becomes a dense vector (the embedder) and a BM25 query
//! vector, the index fuses both rankings, and the best chunks come back with what a citation
//! needs. It is the daemon's `aiops_core::Retriever`, and [`HybridRetriever::answer`] is
//! `ops.ask`'s: passages with citations, or an explicit "no runbook".

use std::sync::Arc;

use aiops_core::{ContextChunk, ErrorCode, Retrieval, RetrieveError, Retriever};
use serde::Serialize;
use serde_json::Value;

use crate::embed::Embedder;
use crate::index::{Filter, Hit, Query, VectorIndex};
use crate::ingest::keys;
use crate::sparse::Bm25;
use crate::{Result, RetrievalError};

/// How many chunks to return and how good they must be.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrieverOptions {
    pub top_k: usize,
    /// Hits with a lower fused score are dropped.
    pub min_score: f32,
    pub filter: Filter,
}

impl Default for RetrieverOptions {
    fn default() -> Self {
        RetrieverOptions {
            top_k: 3,
            min_score: 0.0,
            filter: Filter::default(),
        }
    }
}

/// The one place a passage becomes the daemon's `aiops_core::ContextChunk`, which on main
/// has no doc/heading/id fields yet: `source` names `<source>/<doc>`, `title` carries the
/// title and heading path (`<title>: <heading>`), `score` is the fused score, `text` the
/// chunk's text. (When `ContextChunk` gains `doc`, `heading`, `chunk_id` and `content_hash`,
/// they are filled here from the citation.)
impl From<Passage> for ContextChunk {
    fn from(p: Passage) -> ContextChunk {
        let c = p.citation;
        let title = match (c.title, c.heading.is_empty()) {
            (Some(t), false) => Some(format!("{t}: {}", c.heading)),
            (Some(t), true) => Some(t),
            (None, false) => Some(c.heading),
            (None, true) => None,
        };
        ContextChunk {
            source: format!("{}/{}", c.source, c.doc),
            score: f64::from(p.score),
            title,
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

/// A retrieved chunk: its text, fused score and where it comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Passage {
    pub text: String,
    pub score: f32,
    pub citation: Citation,
}

impl Passage {
    /// Reads a hit's payload (the keys ingest writes).
    fn from_hit(hit: Hit) -> Passage {
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

    /// The best `top_k` chunks at or above the score threshold, best first.
    pub async fn search(&self, question: &str) -> Result<Vec<Passage>> {
        let hits = self.ranked(question, self.opts.top_k).await?;
        Ok(hits
            .into_iter()
            .filter(|c| c.score >= self.opts.min_score)
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
        Ok(hits.into_iter().map(Passage::from_hit).collect())
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
        if self
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
        let chunks = self.search(nl).await.map_err(|e| unavailable(&e))?;
        Ok(Retrieval::Found {
            chunks: chunks.into_iter().map(ContextChunk::from).collect(),
        })
    }
}
