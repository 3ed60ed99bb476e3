//! Ingest into the real embedded index (a Qdrant Edge shard in a temporary directory) with
//! the real MiniLM model: idempotence, updates, deletions, skipped files, per-document
//! atomicity (a fault injector around the real index breaks a write), limits, the model
//! check, and documents given as text (`put`, `retain`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use aiops_retrieval::{
    Bm25, Embedder, IngestOptions, Ingestor, RetrievalError, SkipReason, TextDocument, VectorIndex,
};
use support::{Counting, Edge, Faulty, payloads, points_where, texts_of};

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

fn ingestor(index: Arc<dyn VectorIndex>, embedder: Arc<dyn Embedder>) -> Ingestor {
    Ingestor::new(
        index,
        embedder,
        Bm25::default(),
        IngestOptions::new("runbooks"),
    )
}

/// Source `runbooks` with the real model and options changed by `tune`.
fn tuned_ingestor(index: Arc<dyn VectorIndex>, tune: impl FnOnce(&mut IngestOptions)) -> Ingestor {
    let mut opts = IngestOptions::new("runbooks");
    tune(&mut opts);
    Ingestor::new(index, Arc::new(support::minilm()), Bm25::default(), opts)
}

/// The payload of one point of `node/DiskFull.md`, whose title came from its front matter.
async fn disk_full_payload(index: &dyn VectorIndex) -> aiops_vector::Payload {
    let p = payloads(index, "runbooks")
        .await
        .into_iter()
        .find(|p| p["doc"] == "node/DiskFull.md")
        .expect("a point of node/DiskFull.md");
    assert_eq!(p["title"], "Disk Full");
    p
}

#[tokio::test]
async fn a_second_run_embeds_nothing_and_changes_nothing() {
    let dir = corpus();
    let edge = Edge::new();
    let index = edge.index.as_ref();
    let embedder = Arc::new(Counting::new(support::minilm()));
    let ing = ingestor(edge.index.clone(), embedder.clone());
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
    assert_eq!(index.count().await.unwrap(), 5);
    let before = points_where(index, "source", "runbooks").await;
    assert_eq!(before.len(), 5);

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
    assert_eq!(
        points_where(index, "source", "runbooks").await,
        before,
        "the same point ids with the same payloads"
    );
    assert_eq!(index.count().await.unwrap(), 5);

    // Every point carries what a citation and the model check need; front matter is not text.
    let p = disk_full_payload(index).await;
    assert_eq!(p["tags"], serde_json::json!(["storage"]));
    assert_eq!(p["source"], "runbooks");
    assert_eq!(
        p["embedding_model"],
        "sentence-transformers/all-MiniLM-L6-v2"
    );
    assert!(p["heading"].as_str().unwrap().starts_with("DiskFull > "));
    assert_eq!(p["chunk_id"].as_str().unwrap().len(), 64);
    assert!(
        payloads(index, "runbooks")
            .await
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
    let edge = Edge::new();
    let index = edge.index.as_ref();
    let embedder = Arc::new(Counting::new(support::minilm()));
    let ing = ingestor(edge.index.clone(), embedder.clone());
    let paths = [dir.path().to_path_buf()];
    ing.ingest(&paths, |_| {}).await.unwrap();
    let etcd = points_where(index, "doc", "etcd/etcdNoLeader.markdown").await;
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
        texts_of(index, "node/DiskFull.md").await,
        [
            "Rotate and compress logs.",
            "The filesystem is almost full."
        ]
    );
    assert!(texts_of(index, "notes.txt").await.is_empty());
    assert_eq!(index.count().await.unwrap(), 4);
    // The other document's points are the same points (ids and payloads), not rewritten.
    assert_eq!(
        points_where(index, "doc", "etcd/etcdNoLeader.markdown").await,
        etcd
    );
}

#[tokio::test]
async fn a_failed_write_leaves_the_previous_version_whole() {
    let dir = corpus();
    let edge = Edge::new();
    let index = edge.index.as_ref();
    let faulty = Faulty::new(edge.index.clone());
    let ing = ingestor(faulty.clone(), Arc::new(support::minilm()));
    let paths = [dir.path().to_path_buf()];
    ing.ingest(&paths, |_| {}).await.unwrap();
    let old = texts_of(index, "node/DiskFull.md").await;

    write(
        dir.path(),
        "node/DiskFull.md",
        DISK.replace("Delete old logs.", "Something new.")
            .as_bytes(),
    );
    faulty.fail_after(0);
    let err = ing.ingest(&paths, |_| {}).await.unwrap_err();
    assert_eq!(err.code(), "vector_unavailable");
    assert_eq!(texts_of(index, "node/DiskFull.md").await, old);
    assert_eq!(
        index.count().await.unwrap(),
        5,
        "nothing written, nothing deleted"
    );

    faulty.heal();
    ing.ingest(&paths, |_| {}).await.unwrap();
    assert_eq!(
        texts_of(index, "node/DiskFull.md").await,
        ["Something new.", "The filesystem is almost full."]
    );
}

