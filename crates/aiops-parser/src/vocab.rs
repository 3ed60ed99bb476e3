//! Word-level views of the lexicon for holding another parser's reading to a sentence.
//!
//! A language model can drop what it was told ("show the pods of pipeline" read as the
//! default namespace) or answer a sentence that also says "not", "every" or "reboot".
//! With these views a caller checks that every word of the sentence is accounted for by
//! the answered action ([`accounts_for`]) or by a parameter value, reading the words the
//! way the rules parser does ([`tokens`]), and that no name is a word of the grammar
//! ([`can_be_name`]). Pure, like the rest of the crate.

use crate::lexicon::{self as lx, is_in};
use crate::slots::dns::RecordType;
use crate::slots::number;
use crate::{evidence, frames, text};

/// The words of `nl` as the rules parser reads them: lower-case, edge punctuation and a
/// trailing dot removed, `kind/name` and `key=value` split, flags canonical (`-n` is
/// `namespace`), multi-word verbs merged ("get rid of" is `remove`).
pub fn tokens(nl: &str) -> Vec<String> {
    text::split_sentences(&text::normalize(nl))
        .into_iter()
        .flat_map(|s| s.toks.into_iter().map(|t| t.low))
        .collect()
}

/// True if a request for `action` (a catalog action name) accounts for `word` (one of
/// [`tokens`]): one of the action's own verbs or frame fillers, or a word of the grammar
/// (articles, prepositions, courtesy, object nouns, slot cues, number words).
///
/// Never accounted for, whatever the action: negation, conditions, schedules, bulk and
/// vague amounts, units of time, objects no action works on, verbs of other operations,
/// record types other than A (a caller accepts those only when a parameter carries
/// them), question words outside the question frames, and unknown words.
pub fn accounts_for(action: &str, word: &str) -> bool {
    if frames::is_action_filler(action, word) || evidence::word_actions(word).contains(&action) {
        return true;
    }
    if changes_meaning(word) {
        return false;
    }
    if is_in(lx::COURTESY, word)
        || is_in(lx::GREETINGS, word)
        || phrase_word(lx::POLITE_PREFIXES, word)
        || phrase_word(lx::POLITE_SUFFIXES, word)
        || phrase_word(lx::DESIRE_PREFIXES, word)
    {
        return true;
    }
    if lx::is_action_verb(word) || !evidence::word_actions(word).is_empty() {
        return false;
    }
    // "ns" is a namespace in a Kubernetes request and a record type in a DNS one.
    if is_in(lx::NS_WORDS, word) && !action.starts_with("dns.") {
        return true;
    }
    if is_record_type(word) {
        return false;
    }
    [
        lx::FILLER,
        lx::ARTICLES,
        lx::PRE_NAME,
        lx::PREPOSITIONS,
        lx::BOUNDARY,
        lx::NS_CUES,
        lx::AND_OK,
        lx::SUBJECTS,
        lx::CUE_WORDS,
        lx::GROUPISH,
        lx::RECORD_NOUNS,
        lx::SLASH_KINDS,
        EXTRA_KNOWN,
    ]
    .iter()
    .any(|set| is_in(set, word))
        || lx::is_object_word(word)
        || number::is_number_word(word)
}

/// Tool and naming words, and a pronoun for the object already named ("pods in
/// payments, list them").
const EXTRA_KNOWN: &[&str] = &[
    "kubectl",
    "k8s",
    "kubernetes",
    "ansible",
    "named",
    "called",
    "a-record",
    "them",
];

/// Words that change what is asked and that no parameter can carry: negation,
/// conditions, schedules, bulk and vague amounts, units of time, other kinds of object.
fn changes_meaning(word: &str) -> bool {
    lx::is_negation(word)
        || [
            lx::REFUSE_WORDS,
            lx::BULK,
            lx::VAGUE_NUMBERS,
            lx::TIME_WORDS,
            lx::OTHER_KINDS,
        ]
        .iter()
        .any(|set| is_in(set, word))
}

/// A record type named by a word of its own, other than A.
fn is_record_type(word: &str) -> bool {
    RecordType::from_word(word).is_some_and(|t| t != RecordType::A)
        || is_in(lx::UNSUPPORTED_TYPES, word)
}

fn phrase_word(phrases: &[&[&str]], word: &str) -> bool {
    phrases.iter().any(|p| is_in(p, word))
}

/// False for words that structure a sentence (articles, prepositions, object nouns, cue
/// words, bulk words such as "every" or "all", number words…): such a word is never a
/// name, namespace, service or playbook, whatever a model says.
pub fn can_be_name(word: &str) -> bool {
    let w = word.to_lowercase();
    !lx::is_structural(&w) && !is_in(lx::BULK, &w) && !lx::is_negation(&w)
}

