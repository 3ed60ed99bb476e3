//! Idempotent ingest of runbook files into a [`VectorIndex`].
//!
//! Per run, for one source (corpus name): every `.md`, `.markdown` and `.txt` file under the
//! given paths is read, chunked and compared by chunk id with what the index holds for that
//! document. Only new chunks are embedded and written; chunks the document no longer has are
//! deleted afterwards, so until the delete a reader sees the old version whole plus new
//! chunks, never half of one version (a failure in between leaves the old version whole).
//! Documents of the source that are gone are deleted. Files that are too big, binary, not
//! UTF-8 or cut into too many chunks are skipped with a reason (and their old chunks removed:
//! the index mirrors the readable corpus); a file that cannot be read at all keeps its chunks.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::{Map, Value, json};
use walkdir::WalkDir;

use crate::chunk::{Chunk, ChunkOptions, DocKind, Document, chunk_document, sha256_hex};
use crate::embed::Embedder;
use crate::sparse::Bm25;
use crate::{Result, RetrievalError};
use aiops_vector::{IndexSpec, Point, VectorIndex};

/// Payload keys every point carries.
pub mod keys {
    pub const SOURCE: &str = "source";
    pub const DOC: &str = "doc";
    pub const HEADING: &str = "heading";
    pub const TITLE: &str = "title";
    pub const TAGS: &str = "tags";
    pub const TEXT: &str = "text";
    pub const CHUNK_ID: &str = "chunk_id";
    pub const CONTENT_HASH: &str = "content_hash";
    pub const EMBEDDING_MODEL: &str = "embedding_model";
    pub const SPARSE_MODEL: &str = "sparse_model";
    /// The chunk's place in its document (0-based), so a document can be read back in order.
    pub const POSITION: &str = "position";
}

/// Limits and names of an ingest.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestOptions {
    /// The corpus name (payload `source`); documents are compared within it.
    pub source: String,
    pub collection: String,
    pub max_file_bytes: u64,
    pub max_chunks_per_doc: usize,
    pub chunking: ChunkOptions,
    /// Chunks per call to the embedder.
    pub embed_batch: usize,
}

impl IngestOptions {
    pub fn new(source: impl Into<String>) -> Self {
        IngestOptions {
            source: source.into(),
            collection: "runbooks".into(),
            max_file_bytes: 1024 * 1024,
            max_chunks_per_doc: 500,
            chunking: ChunkOptions::default(),
            embed_batch: 64,
        }
    }
}

/// Why a file was not ingested.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SkipReason {
    TooLarge {
        bytes: u64,
        limit: u64,
    },
    Binary,
    NotUtf8,
    TooManyChunks {
        chunks: usize,
        limit: usize,
    },
    Unreadable {
        error: String,
    },
    /// Not a relative `.md`, `.markdown` or `.txt` path inside the tree.
    UnsupportedPath,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::TooLarge { bytes, limit } => {
                write!(f, "{bytes} bytes, over the limit of {limit}")
            }
            SkipReason::Binary => f.write_str("binary (holds NUL bytes)"),
            SkipReason::NotUtf8 => f.write_str("not UTF-8 text"),
            SkipReason::TooManyChunks { chunks, limit } => {
                write!(f, "{chunks} chunks, over the limit of {limit}")
            }
            SkipReason::Unreadable { error } => write!(f, "unreadable: {error}"),
            SkipReason::UnsupportedPath => {
                f.write_str("not a relative .md, .markdown or .txt path inside the tree")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    pub path: String,
    pub reason: SkipReason,
}

/// What an ingest did (`aiopsd ingest` prints it as JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IngestSummary {
    pub source: String,
    /// Documents read and indexed.
    pub documents: usize,
    pub chunks_added: usize,
    pub chunks_kept: usize,
    pub chunks_removed: usize,
    /// Documents of the source that are gone (or now skipped) and were removed.
    pub documents_removed: usize,
    pub skipped: Vec<Skipped>,
    pub seconds: f64,
}

