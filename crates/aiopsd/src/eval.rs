//! `aiopsd eval FILE.jsonl`: scores the parser (with the catalog's defaults and validation,
//! exactly as the daemon applies them) on an evaluation set.

use aiops_core::Catalog;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::parse::{Parsed, parse_rules};

#[derive(Debug, Deserialize)]
struct Case {
    nl: String,
    expect: Value,
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Score {
    pub total: u64,
    pub correct: u64,
    pub unrecognized: u64,
    pub wrong: u64,
}

/// A case the parser got wrong, for the report on stderr.
#[derive(Debug, Serialize)]
pub struct Miss {
    pub line: usize,
    pub nl: String,
    pub expected: Value,
    pub got: Value,
}

/// Scores every line. `wrong` counts executable intents that differ from the expectation
/// (wrong action or any wrong parameter) and intents where `unrecognized` was expected.
pub fn score(catalog: &Catalog, text: &str) -> Result<(Score, Vec<Miss>), String> {
    let mut s = Score::default();
    let mut misses = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let case: Case = serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        s.total += 1;
        let got = match parse_rules(catalog, &case.nl) {
            Parsed::Intent(intent) => {
                serde_json::json!({"action": intent.action, "params": intent.params})
            }
            Parsed::Unrecognized(_) => Value::String("unrecognized".into()),
        };
        if got == case.expect {
            s.correct += 1;
            continue;
        }
        if got == Value::String("unrecognized".into()) {
            s.unrecognized += 1;
        } else {
            s.wrong += 1;
        }
        misses.push(Miss {
            line: i + 1,
            nl: case.nl,
            expected: case.expect,
            got,
        });
    }
    Ok((s, misses))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_wrong_and_unrecognized_separately() {
        let c = Catalog::embedded().unwrap();
        let text = r#"{"nl": "Add DNS A record for test.local to 192.168.1.100", "expect": {"action": "dns.create_a_record", "params": {"name": "test.local", "ip": "192.168.1.100", "ttl": 3600}}}
{"nl": "Add DNS A record for test.local to 192.168.1.100", "expect": {"action": "dns.create_a_record", "params": {"name": "test.local", "ip": "192.168.1.101", "ttl": 3600}}}
{"nl": "make me a sandwich", "expect": {"action": "dns.lookup", "params": {"name": "x.local", "type": "A"}}}
{"nl": "make me a sandwich", "expect": "unrecognized"}
"#;
        let (s, misses) = score(&c, text).unwrap();
        assert_eq!(
            s,
            Score {
                total: 4,
                correct: 2,
                unrecognized: 1,
                wrong: 1
            }
        );
        assert_eq!(misses.len(), 2);
        assert!(score(&c, "not json").is_err());
    }
}
