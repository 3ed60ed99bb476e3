//! The retrieval scenarios of `tests/retriever.rs` against a real Qdrant server (the
//! production backend), started by `bootstrap/qdrant.sh` for each test and stopped when it
//! ends (also when it fails): ingest, questions with citations, relevance, the evaluation,
//! and a server that goes away.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use aiops_core::{ErrorCode, Retrieval, Retriever};
use aiops_retrieval::RetrieverOptions;
use support::{Server, scenario};

#[tokio::test]
async fn questions_find_their_runbook_and_a_server_that_goes_away_is_unavailable() {
    let server = Server::start();
    let r = scenario::runbooks_retriever(server.index(), RetrieverOptions::default()).await;
    scenario::questions_find_their_runbook(&r).await;
    scenario::an_unrelated_question_has_no_runbook(&r).await;
    assert!(matches!(
        r.retrieve("etcd has no leader").await.unwrap(),
        Retrieval::Found { .. }
    ));

    server.stop();
    let err = r.retrieve("etcd has no leader").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RetrievalUnavailable);
    assert!(
        err.message.contains("vector_unavailable"),
        "{}",
        err.message
    );
}

/// The shared evaluation on the server. Target recall@3 ≥ 0.9, as on the edge index.
#[tokio::test(flavor = "multi_thread")]
async fn evaluation_on_the_prometheus_runbooks() {
    let server = Server::start();
    scenario::evaluation_on_the_prometheus_runbooks(server.index()).await;
}