/// A document given as text: its path in the source (e.g. `dns-records.md`) and content.
#[derive(Debug, Clone, PartialEq)]
pub struct TextDocument {
    pub doc: String,
    pub text: String,
}

/// Progress after each document, for a progress bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
    pub doc: String,
}

/// Writes documents into an index with one embedder.
pub struct Ingestor {
    index: Arc<dyn VectorIndex>,
    embedder: Arc<dyn Embedder>,
    bm25: Bm25,
    opts: IngestOptions,
}

impl std::fmt::Debug for Ingestor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingestor")
            .field("index", &self.index.kind())
            .field("model", &self.embedder.model_id())
            .field("opts", &self.opts)
            .finish()
    }
}

/// A file found under the ingest paths.
struct Found {
    path: PathBuf,
    doc: String,
    kind: DocKind,
}

/// What the index holds for the source: document → its point ids.
type Held = BTreeMap<String, HeldDoc>;

/// One document's points in the index: id → the position stored with it (none for a chunk
/// indexed before positions were).
type HeldDoc = BTreeMap<String, Option<u64>>;

fn position_of(payload: &Map<String, Value>) -> Option<u64> {
    payload.get(keys::POSITION).and_then(Value::as_u64)
}

impl Ingestor {
    pub fn new(
        index: Arc<dyn VectorIndex>,
        embedder: Arc<dyn Embedder>,
        bm25: Bm25,
        opts: IngestOptions,
    ) -> Self {
        Ingestor {
            index,
            embedder,
            bm25,
            opts,
        }
    }

    /// Errors when the source's points were embedded by another model or sparse encoding
    /// (vectors of two models are not comparable): the daemon refuses to start on it.
    pub async fn check_model(&self) -> Result<()> {
        check_model(
            self.index.as_ref(),
            &self.opts.source,
            self.embedder.model_id(),
            &self.bm25,
        )
        .await
    }

    /// Creates the collection when missing (with this embedder's dimension); verifies it
    /// otherwise.
    pub async fn ensure(&self) -> Result<()> {
        self.index
            .ensure(&IndexSpec {
                collection: self.opts.collection.clone(),
                dense_dim: self.embedder.dim(),
            })
            .await?;
        Ok(())
    }

    /// Ingests the files under `paths` (files or directories) and removes the source's
    /// documents that are not among them; see the module doc.
    pub async fn ingest(
        &self,
        paths: &[PathBuf],
        progress: impl Fn(&Progress) + Send + Sync,
    ) -> Result<IngestSummary> {
        let started = Instant::now();
        let mut summary = self.empty_summary();
        self.ensure().await?;
        let files = find_documents(paths)?;
        let mut held = self.held_by_doc().await?;
        let mut kept_docs = HashSet::new();
        for (n, file) in files.iter().enumerate() {
            let old = held.remove(&file.doc).unwrap_or_default();
            match self.read(file) {
                Ok(text) => {
                    self.put_one(&file.doc, file.kind, &text, &old, &mut summary)
                        .await?
                }
                Err(reason @ SkipReason::Unreadable { .. }) => {
                    // Maybe passing (permissions, a file being replaced): keep what is indexed.
                    kept_docs.insert(file.doc.clone());
                    summary.skipped.push(skipped(&file.doc, reason));
                }
                Err(reason) => {
                    summary.skipped.push(skipped(&file.doc, reason));
                    self.remove_doc(&old, &mut summary).await?;
                }
            }
            progress(&Progress {
                done: n + 1,
                total: files.len(),
                doc: file.doc.clone(),
            });
        }
        for (doc, ids) in held {
            if !kept_docs.contains(&doc) {
                self.remove_doc(&ids, &mut summary).await?;
            }
        }
        self.optimize(&summary).await?;
        Ok(self.finish(summary, started))
    }

