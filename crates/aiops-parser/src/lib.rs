//! Deterministic rules parser for `aiopsd`: one plain-English request in, one typed
//! intent from the fixed action catalog (see `catalog.md`) or `Unrecognized` out.
//!
//! # Why it does no I/O
//!
//! [`parse`] is a pure function of its input: no files, network, clock, environment,
//! randomness or model downloads. That makes it reproducible (the same sentence always
//! gives the same intent, so audit records can be re-derived), safe on untrusted text,
//! cheap to test exhaustively, and usable as the strict fallback when the LLM parser is
//! unavailable. Everything with side effects lives in other crates.
//!
//! # How it works
//!
//! 1. Refuse outright: empty or over-long input (> [`MAX_INPUT_CHARS`]), control
//!    characters, prompt-injection phrasing, several sentences asking for things.
//! 2. Normalise and tokenise (dots inside names and addresses never split sentences),
//!    drop greetings and courtesy ("could you", "please", "thanks").
//! 3. Questions ("how/why/what…", or ending in `?`) become `ops.ask` with the original
//!    sentence, except DNS questions ("what does X resolve to?", "does X have a DNS
//!    entry?", "is there an MX record for X?") → `dns.lookup` and "what pods are
//!    running in X?" / "what is running in the X namespace?" → `k8s.list_pods`, when
//!    every word of them fits.
//! 4. Commands: the leading verb plus the objects named pick one action frame (a
//!    stated wish, "I want X to resolve to Y", "I need 7 pods for the X deployment",
//!    stands for a verb; such indirect wordings tolerate no unknown word); each
//!    slot is filled only from explicit cues ("in namespace X", "to N replicas",
//!    "ttl N", "on port N", "limited to X", …) and validated (RFC 1123 labels, DNS
//!    names, `Ipv4Addr`, ranges). Negation, conditions, bulk words, a second verb,
//!    conflicting values, stray numbers/addresses/names, or more than two unknown words
//!    make the whole request `Unrecognized`. Precision over recall.
//!
//! # Numbers
//!
//! Counts, TTLs and ports may be digits, words or both ("7", "seven", "twenty-five",
//! "one hundred", "2 thousand", "a hundred and five"). A number phrase is always read
//! whole, or the request is refused ("two three", "hundreds", "minus 5"): a prefix of
//! a number is never taken, so "one hundred replicas" is 100 (and then refused by the
//! range check if too large), never 1. [`numbers_in`] exposes the same reading for
//! other crates, e.g. to check that every number in a model-produced intent is
//! stated in the request; [`number_phrase`] and [`number_phrases`] work on words.
//! [`verb_evidence`] likewise exposes the verb lists: which actions a sentence's
//! wording could ask for at all. [`tokens`], [`accounts_for`] and [`can_be_name`] give
//! the word-level view: whether a reading of an action accounts for every word.
//!
//! Parameters carry only what the sentence states (or what its wording implies, such
//! as "the CNAME www…" → `type: "CNAME"`); catalog defaults (ttl 3600, namespace
//! "default", type "A", port 80) are filled by the daemon from the JSON Schema.
//!
//! # Confidence
//!
//! 0.95 when every slot came from an explicit cue; minus 0.05 per slot taken from
//! position alone ("scale web to 3" without the word "deployment"), minus 0.03 per
//! tolerated unknown word, minus 0.02 per parameter left to its default; clamped to
//! [0.80, 0.95]. `ops.ask` is 0.90. There is no lower band: a request the rules
//! cannot fill with confidence is refused rather than scored low.

mod evidence;
mod frames;
mod lexicon;
mod slots;
mod stage;
mod text;
mod values;
mod vocab;

pub use evidence::verb_evidence;
pub use slots::number::{NumberPhrase, number_phrase, number_phrases, numbers_in};
pub use stage::RulesParser;
pub use vocab::{accounts_for, can_be_name, is_k8s_object_word, kind_slash_name, tokens};

use serde::Serialize;
use serde_json::{Map, Value};

use lexicon::is_in;
use text::{Sentence, Tok};

/// A recognised intent: a catalog action name and its parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parsed {
    /// Catalog action name, one of [`ACTIONS`].
    pub action: String,
    /// Parameters stated in the request (`ttl`, `replicas`, `port` are integers,
    /// everything else strings). Defaults are not filled in here.
    pub params: Map<String, Value>,
    /// In (0, 1]; see the crate docs for the rule.
    pub confidence: f64,
}

/// The result of parsing one request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ParseOutcome {
    /// Exactly one catalog action with its parameters.
    Intent(Parsed),
    /// Nothing should run; `reason` says why (safe to show to the requester).
    Unrecognized { reason: String },
}

impl ParseOutcome {
    /// The intent, if one was recognised.
    pub fn intent(&self) -> Option<&Parsed> {
        match self {
            ParseOutcome::Intent(p) => Some(p),
            ParseOutcome::Unrecognized { .. } => None,
        }
    }
}

