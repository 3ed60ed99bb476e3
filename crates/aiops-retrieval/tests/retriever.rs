//! The hybrid retriever over the in-memory index double with the real model: the daemon's
//! `Retriever` seam, `answer` for `ops.ask`, filters and thresholds, and the evaluation on the
//! shared runbook corpus.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use std::sync::Arc;

use aiops_core::{ErrorCode, Retrieval, Retriever};
use aiops_retrieval::{
    Answer, Bm25, EvalOptions, Filter, HybridRetriever, IngestOptions, Ingestor, RetrieverOptions,
    eval_retrieval,
};
use support::MemoryIndex;

const RUNBOOKS: &[(&str, &str)] = &[
    (
        "node/NodeFilesystemAlmostOutOfSpace.md",
        "---\ntitle: Node Filesystem Almost Out Of Space\n---\n# NodeFilesystemAlmostOutOfSpace\n## Meaning\nThe filesystem on a node is nearly full.\n## Mitigation\nRemove old log files or grow the volume.\n",
    ),
    (
        "etcd/etcdNoLeader.md",
        "---\ntitle: etcd No Leader\ntags: [etcd]\n---\n# etcdNoLeader\n## Meaning\nThe etcd cluster has no leader: writes fail.\n## Diagnosis\nCheck network partitions between members.\n",
    ),
    (
        "kubernetes/KubePodCrashLooping.md",
        "---\ntitle: Kube Pod Crash Looping\n---\n# KubePodCrashLooping\n## Meaning\nA pod restarts again and again: the app dies at start.\n## Diagnosis\nRead the pod logs and events.\n",
    ),
];

async fn retriever(opts: RetrieverOptions) -> (Arc<MemoryIndex>, HybridRetriever) {
    let dir = tempfile::tempdir().unwrap();
    for (rel, text) in RUNBOOKS {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let index = MemoryIndex::new();
    let model = Arc::new(support::minilm());
    Ingestor::new(
        index.clone(),
        model.clone(),
        Bm25::default(),
        IngestOptions::new("runbooks"),
    )
    .ingest(&[dir.path().to_path_buf()], |_| {})
    .await
    .unwrap();
    (
        index.clone(),
        HybridRetriever::new(index, model, Bm25::default(), opts),
    )
}

#[tokio::test]
async fn questions_find_their_runbook_with_citations() {
    let (_, r) = retriever(RetrieverOptions::default()).await;
    let Answer::Passages { passages } = r
        .answer("my pod keeps restarting, what should I look at?")
        .await
        .unwrap()
    else {
        panic!("no passages")
    };
    assert_eq!(passages.len(), 3);
    let top = &passages[0].citation;
    assert_eq!(top.doc, "kubernetes/KubePodCrashLooping.md");
    assert_eq!(top.source, "runbooks");
    assert_eq!(top.title.as_deref(), Some("Kube Pod Crash Looping"));
    assert!(top.heading.starts_with("KubePodCrashLooping > "));
    assert_eq!(top.chunk_id.len(), 64);
    assert!(passages.windows(2).all(|w| w[0].score >= w[1].score));
    let json = serde_json::to_value(Answer::Passages { passages }).unwrap();
    assert_eq!(json["kind"], "passages");
}

#[tokio::test]
async fn the_retriever_seam_gives_context_chunks_and_skips_an_empty_index() {
    let (_, r) = retriever(RetrieverOptions::default()).await;
    assert_eq!(r.name(), "hybrid");
    let Retrieval::Found { chunks } = r.retrieve("etcd has no leader").await.unwrap() else {
        panic!("nothing found")
    };
    assert_eq!(chunks[0].source, "runbooks/etcd/etcdNoLeader.md");
    assert!(
        chunks[0]
            .title
            .as_deref()
            .unwrap()
            .starts_with("etcd No Leader: etcdNoLeader > ")
    );
    assert!(chunks[0].score > 0.0);

    let empty = HybridRetriever::new(
        MemoryIndex::new(),
        Arc::new(support::minilm()),
        Bm25::default(),
        RetrieverOptions::default(),
    );
    assert!(matches!(
        empty.retrieve("anything").await.unwrap(),
        Retrieval::Skipped { .. }
    ));
}

#[tokio::test]
async fn filters_and_the_score_threshold_can_leave_no_runbook() {
    let (_, tagged) = retriever(RetrieverOptions {
        filter: Filter {
            sources: vec![],
            tags: vec!["etcd".into()],
        },
        top_k: 5,
        ..Default::default()
    })
    .await;
    let chunks = tagged.search("a pod is crash looping").await.unwrap();
    assert!(!chunks.is_empty());
    assert!(
        chunks
            .iter()
            .all(|c| c.citation.doc == "etcd/etcdNoLeader.md")
    );

    let (_, other_source) = retriever(RetrieverOptions {
        filter: Filter {
            sources: vec!["elsewhere".into()],
            tags: vec![],
        },
        ..Default::default()
    })
    .await;
    let a = other_source.answer("etcd has no leader").await.unwrap();
    assert!(matches!(a, Answer::NoRunbook { .. }), "{a:?}");

    let (_, strict) = retriever(RetrieverOptions {
        min_similarity: 0.99,
        ..Default::default()
    })
    .await;
    assert!(matches!(
        strict.answer("etcd has no leader").await.unwrap(),
        Answer::NoRunbook { .. }
    ));
}

#[tokio::test]
async fn a_model_mismatch_is_refused_by_the_retriever_too() {
    let (index, r) = retriever(RetrieverOptions::default()).await;
    r.check_model("runbooks").await.unwrap();
    let mut other = support::Counting::new(support::minilm());
    other.model_id = Some("ollama:nomic-embed-text".into());
    let r2 = HybridRetriever::new(
        index,
        Arc::new(other),
        Bm25::default(),
        RetrieverOptions::default(),
    );
    let err = r2.check_model("runbooks").await.unwrap_err();
    assert_eq!(err.code(), "embedding_model_mismatch");
}

#[tokio::test]
async fn an_index_that_is_down_fails_retrieval_with_a_stable_code() {
    let (index, r) = retriever(RetrieverOptions::default()).await;
    *index.down.lock().unwrap() = true;
    let err = r.retrieve("etcd has no leader").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RetrievalUnavailable);
    assert!(
        err.message.contains("vector_unavailable"),
        "{}",
        err.message
    );
}

/// The shared evaluation: 110 real runbooks, 24 questions. Target recall@3 ≥ 0.9.
#[tokio::test(flavor = "multi_thread")]
async fn evaluation_on_the_prometheus_runbooks() {
    let eval = support::shared_eval();
    let report = eval_retrieval(
        MemoryIndex::new(),
        Arc::new(support::minilm()),
        &eval.join("ask.jsonl"),
        &eval.join("corpus/prometheus-runbooks"),
        &EvalOptions::new("prometheus-runbooks"),
    )
    .await
    .unwrap();
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    assert_eq!(report.questions, 24);
    assert!(report.ingest.documents >= 110, "{:?}", report.ingest);
    assert!(report.recall_at_3 >= 0.9, "recall@3 {}", report.recall_at_3);
    assert!(report.recall_at_1 <= report.recall_at_3 && report.mrr >= report.recall_at_1);
}
