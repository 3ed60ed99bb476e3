//! Shared helpers for the table-driven tests: load a JSONL case file, apply the
//! catalog defaults to parsed params, and judge each case.

#![allow(dead_code)]

use aiops_parser::{ParseOutcome, parse};
use serde_json::{Map, Value};

/// One case: `{"nl": ..., "expect": {"action": ..., "params": {...}} | "unrecognized"}`.
pub struct Case {
    pub nl: String,
    pub expect: Value,
}

/// Read a JSONL case file. A missing or unreadable file is an error (never an empty
/// table), and so is a malformed line.
pub fn load(path: &std::path::Path) -> Result<Vec<Case>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read case file {}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value =
            serde_json::from_str(line).map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?;
        let nl = v["nl"]
            .as_str()
            .ok_or_else(|| format!("{}:{}: no nl", path.display(), n + 1))?
            .to_string();
        out.push(Case {
            nl,
            expect: v["expect"].clone(),
        });
    }
    if out.is_empty() {
        return Err(format!("case file {} has no cases", path.display()));
    }
    Ok(out)
}

/// The catalog defaults (catalog.md): what the daemon fills in after parsing.
pub fn apply_defaults(action: &str, params: &Map<String, Value>) -> Map<String, Value> {
    let mut p = params.clone();
    let mut default = |k: &str, v: Value| {
        p.entry(k.to_string()).or_insert(v);
    };
    match action {
        "dns.create_a_record" => default("ttl", Value::from(3600)),
        "dns.delete_record" | "dns.lookup" => default("type", Value::from("A")),
        "k8s.scale_deployment" | "k8s.restart_deployment" | "k8s.list_pods" | "k8s.delete_pod" => {
            default("namespace", Value::from("default"))
        }
        "k8s.expose_service" => {
            default("namespace", Value::from("default"));
            default("port", Value::from(80));
        }
        _ => {}
    }
    p
}

#[derive(Debug, PartialEq)]
pub enum Verdict {
    Correct,
    Unrecognized,
    Wrong(String),
}

pub fn judge(case: &Case) -> Verdict {
    let got = parse(&case.nl);
    match (&case.expect, &got) {
        (Value::String(s), ParseOutcome::Unrecognized { .. }) if s == "unrecognized" => {
            Verdict::Correct
        }
        (Value::String(_), ParseOutcome::Intent(p)) => Verdict::Wrong(format!(
            "expected unrecognized, got {} {}",
            p.action,
            Value::Object(p.params.clone())
        )),
        (Value::Object(_), ParseOutcome::Unrecognized { .. }) => Verdict::Unrecognized,
        (Value::Object(e), ParseOutcome::Intent(p)) => {
            assert!(
                p.confidence > 0.0 && p.confidence <= 1.0,
                "confidence out of range for {:?}",
                case.nl
            );
            let params = apply_defaults(&p.action, &p.params);
            let want_action = e.get("action").and_then(Value::as_str).unwrap_or_default();
            let want_params = e
                .get("params")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            if p.action == want_action && params == want_params {
                Verdict::Correct
            } else {
                Verdict::Wrong(format!(
                    "expected {want_action} {}, got {} {}",
                    Value::Object(want_params),
                    p.action,
                    Value::Object(params)
                ))
            }
        }
        (other, _) => Verdict::Wrong(format!("bad expectation {other}")),
    }
}

#[derive(Debug, Default)]
pub struct Tally {
    pub total: usize,
    pub correct: usize,
    pub unrecognized: usize,
    pub wrong: usize,
    pub report: Vec<String>,
}

impl Tally {
    /// Print the counts under `label`, then one line per case that was not correct.
    pub fn print(&self, label: &str) {
        println!(
            "{label}: total={} correct={} unrecognized={} wrong={}",
            self.total, self.correct, self.unrecognized, self.wrong
        );
        for line in &self.report {
            println!("  {line}");
        }
    }
}

pub fn run(cases: &[Case]) -> Tally {
    let mut t = Tally::default();
    for c in cases {
        t.total += 1;
        let got = parse(&c.nl);
        match judge(c) {
            Verdict::Correct => t.correct += 1,
            Verdict::Unrecognized => {
                t.unrecognized += 1;
                t.report.push(format!("UNRECOGNIZED {:?}: {:?}", c.nl, got));
            }
            Verdict::Wrong(why) => {
                t.wrong += 1;
                t.report.push(format!("WRONG {:?}: {why}", c.nl));
            }
        }
    }
    t
}
