//! Runs the Rego unit tests in `policies/*_test.rego` (regorus has no `opa test`).
//!
//! Loads every `policies/*.rego` (policies and tests) plus `policies/data.json` into one
//! engine, finds every `test_*` rule (by scanning the test files' rule heads, cross-checked
//! against the evaluated package), evaluates each one on its own and fails listing every
//! test whose value is not `true` (false, undefined or an evaluation error).

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn policies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

/// `(file name, source)` of every `*.rego` in `dir`, sorted by name.
fn rego_files(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rego"))
        .map(|p| {
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// The package path and the `test_*` rule names declared at the start of a line.
fn scan_tests(src: &str) -> (String, BTreeSet<String>) {
    let mut package = None;
    let mut tests = BTreeSet::new();
    for line in src.lines() {
        if let Some(rest) = line.strip_prefix("package ") {
            package = Some(rest.trim().to_string());
        }
        if line.starts_with("test_") {
            let name: String = line
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            tests.insert(name);
        }
    }
    (package.expect("test file declares a package"), tests)
}

#[derive(Debug)]
struct TestResult {
    name: String,
    passed: bool,
    detail: String,
}

/// Evaluates every `test_*` rule of every `*_test.rego` among `files`.
fn run_rego_tests(files: &[(String, String)], data: serde_json::Value) -> Vec<TestResult> {
    let mut engine = regorus::Engine::new();
    for (name, src) in files {
        engine
            .add_policy(name.clone(), src.clone())
            .unwrap_or_else(|e| panic!("{name} does not parse: {e:#}"));
    }
    engine
        .add_data(serde_json::from_value(data).unwrap())
        .unwrap();
    engine.set_input(regorus::Value::new_object());

    let mut results = Vec::new();
    for (file, src) in files.iter().filter(|(n, _)| n.ends_with("_test.rego")) {
        let (package, mut tests) = scan_tests(src);
        // Cross-check: any test_* rule the package evaluates to that the scan missed.
        if let Ok(all) = engine.eval_query(format!("data.{package}"), false)
            && let Some(first) = all.result.first().and_then(|r| r.expressions.first())
            && let Ok(obj) = first.value.as_object()
        {
            for key in obj.keys() {
                if let Ok(k) = key.as_string()
                    && k.starts_with("test_")
                {
                    tests.insert(k.to_string());
                }
            }
        }
        assert!(!tests.is_empty(), "{file} declares no test_* rules");
        for test in tests {
            let path = format!("data.{package}.{test}");
            let (passed, detail) = match engine.eval_rule(path.clone()) {
                Ok(v) if v == regorus::Value::from(true) => (true, "true".to_string()),
                Ok(regorus::Value::Undefined) => (false, "undefined (a condition failed)".into()),
                Ok(v) => (false, format!("evaluated to {v}")),
                Err(e) => (false, format!("error: {e:#}")),
            };
            results.push(TestResult {
                name: format!("{file}: {path}"),
                passed,
                detail,
            });
        }
    }
    results
}

fn shipped_data() -> serde_json::Value {
    let text = std::fs::read_to_string(policies_dir().join("data.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn rego_unit_tests_pass() {
    let files = rego_files(&policies_dir());
    assert!(
        files.iter().any(|(n, _)| n.ends_with("_test.rego")),
        "no *_test.rego files in policies/"
    );
    let results = run_rego_tests(&files, shipped_data());
    for r in &results {
        println!("{} {}", if r.passed { "PASS" } else { "FAIL" }, r.name);
    }
    let failures: Vec<String> = results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| format!("  {}: {}", r.name, r.detail))
        .collect();
    println!("{} Rego tests, {} failed", results.len(), failures.len());
    assert!(
        failures.is_empty(),
        "{} of {} Rego tests failed:\n{}",
        failures.len(),
        results.len(),
        failures.join("\n")
    );
}

/// The runner itself must report a broken assertion, an undefined test, a non-true value
/// and an evaluation error as failures (so a vacuous runner cannot pass silently).
#[test]
fn runner_reports_failing_tests() {
    let mut files = rego_files(&policies_dir());
    files.push((
        "broken_test.rego".to_string(),
        r#"package broken_test

test_ok if data.aiops.decision.outcome == "deny"

test_wrong_outcome if {
	d := data.aiops.decision with input as {"action": "dns.lookup", "risk": "read", "params": {"name": "x.local"}, "dry_run": false, "stage": "decide", "caller": {"user": "u", "roles": []}}
	d.outcome == "deny"
}

test_not_true := 7

test_error if {
	x := sprintf(1, 2)
	x == "never"
}
"#
        .to_string(),
    ));
    let results = run_rego_tests(&files, shipped_data());
    let broken: Vec<&TestResult> = results
        .iter()
        .filter(|r| r.name.starts_with("broken_test.rego"))
        .collect();
    let status = |n: &str| {
        broken
            .iter()
            .find(|r| r.name.ends_with(n))
            .map(|r| r.passed)
            .unwrap_or_else(|| panic!("{n} not run: {broken:?}"))
    };
    assert!(status("test_ok"));
    assert!(!status("test_wrong_outcome"));
    assert!(!status("test_not_true"));
    assert!(!status("test_error"));
}

#[test]
fn every_test_file_has_matching_policy_package() {
    // The tests query data.aiops; make sure the shipped package is the one under test.
    let files = rego_files(&policies_dir());
    assert!(
        files
            .iter()
            .any(|(n, s)| !n.ends_with("_test.rego") && s.contains("\npackage aiops\n")),
        "no policy declares `package aiops`"
    );
}
