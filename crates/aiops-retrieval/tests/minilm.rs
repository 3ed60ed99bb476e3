//! MiniLM in process against reference vectors computed independently, in numpy, from the
//! same package files (`tests/data/minilm_reference.py` says how), plus the properties a
//! sentence embedding must have.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use aiops_retrieval::{Embedder, MiniLm, RetrievalError, embed::cosine};
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    text: String,
    embedding: Vec<f32>,
}

fn references() -> Vec<Reference> {
    serde_json::from_str(include_str!("data/minilm_reference.json")).unwrap()
}

#[tokio::test]
async fn vectors_match_the_reference_implementation() {
    let model = support::minilm();
    let refs = references();
    assert!(refs.len() >= 4);
    let texts: Vec<String> = refs.iter().map(|r| r.text.clone()).collect();
    // One batch of mixed lengths (padding must not change a vector) ...
    let batch = model.embed(&texts).await.unwrap();
    for (r, v) in refs.iter().zip(&batch) {
        assert_eq!(v.len(), 384);
        let max_diff = r
            .embedding
            .iter()
            .zip(v)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(max_diff < 1e-4, "{:?}: differs by {max_diff}", r.text);
        assert!(cosine(&r.embedding, v) > 0.9999, "{:?}", r.text);
    }
    // ... and one at a time gives the same.
    for (r, v) in refs.iter().zip(&batch) {
        let single = model.embed(std::slice::from_ref(&r.text)).await.unwrap();
        let diff = single[0]
            .iter()
            .zip(v)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            diff < 1e-5,
            "{:?}: batch and single differ by {diff}",
            r.text
        );
    }
}

#[tokio::test]
async fn vectors_are_unit_length_and_paraphrases_are_closer_than_unrelated_text() {
    let model = support::minilm();
    assert_eq!(model.model_id(), MiniLm::MODEL_ID);
    assert_eq!(model.dim(), 384);
    let texts = [
        "the disk of the database server is almost full",
        "the storage volume on the DB host is running out of space",
        "how do I bake sourdough bread at home?",
    ]
    .map(String::from);
    let v = model.embed(&texts).await.unwrap();
    for x in &v {
        let norm = x.iter().map(|a| a * a).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
    }
    let para = cosine(&v[0], &v[1]);
    let unrelated = cosine(&v[0], &v[2]);
    assert!(
        para > 0.5 && unrelated < 0.2,
        "paraphrase {para}, unrelated {unrelated}"
    );
}

#[tokio::test]
async fn long_inputs_are_truncated_not_refused_and_queries_are_cached() {
    let model = support::minilm();
    let long = "node memory pressure ".repeat(400);
    let v = model.embed(&[long]).await.unwrap();
    assert_eq!(v[0].len(), 384);
    let a = model.embed_query("etcd has no leader").await.unwrap();
    let b = model.embed_query("etcd has no leader").await.unwrap();
    assert_eq!(a, b);
    assert!(model.embed(&[]).await.unwrap().is_empty());
}

#[test]
fn a_missing_model_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = MiniLm::load(dir.path()).unwrap_err();
    assert_eq!(err.code(), "retrieval_io");
    assert!(err.to_string().contains("config.json"), "{err}");
    std::fs::write(dir.path().join("config.json"), "{}").unwrap();
    let err = MiniLm::load(dir.path()).unwrap_err();
    assert!(matches!(err, RetrievalError::ModelLoad(_)), "{err}");
    assert_eq!(err.code(), "embedding_model_unavailable");
}
