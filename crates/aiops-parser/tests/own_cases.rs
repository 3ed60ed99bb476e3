//! Our own table (tests/cases.jsonl): every case exact, no exceptions.

mod common;

#[test]
fn own_case_table() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases.jsonl");
    let cases = common::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let intents = cases.iter().filter(|c| c.expect.is_object()).count();
    let refusals = cases.len() - intents;
    assert!(
        intents >= 60,
        "need at least 60 intent cases, have {intents}"
    );
    assert!(
        refusals >= 25,
        "need at least 25 unrecognized cases, have {refusals}"
    );
    let t = common::run(&cases);
    t.print(&format!(
        "own table (intent cases {intents}, refusal cases {refusals})"
    ));
    assert!(
        t.report.is_empty(),
        "{} of {} cases failed:\n{}",
        t.report.len(),
        t.total,
        t.report.join("\n")
    );
}

#[test]
fn every_action_is_covered_by_the_table() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases.jsonl");
    let cases = common::load(&path).unwrap_or_else(|e| panic!("{e}"));
    for action in aiops_parser::ACTIONS {
        assert!(
            cases
                .iter()
                .any(|c| c.expect.get("action").and_then(|a| a.as_str()) == Some(action)),
            "no case for {action}"
        );
    }
}