    /// Indexes documents given as text (the daemon's `POST /api/v1/documents`), each
    /// replacing its previous version; the source's other documents stay.
    pub async fn put(&self, docs: Vec<TextDocument>) -> Result<IngestSummary> {
        let started = Instant::now();
        let mut summary = self.empty_summary();
        self.ensure().await?;
        for d in docs {
            let Some(kind) = relative_doc_path(&d.doc).and_then(DocKind::of) else {
                summary
                    .skipped
                    .push(skipped(&d.doc, SkipReason::UnsupportedPath));
                continue;
            };
            let old = self.held_ids(&d.doc).await?;
            let bytes = d.text.len() as u64;
            if bytes > self.opts.max_file_bytes {
                let reason = SkipReason::TooLarge {
                    bytes,
                    limit: self.opts.max_file_bytes,
                };
                summary.skipped.push(skipped(&d.doc, reason));
                self.remove_doc(&old, &mut summary).await?;
            } else if d.text.contains('\0') {
                summary.skipped.push(skipped(&d.doc, SkipReason::Binary));
                self.remove_doc(&old, &mut summary).await?;
            } else {
                self.put_one(&d.doc, kind, &d.text, &old, &mut summary)
                    .await?;
            }
        }
        Ok(self.finish(summary, started))
    }

    /// Removes every document of the source that `keep` does not name.
    pub async fn retain(&self, keep: &BTreeSet<String>) -> Result<IngestSummary> {
        let started = Instant::now();
        let mut summary = self.empty_summary();
        self.ensure().await?;
        for (doc, ids) in self.held_by_doc().await? {
            if !keep.contains(&doc) {
                self.remove_doc(&ids, &mut summary).await?;
            }
        }
        // The end of a tree's upload (`aiops ingest` sends `keep` last): the bulk is done.
        self.optimize(&summary).await?;
        Ok(self.finish(summary, started))
    }

    /// After a bulk change, the index's own optimization (see `VectorIndex::optimize`).
    async fn optimize(&self, summary: &IngestSummary) -> Result<()> {
        if summary.chunks_added + summary.chunks_removed > 0 {
            self.index.optimize().await?;
        }
        Ok(())
    }

    fn empty_summary(&self) -> IngestSummary {
        IngestSummary {
            source: self.opts.source.clone(),
            ..Default::default()
        }
    }

    fn finish(&self, mut summary: IngestSummary, started: Instant) -> IngestSummary {
        summary.seconds = started.elapsed().as_secs_f64();
        tracing::info!(
            source = %summary.source,
            documents = summary.documents,
            added = summary.chunks_added,
            kept = summary.chunks_kept,
            removed = summary.chunks_removed,
            skipped = summary.skipped.len(),
            "ingest finished"
        );
        summary
    }

    /// One document's new version: its chunks replace the old ones (`old`), or it is
    /// skipped (and its old chunks removed) when it has too many.
    async fn put_one(
        &self,
        doc: &str,
        kind: DocKind,
        text: &str,
        old: &HeldDoc,
        summary: &mut IngestSummary,
    ) -> Result<()> {
        let parsed = Document::parse(&self.opts.source, doc, kind, text);
        let chunks = chunk_document(&parsed, &self.opts.chunking, self.embedder.model_id());
        if chunks.len() > self.opts.max_chunks_per_doc {
            let reason = SkipReason::TooManyChunks {
                chunks: chunks.len(),
                limit: self.opts.max_chunks_per_doc,
            };
            summary.skipped.push(skipped(doc, reason));
            return self.remove_doc(old, summary).await;
        }
        self.write_doc(chunks, old, summary).await?;
        summary.documents += 1;
        Ok(())
    }

