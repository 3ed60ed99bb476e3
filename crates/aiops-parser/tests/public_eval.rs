//! The public eval sets (`../shared/eval/intents.jsonl` and `intents-more.jsonl`, next
//! to the repository): zero wrong intents, and at least as many exact as reached so far.
//! A missing file fails the test: the score must never pass by not being measured.

mod common;

use std::path::PathBuf;

fn eval_path(name: &str) -> PathBuf {
    // The crate is `<repo>/crates/aiops-parser`; the eval data is `<repo>/../shared/eval`.
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/eval")
        .join(name)
}

/// Score one eval file: fail on any wrong intent, and when fewer than `min_correct`
/// cases are exact (the floor is what the parser reaches today; raise it, never lower it).
fn score(name: &str, min_correct: usize) {
    let path = eval_path(name);
    let cases = common::load(&path).unwrap_or_else(|e| {
        panic!("public eval set {name} is required ({e}); it lives in ../shared/eval/ next to the repository")
    });
    let t = common::run(&cases);
    t.print(&format!("public eval {name}"));
    assert_eq!(
        t.wrong, 0,
        "{name}: wrong executable intents: {:#?}",
        t.report
    );
    assert!(
        t.correct >= min_correct,
        "{name}: {} exact of {}, below the floor of {min_correct}: {:#?}",
        t.correct,
        t.total,
        t.report
    );
}

#[test]
fn intents_jsonl() {
    score("intents.jsonl", 24);
}

#[test]
fn intents_more_jsonl() {
    score("intents-more.jsonl", 68);
}

#[test]
fn a_missing_eval_file_fails() {
    let missing = eval_path("no-such-file.jsonl");
    let err = common::load(&missing)
        .err()
        .expect("loading a missing file must fail");
    assert!(err.contains("no-such-file.jsonl"), "{err}");
}
