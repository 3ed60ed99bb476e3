//! The vector index contract of `aiops-vector` (written in parallel), mirrored here until that
//! crate lands; the merge replaces this module's body with `pub use aiops_vector::*;`.
//!
//! Fusion of the dense and sparse rankings and the sparse IDF are the index's job: this crate
//! sends term weights ([`crate::sparse::Bm25`]) and reads fused scores.

use serde_json::{Map, Value};

/// A sparse vector: parallel arrays of term indices and weights.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseVector {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

/// One stored chunk: a UUID string id, its two vectors and its payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub id: String,
    pub dense: Vec<f32>,
    pub sparse: SparseVector,
    pub payload: Map<String, Value>,
}

/// Restricts a search to sources and tags (empty = no restriction).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub sources: Vec<String>,
    pub tags: Vec<String>,
}

/// A hybrid query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub dense: Vec<f32>,
    pub sparse: SparseVector,
    pub filter: Filter,
    pub limit: usize,
}

/// A search result: the point's id, its fused score and payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: String,
    pub score: f32,
    pub payload: Map<String, Value>,
}

/// The collection to create (or check) and its dense dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexSpec {
    pub collection: String,
    pub dense_dim: usize,
}

/// Errors of an index backend (mirrors `aiops_vector::VectorError`).
#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    #[error("vector index unavailable: {0}")]
    Unavailable(String),
    #[error("vector index refused the request: {0}")]
    Rejected(String),
}

impl VectorError {
    pub fn code(&self) -> &'static str {
        match self {
            VectorError::Unavailable(_) => "vector_unavailable",
            VectorError::Rejected(_) => "vector_rejected",
        }
    }
}

/// A vector index backend.
#[async_trait::async_trait]
pub trait VectorIndex: Send + Sync {
    fn kind(&self) -> &'static str;
    async fn ensure(&self, spec: &IndexSpec) -> Result<(), VectorError>;
    async fn upsert(&self, points: Vec<Point>) -> Result<(), VectorError>;
    async fn delete(&self, ids: Vec<String>) -> Result<(), VectorError>;
    /// Every point whose payload `key` equals `value`, with its payload.
    async fn ids_where(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Vec<(String, Map<String, Value>)>, VectorError>;
    async fn search(&self, q: &Query) -> Result<Vec<Hit>, VectorError>;
    async fn count(&self) -> Result<u64, VectorError>;
    async fn health(&self) -> Result<(), VectorError>;
}
