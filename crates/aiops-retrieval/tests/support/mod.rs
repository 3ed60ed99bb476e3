//! Shared by this crate's integration tests: the real MiniLM model (installed by
//! `bootstrap/embeddings.sh`), and an in-memory `VectorIndex`.
//!
//! `MemoryIndex` is a **test double of the `VectorIndex` trait** (the real backends live in
//! `aiops-vector`): exact cosine over all points, BM25 with the index-side IDF
//! (`modifier: idf`), and reciprocal rank fusion of the two rankings. It is small enough to
//! be obviously right, which is what a reference for retrieval quality needs.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use aiops_retrieval::{
    Embedder, Filter, Hit, IndexSpec, MiniLm, Point, Query, RetrievalError, SparseVector,
    VectorError, VectorIndex, embed::cosine,
};
use serde_json::{Map, Value};

/// The model directory: `AIOPS_EMBED_MODEL_DIR`, else what `bootstrap/embeddings.sh path`
/// prints (it fails, naming the install command, when the model is missing).
pub fn model_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("AIOPS_EMBED_MODEL_DIR") {
        return PathBuf::from(dir);
    }
    let vars = aiops_test_support::run_script("bootstrap/embeddings.sh", &["path"], &[])
        .expect("the embedding model (bash bootstrap/embeddings.sh install)");
    PathBuf::from(
        vars.get("AIOPS_EMBED_MODEL_DIR")
            .expect("AIOPS_EMBED_MODEL_DIR"),
    )
}

/// One loaded model per test binary.
pub fn minilm() -> MiniLm {
    static MODEL: OnceLock<MiniLm> = OnceLock::new();
    MODEL
        .get_or_init(|| MiniLm::load(&model_dir()).expect("load MiniLM"))
        .clone()
}

/// The repository's shared evaluation data (`../shared/eval` beside the repository).
pub fn shared_eval() -> PathBuf {
    aiops_test_support::repo_root().join("../shared/eval")
}

/// An embedder that counts the texts it embedded, around a real one.
pub struct Counting<E> {
    pub inner: E,
    pub texts: Mutex<usize>,
    pub model_id: Option<String>,
}

impl<E> Counting<E> {
    pub fn new(inner: E) -> Self {
        Counting {
            inner,
            texts: Mutex::new(0),
            model_id: None,
        }
    }

    pub fn count(&self) -> usize {
        *self.texts.lock().unwrap()
    }
}

#[async_trait::async_trait]
impl<E: Embedder> Embedder for Counting<E> {
    fn model_id(&self) -> &str {
        self.model_id.as_deref().unwrap_or(self.inner.model_id())
    }

    fn dim(&self) -> usize {
        self.inner.dim()
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, RetrievalError> {
        *self.texts.lock().unwrap() += texts.len();
        self.inner.embed(texts).await
    }
}

/// RRF's constant (the usual 60).
const RRF_K: f32 = 60.0;

#[derive(Default)]
pub struct MemoryIndex {
    points: Mutex<BTreeMap<String, Point>>,
    dim: Mutex<Option<usize>>,
    /// Failure injection: upserts holding a point of this document fail once the given
    /// number of them has succeeded (0: the first fails), so a write can break mid-document.
    pub fail_upsert_of_doc: Mutex<Option<(String, usize)>>,
    /// Every search and count fails while set (a backend that went away).
    pub down: Mutex<bool>,
}

impl MemoryIndex {
    pub fn new() -> Arc<MemoryIndex> {
        Arc::new(MemoryIndex::default())
    }

    pub fn payloads(&self) -> Vec<Map<String, Value>> {
        self.points
            .lock()
            .unwrap()
            .values()
            .map(|p| p.payload.clone())
            .collect()
    }

