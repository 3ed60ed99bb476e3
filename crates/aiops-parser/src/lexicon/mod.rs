//! Word lists and the predicates built on them. Every list is lower-case; lookups are
//! exact. The lists are grouped by what they are for; this module re-exports them all.

// The word lists are tables: kept packed (several words a line) so they read as tables
// rather than as hundreds of one-word lines.
#[rustfmt::skip]
mod discourse;
#[rustfmt::skip]
mod fillers;
#[rustfmt::skip]
mod grammar;
#[rustfmt::skip]
mod numbers;
#[rustfmt::skip]
mod objects;
#[rustfmt::skip]
mod verbs;

pub(crate) use discourse::*;
pub(crate) use fillers::*;
pub(crate) use grammar::*;
pub(crate) use numbers::*;
pub(crate) use objects::*;
pub(crate) use verbs::*;

/// Words (besides the lists) that can never be a name found by position only.
const RESERVED_EXTRA: &[&str] = &[
    "all",
    "ansible",
    "kubectl",
    "k8s",
    "kubernetes",
    "count",
    "instances",
    "copies",
    "up",
    "down",
    "out",
    "traffic",
    "available",
    "number",
    "entry",
    "entries",
    "value",
    "against",
    "targeting",
    "target",
    "restricted",
    "restrict",
    "rolling",
    "current",
    "currently",
    "which",
    "what",
    "name",
    "dry",
    "mode",
    "check",
];

/// Words (besides the lists) that structure a sentence and so are never a cued name.
const STRUCTURAL_EXTRA: &[&str] = &[
    "all",
    "ansible",
    "kubectl",
    "named",
    "called",
    "count",
    "number",
    "instances",
    "copies",
    "a-record",
];

/// True if the (lower-cased) text contains an instruction-steering phrase.
pub(crate) fn looks_like_injection(lower: &str) -> bool {
    let collapsed = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    INJECTION.iter().any(|p| collapsed.contains(p))
}

pub(crate) fn is_in(set: &[&str], w: &str) -> bool {
    set.contains(&w)
}

/// Negation words, including any "n't" contraction.
pub(crate) fn is_negation(w: &str) -> bool {
    is_in(NEGATIONS, w) || w.ends_with("n't")
}

/// Every verb that names some operation (ours or not): the frame verbs and the rest.
pub(crate) fn is_action_verb(w: &str) -> bool {
    [
        V_CREATE,
        V_DELETE,
        V_LOOKUP_STRONG,
        V_LOOKUP_WEAK,
        V_SCALE,
        V_SET_REPLICAS,
        V_RESTART,
        V_SCALE_TO,
        V_LIST,
        V_EXPOSE,
        V_RUN,
        OTHER_VERBS,
    ]
    .iter()
    .any(|set| is_in(set, w))
}

/// Words naming one of the objects our actions work on (pods, deployments, services,
/// playbooks, DNS records, replicas, namespaces).
pub(crate) fn is_object_word(w: &str) -> bool {
    [
        POD_WORDS,
        DEPLOY_WORDS,
        SERVICE_WORDS,
        PLAYBOOK_WORDS,
        DNS_WORDS,
        REPLICA_WORDS,
        NS_WORDS,
    ]
    .iter()
    .any(|set| is_in(set, w))
}

/// Words that can never be a name (deployment, namespace, pod, service, playbook).
pub(crate) fn is_reserved(w: &str) -> bool {
    [
        FILLER,
        OTHER_KINDS,
        UNSUPPORTED_TYPES,
        TIME_WORDS,
        CUE_WORDS,
        REFUSE_WORDS,
        NEGATIONS,
        STRONG_QUESTION,
        AUX_QUESTION,
        SUBJECTS,
        PRE_NAME,
        BOUNDARY,
        GREETINGS,
        COURTESY,
        NS_CUES,
        STATE_WORDS,
        RESERVED_EXTRA,
    ]
    .iter()
    .any(|set| is_in(set, w))
        || is_object_word(w)
        || is_action_verb(w)
        || crate::slots::number::is_number_word(w)
}

/// Words that structure a sentence and so can never be a name, even a loosely cued one.
pub(crate) fn is_structural(w: &str) -> bool {
    [
        FILLER,
        PRE_NAME,
        BOUNDARY,
        REFUSE_WORDS,
        NEGATIONS,
        STRONG_QUESTION,
        AUX_QUESTION,
        SUBJECTS,
        CUE_WORDS,
        NS_CUES,
        TIME_WORDS,
        STATE_WORDS,
        STRUCTURAL_EXTRA,
    ]
    .iter()
    .any(|set| is_in(set, w))
        || is_object_word(w)
        || crate::slots::number::is_number_word(w)
}
