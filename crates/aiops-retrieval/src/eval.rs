//! Retrieval quality over a question set: each line of a JSONL file is
//! `{"question": …, "expect_doc": <path relative to the corpus>}`; the corpus is ingested
//! into the given index, every question asked once, and the ranked documents (chunks folded
//! to their document, first occurrence counts) scored by recall@1, recall@3 and MRR. The
//! daemon's `aiopsd eval-retrieval` prints the report.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::embed::Embedder;
use crate::ingest::{IngestOptions, IngestSummary, Ingestor};
use crate::retriever::{HybridRetriever, RetrieverOptions};
use crate::sparse::Bm25;
use crate::{Result, RetrievalError};
use aiops_vector::VectorIndex;

#[derive(Debug, Clone, PartialEq)]
pub struct EvalOptions {
    pub ingest: IngestOptions,
    pub retriever: RetrieverOptions,
    pub bm25: Bm25,
    /// Chunks fetched per question to rank documents (MRR counts documents within them).
    pub candidates: usize,
}

impl EvalOptions {
    /// Defaults for a corpus named `source`.
    pub fn new(source: impl Into<String>) -> Self {
        EvalOptions {
            ingest: IngestOptions::new(source),
            retriever: RetrieverOptions::default(),
            bm25: Bm25::default(),
            candidates: 30,
        }
    }
}

#[derive(Debug, Deserialize)]
struct Case {
    question: String,
    expect_doc: String,
}

/// A question whose document was not ranked first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Miss {
    pub question: String,
    pub expected: String,
    /// The expected document's rank (1-based), if it was among the candidates.
    pub rank: Option<usize>,
    pub top: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    pub questions: usize,
    pub recall_at_1: f64,
    pub recall_at_3: f64,
    pub mrr: f64,
    pub ingest_seconds: f64,
    pub query_p50_ms: f64,
    pub query_p95_ms: f64,
    pub ingest: IngestSummary,
    pub misses: Vec<Miss>,
}

/// Ingests `corpus_dir` into `index` and scores the questions of `ask_jsonl`.
pub async fn eval_retrieval(
    index: Arc<dyn VectorIndex>,
    embedder: Arc<dyn Embedder>,
    ask_jsonl: &Path,
    corpus_dir: &Path,
    opts: &EvalOptions,
) -> Result<EvalReport> {
    let cases = read_cases(ask_jsonl)?;
    let ingestor = Ingestor::new(
        index.clone(),
        embedder.clone(),
        opts.bm25,
        opts.ingest.clone(),
    );
    let ingest = ingestor.ingest(&[corpus_dir.to_path_buf()], |_| {}).await?;
    let retriever = HybridRetriever::new(index, embedder, opts.bm25, opts.retriever.clone());
    let (mut hits1, mut hits3, mut rr) = (0usize, 0usize, 0.0f64);
    let mut latencies = Vec::with_capacity(cases.len());
    let mut misses = Vec::new();
    for case in &cases {
        let started = Instant::now();
        let chunks = retriever.ranked(&case.question, opts.candidates).await?;
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        let mut docs: Vec<String> = Vec::new();
        for c in chunks {
            if !docs.contains(&c.citation.doc) {
                docs.push(c.citation.doc);
            }
        }
        let rank = docs
            .iter()
            .position(|d| *d == case.expect_doc)
            .map(|r| r + 1);
        match rank {
            Some(1) => hits1 += 1,
            _ => misses.push(Miss {
                question: case.question.clone(),
                expected: case.expect_doc.clone(),
                rank,
                top: docs.iter().take(3).cloned().collect(),
            }),
        }
        if rank.is_some_and(|r| r <= 3) {
            hits3 += 1;
        }
        rr += rank.map_or(0.0, |r| 1.0 / r as f64);
    }
    let n = cases.len().max(1) as f64;
    latencies.sort_by(f64::total_cmp);
    Ok(EvalReport {
        questions: cases.len(),
        recall_at_1: hits1 as f64 / n,
        recall_at_3: hits3 as f64 / n,
        mrr: rr / n,
        ingest_seconds: ingest.seconds,
        query_p50_ms: percentile(&latencies, 0.50),
        query_p95_ms: percentile(&latencies, 0.95),
        ingest,
        misses,
    })
}

fn read_cases(path: &Path) -> Result<Vec<Case>> {
    let text = std::fs::read_to_string(path).map_err(RetrievalError::io(path))?;
    let mut cases = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let case = serde_json::from_str(line).map_err(|e| RetrievalError::EvalData {
            path: path.to_path_buf(),
            message: format!("line {}: {e}", n + 1),
        })?;
        cases.push(case);
    }
    if cases.is_empty() {
        return Err(RetrievalError::EvalData {
            path: path.to_path_buf(),
            message: "no questions".into(),
        });
    }
    Ok(cases)
}

/// Nearest-rank percentile of sorted values (0 for none).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 10.0);
        assert_eq!(percentile(&v, 0.95), 19.0);
        assert_eq!(percentile(&[3.0], 0.95), 3.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
