//! The memo answers only for policies whose rules are functions of their input: one that
//! reads the clock is evaluated every time (and so answers differently each time).

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use aiops_policy::{
    AuthMethod, Caller, ParserKind, PolicyEngine, PolicyInput, Stage, volatile_builtin,
};
use serde_json::json;

fn input() -> PolicyInput {
    PolicyInput {
        action: "dns.lookup".parse().unwrap(),
        risk: aiops_policy::Risk::Read,
        params: json!({"name": "a.local", "type": "A"}),
        dry_run: false,
        stage: Stage::Decide,
        caller: Caller::new("alice", vec!["operator".into()], AuthMethod::Bearer),
        parser: ParserKind::Rules,
        confidence: 1.0,
    }
}

fn engine(rego: &str) -> PolicyEngine {
    let data = json!({"aiops": {"config": {"dns": {"zones": {"local": {}}}}}});
    PolicyEngine::from_sources(&[("p.rego".to_string(), rego.to_string())], data).unwrap()
}

#[test]
fn a_policy_that_reads_the_clock_is_evaluated_every_time() {
    let clock = engine(
        r#"package aiops
decision := {"outcome": "allow", "reasons": [sprintf("%d", [time.now_ns()])], "approvals_required": 0}
"#,
    );
    assert!(!clock.memoizes());
    let first = clock.evaluate(&input()).unwrap();
    // The clock has nanoseconds; a second evaluation reads a later one.
    let second = loop {
        let d = clock.evaluate(&input()).unwrap();
        if d.reasons != first.reasons {
            break d;
        }
    };
    assert_ne!(first.reasons, second.reasons);
}

#[test]
fn a_pure_policy_is_answered_from_memory_with_the_same_answer() {
    let pure = engine(
        r#"package aiops
decision := {"outcome": "allow", "reasons": [sprintf("read %s", [input.params.name])], "approvals_required": 0}
"#,
    );
    assert!(pure.memoizes());
    let first = pure.evaluate(&input()).unwrap();
    assert_eq!(first.reasons, ["read a.local"]);
    assert_eq!(pure.evaluate(&input()).unwrap(), first);
    let mut other = input();
    other.params = json!({"name": "b.local", "type": "A"});
    assert_eq!(pure.evaluate(&other).unwrap().reasons, ["read b.local"]);
}

#[test]
fn volatile_builtins_are_found_in_the_sources() {
    assert_eq!(volatile_builtin("x := rand.intn(\"k\", 9)"), Some("rand."));
    assert_eq!(volatile_builtin("y := http.send({})"), Some("http.send"));
    assert_eq!(volatile_builtin("z := sprintf(\"%v\", [1])"), None);
}
