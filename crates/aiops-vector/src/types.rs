//! The values both backends take and return, and their checks (done once, before either
//! backend sees them, so both refuse the same input with the same error).

use uuid::Uuid;

use crate::VectorError;

/// A point's payload: a JSON object.
pub type Payload = serde_json::Map<String, serde_json::Value>;

/// Namespace of the UUIDv5 point ids derived from chunk ids (fixed: changing it would orphan
/// every stored point).
const CHUNK_NAMESPACE: Uuid = Uuid::from_u128(0x5f0e_4d1c_9a7b_4e52_8c3d_2b61_a9f0_7e14);

/// The point id of a chunk: a UUIDv5 of the chunk id, so re-indexing a chunk replaces its
/// point. Both backends accept only UUID ids.
pub fn point_id(chunk_id: &str) -> String {
    Uuid::new_v5(&CHUNK_NAMESPACE, chunk_id.as_bytes()).to_string()
}

/// A sparse vector: term ids and their weights, same length, ids unique.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseVector {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl SparseVector {
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    pub(crate) fn check(&self, what: &str) -> Result<(), VectorError> {
        if self.indices.len() != self.values.len() {
            return Err(VectorError::Invalid(format!(
                "{what}: sparse vector has {} indices and {} values",
                self.indices.len(),
                self.values.len()
            )));
        }
        let mut seen = self.indices.clone();
        seen.sort_unstable();
        if seen.windows(2).any(|w| w[0] == w[1]) {
            return Err(VectorError::Invalid(format!(
                "{what}: sparse vector repeats an index"
            )));
        }
        if self.values.iter().any(|v| !v.is_finite()) {
            return Err(VectorError::Invalid(format!(
                "{what}: sparse vector holds a value that is not finite"
            )));
        }
        Ok(())
    }
}

/// One indexed chunk.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Point {
    /// A UUID string ([`point_id`] of the chunk id).
    pub id: String,
    pub dense: Vec<f32>,
    pub sparse: SparseVector,
    pub payload: Payload,
}

/// Payload restrictions of a search: keys [`crate::SOURCE_KEY`] and [`crate::TAGS_KEY`].
/// A point matches when its source is one of `sources` and one of its tags is one of
/// `tags`; an empty list does not restrict.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub sources: Vec<String>,
    pub tags: Vec<String>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty() && self.tags.is_empty()
    }
}

/// A hybrid query. An empty `dense` (or `sparse`) leaves that prefetch out; not both.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    pub dense: Vec<f32>,
    pub sparse: SparseVector,
    pub filter: Filter,
    pub limit: usize,
}

/// A search result: the point's id and payload, its fused (RRF) score, and its dense
/// vector (unit length), so the caller can measure how close a hit really is: a rank
/// fusion orders hits but cannot say that none of them fits.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: String,
    pub score: f32,
    pub payload: Payload,
    pub dense: Vec<f32>,
}

/// The collection: its name and the dimension of its dense vectors (cosine, named
/// [`crate::DENSE_VECTOR`]); the sparse vector [`crate::SPARSE_VECTOR`] has the IDF modifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    pub collection: String,
    pub dense_dim: usize,
}

impl IndexSpec {
    /// Names are path components of the edge shard and Qdrant collection names: ASCII
    /// letters, digits, `-` and `_`, at most 128.
    pub(crate) fn check(&self) -> Result<(), VectorError> {
        let name = &self.collection;
        let valid = !name.is_empty()
            && name.len() <= 128
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(VectorError::Config(format!(
                "collection name `{name}` is not valid (ASCII letters, digits, `-`, `_`)"
            )));
        }
        if self.dense_dim == 0 {
            return Err(VectorError::Config(format!(
                "collection `{name}`: the dense dimension must be at least 1"
            )));
        }
        Ok(())
    }

    /// Checks points before either backend sees them; returns their ids as UUIDs.
    pub(crate) fn check_points(&self, points: &[Point]) -> Result<Vec<Uuid>, VectorError> {
        points
            .iter()
            .map(|p| {
                let id = parse_id(&p.id)?;
                self.check_dense(&p.dense, &p.id)?;
                p.sparse.check(&p.id)?;
                Ok(id)
            })
            .collect()
    }

    /// Checks a query: the dense part (when given) has the collection's dimension, the
    /// sparse part is well formed, at least one is given, and the limit is at least 1.
    pub(crate) fn check_query(&self, q: &Query) -> Result<(), VectorError> {
        if q.dense.is_empty() && q.sparse.is_empty() {
            return Err(VectorError::Invalid(
                "query has neither a dense nor a sparse vector".into(),
            ));
        }
        if q.limit == 0 {
            return Err(VectorError::Invalid("query limit is 0".into()));
        }
        if !q.dense.is_empty() {
            self.check_dense(&q.dense, "query")?;
        }
        q.sparse.check("query")
    }

    fn check_dense(&self, dense: &[f32], what: &str) -> Result<(), VectorError> {
        if dense.len() != self.dense_dim {
            return Err(VectorError::Invalid(format!(
                "{what}: dense vector has {} dimensions, collection `{}` has {}",
                dense.len(),
                self.collection,
                self.dense_dim
            )));
        }
        if dense.iter().any(|v| !v.is_finite()) {
            return Err(VectorError::Invalid(format!(
                "{what}: dense vector holds a value that is not finite"
            )));
        }
        Ok(())
    }
}