/// The action names this parser can emit (a test elsewhere checks each is in the catalog).
pub const ACTIONS: &[&str] = &[
    "dns.create_a_record",
    "dns.delete_record",
    "dns.lookup",
    "k8s.scale_deployment",
    "k8s.restart_deployment",
    "k8s.list_pods",
    "k8s.delete_pod",
    "k8s.expose_service",
    "ansible.run_playbook",
    "ops.ask",
];

/// Longer requests are refused without being analysed.
pub const MAX_INPUT_CHARS: usize = 2000;

/// Parse one plain-language request. Never panics; pure (no I/O).
pub fn parse(nl: &str) -> ParseOutcome {
    match parse_inner(nl) {
        Ok(p) => ParseOutcome::Intent(p),
        Err(reason) => ParseOutcome::Unrecognized { reason },
    }
}

type R<T> = Result<T, String>;

fn parse_inner(nl: &str) -> R<Parsed> {
    if nl.len() > MAX_INPUT_CHARS * 4 || nl.chars().count() > MAX_INPUT_CHARS {
        return Err(format!("request longer than {MAX_INPUT_CHARS} characters"));
    }
    let trimmed = nl.trim();
    if trimmed.is_empty() {
        return Err("empty request".into());
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err("control characters in request".into());
    }
    let norm = text::normalize(trimmed);
    if lexicon::looks_like_injection(&norm.to_lowercase()) {
        return Err("the request contains instruction-like text; nothing will run".into());
    }
    match text::split_sentences(&norm).as_slice() {
        [] => Err("no request found".into()),
        [s] => single(s, trimmed),
        many => multi(many, trimmed),
    }
}

fn starts_with(toks: &[Tok], words: &[&str]) -> bool {
    toks.len() >= words.len() && toks.iter().zip(words).all(|(t, w)| t.low == *w)
}

fn strip_greetings(toks: &mut Vec<Tok>) {
    while toks.len() > 1 && is_in(lexicon::GREETINGS, &toks[0].low) {
        toks.remove(0);
        if toks.len() > 1
            && is_in(
                &["there", "team", "all", "folks", "everyone", "guys"],
                &toks[0].low,
            )
        {
            toks.remove(0);
        }
    }
}

/// Drop request prefixes ("could you please", "I need to"); true if any were dropped.
fn strip_polite(toks: &mut Vec<Tok>) -> bool {
    let mut any = false;
    'again: loop {
        for p in lexicon::POLITE_PREFIXES {
            if toks.len() > p.len() && starts_with(toks, p) {
                toks.drain(0..p.len());
                any = true;
                continue 'again;
            }
        }
        return any;
    }
}

fn strip_suffixes(toks: &mut Vec<Tok>) {
    'again: loop {
        for s in lexicon::POLITE_SUFFIXES {
            let n = s.len();
            if toks.len() > n
                && toks[toks.len() - n..]
                    .iter()
                    .zip(s.iter())
                    .all(|(t, w)| t.low == *w)
            {
                toks.truncate(toks.len() - n);
                continue 'again;
            }
        }
        return;
    }
}

fn ops_ask(original: &str) -> Parsed {
    let mut params = Map::new();
    params.insert("question".into(), Value::from(original));
    Parsed {
        action: "ops.ask".into(),
        params,
        confidence: 0.90,
    }
}

fn single(s: &Sentence, original: &str) -> R<Parsed> {
    let mut toks = s.toks.clone();
    strip_greetings(&mut toks);
    strip_suffixes(&mut toks);
    let polite = strip_polite(&mut toks);
    let Some(first) = toks.first().map(|t| t.low.clone()) else {
        return Err("no request found".into());
    };
    let second = toks.get(1).map_or("", |t| t.low.as_str());
    let strong = is_in(lexicon::STRONG_QUESTION, &first)
        || (first == "tell" && is_in(&["me", "us"], second));
    if strong {
        return question(&toks, original);
    }
    if !polite
        && is_in(lexicon::AUX_QUESTION, &first)
        && (s.question || is_in(lexicon::SUBJECTS, second))
    {
        return question(&toks, original);
    }
    if s.question && !polite {
        if lexicon::is_action_verb(&first) || first == "kubectl" {
            return Err("say the request as an instruction, not a question".into());
        }
        return question(&toks, original);
    }
    command(toks)
}

/// Several sentences: only a question with context ("DNS fails for x. Why?") is
/// accepted, as `ops.ask`; several instructions are refused.
fn multi(sentences: &[Sentence], original: &str) -> R<Parsed> {
    if !sentences.last().is_some_and(|s| s.question) {
        return Err("several sentences: send one request at a time".into());
    }
    for s in sentences {
        let mut toks = s.toks.clone();
        strip_greetings(&mut toks);
        if strip_polite(&mut toks) {
            return Err("several sentences: send one request at a time".into());
        }
        let first = toks.first().map_or("", |t| t.low.as_str());
        if lexicon::is_action_verb(first) || first == "kubectl" {
            return Err("several sentences: send one request at a time".into());
        }
    }
    let all: Vec<Tok> = sentences
        .iter()
        .flat_map(|s| s.toks.iter().cloned())
        .collect();
    embedded_command(&all)?;
    Ok(ops_ask(original))
}