#[tokio::test]
async fn a_failure_in_the_middle_of_a_document_keeps_the_old_version_whole() {
    let dir = corpus();
    let edge = Edge::new();
    let index = edge.index.as_ref();
    let faulty = Faulty::new(edge.index.clone());
    // One chunk per upsert, so an edit of both sections takes two writes.
    let ing = tuned_ingestor(faulty.clone(), |o| o.embed_batch = 1);
    let paths = [dir.path().to_path_buf()];
    ing.ingest(&paths, |_| {}).await.unwrap();
    let old = texts_of(index, "node/DiskFull.md").await;
    let others = points_where(index, "doc", "etcd/etcdNoLeader.markdown").await;

    let edited = DISK
        .replace("Delete old logs.", "Rotate logs.")
        .replace("almost full.", "nearly full.");
    write(dir.path(), "node/DiskFull.md", edited.as_bytes());
    faulty.fail_after(1);
    let err = ing.ingest(&paths, |_| {}).await.unwrap_err();
    assert_eq!(err.code(), "vector_unavailable");
    // The first new chunk is in, the second never came: every old chunk is still there.
    let now = texts_of(index, "node/DiskFull.md").await;
    assert_eq!(now.len(), old.len() + 1, "{now:?}");
    assert!(
        old.iter().all(|t| now.contains(t)),
        "old version broken: {now:?}"
    );
    assert_eq!(
        points_where(index, "doc", "etcd/etcdNoLeader.markdown").await,
        others
    );

    // The next run finishes the job: the written chunk is kept, the rest replaced.
    faulty.heal();
    let s = ing.ingest(&paths, |_| {}).await.unwrap();
    assert_eq!(
        (s.chunks_added, s.chunks_kept, s.chunks_removed),
        (1, 4, 2),
        "{s:?}"
    );
    assert_eq!(
        texts_of(index, "node/DiskFull.md").await,
        ["Rotate logs.", "The filesystem is nearly full."]
    );
}

#[tokio::test]
async fn unreadable_kinds_of_files_are_skipped_with_reasons_and_leave_the_index() {
    let dir = corpus();
    let edge = Edge::new();
    let index = edge.index.as_ref();
    let ing = tuned_ingestor(edge.index.clone(), |o| {
        o.max_file_bytes = 2000;
        o.max_chunks_per_doc = 3;
    });
    let paths = [dir.path().to_path_buf()];
    ing.ingest(&paths, |_| {}).await.unwrap();
    assert!(!texts_of(index, "notes.txt").await.is_empty());

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
        texts_of(index, "notes.txt").await.is_empty(),
        "a skipped document leaves the index"
    );
    for never in ["big.md", "bin.md", "many.md"] {
        assert!(texts_of(index, never).await.is_empty(), "{never}");
    }
    assert_eq!(s.documents, 2);
    assert_eq!(index.count().await.unwrap(), 4);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["skipped"][0]["reason"]["kind"], "too_large");
    assert_eq!(json["skipped"][3]["reason"]["kind"], "not_utf8");
}

#[tokio::test]
async fn another_model_is_refused_at_start_up_and_a_reingest_replaces_its_vectors() {
    let dir = corpus();
    let edge = Edge::new();
    let index = edge.index.as_ref();
    let paths = [dir.path().to_path_buf()];
    let ing = ingestor(edge.index.clone(), Arc::new(support::minilm()));
    ing.ensure().await.unwrap();
    ing.check_model()
        .await
        .expect("an empty index fits any model");
    ing.ingest(&paths, |_| {}).await.unwrap();
    ing.check_model().await.unwrap();

    let mut other = Counting::new(support::minilm());
    other.model_id = Some("other-model".into());
    let other = ingestor(edge.index.clone(), Arc::new(other));
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
    let all = payloads(index, "runbooks").await;
    assert_eq!(all.len(), 5);
    assert!(all.iter().all(|p| p["embedding_model"] == "other-model"));
}

#[tokio::test]
async fn sources_are_separate_and_a_single_file_can_be_ingested() {
    let dir = corpus();
    let edge = Edge::new();
    let index = edge.index.as_ref();
    let model: Arc<dyn Embedder> = Arc::new(support::minilm());
    let a = Ingestor::new(
        edge.index.clone(),
        model.clone(),
        Bm25::default(),
        IngestOptions::new("a"),
    );
    let b = Ingestor::new(
        edge.index.clone(),
        model,
        Bm25::default(),
        IngestOptions::new("b"),
    );
    a.ingest(&[dir.path().to_path_buf()], |_| {}).await.unwrap();
    let of_a = points_where(index, "source", "a").await;
    assert_eq!(of_a.len(), 5);
    let file: PathBuf = dir.path().join("node/DiskFull.md");
    let s = b.ingest(&[file], |_| {}).await.unwrap();
    assert_eq!(
        (s.documents, s.chunks_added, s.documents_removed),
        (1, 2, 0)
    );
    assert_eq!(points_where(index, "doc", "DiskFull.md").await.len(), 2);
    assert_eq!(
        points_where(index, "source", "a").await,
        of_a,
        "source a untouched"
    );
    let missing = a
        .ingest(&[dir.path().join("nope")], |_| {})
        .await
        .unwrap_err();
    assert_eq!(missing.code(), "retrieval_io");
}

