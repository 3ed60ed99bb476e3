//! Verb evidence: which catalog actions a sentence's wording could ask for at all.
//!
//! Built from the same verb lists the rules parser dispatches on, so another parser (a
//! language model) can be held to the lexicon: a model that answers
//! `k8s.restart_deployment` for "delete pod x" names an action no word of the sentence
//! asks for, and is refused. This is deliberately loose (any word anywhere, simple
//! inflections, no slots; objects only where one verb serves two actions): it is a veto
//! on answers, not a parser.

use crate::lexicon::{self as lx, is_in};
use crate::text;

/// The verbs and phrases that can ask for each action. A phrase (several words) must occur
/// as consecutive words.
const EVIDENCE: &[(&str, &[&[&str]])] = &[
    (
        "dns.create_a_record",
        &[lx::V_CREATE, lx::RESOLVE_WORDS, &["want", "need", "like"]],
    ),
    ("dns.delete_record", &[lx::V_DELETE]),
    (
        "dns.lookup",
        &[lx::V_LOOKUP_STRONG, lx::V_LOOKUP_WEAK, lx::RESOLVE_WORDS],
    ),
    (
        "k8s.scale_deployment",
        &[
            lx::V_SCALE,
            lx::V_SET_REPLICAS,
            lx::V_SCALE_TO,
            &["run", "want", "need", "like"],
        ],
    ),
    ("k8s.restart_deployment", &[lx::V_RESTART]),
    ("k8s.list_pods", &[lx::V_LIST, lx::V_LOOKUP_WEAK]),
    ("k8s.delete_pod", &[lx::V_DELETE]),
    (
        "k8s.expose_service",
        &[
            lx::V_EXPOSE,
            lx::V_CREATE,
            &["available", "reachable", "accessible"],
        ],
    ),
    ("ansible.run_playbook", &[lx::V_RUN]),
];

/// Multi-word phrases that stand for a verb ("look up" → `lookup`).
const PHRASES: &[(&[&str], &str)] = &[
    (&["look", "up"], "dns.lookup"),
    (&["looks", "up"], "dns.lookup"),
    (&["rolling", "restart"], "k8s.restart_deployment"),
];

/// True if `word` is `verb` or a regular inflection of it ("scales", "scaled",
/// "scaling", "bounced", "removing", "stopped").
fn inflects(word: &str, verb: &str) -> bool {
    if word == verb {
        return true;
    }
    let Some(rest) = word.strip_prefix(verb) else {
        // "bouncing" / "removing": the verb's final "e" drops before "-ing".
        return verb
            .strip_suffix('e')
            .is_some_and(|stem| word.strip_prefix(stem) == Some("ing"));
    };
    match rest {
        "s" | "es" | "d" | "ed" | "ing" => true,
        // A doubled final consonant: "stopped", "dropping".
        _ => {
            let last = verb.chars().last();
            let mut chars = rest.chars();
            chars.next() == last && matches!(chars.as_str(), "ed" | "ing")
        }
    }
}

/// The actions whose verb lists hold `word` (or a regular inflection of it), in list
/// order; no object rule applies (one word says nothing about the objects).
pub(crate) fn word_actions(word: &str) -> Vec<&'static str> {
    EVIDENCE
        .iter()
        .filter(|(_, lists)| {
            lists
                .iter()
                .any(|list| list.iter().any(|verb| inflects(word, verb)))
        })
        .map(|(action, _)| *action)
        .collect()
}

