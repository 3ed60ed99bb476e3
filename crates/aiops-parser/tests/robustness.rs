//! Odd inputs never panic, and the outcome shape is stable.

use aiops_parser::{ACTIONS, MAX_INPUT_CHARS, ParseOutcome, parse};

fn check(input: &str) -> ParseOutcome {
    let out = parse(input);
    if let ParseOutcome::Intent(p) = &out {
        assert!(
            ACTIONS.contains(&p.action.as_str()),
            "unknown action {}",
            p.action
        );
        assert!(p.confidence > 0.0 && p.confidence <= 1.0);
    }
    // Serialisation never fails either.
    serde_json::to_string(&out).expect("serialize");
    out
}

fn unrecognized(input: &str) {
    assert!(
        matches!(check(input), ParseOutcome::Unrecognized { .. }),
        "expected unrecognized for {input:?}"
    );
}

#[test]
fn odd_inputs_do_not_panic() {
    for s in [
        "",
        " ",
        "\n\t  \r\n",
        "?",
        "??",
        "...",
        ".",
        "-",
        "->",
        "=",
        "*",
        "'",
        "\"",
        "a",
        "192.168.1.1",
        "test.local",
        "web",
        "pod",
        "deployment/",
        "/deployment",
        "pod/",
        "ttl",
        "ttl=",
        "=5",
        "port 99999999999999999999999999",
        "scale deployment web to 99999999999999999999999 replicas",
        "add dns record x.example.com to 1.2.3.4 ttl 99999999999999999999h",
        "add dns record x.example.com to 1.2.3.4 ttl 9999999999999999d",
        "🦀🦀🦀",
        "restart the 🦀 deployment",
        "scale déploiement web à 3",
        "ＳＣＡＬＥ deployment web to 3",
        "\u{0}\u{1}\u{7f}",
        "restart deployment web\u{0}",
        "\u{202e}restart deployment web",
        "what does ..resolve to?",
        "delete pod -",
        "run playbook --limit",
        "limit limit limit",
        "in in in in namespace",
        "namespace",
        "a record a record a record",
        "kubectl",
        "please",
        "can you",
        "dns lookup",
        "do a",
    ] {
        check(s);
    }
}

#[test]
fn bare_values_are_not_requests() {
    for s in [
        "",
        "   ",
        "192.168.1.1",
        "test.local",
        "web",
        "pods?",
        "🦀",
        "please",
        "kubectl",
        "record",
    ] {
        unrecognized(s);
    }
}

#[test]
fn huge_and_random_inputs() {
    unrecognized(&"a".repeat(1_000_000));
    unrecognized(&"scale deployment web to 3 ".repeat(200));
    unrecognized(&"x".repeat(MAX_INPUT_CHARS + 1));
    // Just under the cap still works and stays bounded.
    let long = format!("{} ?", "why ".repeat(400));
    check(&long);
    // Pseudo-random bytes, decoded lossily (deterministic LCG, no dependency).
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    for len in [1usize, 2, 7, 31, 64, 255, 1024, 4096] {
        for _ in 0..40 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    (state >> 56) as u8
                })
                .collect();
            check(&String::from_utf8_lossy(&bytes));
        }
    }
    // Random words from the vocabulary, to hit the grammar paths.
    let words = [
        "add",
        "delete",
        "scale",
        "restart",
        "run",
        "expose",
        "list",
        "pods",
        "pod",
        "deployment",
        "service",
        "playbook",
        "in",
        "namespace",
        "to",
        "on",
        "port",
        "ttl",
        "limited",
        "the",
        "a",
        "record",
        "dns",
        "10.0.0.1",
        "x.example.com",
        "web",
        "3",
        "zero",
        "and",
        "?",
        "what",
        "does",
        "resolve",
        "-n",
        "--replicas=2",
        "deployment/web",
        "as",
        "at",
        "of",
        "for",
    ];
    for _ in 0..3000 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let n = 1 + (state >> 60) as usize;
        let mut s = String::new();
        for _ in 0..n {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            s.push_str(words[(state >> 33) as usize % words.len()]);
            s.push(' ');
        }
        check(&s);
    }
}

#[test]
fn outcome_serialises_with_a_status_tag() {
    let v = serde_json::to_value(parse("list pods in kube-system")).expect("json");
    assert_eq!(v["status"], "intent");
    assert_eq!(v["action"], "k8s.list_pods");
    assert_eq!(v["params"]["namespace"], "kube-system");
    let v = serde_json::to_value(parse("make me a sandwich")).expect("json");
    assert_eq!(v["status"], "unrecognized");
    assert!(v["reason"].as_str().is_some_and(|r| !r.is_empty()));
}

#[test]
fn integer_params_are_json_integers() {
    let p = parse("create an A record web.example.com pointing at 10.0.1.20 with ttl 300");
    assert_eq!(p.intent().map(|p| p.params["ttl"].is_u64()), Some(true));
    let p = parse("scale deployment web to 5 replicas");
    assert_eq!(
        p.intent().map(|p| p.params["replicas"].is_u64()),
        Some(true)
    );
    let p = parse("expose service grafana as grafana.example.com on port 3000");
    assert_eq!(p.intent().map(|p| p.params["port"].is_u64()), Some(true));
}

#[test]
fn question_keeps_the_original_text() {
    let p = parse("  how do I rotate the TSIG key?  ");
    let p = p.intent().expect("ops.ask");
    assert_eq!(p.action, "ops.ask");
    assert_eq!(p.params["question"], "how do I rotate the TSIG key?");
}