    /// The points the index holds for one document of the source.
    async fn held_ids(&self, doc: &str) -> Result<HeldDoc> {
        Ok(self
            .index
            .ids_where(keys::DOC, doc)
            .await?
            .into_iter()
            .filter(|(_, p)| p.get(keys::SOURCE).and_then(Value::as_str) == Some(&self.opts.source))
            .map(|(id, p)| (id, position_of(&p)))
            .collect())
    }

    /// The source's point ids per document.
    async fn held_by_doc(&self) -> Result<Held> {
        let mut held = Held::new();
        for (id, payload) in self
            .index
            .ids_where(keys::SOURCE, &self.opts.source)
            .await?
        {
            let doc = payload
                .get(keys::DOC)
                .and_then(Value::as_str)
                .unwrap_or_default();
            held.entry(doc.to_string())
                .or_default()
                .insert(id, position_of(&payload));
        }
        Ok(held)
    }

    /// The file's text, or why it is not indexed.
    fn read(&self, file: &Found) -> Result<String, SkipReason> {
        let unreadable = |e: std::io::Error| SkipReason::Unreadable {
            error: e.to_string(),
        };
        let bytes = std::fs::metadata(&file.path).map_err(unreadable)?.len();
        if bytes > self.opts.max_file_bytes {
            return Err(SkipReason::TooLarge {
                bytes,
                limit: self.opts.max_file_bytes,
            });
        }
        let raw = std::fs::read(&file.path).map_err(unreadable)?;
        if raw.contains(&0) {
            return Err(SkipReason::Binary);
        }
        String::from_utf8(raw).map_err(|_| SkipReason::NotUtf8)
    }

    /// New chunks first, then the deletes: the old version stays whole until the new one is.
    /// A chunk already held at the same position is kept; one that moved is written again
    /// (its stored position would read the document back out of order).
    async fn write_doc(
        &self,
        chunks: Vec<Chunk>,
        old: &HeldDoc,
        summary: &mut IngestSummary,
    ) -> Result<()> {
        let mut seen = HashSet::new();
        let mut new = Vec::new();
        for (position, chunk) in (0u64..).zip(chunks) {
            let id = self.point_id(&chunk);
            if !seen.insert(id.clone()) {
                continue; // the same section text twice under the same heading path
            }
            if old.get(&id) == Some(&Some(position)) {
                summary.chunks_kept += 1;
            } else {
                new.push((id, position, chunk));
            }
        }
        for batch in new.chunks(self.opts.embed_batch.max(1)) {
            let texts: Vec<String> = batch.iter().map(|(_, _, c)| c.index_text()).collect();
            let vectors = self.embedder.embed(&texts).await?;
            let points = batch
                .iter()
                .zip(vectors)
                .zip(&texts)
                .map(|(((id, position, chunk), dense), text)| Point {
                    id: id.clone(),
                    dense,
                    sparse: self.bm25.document(text),
                    payload: self.payload(chunk, *position),
                })
                .collect();
            self.index.upsert(points).await?;
        }
        summary.chunks_added += new.len();
        let vanished: Vec<String> = old
            .keys()
            .filter(|id| !seen.contains(*id))
            .cloned()
            .collect();
        summary.chunks_removed += vanished.len();
        if !vanished.is_empty() {
            self.index.delete(vanished).await?;
        }
        Ok(())
    }

