//! The public eval set (/work/shared/eval/intents.jsonl): ≥ 90 % exact, zero wrong.

mod common;

#[test]
fn public_eval_set() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eval/intents.jsonl");
    let Some(cases) = common::load(&path) else {
        println!(
            "note: {} not found; skipping the public eval test",
            path.display()
        );
        return;
    };
    assert!(!cases.is_empty(), "eval file is empty");
    let t = common::run(&cases);
    t.print("public eval");
    assert_eq!(t.wrong, 0, "wrong executable intents: {:#?}", t.report);
    assert!(
        t.correct * 10 >= t.total * 9,
        "exact {}/{} is below 90%: {:#?}",
        t.correct,
        t.total,
        t.report
    );
}