fn question(toks: &[Tok], original: &str) -> R<Parsed> {
    let first = toks.first().map_or("", |t| t.low.as_str());
    let second = toks.get(1).map_or("", |t| t.low.as_str());
    let object = [
        lexicon::POD_WORDS,
        lexicon::DEPLOY_WORDS,
        lexicon::SERVICE_WORDS,
        lexicon::NS_WORDS,
        lexicon::OTHER_KINDS,
    ];
    if is_in(&["describe", "explain"], first) && object.iter().any(|set| is_in(set, second)) {
        return Err("describing a live object is not a catalog action".into());
    }
    embedded_command(toks)?;
    if is_in(
        &[
            "what", "what's", "whats", "which", "where", "where's", "tell",
        ],
        first,
    ) && toks.iter().any(|t| is_in(lexicon::LOOKUP_CUES, &t.low))
    {
        match frames::lookup_question(toks) {
            Ok(p) => return Ok(p),
            // A DNS-shaped question about a specific name that we cannot answer
            // exactly is refused rather than sent to the runbooks.
            Err(e) if toks.iter().any(|t| t.low.contains('.')) => return Err(e),
            Err(_) => {}
        }
    }
    // "does X have a DNS entry?", "is there an MX record for X?": answered exactly when
    // every word fits, else left to the runbooks like any question.
    let has = |set: &[&str]| toks.iter().any(|t| is_in(set, &t.low));
    if is_in(&["does", "do", "is", "are", "has", "have"], first)
        && has(lexicon::LOOKUP_CUES)
        && toks.iter().any(|t| t.low.contains('.'))
        && let Ok(p) = frames::lookup_question(toks)
    {
        return Ok(p);
    }
    let running_in_namespace = is_in(&["what", "what's", "whats"], first)
        && has(&["running", "deployed"])
        && has(&["namespace", "ns"]);
    if (is_in(&["what", "which"], first) && is_in(&["pods", "pod"], second) || running_in_namespace)
        && let Ok(p) = frames::pods_question(toks)
    {
        return Ok(p);
    }
    if toks.len() < 2 {
        return Err("too short to be a question".into());
    }
    Ok(ops_ask(original))
}

/// A question must not smuggle in an instruction: "explain X and then delete Y",
/// "… and delete every pod". `ops.ask` is read-only, but a sentence like that is
/// not a question we should answer either.
fn embedded_command(toks: &[Tok]) -> R<()> {
    let imperative = toks
        .first()
        .is_some_and(|t| is_in(&["explain", "describe", "tell"], &t.low));
    for (i, t) in toks.iter().enumerate() {
        let next_verb = toks
            .iter()
            .skip(i + 1)
            .take(2)
            .any(|n| lexicon::is_action_verb(&n.low));
        if t.low == "then" && next_verb {
            return Err("a question with an instruction attached; nothing will run".into());
        }
        if imperative && (t.low == "and" || t.low == "&") && next_verb {
            return Err("a question with an instruction attached; nothing will run".into());
        }
    }
    let destructive = toks.iter().any(|t| is_in(lexicon::DESTRUCTIVE, &t.low));
    let bulk = toks.iter().any(|t| is_in(lexicon::BULK, &t.low));
    if destructive && bulk {
        return Err(
            "a question about bulk destruction is not answered automatically; ask a person".into(),
        );
    }
    Ok(())
}

fn command(mut toks: Vec<Tok>) -> R<Parsed> {
    let kubectl = toks.first().is_some_and(|t| t.low == "kubectl");
    if kubectl {
        toks.remove(0);
    }
    // "do a rolling restart of …", "perform a dns lookup of …"
    if toks.len() > 2
        && is_in(&["do", "perform", "trigger", "issue"], &toks[0].low)
        && is_in(&["a", "an"], &toks[1].low)
        && (is_in(&["restart", "lookup", "scale"], &toks[2].low) || toks[2].low == "dns")
    {
        toks.drain(0..2);
    }
    // "I want X to resolve to Y", "I need 7 pods for …": the wish stands for a verb.
    if let Some(p) = lexicon::DESIRE_PREFIXES
        .iter()
        .find(|p| toks.len() > p.len() && starts_with(&toks, p))
    {
        let raw: Vec<&str> = toks[..p.len()].iter().map(|t| t.raw.as_str()).collect();
        let want = Tok::with_low(&raw.join(" "), "want");
        toks.splice(0..p.len(), [want]);
    }
    frames::command(&toks, kubectl)
}
