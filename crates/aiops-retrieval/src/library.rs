//! The indexed runbooks as documents: what the MCP server lists and reads as resources.
//!
//! The index holds chunks, not files; a document is the chunks that share a `source` and a
//! `doc`, in the order ingest stored them (`position`). Chunks overlap a little (the chunker's
//! overlap), so a document is handed out as its chunks, not glued into one text.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::ingest::keys;
use crate::{Result, VectorIndex};

/// One indexed document.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedDocument {
    pub source: String,
    pub doc: String,
    pub title: Option<String>,
    /// In document order.
    pub chunks: Vec<IndexedChunk>,
}

/// One chunk of an indexed document.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedChunk {
    pub chunk_id: String,
    /// The heading path, `Top > Section` (empty before the first heading).
    pub heading: String,
    pub text: String,
}

/// Every document in `index`, sorted by source, then path. Points without a source or a
/// document (not written by ingest) are left out. Chunks are in their stored order; chunks
/// stored before positions were (an older ingest) come last, by heading.
pub async fn documents(index: &dyn VectorIndex) -> Result<Vec<IndexedDocument>> {
    /// A document's title and its chunks with their stored positions, by (source, doc).
    type Gathered = BTreeMap<(String, String), (Option<String>, Vec<(Option<u64>, IndexedChunk)>)>;
    let mut docs = Gathered::new();
    for (_, payload) in index.payloads().await? {
        let text = |key: &str| str_of(&payload, key);
        let (Some(source), Some(doc)) = (text(keys::SOURCE), text(keys::DOC)) else {
            continue;
        };
        let entry = docs.entry((source, doc)).or_default();
        if entry.0.is_none() {
            entry.0 = text(keys::TITLE);
        }
        entry.1.push((
            payload.get(keys::POSITION).and_then(Value::as_u64),
            IndexedChunk {
                chunk_id: text(keys::CHUNK_ID).unwrap_or_default(),
                heading: text(keys::HEADING).unwrap_or_default(),
                text: text(keys::TEXT).unwrap_or_default(),
            },
        ));
    }
    Ok(docs
        .into_iter()
        .map(|((source, doc), (title, mut chunks))| {
            chunks.sort_by(|(pa, a), (pb, b)| {
                (pa.is_none(), pa, &a.heading, &a.chunk_id).cmp(&(
                    pb.is_none(),
                    pb,
                    &b.heading,
                    &b.chunk_id,
                ))
            });
            IndexedDocument {
                source,
                doc,
                title,
                chunks: chunks.into_iter().map(|(_, c)| c).collect(),
            }
        })
        .collect())
}

fn str_of(payload: &Map<String, Value>, key: &str) -> Option<String> {
    payload.get(key).and_then(Value::as_str).map(str::to_string)
}