    async fn remove_doc(&self, ids: &HeldDoc, summary: &mut IngestSummary) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        summary.documents_removed += 1;
        summary.chunks_removed += ids.len();
        self.index.delete(ids.keys().cloned().collect()).await?;
        Ok(())
    }

    /// A UUID from the chunk id, the model and the sparse encoding: re-embedding with another
    /// model writes new points (and removes the old ones) instead of keeping stale vectors.
    fn point_id(&self, chunk: &Chunk) -> String {
        let digest = sha256_hex(&[
            &chunk.chunk_id,
            self.embedder.model_id(),
            &self.bm25.signature(),
        ]);
        let mut bytes = [0u8; 16];
        // A hex digest always decodes; its first 16 bytes are the UUID.
        if let Ok(raw) = hex::decode(&digest[..32]) {
            bytes.copy_from_slice(&raw);
        }
        uuid::Uuid::from_bytes(bytes).to_string()
    }

    fn payload(&self, c: &Chunk, position: u64) -> Map<String, Value> {
        let mut p = Map::new();
        p.insert(keys::POSITION.into(), json!(position));
        p.insert(keys::SOURCE.into(), json!(c.source));
        p.insert(keys::DOC.into(), json!(c.doc));
        p.insert(keys::HEADING.into(), json!(c.heading));
        p.insert(keys::TITLE.into(), json!(c.title));
        p.insert(keys::TAGS.into(), json!(c.tags));
        p.insert(keys::TEXT.into(), json!(c.text));
        p.insert(keys::CHUNK_ID.into(), json!(c.chunk_id));
        p.insert(keys::CONTENT_HASH.into(), json!(c.content_hash));
        p.insert(keys::EMBEDDING_MODEL.into(), json!(c.embedding_model));
        p.insert(keys::SPARSE_MODEL.into(), json!(self.bm25.signature()));
        p
    }
}

fn skipped(doc: &str, reason: SkipReason) -> Skipped {
    tracing::warn!(%doc, %reason, "document skipped");
    Skipped {
        path: doc.to_string(),
        reason,
    }
}

/// `doc` as a relative path that stays inside its tree (no root, no `..`, no empty
/// segment), or `None`.
fn relative_doc_path(doc: &str) -> Option<&Path> {
    let ok = !doc.is_empty()
        && doc.len() <= 512
        && !doc.starts_with('/')
        && !doc.contains('\\')
        && doc.split('/').all(|seg| {
            !seg.is_empty() && seg != "." && seg != ".." && !seg.chars().any(char::is_control)
        });
    ok.then(|| Path::new(doc))
}

/// See [`Ingestor::check_model`]; the retriever runs the same check.
pub async fn check_model(
    index: &dyn VectorIndex,
    source: &str,
    model_id: &str,
    bm25: &Bm25,
) -> Result<()> {
    let sparse = bm25.signature();
    for (_, payload) in index.ids_where(keys::SOURCE, source).await? {
        let field = |k: &str| {
            payload
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("an unknown model")
                .to_string()
        };
        let indexed = field(keys::EMBEDDING_MODEL);
        if indexed != model_id {
            return Err(RetrievalError::ModelMismatch {
                indexed,
                current: model_id.to_string(),
            });
        }
        let indexed = field(keys::SPARSE_MODEL);
        if indexed != sparse {
            return Err(RetrievalError::ModelMismatch {
                indexed,
                current: sparse,
            });
        }
    }
    Ok(())
}

/// Document files under `paths`, in a stable order; `doc` is the path relative to the
/// directory given (a file given directly is named by its file name).
fn find_documents(paths: &[PathBuf]) -> Result<Vec<Found>> {
    let mut found = Vec::new();
    for root in paths {
        let meta = std::fs::metadata(root).map_err(RetrievalError::io(root))?;
        let base: &Path = if meta.is_dir() {
            root
        } else {
            root.parent().unwrap_or(Path::new(""))
        };
        for entry in WalkDir::new(root).follow_links(false).sort_by_file_name() {
            let entry = entry.map_err(|e| RetrievalError::Io {
                path: e.path().map_or_else(|| root.clone(), Path::to_path_buf),
                source: e
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("file system loop")),
            })?;
            if !entry.file_type().is_file() {
                continue;
            }
            let Some(kind) = DocKind::of(entry.path()) else {
                continue;
            };
            let rel = entry.path().strip_prefix(base).unwrap_or(entry.path());
            let doc = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            found.push(Found {
                path: entry.path().to_path_buf(),
                doc,
                kind,
            });
        }
    }
    Ok(found)
}
