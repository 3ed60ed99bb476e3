//! The vector layout a collection must have, checked the same way for an edge shard's
//! config and a server collection's config.

use crate::{DENSE_VECTOR, IndexSpec, SPARSE_VECTOR, VectorError};

/// What a backend found in an existing collection, in backend-neutral terms.
#[derive(Debug, Default)]
pub(crate) struct Layout {
    /// Dimension and distance (lower case, e.g. "cosine") of the dense vector [`DENSE_VECTOR`].
    pub dense: Option<(u64, String)>,
    /// Modifier (lower case, "none" when unset) of the sparse vector [`SPARSE_VECTOR`].
    pub sparse_modifier: Option<String>,
    /// Names of any other vectors.
    pub others: Vec<String>,
}

impl Layout {
    /// `Ok` when the collection has exactly the layout `spec` asks for; otherwise a
    /// `vector_config` error saying what was found and what was wanted.
    pub fn check(&self, spec: &IndexSpec) -> Result<(), VectorError> {
        let dense_ok = matches!(&self.dense, Some((dim, distance))
            if *dim == spec.dense_dim as u64 && distance == "cosine");
        let sparse_ok = self.sparse_modifier.as_deref() == Some("idf");
        if dense_ok && sparse_ok && self.others.is_empty() {
            return Ok(());
        }
        Err(VectorError::Config(format!(
            "collection `{}` exists with {}; wanted dense `{DENSE_VECTOR}` {}-d cosine and sparse `{SPARSE_VECTOR}` with the idf modifier (re-index into a new collection to change it)",
            spec.collection,
            self.describe(),
            spec.dense_dim,
        )))
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        match &self.dense {
            Some((dim, distance)) => {
                parts.push(format!("dense `{DENSE_VECTOR}` {dim}-d {distance}"))
            }
            None => parts.push(format!("no dense `{DENSE_VECTOR}`")),
        }
        match &self.sparse_modifier {
            Some(modifier) => parts.push(format!("sparse `{SPARSE_VECTOR}` modifier {modifier}")),
            None => parts.push(format!("no sparse `{SPARSE_VECTOR}`")),
        }
        if !self.others.is_empty() {
            parts.push(format!("other vectors {}", self.others.join(", ")));
        }
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_layout_passes() {
        let spec = IndexSpec {
            collection: "c".into(),
            dense_dim: 4,
        };
        let good = Layout {
            dense: Some((4, "cosine".into())),
            sparse_modifier: Some("idf".into()),
            others: vec![],
        };
        assert!(good.check(&spec).is_ok());
        let bad = [
            Layout {
                dense: Some((8, "cosine".into())),
                ..Layout {
                    sparse_modifier: Some("idf".into()),
                    ..Layout::default()
                }
            },
            Layout {
                dense: Some((4, "dot".into())),
                sparse_modifier: Some("idf".into()),
                others: vec![],
            },
            Layout {
                dense: Some((4, "cosine".into())),
                sparse_modifier: Some("none".into()),
                others: vec![],
            },
            Layout {
                dense: Some((4, "cosine".into())),
                sparse_modifier: Some("idf".into()),
                others: vec!["x".into()],
            },
            Layout::default(),
        ];
        for layout in bad {
            let err = layout.check(&spec).expect_err("refused");
            assert_eq!(err.code(), "vector_config");
            assert!(
                err.to_string().contains("wanted dense `dense` 4-d cosine"),
                "{err}"
            );
        }
    }
}
