//! Payload filters, built the same way for both backends: within one key any listed value
//! matches (a payload array matches when it holds one of them), across keys all must.
//! Values match as exact keywords, never as full text.

use qdrant_client::qdrant::{self, condition::ConditionOneOf, r#match::MatchValue};
use qdrant_edge::{Condition, FieldCondition, JsonPath, Match};

use crate::{Filter, SOURCE_KEY, TAGS_KEY, VectorError};

/// Payload keys `ids_where` accepts: plain names (no JSON paths), so both backends read
/// them the same way.
pub(crate) fn check_key(key: &str) -> Result<(), VectorError> {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        Ok(())
    } else {
        Err(VectorError::Invalid(format!(
            "payload key `{key}` is not a plain name (ASCII letters, digits, `_`, `-`)"
        )))
    }
}

/// `(key, values)` pairs a filter requires, in a fixed order; empty lists are left out.
fn clauses(filter: &Filter) -> Vec<(&'static str, &[String])> {
    [
        (SOURCE_KEY, &filter.sources[..]),
        (TAGS_KEY, &filter.tags[..]),
    ]
    .into_iter()
    .filter(|(_, values)| !values.is_empty())
    .collect()
}

/// Qdrant Edge filters.
pub(crate) struct EdgeFilter;

impl EdgeFilter {
    pub fn from_filter(filter: &Filter) -> Result<Option<qdrant_edge::Filter>, VectorError> {
        let must = clauses(filter)
            .into_iter()
            .map(|(key, values)| Self::condition(key, Match::from(values.to_vec())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::all(must))
    }

    pub fn key_equals(key: &str, value: &str) -> Result<qdrant_edge::Filter, VectorError> {
        let condition = Self::condition(key, Match::from(value.to_string()))?;
        Ok(qdrant_edge::Filter::new_must(condition))
    }

    fn condition(key: &str, matching: Match) -> Result<Condition, VectorError> {
        let path: JsonPath = key
            .parse()
            .map_err(|_| VectorError::Invalid(format!("payload key `{key}` is not valid")))?;
        Ok(Condition::Field(FieldCondition::new_match(path, matching)))
    }

    fn all(must: Vec<Condition>) -> Option<qdrant_edge::Filter> {
        if must.is_empty() {
            return None;
        }
        let mut filter = qdrant_edge::Filter::new();
        filter.must = Some(must);
        Some(filter)
    }
}

/// Qdrant server (gRPC) filters.
pub(crate) struct ServerFilter;

impl ServerFilter {
    pub fn from_filter(filter: &Filter) -> Option<qdrant::Filter> {
        let must: Vec<_> = clauses(filter)
            .into_iter()
            .map(|(key, values)| {
                Self::condition(
                    key,
                    MatchValue::Keywords(qdrant::RepeatedStrings {
                        strings: values.to_vec(),
                    }),
                )
            })
            .collect();
        (!must.is_empty()).then(|| qdrant::Filter::must(must))
    }

    pub fn key_equals(key: &str, value: &str) -> qdrant::Filter {
        // Explicitly a keyword: the client's `From<String>` makes a value with spaces a
        // full-text match.
        qdrant::Filter::must([Self::condition(key, MatchValue::Keyword(value.to_string()))])
    }

    fn condition(key: &str, value: MatchValue) -> qdrant::Condition {
        qdrant::Condition {
            condition_one_of: Some(ConditionOneOf::Field(qdrant::FieldCondition {
                key: key.to_string(),
                r#match: Some(qdrant::Match {
                    match_value: Some(value),
                }),
                ..Default::default()
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_keys_are_accepted() {
        for good in ["doc", "source", "chunk_id", "a-b", "x1"] {
            assert!(check_key(good).is_ok(), "{good}");
        }
        for bad in ["", "a.b", "a[0]", "a b", "tags[]"] {
            assert_eq!(
                check_key(bad).map_err(|e| e.code()),
                Err("vector_invalid"),
                "{bad}"
            );
        }
    }

    #[test]
    fn empty_lists_do_not_restrict_and_values_stay_keywords() {
        assert!(
            EdgeFilter::from_filter(&Filter::default())
                .expect("built")
                .is_none()
        );
        assert!(ServerFilter::from_filter(&Filter::default()).is_none());
        let filter = Filter {
            sources: vec!["wiki pages".into()],
            tags: vec![],
        };
        let edge = EdgeFilter::from_filter(&filter)
            .expect("built")
            .expect("a filter");
        assert_eq!(edge.must.as_ref().map(Vec::len), Some(1));
        let server = ServerFilter::from_filter(&filter).expect("a filter");
        assert_eq!(server.must.len(), 1);
        let key_filter = ServerFilter::key_equals("doc", "runbook with spaces");
        let Some(ConditionOneOf::Field(field)) = &key_filter.must[0].condition_one_of else {
            panic!("a field condition");
        };
        assert_eq!(
            field.r#match.as_ref().and_then(|m| m.match_value.clone()),
            Some(MatchValue::Keyword("runbook with spaces".into()))
        );
    }
}
