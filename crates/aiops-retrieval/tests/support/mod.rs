//! Shared by this crate's integration tests: the real MiniLM model (installed by
//! `bootstrap/embeddings.sh`), the real indexes of `aiops-vector` (an embedded Qdrant Edge
//! shard in a temporary directory; a Qdrant server started by `bootstrap/qdrant.sh`), a fault
//! injector around a real index, inspection helpers that read the index through `ids_where`,
//! and the scenarios run against both backends (`scenario`).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

pub mod scenario;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use aiops_retrieval::{
    Embedder, Hit, IndexSpec, MiniLm, Point, Query, RetrievalError, VectorError, VectorIndex,
};
use aiops_vector::{EdgeIndex, Payload, QdrantIndex, QdrantOptions};
use serde_json::Value;
use tempfile::TempDir;

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

/// A real embedded index (a Qdrant Edge shard) in a temporary directory of its own, removed
/// on drop. Declare it before anything holding a clone of its index: the shard flushes when
/// its last handle goes, and panics if its directory is already gone.
pub struct Edge {
    // Dropped before the directory (fields drop in declaration order).
    pub index: Arc<EdgeIndex>,
    _dir: TempDir,
}

impl Edge {
    pub fn new() -> Edge {
        let dir = tempfile::tempdir().expect("temporary directory");
        let index = Arc::new(EdgeIndex::new(dir.path().join("vectors")));
        Edge { index, _dir: dir }
    }
}

/// A real Qdrant server of this test (`aiops_test_support::Qdrant`, started by
/// `bootstrap/qdrant.sh`); stopped on drop, also when the test fails.
pub struct Server(aiops_test_support::Qdrant);

impl Server {
    pub fn start() -> Server {
        Server(aiops_test_support::Qdrant::start().unwrap_or_else(|err| {
            panic!("starting Qdrant (install it with `bash bootstrap/qdrant.sh install`): {err}")
        }))
    }

    pub fn stop(&self) {
        self.0.stop().expect("stopping Qdrant");
    }

    /// A new client of the server.
    pub fn index(&self) -> Arc<QdrantIndex> {
        Arc::new(QdrantIndex::connect(&self.0.url, QdrantOptions::default()).expect("a client"))
    }
}

/// A fault injector around a real index: every call goes to `inner`, except that once
/// [`Faulty::fail_after`] is armed, upserts fail (as an unavailable index) after the given
/// number of them succeeded, until [`Faulty::heal`]. It lets a write break in the middle of
/// a document, which no real backend does on demand.
pub struct Faulty {
    pub inner: Arc<dyn VectorIndex>,
    /// Upserts still allowed to succeed; `None`: not armed.
    allowed: Mutex<Option<usize>>,
}

impl Faulty {
    pub fn new(inner: Arc<dyn VectorIndex>) -> Arc<Faulty> {
        Arc::new(Faulty {
            inner,
            allowed: Mutex::new(None),
        })
    }

    /// From now on, `n` upserts succeed and every later one fails.
    pub fn fail_after(&self, n: usize) {
        *self.allowed.lock().unwrap() = Some(n);
    }

    pub fn heal(&self) {
        *self.allowed.lock().unwrap() = None;
    }
}

#[async_trait::async_trait]
impl VectorIndex for Faulty {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    async fn ensure(&self, spec: &IndexSpec) -> Result<(), VectorError> {
        self.inner.ensure(spec).await
    }

    async fn upsert(&self, points: Vec<Point>) -> Result<(), VectorError> {
        if let Some(allowed) = self.allowed.lock().unwrap().as_mut() {
            if *allowed == 0 {
                return Err(VectorError::Unavailable("injected fault".into()));
            }
            *allowed -= 1;
        }
        self.inner.upsert(points).await
    }

    async fn delete(&self, ids: Vec<String>) -> Result<(), VectorError> {
        self.inner.delete(ids).await
    }

    async fn ids_where(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Vec<(String, Payload)>, VectorError> {
        self.inner.ids_where(key, value).await
    }

    async fn payloads(&self) -> Result<Vec<(String, Payload)>, VectorError> {
        self.inner.payloads().await
    }

    async fn search(&self, q: &Query) -> Result<Vec<Hit>, VectorError> {
        self.inner.search(q).await
    }

    async fn count(&self) -> Result<u64, VectorError> {
        self.inner.count().await
    }

    async fn health(&self) -> Result<(), VectorError> {
        self.inner.health().await
    }

    async fn optimize(&self) -> Result<bool, VectorError> {
        self.inner.optimize().await
    }
}

/// The points whose payload `key` is `value` (ids and payloads), sorted by id: what the
/// index holds, read back through the index.
pub async fn points_where(
    index: &dyn VectorIndex,
    key: &str,
    value: &str,
) -> Vec<(String, Payload)> {
    let mut points = index.ids_where(key, value).await.expect("listed");
    points.sort_by(|a, b| a.0.cmp(&b.0));
    points
}

/// The payloads of a source's points, sorted by point id.
pub async fn payloads(index: &dyn VectorIndex, source: &str) -> Vec<Payload> {
    points_where(index, "source", source)
        .await
        .into_iter()
        .map(|(_, p)| p)
        .collect()
}

/// Texts of the points of `doc`, sorted.
pub async fn texts_of(index: &dyn VectorIndex, doc: &str) -> Vec<String> {
    let mut texts: Vec<String> = points_where(index, "doc", doc)
        .await
        .into_iter()
        .map(|(_, p)| {
            p.get("text")
                .and_then(Value::as_str)
                .expect("a text")
                .to_string()
        })
        .collect();
    texts.sort();
    texts
}
