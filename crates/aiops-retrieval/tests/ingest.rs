//! Ingest against the in-memory index double with the real MiniLM model: idempotence,
//! updates, deletions, skipped files, per-document atomicity, limits and the model check.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use aiops_retrieval::{
    Bm25, Embedder, IngestOptions, Ingestor, RetrievalError, SkipReason, VectorIndex,
};
use support::{Counting, MemoryIndex};

fn write(dir: &Path, rel: &str, text: &[u8]) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

const DISK: &str = "---\ntitle: Disk Full\ntags: [storage]\nweight: 3\n---\n# DiskFull\n## Meaning\nThe filesystem is almost full.\n## Mitigation\nDelete old logs.\n";
const ETCD: &str = "# etcdNoLeader\n## Meaning\nThe etcd cluster has no leader.\n## Diagnosis\nCheck the network between members.\n";

fn corpus() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "node/DiskFull.md", DISK.as_bytes());
    write(dir.path(), "etcd/etcdNoLeader.markdown", ETCD.as_bytes());
    write(
        dir.path(),
        "notes.txt",
        b"Plain notes about on-call handover.\n",
    );
    write(dir.path(), "image.png", b"\x89PNG not a document");
    dir
}

fn ingestor(index: &Arc<MemoryIndex>, embedder: Arc<dyn Embedder>) -> Ingestor {
    Ingestor::new(
        index.clone(),
        embedder,
        Bm25::default(),
        IngestOptions::new("runbooks"),
    )
}

/// Source `runbooks` with the real model and options changed by `tune`.
fn tuned_ingestor(index: &Arc<MemoryIndex>, tune: impl FnOnce(&mut IngestOptions)) -> Ingestor {
    let mut opts = IngestOptions::new("runbooks");
    tune(&mut opts);
    Ingestor::new(
        index.clone(),
        Arc::new(support::minilm()),
        Bm25::default(),
        opts,
    )
}

#[tokio::test]
async fn a_second_run_embeds_nothing_and_changes_nothing() {
    let dir = corpus();
    let index = MemoryIndex::new();
    let embedder = Arc::new(Counting::new(support::minilm()));
    let ing = ingestor(&index, embedder.clone());
    let paths = [dir.path().to_path_buf()];
    let progress = Mutex::new(Vec::new());
    let first = ing
        .ingest(&paths, |p| {
            progress
                .lock()
                .unwrap()
                .push((p.done, p.total, p.doc.clone()))
        })
        .await
        .unwrap();
    assert_eq!(first.documents, 3);
    assert_eq!(first.chunks_added, 5, "{first:?}");
    assert_eq!((first.chunks_kept, first.chunks_removed), (0, 0));
    assert!(
        first.skipped.is_empty(),
        "a .png is not a document: {first:?}"
    );
    assert_eq!(
        *progress.lock().unwrap(),
        [
            (1, 3, "etcd/etcdNoLeader.markdown".to_string()),
            (2, 3, "node/DiskFull.md".to_string()),
            (3, 3, "notes.txt".to_string())
        ]
    );
    assert_eq!(embedder.count(), 5);
    let before = index.payloads();

    let second = ing.ingest(&paths, |_| {}).await.unwrap();
    assert_eq!(
        (
            second.chunks_added,
            second.chunks_kept,
            second.chunks_removed
        ),
        (0, 5, 0)
    );
    assert_eq!(embedder.count(), 5, "nothing re-embedded");
    assert_eq!(index.payloads(), before);

    // Every point carries what a citation and the model check need; front matter is not text.
    let p = index
        .payloads()
        .into_iter()
        .find(|p| p["doc"] == "node/DiskFull.md")
        .unwrap();
    assert_eq!(p["title"], "Disk Full");
    assert_eq!(p["tags"], serde_json::json!(["storage"]));
    assert_eq!(p["source"], "runbooks");
    assert_eq!(
        p["embedding_model"],
        "sentence-transformers/all-MiniLM-L6-v2"
    );
    assert!(p["heading"].as_str().unwrap().starts_with("DiskFull > "));
    assert_eq!(p["chunk_id"].as_str().unwrap().len(), 64);
    assert!(
        index
            .payloads()
            .iter()
            .all(|p| !p["text"].as_str().unwrap().contains("weight"))
    );

    let json = serde_json::to_value(&second).unwrap();
    assert_eq!(json["chunks_kept"], 5);
    assert!(json["seconds"].as_f64().is_some());
}