/// True for the Kubernetes object nouns (pod, deployment, service, namespace, replica):
/// a sentence naming one is about a live object, not a runbook question.
pub fn is_k8s_object_word(word: &str) -> bool {
    [
        lx::POD_WORDS,
        lx::DEPLOY_WORDS,
        lx::SERVICE_WORDS,
        lx::NS_WORDS,
        lx::REPLICA_WORDS,
    ]
    .iter()
    .any(|set| is_in(set, word))
}

/// The name in a `kind/name` word when `kind` is a Kubernetes kind written that way
/// (`deployment/web` → `web`), as the rules tokenizer splits it.
pub fn kind_slash_name(word: &str) -> Option<&str> {
    let (kind, name) = word.split_once('/')?;
    (!name.is_empty() && !name.contains('/') && is_in(lx::SLASH_KINDS, &kind.to_lowercase()))
        .then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_read_as_the_rules_parser_reads_them() {
        assert_eq!(
            tokens("kubectl scale deployment/web --replicas=3 -n shop."),
            [
                "kubectl",
                "scale",
                "deployment",
                "web",
                "replicas",
                "3",
                "namespace",
                "shop"
            ]
        );
        assert_eq!(
            tokens("list pods in ../../etc"),
            ["list", "pods", "in", "../../etc"]
        );
        assert_eq!(tokens("get rid of pod x"), ["remove", "pod", "x"]);
    }

    #[test]
    fn words_accounted_for_by_an_action() {
        // (action, word, accounted)
        let cases: &[(&str, &str, bool)] = &[
            ("k8s.restart_deployment", "restart", true),
            ("k8s.restart_deployment", "bounced", true),
            ("k8s.restart_deployment", "the", true),
            ("k8s.restart_deployment", "deployment", true),
            ("k8s.restart_deployment", "namespace", true),
            ("k8s.restart_deployment", "ns", true),
            ("k8s.restart_deployment", "stuck", true),
            ("k8s.restart_deployment", "please", true),
            ("k8s.restart_deployment", "could", true),
            // verbs of other operations
            ("k8s.restart_deployment", "delete", false),
            ("k8s.restart_deployment", "list", false),
            ("k8s.restart_deployment", "reboot", false),
            // meaning changers
            ("k8s.restart_deployment", "not", false),
            ("k8s.restart_deployment", "every", false),
            ("k8s.restart_deployment", "all", false),
            ("k8s.restart_deployment", "tomorrow", false),
            ("k8s.restart_deployment", "statefulset", false),
            ("k8s.restart_deployment", "maybe", false),
            // question words only in the question frames
            ("k8s.restart_deployment", "how", false),
            ("k8s.list_pods", "what", true),
            ("k8s.list_pods", "them", true),
            ("dns.lookup", "where", true),
            // unknown words
            ("k8s.list_pods", "pipeline", false),
            ("k8s.list_pods", "payments", false),
            // the frame's own fillers
            ("k8s.list_pods", "all", true),
            ("k8s.expose_service", "https", true),
            ("k8s.expose_service", "httproute", true),
            ("dns.create_a_record", "point", true),
            ("dns.lookup", "point", true),
            ("k8s.scale_deployment", "increase", true),
            ("k8s.scale_deployment", "by", false),
            // record types: a parameter must carry them
            ("dns.lookup", "mx", false),
            ("dns.delete_record", "cname", false),
            ("dns.delete_record", "ns", false),
            ("dns.create_a_record", "a", true),
            ("dns.create_a_record", "a-record", true),
            ("k8s.scale_deployment", "seven", true),
            ("k8s.scale_deployment", "7", true),
        ];
        for (action, word, want) in cases {
            assert_eq!(accounts_for(action, word), *want, "{action}: {word}");
        }
    }

    #[test]
    fn grammar_words_are_never_names() {
        for w in [
            "every",
            "all",
            "Each",
            "the",
            "pods",
            "namespace",
            "playbook",
            "not",
        ] {
            assert!(!can_be_name(w), "{w}");
        }
        for w in ["web", "shop", "backup", "ping", "default", "kube-system"] {
            assert!(can_be_name(w), "{w}");
        }
    }

    #[test]
    fn kind_slash_name_takes_known_kinds_only() {
        assert_eq!(kind_slash_name("deployment/web"), Some("web"));
        assert_eq!(kind_slash_name("Deploy/traefik"), Some("traefik"));
        assert_eq!(kind_slash_name("../etc"), None);
        assert_eq!(kind_slash_name("a/b"), None);
        assert_eq!(kind_slash_name("pod/x/y"), None);
    }
}
