//! Number phrases in requests are read whole or the request is refused: a prefix of
//! a number ("one" of "one hundred") must never become an executable parameter.

use aiops_parser::{ParseOutcome, numbers_in, parse};
use serde_json::Value;

fn param(nl: &str, key: &str) -> Value {
    match parse(nl) {
        ParseOutcome::Intent(p) => p.params.get(key).cloned().unwrap_or(Value::Null),
        ParseOutcome::Unrecognized { reason } => panic!("{nl:?} unrecognized: {reason}"),
    }
}

fn refusal(nl: &str) -> String {
    match parse(nl) {
        ParseOutcome::Intent(p) => panic!("{nl:?} must be refused, got {p:?}"),
        ParseOutcome::Unrecognized { reason } => reason,
    }
}

#[test]
fn number_phrases_fill_slots_whole() {
    for (nl, key, want) in [
        (
            "scale deployment web in namespace shop to one hundred replicas",
            "replicas",
            100,
        ),
        (
            "scale deployment web to a hundred replicas",
            "replicas",
            100,
        ),
        (
            "scale deployment web to twenty five replicas",
            "replicas",
            25,
        ),
        (
            "scale deployment web to twenty-five replicas",
            "replicas",
            25,
        ),
        ("scale deployment web to zero replicas", "replicas", 0),
        ("scale deployment web to seventeen", "replicas", 17),
        (
            "Add DNS A record for ttlx.local to 192.168.1.77 with ttl five hundred",
            "ttl",
            500,
        ),
        (
            "add an A record for t.example.com to 10.0.0.7 with a ttl of two thousand",
            "ttl",
            2_000,
        ),
        (
            "add an A record for t.example.com to 10.0.0.7 with a ttl of five minutes",
            "ttl",
            300,
        ),
        (
            "add an A record for t.example.com to 10.0.0.7 with a five hundred second ttl",
            "ttl",
            500,
        ),
        (
            "add an A record for t.example.com to 10.0.0.7 ttl one hundred and twenty",
            "ttl",
            120,
        ),
        (
            "add an A record for t.example.com to 10.0.0.7 with ttl 2 thousand",
            "ttl",
            2_000,
        ),
        (
            "expose service grafana as grafana.example.com on port eighty",
            "port",
            80,
        ),
        (
            "expose service web as web.example.com on port eight thousand and eighty",
            "port",
            8_080,
        ),
        (
            "expose service web as web.example.com on port three thousand",
            "port",
            3_000,
        ),
    ] {
        assert_eq!(param(nl, key), Value::from(want), "{nl:?}");
    }
}

/// Values the parser reads whole but that are out of range: refused, and the reason
/// names the whole value (so it was never shortened to 2, 20, 5 or 7).
#[test]
fn out_of_range_numbers_are_refused_whole() {
    for (nl, whole) in [
        (
            "scale deployment web in namespace shop to two thousand",
            "2000",
        ),
        (
            "scale deployment web in namespace shop to seven million",
            "7000000",
        ),
        (
            "scale deployment web to twenty-five hundred replicas",
            "2500",
        ),
        ("scale deployment web to 5 hundred replicas", "500"),
        ("scale deployment web to 2 thousand replicas", "2000"),
        (
            "scale deployment web to one hundred and one replicas",
            "101",
        ),
        ("scale deployment web to a thousand replicas", "1000"),
        (
            "expose service web as web.example.com on port seventy thousand",
            "70000",
        ),
    ] {
        let reason = refusal(nl);
        assert!(reason.contains(whole), "{nl:?}: {reason}");
    }
}

#[test]
fn unclear_numbers_are_refused() {
    for nl in [
        "scale deployment web to two three replicas",
        "scale deployment web to 3 4 replicas",
        "scale deployment web to five twenty replicas",
        "scale deployment web to hundred replicas",
        "scale deployment web to hundreds of replicas",
        "scale deployment web to a dozen replicas",
        "scale deployment web to minus 5 replicas",
        "scale deployment web to negative five replicas",
        "scale deployment web to about 5 replicas",
        "scale deployment web to at least 3 replicas",
        "scale deployment web to twenty-zero replicas",
        "scale deployment web to 3 and 4 replicas",
        "add an A record for t.example.com to 10.0.0.7 with ttl five hundred hundred",
        "add an A record for t.example.com to 10.0.0.7 with ttl two thousand three thousand",
        "expose service web as web.example.com on port eighty eighty",
        "restart the hundred deployment",
    ] {
        refusal(nl);
    }
}

#[test]
fn numbers_in_reads_whole_phrases() {
    assert_eq!(
        numbers_in("scale deployment web in namespace shop to one hundred replicas"),
        [100]
    );
    assert_eq!(numbers_in("to twenty-five hundred"), [2_500]);
    assert_eq!(numbers_in("to 5 hundred"), [500]);
    assert_eq!(
        numbers_in("Add DNS A record for ttlx.local to 192.168.1.77 with ttl five hundred"),
        [500]
    );
    assert_eq!(numbers_in("restart deployment web-1"), Vec::<u64>::new());
    assert_eq!(numbers_in("scale to two three"), Vec::<u64>::new());
}