    /// Texts of the points of `doc`, sorted.
    pub fn texts_of(&self, doc: &str) -> Vec<String> {
        let mut t: Vec<String> = self
            .payloads()
            .into_iter()
            .filter(|p| p["doc"] == doc)
            .map(|p| p["text"].as_str().unwrap().to_string())
            .collect();
        t.sort();
        t
    }
}

impl MemoryIndex {
    fn up(&self) -> Result<(), VectorError> {
        if *self.down.lock().unwrap() {
            return Err(VectorError::Unavailable("index down".into()));
        }
        Ok(())
    }
}

fn passes(filter: &Filter, payload: &Map<String, Value>) -> bool {
    let source_ok = filter.sources.is_empty()
        || payload
            .get("source")
            .and_then(Value::as_str)
            .is_some_and(|s| filter.sources.iter().any(|f| f == s));
    let tags_ok = filter.tags.is_empty()
        || payload
            .get("tags")
            .and_then(Value::as_array)
            .is_some_and(|ts| ts.iter().any(|t| filter.tags.iter().any(|f| t == f)));
    source_ok && tags_ok
}

/// Sum over shared terms of IDF × document weight × query weight.
fn bm25_score(q: &SparseVector, d: &SparseVector, idf: &BTreeMap<u32, f32>) -> f32 {
    let mut s = 0.0;
    for (qi, qv) in q.indices.iter().zip(&q.values) {
        if let Some(pos) = d.indices.iter().position(|i| i == qi) {
            s += idf.get(qi).copied().unwrap_or(0.0) * d.values[pos] * qv;
        }
    }
    s
}

#[async_trait::async_trait]
impl VectorIndex for MemoryIndex {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn ensure(&self, spec: &IndexSpec) -> Result<(), VectorError> {
        let mut dim = self.dim.lock().unwrap();
        match *dim {
            Some(d) if d != spec.dense_dim => Err(VectorError::Rejected(format!(
                "collection has {d} dimensions, asked for {}",
                spec.dense_dim
            ))),
            _ => {
                *dim = Some(spec.dense_dim);
                Ok(())
            }
        }
    }

    async fn upsert(&self, points: Vec<Point>) -> Result<(), VectorError> {
        if let Some((doc, still_ok)) = self.fail_upsert_of_doc.lock().unwrap().as_mut()
            && points.iter().any(|p| p.payload["doc"] == *doc)
        {
            if *still_ok == 0 {
                return Err(VectorError::Unavailable("injected failure".into()));
            }
            *still_ok -= 1;
        }
        let mut all = self.points.lock().unwrap();
        for p in points {
            all.insert(p.id.clone(), p);
        }
        Ok(())
    }

    async fn delete(&self, ids: Vec<String>) -> Result<(), VectorError> {
        let mut all = self.points.lock().unwrap();
        for id in ids {
            all.remove(&id);
        }
        Ok(())
    }

    async fn ids_where(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Vec<(String, Map<String, Value>)>, VectorError> {
        Ok(self
            .points
            .lock()
            .unwrap()
            .values()
            .filter(|p| p.payload.get(key).and_then(Value::as_str) == Some(value))
            .map(|p| (p.id.clone(), p.payload.clone()))
            .collect())
    }

    async fn search(&self, q: &Query) -> Result<Vec<Hit>, VectorError> {
        self.up()?;
        let all = self.points.lock().unwrap();
        let points: Vec<&Point> = all
            .values()
            .filter(|p| passes(&q.filter, &p.payload))
            .collect();
        // IDF over the collection, as Qdrant's `modifier: idf` computes it.
        let n = all.len() as f32;
        let mut df: BTreeMap<u32, f32> = BTreeMap::new();
        for p in all.values() {
            for i in &p.sparse.indices {
                *df.entry(*i).or_default() += 1.0;
            }
        }
        let idf: BTreeMap<u32, f32> = df
            .into_iter()
            .map(|(i, d)| (i, (1.0 + (n - d + 0.5) / (d + 0.5)).ln()))
            .collect();
        let rank = |scores: Vec<(usize, f32)>| {
            let mut s: Vec<(usize, f32)> = scores.into_iter().filter(|(_, v)| *v > 0.0).collect();
            s.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            s
        };
        let dense = rank(
            points
                .iter()
                .enumerate()
                .map(|(i, p)| (i, cosine(&q.dense, &p.dense)))
                .collect(),
        );
        let sparse = rank(
            points
                .iter()
                .enumerate()
                .map(|(i, p)| (i, bm25_score(&q.sparse, &p.sparse, &idf)))
                .collect(),
        );
        let mut fused: BTreeMap<usize, f32> = BTreeMap::new();
        for list in [&dense, &sparse] {
            for (r, (i, _)) in list.iter().enumerate() {
                *fused.entry(*i).or_default() += 1.0 / (RRF_K + r as f32 + 1.0);
            }
        }
        let mut hits: Vec<(usize, f32)> = fused.into_iter().collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(hits
            .into_iter()
            .take(q.limit)
            .map(|(i, score)| Hit {
                id: points[i].id.clone(),
                score,
                payload: points[i].payload.clone(),
            })
            .collect())
    }

    async fn count(&self) -> Result<u64, VectorError> {
        self.up()?;
        Ok(self.points.lock().unwrap().len() as u64)
    }

    async fn health(&self) -> Result<(), VectorError> {
        Ok(())
    }
}