#[tokio::test]
async fn an_edited_document_swaps_only_its_changed_chunks_and_a_deleted_one_goes() {
    let dir = corpus();
    let index = MemoryIndex::new();
    let embedder = Arc::new(Counting::new(support::minilm()));
    let ing = ingestor(&index, embedder.clone());
    let paths = [dir.path().to_path_buf()];
    ing.ingest(&paths, |_| {}).await.unwrap();
    let etcd = index
        .ids_where("doc", "etcd/etcdNoLeader.markdown")
        .await
        .unwrap();
    assert_eq!(etcd.len(), 2);

    write(
        dir.path(),
        "node/DiskFull.md",
        DISK.replace("Delete old logs.", "Rotate and compress logs.")
            .as_bytes(),
    );
    std::fs::remove_file(dir.path().join("notes.txt")).unwrap();
    let s = ing.ingest(&paths, |_| {}).await.unwrap();
    assert_eq!(
        (s.chunks_added, s.chunks_kept, s.chunks_removed),
        (1, 3, 2),
        "{s:?}"
    );
    assert_eq!(s.documents_removed, 1);
    assert_eq!(embedder.count(), 6);
    assert_eq!(
        index.texts_of("node/DiskFull.md"),
        [
            "Rotate and compress logs.",
            "The filesystem is almost full."
        ]
    );
    assert!(index.texts_of("notes.txt").is_empty());
    assert_eq!(index.count().await.unwrap(), 4);
    // The other document's points are the same points (ids and payloads), not rewritten.
    assert_eq!(
        index
            .ids_where("doc", "etcd/etcdNoLeader.markdown")
            .await
            .unwrap(),
        etcd
    );
}

#[tokio::test]
async fn a_failed_write_leaves_the_previous_version_whole() {
    let dir = corpus();
    let index = MemoryIndex::new();
    let ing = ingestor(&index, Arc::new(support::minilm()));
    let paths = [dir.path().to_path_buf()];
    ing.ingest(&paths, |_| {}).await.unwrap();
    let old = index.texts_of("node/DiskFull.md");

    write(
        dir.path(),
        "node/DiskFull.md",
        DISK.replace("Delete old logs.", "Something new.")
            .as_bytes(),
    );
    *index.fail_upsert_of_doc.lock().unwrap() = Some(("node/DiskFull.md".into(), 0));
    let err = ing.ingest(&paths, |_| {}).await.unwrap_err();
    assert_eq!(err.code(), "vector_unavailable");
    assert_eq!(index.texts_of("node/DiskFull.md"), old);

    *index.fail_upsert_of_doc.lock().unwrap() = None;
    ing.ingest(&paths, |_| {}).await.unwrap();
    assert_eq!(
        index.texts_of("node/DiskFull.md"),
        ["Something new.", "The filesystem is almost full."]
    );
}

#[tokio::test]
async fn a_failure_in_the_middle_of_a_document_keeps_the_old_version_whole() {
    let dir = corpus();
    let index = MemoryIndex::new();
    // One chunk per upsert, so an edit of both sections takes two writes.
    let ing = tuned_ingestor(&index, |o| o.embed_batch = 1);
    let paths = [dir.path().to_path_buf()];
    ing.ingest(&paths, |_| {}).await.unwrap();
    let old = index.texts_of("node/DiskFull.md");
    let others = index.texts_of("etcd/etcdNoLeader.markdown");

    let edited = DISK
        .replace("Delete old logs.", "Rotate logs.")
        .replace("almost full.", "nearly full.");
    write(dir.path(), "node/DiskFull.md", edited.as_bytes());
    *index.fail_upsert_of_doc.lock().unwrap() = Some(("node/DiskFull.md".into(), 1));
    let err = ing.ingest(&paths, |_| {}).await.unwrap_err();
    assert_eq!(err.code(), "vector_unavailable");
    // The first new chunk is in, the second never came: every old chunk is still there.
    let now = index.texts_of("node/DiskFull.md");
    assert_eq!(now.len(), old.len() + 1, "{now:?}");
    assert!(
        old.iter().all(|t| now.contains(t)),
        "old version broken: {now:?}"
    );
    assert_eq!(index.texts_of("etcd/etcdNoLeader.markdown"), others);

    // The next run finishes the job: the written chunk is kept, the rest replaced.
    *index.fail_upsert_of_doc.lock().unwrap() = None;
    let s = ing.ingest(&paths, |_| {}).await.unwrap();
    assert_eq!(
        (s.chunks_added, s.chunks_kept, s.chunks_removed),
        (1, 4, 2),
        "{s:?}"
    );
    assert_eq!(
        index.texts_of("node/DiskFull.md"),
        ["Rotate logs.", "The filesystem is nearly full."]
    );
}

