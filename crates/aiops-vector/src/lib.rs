//! The vector index behind runbook retrieval: one [`VectorIndex`] trait and two backends
//! with the same hybrid search.
//!
//! - [`EdgeIndex`], the embedded default: a Qdrant Edge shard kept in a directory (the
//!   daemon passes `<data_dir>/vectors`), searched in process.
//! - [`QdrantIndex`], for production: a Qdrant server over gRPC.
//!
//! Both keep one collection of points with a dense vector named [`DENSE_VECTOR`] (cosine)
//! and a sparse vector named [`SPARSE_VECTOR`] (BM25 term weights; the index applies IDF).
//! A search prefetches candidates by each vector, restricted by the payload filter, and
//! fuses the two rankings with reciprocal rank fusion (`1 / (k + position)`, k = [`RRF_K`]),
//! which both backends compute in the engine. Embedding is not done here: callers bring
//! the vectors.

#![forbid(unsafe_code)]

mod edge;
mod error;
mod filter;
mod layout;
mod server;
mod types;

use async_trait::async_trait;

pub use edge::EdgeIndex;
pub use error::VectorError;
pub use server::{QdrantIndex, QdrantOptions};
pub use types::{Filter, Hit, IndexSpec, Payload, Point, Query, SparseVector, point_id};

/// Name of the dense vector of every point (cosine distance).
pub const DENSE_VECTOR: &str = "dense";
/// Name of the sparse vector of every point (BM25 term weights, IDF applied by the index).
pub const SPARSE_VECTOR: &str = "bm25";
/// Payload key [`Filter::sources`] matches.
pub const SOURCE_KEY: &str = "source";
/// Payload key (an array of strings) [`Filter::tags`] matches.
pub const TAGS_KEY: &str = "tags";
/// Payload keys both backends keep a keyword index on: the keys of [`Filter`], so a
/// filtered search does not read every point's payload.
pub(crate) const INDEXED_KEYS: [&str; 2] = [SOURCE_KEY, TAGS_KEY];

/// The `k` of reciprocal rank fusion: a hit at position `p` (from 0) of one prefetch adds
/// `1 / (k + p)`, as Qdrant computes it. 60 is the value of the original RRF paper; both
/// backends are given it explicitly, so they rank alike (Qdrant's own default is 2).
pub const RRF_K: u32 = 60;

/// Candidates each prefetch (dense, sparse) hands to the fusion, for a query of `limit`:
/// enough that a document ranked well by only one of the two still reaches the fusion.
pub fn prefetch_limit(limit: usize) -> usize {
    limit.saturating_mul(4).max(50)
}

/// A vector index: one collection of [`Point`]s, chosen by [`VectorIndex::ensure`].
///
/// Every other method needs `ensure` to have succeeded first (else `vector_config`).
#[async_trait]
pub trait VectorIndex: Send + Sync {
    /// `"edge"` or `"qdrant"`.
    fn kind(&self) -> &'static str;
    /// Creates the collection when missing; verifies its vector configuration when present
    /// (another dimension, distance or sparse modifier is `vector_config`).
    async fn ensure(&self, spec: &IndexSpec) -> Result<(), VectorError>;
    /// Inserts or replaces points by id.
    async fn upsert(&self, points: Vec<Point>) -> Result<(), VectorError>;
    /// Deletes points by id; unknown ids are ignored.
    async fn delete(&self, ids: Vec<String>) -> Result<(), VectorError>;
    /// Every point id with the given payload value (e.g. all chunks of one document: key
    /// "doc"), with its payload. A payload array matches when it holds the value.
    async fn ids_where(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Vec<(String, Payload)>, VectorError>;
    /// Every point id with its payload (listing the indexed documents).
    async fn payloads(&self) -> Result<Vec<(String, Payload)>, VectorError>;
    /// Hybrid search: dense and sparse prefetches under the filter, fused with RRF, best
    /// first. An empty dense or sparse query vector leaves that prefetch out.
    async fn search(&self, q: &Query) -> Result<Vec<Hit>, VectorError>;
    /// Number of points.
    async fn count(&self) -> Result<u64, VectorError>;
    /// Whether the index answers (the server is up; the shard is open).
    async fn health(&self) -> Result<(), VectorError>;
    /// Brings the index into shape for search after a bulk write; `true` when there was
    /// work. A Qdrant server optimizes in the background (nothing to do here); Qdrant Edge
    /// does not, and searches scan every point until this runs.
    async fn optimize(&self) -> Result<bool, VectorError> {
        Ok(false)
    }
}
