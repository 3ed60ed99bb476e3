//! Ingest and search scenarios written once and run against each real backend: the embedded
//! Qdrant Edge shard (`tests/retriever.rs`) and a Qdrant server (`tests/server.rs`).

use std::sync::Arc;

use aiops_retrieval::{
    Answer, Bm25, DEFAULT_MIN_SIMILARITY, EvalOptions, EvalReport, HybridRetriever, IngestOptions,
    Ingestor, RetrieverOptions, VectorIndex, eval_retrieval,
};

/// Three small runbooks, one per topic, so each question has one right document.
pub const RUNBOOKS: &[(&str, &str)] = &[
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

/// Ingests [`RUNBOOKS`] (source `runbooks`) into `index` and returns a retriever over it.
pub async fn runbooks_retriever(
    index: Arc<dyn VectorIndex>,
    opts: RetrieverOptions,
) -> HybridRetriever {
    let dir = tempfile::tempdir().unwrap();
    for (rel, text) in RUNBOOKS {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let model = Arc::new(super::minilm());
    let summary = Ingestor::new(
        index.clone(),
        model.clone(),
        Bm25::default(),
        IngestOptions::new("runbooks"),
    )
    .ingest(&[dir.path().to_path_buf()], |_| {})
    .await
    .unwrap();
    assert_eq!(
        (summary.documents, summary.chunks_added),
        (3, 6),
        "{summary:?}"
    );
    HybridRetriever::new(index, model, Bm25::default(), opts)
}

/// The passages of an answer, or a panic naming what came instead.
pub fn passages(answer: Answer) -> Vec<aiops_retrieval::Passage> {
    match answer {
        Answer::Passages { passages } => passages,
        other => panic!("expected passages, got {other:?}"),
    }
}

/// Questions the runbooks answer find them first, with citations, and every passage is
/// relevant (similarity at or above the default threshold).
pub async fn questions_find_their_runbook(r: &HybridRetriever) {
    let cases = [
        (
            "my pod keeps restarting, what should I look at?",
            "kubernetes/KubePodCrashLooping.md",
        ),
        ("etcd has no leader", "etcd/etcdNoLeader.md"),
        (
            "the disk of a node is nearly full",
            "node/NodeFilesystemAlmostOutOfSpace.md",
        ),
    ];
    for (question, doc) in cases {
        let found = passages(r.answer(question).await.unwrap());
        assert!(
            !found.is_empty() && found.len() <= 3,
            "{question}: {found:?}"
        );
        assert_eq!(found[0].citation.doc, doc, "{question}: {found:?}");
        for p in &found {
            assert!(
                p.similarity >= DEFAULT_MIN_SIMILARITY && p.similarity <= 1.0 + 1e-5,
                "{question}: {} has similarity {}",
                p.citation.doc,
                p.similarity
            );
        }
        assert!(found.windows(2).all(|w| w[0].score >= w[1].score));
    }

    let top = &passages(
        r.answer("my pod keeps restarting, what should I look at?")
            .await
            .unwrap(),
    )[0];
    let c = &top.citation;
    assert_eq!(c.source, "runbooks");
    assert_eq!(c.title.as_deref(), Some("Kube Pod Crash Looping"));
    assert!(c.heading.starts_with("KubePodCrashLooping > "), "{c:?}");
    assert_eq!(c.chunk_id.len(), 64);
    assert!(!top.text.is_empty());
}

/// A question no runbook is about gets no passage: the fused ranking still orders the
/// chunks, but none is similar enough.
pub async fn an_unrelated_question_has_no_runbook(r: &HybridRetriever) {
    let question = "what is a good recipe for apple pie?";
    let ranked = r.ranked(question, 10).await.unwrap();
    assert!(!ranked.is_empty(), "the ranking itself always has chunks");
    assert!(
        ranked.iter().all(|p| p.similarity < DEFAULT_MIN_SIMILARITY),
        "{:?}",
        ranked
            .iter()
            .map(|p| (&p.citation.doc, p.similarity))
            .collect::<Vec<_>>()
    );
    let answer = r.answer(question).await.unwrap();
    assert!(matches!(answer, Answer::NoRunbook { .. }), "{answer:?}");
    assert_eq!(serde_json::to_value(&answer).unwrap()["kind"], "no_runbook");
}

/// The shared evaluation (110 real runbooks, 24 questions) on `index`; target recall@3 ≥ 0.9.
/// Prints the report.
pub async fn evaluation_on_the_prometheus_runbooks(index: Arc<dyn VectorIndex>) -> EvalReport {
    let kind = index.kind();
    let eval = super::shared_eval();
    let report = eval_retrieval(
        index,
        Arc::new(super::minilm()),
        &eval.join("ask.jsonl"),
        &eval.join("corpus/prometheus-runbooks"),
        &EvalOptions::new("prometheus-runbooks"),
    )
    .await
    .unwrap();
    println!("{kind}: {}", serde_json::to_string_pretty(&report).unwrap());
    assert_eq!(report.questions, 24);
    assert!(report.ingest.documents >= 110, "{:?}", report.ingest);
    assert!(report.recall_at_3 >= 0.9, "recall@3 {}", report.recall_at_3);
    assert!(report.recall_at_1 <= report.recall_at_3 && report.mrr >= report.recall_at_1);
    report
}