fn text(doc: &str, text: &str) -> TextDocument {
    TextDocument {
        doc: doc.into(),
        text: text.into(),
    }
}

#[tokio::test]
async fn documents_put_as_text_replace_their_versions_and_retain_removes_the_rest() {
    let edge = Edge::new();
    let index = edge.index.as_ref();
    let embedder = Arc::new(Counting::new(support::minilm()));
    let ing = ingestor(edge.index.clone(), embedder.clone());

    let first = ing
        .put(vec![
            text("node/DiskFull.md", DISK),
            text("etcd/etcdNoLeader.markdown", ETCD),
            text("notes.txt", "Plain notes about on-call handover.\n"),
        ])
        .await
        .unwrap();
    assert_eq!(
        (first.documents, first.chunks_added, first.chunks_removed),
        (3, 5, 0),
        "{first:?}"
    );
    assert!(first.skipped.is_empty(), "{first:?}");
    assert_eq!(index.count().await.unwrap(), 5);
    let before = points_where(index, "source", "runbooks").await;
    // Front matter is read as from a file on disk.
    disk_full_payload(index).await;

    // The same documents again: nothing embedded, added or removed.
    let again = ing
        .put(vec![
            text("node/DiskFull.md", DISK),
            text("notes.txt", "Plain notes about on-call handover.\n"),
        ])
        .await
        .unwrap();
    assert_eq!(
        (
            again.documents,
            again.chunks_added,
            again.chunks_kept,
            again.chunks_removed,
            again.documents_removed
        ),
        (2, 0, 3, 0, 0),
        "{again:?}"
    );
    assert_eq!(embedder.count(), 5, "nothing re-embedded");
    assert_eq!(points_where(index, "source", "runbooks").await, before);

    // An edit replaces that document's changed chunk only; the others keep their points.
    let etcd = points_where(index, "doc", "etcd/etcdNoLeader.markdown").await;
    let edited = ing
        .put(vec![text(
            "node/DiskFull.md",
            &DISK.replace("Delete old logs.", "Rotate logs."),
        )])
        .await
        .unwrap();
    assert_eq!(
        (
            edited.chunks_added,
            edited.chunks_kept,
            edited.chunks_removed
        ),
        (1, 1, 1),
        "{edited:?}"
    );
    assert_eq!(
        texts_of(index, "node/DiskFull.md").await,
        ["Rotate logs.", "The filesystem is almost full."]
    );
    assert_eq!(
        points_where(index, "doc", "etcd/etcdNoLeader.markdown").await,
        etcd
    );

    // Paths that are not relative document paths inside the tree are skipped.
    let bad = ["../x.md", "/etc/x.md", "x.pdf", "a/./b.md", "", "a\\b.md"];
    let refused = ing
        .put(bad.iter().map(|d| text(d, "# X\nSomething.\n")).collect())
        .await
        .unwrap();
    assert_eq!(
        refused
            .skipped
            .iter()
            .map(|s| (s.path.as_str(), &s.reason))
            .collect::<Vec<_>>(),
        bad.iter()
            .map(|d| (*d, &SkipReason::UnsupportedPath))
            .collect::<Vec<_>>()
    );
    assert_eq!((refused.documents, refused.chunks_added), (0, 0));
    assert_eq!(index.count().await.unwrap(), 5, "nothing written");
    let json = serde_json::to_value(&refused).unwrap();
    assert_eq!(json["skipped"][0]["reason"]["kind"], "unsupported_path");

    // The end of an upload: documents not named are removed, the named ones stay as they are.
    let kept_etcd = points_where(index, "doc", "etcd/etcdNoLeader.markdown").await;
    let keep: BTreeSet<String> = ["etcd/etcdNoLeader.markdown", "notes.txt", "never-put.md"]
        .map(String::from)
        .into();
    let retained = ing.retain(&keep).await.unwrap();
    assert_eq!(
        (
            retained.documents_removed,
            retained.chunks_removed,
            retained.chunks_added
        ),
        (1, 2, 0),
        "{retained:?}"
    );
    assert!(texts_of(index, "node/DiskFull.md").await.is_empty());
    assert_eq!(
        points_where(index, "doc", "etcd/etcdNoLeader.markdown").await,
        kept_etcd
    );
    assert_eq!(index.count().await.unwrap(), 3);
    let again = ing.retain(&keep).await.unwrap();
    assert_eq!((again.documents_removed, again.chunks_removed), (0, 0));
}
