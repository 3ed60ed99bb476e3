//! The Ollama embedder without a server: nothing listening is a clear error with a stable
//! code. (Answers from a real Ollama are not tested here: no embedding model is installed.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::time::Duration;

use aiops_retrieval::OllamaEmbedder;

#[tokio::test]
async fn no_server_is_a_clear_error() {
    let addr = aiops_test_support::ports::closed_addr();
    let err = OllamaEmbedder::connect(
        &format!("http://{addr}"),
        "all-minilm",
        Duration::from_secs(2),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "ollama_embeddings_failed");
    assert!(err.to_string().contains("/api/embed"), "{err}");
}
