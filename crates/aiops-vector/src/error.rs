//! The crate's one error type and its stable codes.

/// Errors of a vector index. Messages name collections, ids and causes; payloads and vectors
/// are never quoted.
#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    /// The server cannot be reached or does not answer in time (the daemon answers 503).
    #[error("vector index unavailable: {0}")]
    Unavailable(String),
    /// The collection's configuration does not fit: another vector layout on disk or on the
    /// server, an invalid collection name, or no `ensure` yet.
    #[error("vector index configuration: {0}")]
    Config(String),
    /// A point or query the index cannot take (wrong dimension, malformed sparse vector,
    /// id that is not a UUID, empty query).
    #[error("invalid vector input: {0}")]
    Invalid(String),
    /// Stored data could not be read back (unreadable shard, a point id or payload the
    /// index returned that is not what this crate writes).
    #[error("vector index data is corrupt: {0}")]
    Corrupt(String),
    /// The index refused or failed an operation for another reason.
    #[error("vector index operation failed: {0}")]
    Backend(String),
}

impl VectorError {
    /// A call that needs a collection before [`crate::VectorIndex::ensure`] chose one.
    pub(crate) fn not_ensured() -> VectorError {
        VectorError::Config("no collection is open: call ensure first".into())
    }

    /// Stable code for logs, metrics and API errors.
    pub fn code(&self) -> &'static str {
        match self {
            VectorError::Unavailable(_) => "vector_unavailable",
            VectorError::Config(_) => "vector_config",
            VectorError::Invalid(_) => "vector_invalid",
            VectorError::Corrupt(_) => "vector_corrupt",
            VectorError::Backend(_) => "vector_backend",
        }
    }
}
