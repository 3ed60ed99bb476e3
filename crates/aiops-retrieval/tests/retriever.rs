//! The hybrid retriever over the real embedded index (a Qdrant Edge shard in a temporary
//! directory) with the real model: the daemon's `Retriever` seam, `answer` for `ops.ask`,
//! relevance, filters and thresholds, and the evaluation on the shared runbook corpus. The
//! same scenarios run against a Qdrant server in `tests/server.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use std::sync::Arc;

use aiops_core::{Retrieval, Retriever};
use aiops_retrieval::{
    Answer, Bm25, Filter, HybridRetriever, IngestOptions, Ingestor, RetrieverOptions,
};
use support::{Edge, scenario};

/// A retriever over [`scenario::RUNBOOKS`] in `edge`.
async fn retriever(edge: &Edge, opts: RetrieverOptions) -> HybridRetriever {
    scenario::runbooks_retriever(edge.index.clone(), opts).await
}

#[tokio::test]
async fn questions_find_their_runbook_with_citations() {
    let edge = Edge::new();
    let r = retriever(&edge, RetrieverOptions::default()).await;
    scenario::questions_find_their_runbook(&r).await;
}

#[tokio::test]
async fn an_unrelated_question_has_no_runbook() {
    let edge = Edge::new();
    let r = retriever(&edge, RetrieverOptions::default()).await;
    scenario::an_unrelated_question_has_no_runbook(&r).await;
}

#[tokio::test]
async fn the_retriever_seam_gives_context_chunks_and_skips_an_empty_index() {
    let edge = Edge::new();
    let r = retriever(&edge, RetrieverOptions::default()).await;
    assert_eq!(r.name(), "hybrid");
    let Retrieval::Found { chunks } = r.retrieve("etcd has no leader").await.unwrap() else {
        panic!("nothing found")
    };
    assert_eq!(chunks[0].source, "runbooks");
    assert_eq!(chunks[0].doc, "etcd/etcdNoLeader.md");
    assert_eq!(chunks[0].title.as_deref(), Some("etcd No Leader"));
    assert!(chunks[0].heading.starts_with("etcdNoLeader > "));
    // The context score is the similarity: relevant, at most 1.
    assert!(
        chunks.iter().all(
            |c| c.score >= f64::from(aiops_retrieval::DEFAULT_MIN_SIMILARITY)
                && c.score <= 1.0 + 1e-5
        ),
        "{chunks:?}"
    );

    // An index the daemon opened (ensured) but nothing was ingested into.
    let empty = Edge::new();
    let model = Arc::new(support::minilm());
    Ingestor::new(
        empty.index.clone(),
        model.clone(),
        Bm25::default(),
        IngestOptions::new("runbooks"),
    )
    .ensure()
    .await
    .unwrap();
    let nothing = HybridRetriever::new(
        empty.index.clone(),
        model,
        Bm25::default(),
        RetrieverOptions::default(),
    );
    assert!(matches!(
        nothing.retrieve("anything").await.unwrap(),
        Retrieval::Skipped { .. }
    ));
}

#[tokio::test]
async fn filters_and_the_similarity_threshold_can_leave_no_runbook() {
    let tagged_edge = Edge::new();
    let tagged = retriever(
        &tagged_edge,
        RetrieverOptions {
            filter: Filter {
                sources: vec![],
                tags: vec!["etcd".into()],
            },
            top_k: 5,
            // No threshold: the filter alone must keep the pod runbook out.
            min_similarity: 0.0,
        },
    )
    .await;
    let chunks = tagged.search("a pod is crash looping").await.unwrap();
    assert!(!chunks.is_empty());
    assert!(
        chunks
            .iter()
            .all(|c| c.citation.doc == "etcd/etcdNoLeader.md"),
        "{chunks:?}"
    );

    let other_edge = Edge::new();
    let other_source = retriever(
        &other_edge,
        RetrieverOptions {
            filter: Filter {
                sources: vec!["elsewhere".into()],
                tags: vec![],
            },
            ..Default::default()
        },
    )
    .await;
    let a = other_source.answer("etcd has no leader").await.unwrap();
    assert!(matches!(a, Answer::NoRunbook { .. }), "{a:?}");

    let strict_edge = Edge::new();
    let strict = retriever(
        &strict_edge,
        RetrieverOptions {
            min_similarity: 0.99,
            ..Default::default()
        },
    )
    .await;
    assert!(matches!(
        strict.answer("etcd has no leader").await.unwrap(),
        Answer::NoRunbook { .. }
    ));
}

#[tokio::test]
async fn a_model_mismatch_is_refused_by_the_retriever_too() {
    let edge = Edge::new();
    let r = retriever(&edge, RetrieverOptions::default()).await;
    r.check_model("runbooks").await.unwrap();
    let mut other = support::Counting::new(support::minilm());
    other.model_id = Some("ollama:nomic-embed-text".into());
    let r2 = HybridRetriever::new(
        edge.index.clone(),
        Arc::new(other),
        Bm25::default(),
        RetrieverOptions::default(),
    );
    let err = r2.check_model("runbooks").await.unwrap_err();
    assert_eq!(err.code(), "embedding_model_mismatch");
}

/// The shared evaluation: 110 real runbooks, 24 questions. Target recall@3 ≥ 0.9.
#[tokio::test(flavor = "multi_thread")]
async fn evaluation_on_the_prometheus_runbooks() {
    let edge = Edge::new();
    scenario::evaluation_on_the_prometheus_runbooks(edge.index.clone()).await;
}