/// The catalog actions (by name, in catalog order) whose verbs or phrases occur in `nl`.
/// `ops.ask` is included when the sentence is a question (it opens with a question word
/// or an auxiliary, or it contains a question mark).
pub fn verb_evidence(nl: &str) -> Vec<&'static str> {
    let norm = text::normalize(nl);
    let sentences = text::split_sentences(&norm);
    let words: Vec<&str> = sentences
        .iter()
        .flat_map(|s| s.toks.iter().map(|t| t.low.as_str()))
        .collect();
    let mut out: Vec<&'static str> = Vec::new();
    let mut push = |action: &'static str| {
        if !out.contains(&action) {
            out.push(action);
        }
    };
    for (action, lists) in EVIDENCE {
        let found = words.iter().any(|w| {
            lists
                .iter()
                .any(|list| list.iter().any(|verb| inflects(w, verb)))
        });
        if found {
            push(action);
        }
    }
    for (phrase, action) in PHRASES {
        if words.windows(phrase.len()).any(|w| w == *phrase) {
            push(action);
        }
    }
    let opener = sentences.iter().any(|s| {
        s.toks
            .first()
            .is_some_and(|t| is_in(lx::STRONG_QUESTION, &t.low) || is_in(lx::AUX_QUESTION, &t.low))
    });
    if opener || sentences.iter().any(|s| s.question) || norm.contains('?') {
        push("ops.ask");
    }
    // One delete verb serves two actions: the object decides. A pod is named with a pod
    // word ("delete pod x", "get rid of pod x"); without one it is not a pod, with one
    // it is not a DNS record.
    let pod = words.iter().any(|w| is_in(lx::POD_WORDS, w));
    // Listing likewise: "get"/"show" list pods only when pods are named.
    out.retain(|a| match *a {
        "k8s.delete_pod" | "k8s.list_pods" => pod,
        "dns.delete_record" => !pod,
        _ => true,
    });
    out.sort_by_key(|a| crate::ACTIONS.iter().position(|x| x == a));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_name_the_actions_their_verbs_ask_for() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            // (sentence, must contain, must not contain)
            (
                "delete pod x",
                &["k8s.delete_pod"],
                &[
                    "k8s.restart_deployment",
                    "k8s.scale_deployment",
                    "dns.delete_record",
                ],
            ),
            (
                "remove the DNS record for old.corp.example.com",
                &["dns.delete_record"],
                &["k8s.delete_pod"],
            ),
            (
                "please bounce the checkout deployment",
                &["k8s.restart_deployment"],
                &["k8s.delete_pod"],
            ),
            ("web got bounced twice", &["k8s.restart_deployment"], &[]),
            (
                "scaling web to 3",
                &["k8s.scale_deployment"],
                &["k8s.restart_deployment"],
            ),
            (
                "look up api.example.com",
                &["dns.lookup"],
                &["dns.delete_record"],
            ),
            // The tokeniser reads "kick off" as "run".
            ("kick off the ping playbook", &["ansible.run_playbook"], &[]),
            (
                "open the ping playbook",
                &[],
                &["ansible.run_playbook", "k8s.delete_pod"],
            ),
            ("execute ping.yml", &["ansible.run_playbook"], &["ops.ask"]),
            (
                "could you get the checkout deployment in shop bounced",
                &["k8s.restart_deployment"],
                &["k8s.list_pods"],
            ),
            (
                "how do I rotate the key?",
                &["ops.ask"],
                &["k8s.delete_pod"],
            ),
            ("is the vault sealed", &["ops.ask"], &[]),
            ("make me a sandwich", &["dns.create_a_record"], &["ops.ask"]),
            ("removing old.lab.local", &["dns.delete_record"], &[]),
            ("dropped the table", &["dns.delete_record"], &[]),
        ];
        for (nl, yes, no) in cases {
            let got = verb_evidence(nl);
            for a in *yes {
                assert!(got.contains(a), "{nl}: expected {a} in {got:?}");
            }
            for a in *no {
                assert!(!got.contains(a), "{nl}: did not expect {a} in {got:?}");
            }
        }
    }

    #[test]
    fn inflections_are_regular_only() {
        assert!(inflects("scaled", "scale"));
        assert!(inflects("scaling", "scale"));
        assert!(inflects("stopped", "stop"));
        assert!(inflects("runs", "run"));
        assert!(!inflects("rerun", "run"));
        assert!(!inflects("addresses", "add"));
        assert!(!inflects("listen", "list"));
    }

    #[test]
    fn every_action_with_evidence_is_a_parser_action() {
        for (action, _) in EVIDENCE {
            assert!(crate::ACTIONS.contains(action), "{action}");
        }
        for (_, action) in PHRASES {
            assert!(crate::ACTIONS.contains(action), "{action}");
        }
    }
}
