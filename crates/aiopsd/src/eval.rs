//! `aiopsd eval FILE.jsonl [--parser rules|llm|auto]`: scores a parser (with the catalog's
//! defaults and validation, exactly as the daemon applies them) on an evaluation set, with
//! per-parser counts and parse latency.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aiops_core::{Catalog, IntentParser, ParseContext};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::parse::{Parsed, validate};

#[derive(Debug, Deserialize)]
struct Case {
    nl: String,
    expect: Value,
}

/// Counts for one parser (or all).
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub total: u64,
    pub correct: u64,
    pub unrecognized: u64,
    pub wrong: u64,
}

/// The score of a run. `wrong` counts executable intents that differ from the expectation
/// (wrong action or any wrong parameter) and intents where `unrecognized` was expected.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Score {
    #[serde(flatten)]
    pub counts: Counts,
    /// Counts by the parser that answered (`rules`, `llm`).
    pub by_parser: BTreeMap<String, Counts>,
    /// Answers refused and quarantined along the way.
    pub quarantined: u64,
    /// Parse latency, milliseconds.
    pub p50_ms: f64,
    pub p95_ms: f64,
}

/// A case the parser got wrong, for the report on stderr.
#[derive(Debug, Serialize)]
pub struct Miss {
    pub line: usize,
    pub nl: String,
    pub expected: Value,
    pub got: Value,
}

/// Scores every line of `text` with `parser`.
pub async fn score(
    parser: &dyn IntentParser,
    catalog: &Catalog,
    text: &str,
) -> Result<(Score, Vec<Miss>), String> {
    let mut s = Score::default();
    let mut misses = Vec::new();
    let mut latencies = Vec::new();
    let ctx = ParseContext {
        catalog,
        context: &[],
    };
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let case: Case = serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        let started = Instant::now();
        let outcome = parser.parse(&case.nl, &ctx).await;
        latencies.push(started.elapsed());
        s.quarantined += outcome.quarantined.len() as u64;
        let (parsed, _) = validate(catalog, &outcome);
        let got = match parsed {
            Parsed::Intent(intent) => {
                serde_json::json!({"action": intent.action, "params": intent.params})
            }
            Parsed::Unrecognized(_) => Value::String("unrecognized".into()),
        };
        let per_parser = s
            .by_parser
            .entry(outcome.parser.as_str().to_string())
            .or_default();
        let verdict = tally(&mut s.counts, &got, &case.expect);
        tally(per_parser, &got, &case.expect);
        if verdict != Verdict::Correct {
            misses.push(Miss {
                line: i + 1,
                nl: case.nl,
                expected: case.expect,
                got,
            });
        }
    }
    s.p50_ms = percentile(&mut latencies, 0.50);
    s.p95_ms = percentile(&mut latencies, 0.95);
    Ok((s, misses))
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Correct,
    Unrecognized,
    Wrong,
}

fn tally(c: &mut Counts, got: &Value, expect: &Value) -> Verdict {
    c.total += 1;
    if same(got, expect) {
        c.correct += 1;
        Verdict::Correct
    } else if got == &Value::String("unrecognized".into()) {
        c.unrecognized += 1;
        Verdict::Unrecognized
    } else {
        c.wrong += 1;
        Verdict::Wrong
    }
}

/// The scoring rule of `../shared/eval/README.md`: strings compare case-insensitively and
/// without a trailing dot.
fn same(got: &Value, expect: &Value) -> bool {
    match (got, expect) {
        (Value::String(a), Value::String(b)) => a
            .trim_end_matches('.')
            .eq_ignore_ascii_case(b.trim_end_matches('.')),
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (a, b) => a == b,
    }
}

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort();
    let rank = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[rank.min(samples.len() - 1)].as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::RulesParser;

    #[tokio::test]
    async fn counts_wrong_and_unrecognized_separately() {
        let c = Catalog::embedded().unwrap();
        let text = r#"{"nl": "Add DNS A record for test.local to 192.168.1.100", "expect": {"action": "dns.create_a_record", "params": {"name": "test.local", "ip": "192.168.1.100", "ttl": 3600}}}
{"nl": "Add DNS A record for test.local to 192.168.1.100", "expect": {"action": "dns.create_a_record", "params": {"name": "test.local", "ip": "192.168.1.101", "ttl": 3600}}}
{"nl": "make me a sandwich", "expect": {"action": "dns.lookup", "params": {"name": "x.local", "type": "A"}}}
{"nl": "make me a sandwich", "expect": "unrecognized"}
{"nl": "Add DNS A record for Test.Local. to 192.168.1.100", "expect": {"action": "dns.create_a_record", "params": {"name": "TEST.local", "ip": "192.168.1.100", "ttl": 3600}}}
"#;
        let (s, misses) = score(&RulesParser, &c, text).await.unwrap();
        let expected = Counts {
            total: 5,
            correct: 3,
            unrecognized: 1,
            wrong: 1,
        };
        assert_eq!(s.counts, expected);
        assert_eq!(s.by_parser["rules"], expected);
        assert_eq!(misses.len(), 2);
        assert!(s.p95_ms >= s.p50_ms);
        assert!(score(&RulesParser, &c, "not json").await.is_err());
    }
}