#[tokio::test]
async fn unreadable_kinds_of_files_are_skipped_with_reasons_and_leave_the_index() {
    let dir = corpus();
    let index = MemoryIndex::new();
    let ing = tuned_ingestor(&index, |o| {
        o.max_file_bytes = 2000;
        o.max_chunks_per_doc = 3;
    });
    let paths = [dir.path().to_path_buf()];
    ing.ingest(&paths, |_| {}).await.unwrap();
    assert!(!index.texts_of("notes.txt").is_empty());

    write(dir.path(), "notes.txt", b"caf\xe9 latin-1\n");
    write(dir.path(), "bin.md", b"# x\n\0\x01\x02");
    write(dir.path(), "big.md", "# Big\n".repeat(1000).as_bytes());
    write(dir.path(), "many.md", b"# a\n1\n# b\n2\n# c\n3\n# d\n4\n");
    let s = ing.ingest(&paths, |_| {}).await.unwrap();
    let reasons: Vec<(&str, &SkipReason)> = s
        .skipped
        .iter()
        .map(|k| (k.path.as_str(), &k.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            (
                "big.md",
                &SkipReason::TooLarge {
                    bytes: 6000,
                    limit: 2000
                }
            ),
            ("bin.md", &SkipReason::Binary),
            (
                "many.md",
                &SkipReason::TooManyChunks {
                    chunks: 4,
                    limit: 3
                }
            ),
            ("notes.txt", &SkipReason::NotUtf8),
        ]
    );
    assert!(
        index.texts_of("notes.txt").is_empty(),
        "a skipped document leaves the index"
    );
    assert_eq!(s.documents, 2);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["skipped"][0]["reason"]["kind"], "too_large");
    assert_eq!(json["skipped"][3]["reason"]["kind"], "not_utf8");
}

#[tokio::test]
async fn another_model_is_refused_at_start_up_and_a_reingest_replaces_its_vectors() {
    let dir = corpus();
    let index = MemoryIndex::new();
    let paths = [dir.path().to_path_buf()];
    let ing = ingestor(&index, Arc::new(support::minilm()));
    ing.check_model()
        .await
        .expect("an empty index fits any model");
    ing.ingest(&paths, |_| {}).await.unwrap();
    ing.check_model().await.unwrap();

    let mut other = Counting::new(support::minilm());
    other.model_id = Some("other-model".into());
    let other = ingestor(&index, Arc::new(other));
    let err = other.check_model().await.unwrap_err();
    assert!(matches!(err, RetrievalError::ModelMismatch { .. }));
    assert_eq!(err.code(), "embedding_model_mismatch");
    assert_eq!(
        err.to_string(),
        "the index was built with sentence-transformers/all-MiniLM-L6-v2, this daemon embeds with other-model: re-ingest"
    );

    let s = other.ingest(&paths, |_| {}).await.unwrap();
    assert_eq!((s.chunks_added, s.chunks_kept, s.chunks_removed), (5, 0, 5));
    other.check_model().await.unwrap();
    assert!(
        index
            .payloads()
            .iter()
            .all(|p| p["embedding_model"] == "other-model")
    );
}

#[tokio::test]
async fn sources_are_separate_and_a_single_file_can_be_ingested() {
    let dir = corpus();
    let index = MemoryIndex::new();
    let model: Arc<dyn Embedder> = Arc::new(support::minilm());
    let a = Ingestor::new(
        index.clone(),
        model.clone(),
        Bm25::default(),
        IngestOptions::new("a"),
    );
    let b = Ingestor::new(
        index.clone(),
        model,
        Bm25::default(),
        IngestOptions::new("b"),
    );
    a.ingest(&[dir.path().to_path_buf()], |_| {}).await.unwrap();
    let file: PathBuf = dir.path().join("node/DiskFull.md");
    let s = b.ingest(&[file], |_| {}).await.unwrap();
    assert_eq!(
        (s.documents, s.chunks_added, s.documents_removed),
        (1, 2, 0)
    );
    assert_eq!(
        index.ids_where("doc", "DiskFull.md").await.unwrap().len(),
        2
    );
    assert_eq!(
        index.ids_where("source", "a").await.unwrap().len(),
        5,
        "source a untouched"
    );
    let missing = a
        .ingest(&[dir.path().join("nope")], |_| {})
        .await
        .unwrap_err();
    assert_eq!(missing.code(), "retrieval_io");
}
