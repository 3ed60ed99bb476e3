//! The indexed runbooks as MCP resources: one resource per document, read whole (as its
//! chunks, each with its own URI) or one chunk at a time.
//!
//! URIs are `aiops://runbooks/{source}/{doc}` and `aiops://runbooks/{source}/{doc}/chunks/{n}`
//! (`n` from 0, in document order), with `source` and `doc` percent-encoded (a document path
//! has slashes). `resources/list` is paged by an opaque cursor.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use rmcp::ErrorData as McpError;
use rmcp::model::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate,
};

use aiops_retrieval::IndexedDocument;

use crate::AppState;

/// Documents per `resources/list` page.
pub(super) const PAGE: usize = 50;

const PREFIX: &str = "aiops://runbooks/";

/// Everything but unreserved characters is encoded: `/` above all.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn encode(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

fn doc_uri(d: &IndexedDocument) -> String {
    format!("{PREFIX}{}/{}", encode(&d.source), encode(&d.doc))
}

fn chunk_uri(d: &IndexedDocument, n: usize) -> String {
    format!("{}/chunks/{n}", doc_uri(d))
}

fn mime(doc: &str) -> &'static str {
    if doc.ends_with(".md") || doc.ends_with(".markdown") {
        "text/markdown"
    } else {
        "text/plain"
    }
}

/// What a URI names: a document (source, doc) and maybe one of its chunks.
#[derive(Debug, PartialEq)]
struct Target {
    source: String,
    doc: String,
    chunk: Option<usize>,
}

fn parse(uri: &str) -> Option<Target> {
    let rest = uri.strip_prefix(PREFIX)?;
    let parts: Vec<&str> = rest.split('/').collect();
    let decode = |s: &str| {
        percent_decode_str(s)
            .decode_utf8()
            .ok()
            .map(|c| c.into_owned())
            .filter(|s| !s.is_empty())
    };
    match parts.as_slice() {
        [source, doc] => Some(Target {
            source: decode(source)?,
            doc: decode(doc)?,
            chunk: None,
        }),
        [source, doc, "chunks", n] => Some(Target {
            source: decode(source)?,
            doc: decode(doc)?,
            chunk: Some(n.parse().ok()?),
        }),
        _ => None,
    }
}

async fn documents(state: &AppState) -> Result<Vec<IndexedDocument>, McpError> {
    let Some(runbooks) = &state.runbooks else {
        return Ok(Vec::new());
    };
    runbooks
        .documents()
        .await
        .map_err(|f| McpError::internal_error(f.message, None))
}

/// One page of documents from `cursor` (an offset this server handed out).
pub(super) async fn list(
    state: &AppState,
    cursor: Option<&str>,
) -> Result<ListResourcesResult, McpError> {
    let start = match cursor {
        None => 0,
        Some(c) => c
            .parse::<usize>()
            .map_err(|_| McpError::invalid_params("unknown cursor", None))?,
    };
    let docs = documents(state).await?;
    if start > docs.len() {
        return Err(McpError::invalid_params("unknown cursor", None));
    }
    let page: Vec<Resource> = docs
        .iter()
        .skip(start)
        .take(PAGE)
        .map(|d| {
            let mut r = Resource::new(doc_uri(d), d.doc.clone())
                .with_description(format!(
                    "Runbook {} (source {}): {} chunk(s); read it whole or one chunk at a time.",
                    d.doc,
                    d.source,
                    d.chunks.len()
                ))
                .with_mime_type(mime(&d.doc));
            if let Some(title) = &d.title {
                r = r.with_title(title.clone());
            }
            r
        })
        .collect();
    let mut result = ListResourcesResult::with_all_items(page);
    let next = start + PAGE;
    result.next_cursor = (next < docs.len()).then(|| next.to_string());
    Ok(result)
}

pub(super) fn templates() -> ListResourceTemplatesResult {
    ListResourceTemplatesResult::with_all_items(vec![
        ResourceTemplate::new(
            format!("{PREFIX}{{source}}/{{doc}}/chunks/{{n}}"),
            "runbook chunk",
        )
        .with_description(
            "One chunk of an indexed runbook (n from 0, in document order); source and doc \
             percent-encoded, as in the document's own URI.",
        ),
    ])
}

/// A document (its chunks, in order, each under its own URI) or one chunk.
pub(super) async fn read(state: &AppState, uri: &str) -> Result<ReadResourceResult, McpError> {
    let not_found = || McpError::resource_not_found(format!("no runbook resource {uri}"), None);
    let target = parse(uri).ok_or_else(not_found)?;
    let docs = documents(state).await?;
    let doc = docs
        .iter()
        .find(|d| d.source == target.source && d.doc == target.doc)
        .ok_or_else(not_found)?;
    let content = |n: usize| {
        doc.chunks.get(n).map(|c| {
            ResourceContents::text(c.text.clone(), chunk_uri(doc, n)).with_mime_type(mime(&doc.doc))
        })
    };
    let contents = match target.chunk {
        Some(n) => vec![content(n).ok_or_else(not_found)?],
        None => (0..doc.chunks.len()).filter_map(content).collect(),
    };
    Ok(ReadResourceResult::new(contents))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_round_trip_paths_with_slashes_spaces_and_unicode() {
        let d = IndexedDocument {
            source: "team ops".into(),
            doc: "runbooks/dns/zone transfer – ä.md".into(),
            title: None,
            chunks: Vec::new(),
        };
        let uri = chunk_uri(&d, 3);
        assert!(!uri[PREFIX.len()..].contains(' '), "{uri}");
        assert_eq!(
            parse(&uri),
            Some(Target {
                source: d.source.clone(),
                doc: d.doc.clone(),
                chunk: Some(3)
            })
        );
        assert_eq!(parse(&doc_uri(&d)).unwrap().chunk, None);
        for bad in [
            "aiops://runbooks/",
            "aiops://runbooks/a",
            "aiops://runbooks/a/b/chunks/x",
            "aiops://runbooks/a/b/c",
            "aiops://runbooks//b",
            "file:///etc/passwd",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