/// A point id as the backends take it.
pub(crate) fn parse_id(id: &str) -> Result<Uuid, VectorError> {
    Uuid::parse_str(id)
        .map_err(|_| VectorError::Invalid(format!("point id `{id}` is not a UUID (use point_id)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> IndexSpec {
        IndexSpec {
            collection: "runbooks".into(),
            dense_dim: 3,
        }
    }

    #[test]
    fn point_ids_are_stable_uuids_per_chunk() {
        let a = point_id("doc-1#0");
        assert_eq!(a, point_id("doc-1#0"));
        assert_ne!(a, point_id("doc-1#1"));
        let parsed = Uuid::parse_str(&a).expect("a UUID");
        assert_eq!(parsed.get_version_num(), 5);
    }

    #[test]
    fn malformed_points_and_queries_are_invalid() {
        let good = Point {
            id: point_id("c"),
            dense: vec![1.0, 0.0, 0.0],
            sparse: SparseVector {
                indices: vec![1, 2],
                values: vec![0.5, 0.5],
            },
            payload: Payload::new(),
        };
        assert_eq!(
            spec()
                .check_points(std::slice::from_ref(&good))
                .map(|v| v.len())
                .ok(),
            Some(1)
        );
        let cases = [
            Point {
                id: "chunk-1".into(),
                ..good.clone()
            },
            Point {
                dense: vec![1.0, 0.0],
                ..good.clone()
            },
            Point {
                dense: vec![f32::NAN, 0.0, 0.0],
                ..good.clone()
            },
            Point {
                sparse: SparseVector {
                    indices: vec![1],
                    values: vec![],
                },
                ..good.clone()
            },
            Point {
                sparse: SparseVector {
                    indices: vec![1, 1],
                    values: vec![1.0, 1.0],
                },
                ..good.clone()
            },
        ];
        for bad in cases {
            let err = spec()
                .check_points(std::slice::from_ref(&bad))
                .expect_err("refused");
            assert_eq!(err.code(), "vector_invalid", "{bad:?}: {err}");
        }
        let query = Query {
            dense: vec![],
            sparse: SparseVector::default(),
            filter: Filter::default(),
            limit: 3,
        };
        assert_eq!(
            spec().check_query(&query).map_err(|e| e.code()),
            Err("vector_invalid")
        );
        let zero = Query {
            dense: vec![1.0, 0.0, 0.0],
            limit: 0,
            ..query.clone()
        };
        assert_eq!(
            spec().check_query(&zero).map_err(|e| e.code()),
            Err("vector_invalid")
        );
        let sparse_only = Query {
            sparse: good.sparse.clone(),
            ..query
        };
        assert!(spec().check_query(&sparse_only).is_ok());
    }

    #[test]
    fn collection_names_are_plain_path_components() {
        for bad in ["", "../x", "a/b", "a b", "ünï"] {
            let s = IndexSpec {
                collection: bad.into(),
                dense_dim: 3,
            };
            assert_eq!(
                s.check().map_err(|e| e.code()),
                Err("vector_config"),
                "{bad:?}"
            );
        }
        assert!(spec().check().is_ok());
        let zero = IndexSpec {
            dense_dim: 0,
            ..spec()
        };
        assert_eq!(zero.check().map_err(|e| e.code()), Err("vector_config"));
    }
}
