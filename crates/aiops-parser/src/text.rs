//! Text normalisation, sentence splitting and tokenisation.
//!
//! Everything here is total: any `&str` yields some (possibly empty) output.

use crate::lexicon;

/// One token: the text as typed (edge punctuation removed) and its lower-case form.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tok {
    pub raw: String,
    pub low: String,
}

impl Tok {
    fn new(raw: &str) -> Self {
        Tok {
            raw: raw.to_string(),
            low: raw.to_lowercase(),
        }
    }

    pub(crate) fn with_low(raw: &str, low: &str) -> Self {
        Tok {
            raw: raw.to_string(),
            low: low.to_string(),
        }
    }
}

/// A sentence: its tokens and whether it ended with a question mark.
#[derive(Debug, Clone)]
pub(crate) struct Sentence {
    pub toks: Vec<Tok>,
    pub question: bool,
}

/// Map typographic quotes and arrows to ASCII and odd whitespace to a space.
pub(crate) fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\u{2018}' | '\u{2019}' | '\u{02BC}' | '\u{00B4}' | '`' => out.push('\''),
            '\u{201C}' | '\u{201D}' => out.push('"'),
            '\u{2192}' | '\u{21D2}' | '\u{27F6}' => out.push_str(" -> "),
            '\u{2013}' | '\u{2014}' => out.push_str(" - "),
            '\t' | '\r' => out.push(' '),
            c if c.is_whitespace() && c != '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Split into sentences at `;`, newlines, and `.`/`!`/`?` followed by whitespace or
/// the end (so dots inside names and addresses never split). Sentences made only of
/// courtesy words ("thanks", "hi") are dropped.
pub(crate) fn split_sentences(s: &str) -> Vec<Sentence> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let next_is_break = chars.get(i + 1).is_none_or(|n| n.is_whitespace());
        // A dot ending a word that already contains a dot is a fully qualified name
        // ("Test.Local.") or an address, not the end of a sentence. If it really was
        // one, the words that follow stay in this sentence and are judged with it.
        let fqdn_dot = c == '.'
            && cur
                .rsplit(char::is_whitespace)
                .next()
                .is_some_and(|w| w.contains('.'));
        match c {
            ';' | '\n' => flush(&mut out, &mut cur, false),
            '.' if fqdn_dot && chars.get(i + 1).is_some() => cur.push(c),
            '.' | '!' | '?' if next_is_break => flush(&mut out, &mut cur, c == '?'),
            _ => cur.push(c),
        }
    }
    flush(&mut out, &mut cur, false);
    out
}

fn flush(out: &mut Vec<Sentence>, cur: &mut String, question: bool) {
    let text = std::mem::take(cur);
    let toks = tokenize(&text);
    if toks.is_empty() {
        // "Restart it?!" – a trailing terminator after a question keeps the flag.
        return;
    }
    if toks
        .iter()
        .all(|t| lexicon::COURTESY.contains(&t.low.as_str()))
    {
        return;
    }
    out.push(Sentence { toks, question });
}

const LEAD_STRIP: &[char] = &['"', '\'', '(', '[', '{', '<'];
const TRAIL_STRIP: &[char] = &['"', '\'', ')', ']', '}', '>', ',', ':', ';', '!', '?', '.'];

/// Split one sentence into tokens, then merge multi-word verbs.
pub(crate) fn tokenize(s: &str) -> Vec<Tok> {
    let mut toks = Vec::new();
    for chunk in s.split_whitespace() {
        if is_arrow(chunk) {
            toks.push(Tok::new("->"));
            continue;
        }
        let w = trim_trailing(chunk.trim_start_matches(LEAD_STRIP));
        if w.is_empty() || w == "-" || w == "=" {
            continue;
        }
        // key=value → key value
        if let Some((k, v)) = w.split_once('=') {
            let v = v.trim_matches(|c| c == '\'' || c == '"');
            if !k.is_empty() {
                push_word(&mut toks, k);
            }
            if !v.is_empty() {
                push_word(&mut toks, v);
            }
            continue;
        }
        push_word(&mut toks, w);
    }
    merge_phrases(toks)
}

/// Removes trailing punctuation, except a run of dots after a dotted word: `k1.local..`
/// has an empty label and must reach the validators as typed, never as `k1.local` (one
/// trailing dot, the FQDN form, is for the validators to accept). Plain words lose their
/// dots as before ("restart it...").
fn trim_trailing(w: &str) -> &str {
    let bare = w.trim_end_matches(TRAIL_STRIP);
    let tail = &w[bare.len()..];
    if bare.contains('.') && tail.starts_with("..") {
        let dots = tail.len() - tail.trim_start_matches('.').len();
        return &w[..bare.len() + dots];
    }
    bare
}

fn is_arrow(chunk: &str) -> bool {
    chunk.contains('>') && chunk.chars().all(|c| matches!(c, '-' | '=' | '>' | '~'))
}

fn push_word(toks: &mut Vec<Tok>, w: &str) {
    // kind/name → kind name (deployment/web, pod/x, svc/y)
    if let Some((kind, name)) = w.split_once('/') {
        let k = kind.to_lowercase();
        if !name.is_empty() && !name.contains('/') && lexicon::SLASH_KINDS.contains(&k.as_str()) {
            toks.push(Tok::new(kind));
            toks.push(Tok::new(name));
            return;
        }
    }
    let mut raw = w;
    // possessive on a dotted name: "x.example.com's"
    if raw.contains('.')
        && let Some(stripped) = raw.strip_suffix("'s")
    {
        raw = stripped;
    }
    let low = raw.to_lowercase();
    let canon = match low.as_str() {
        "--replicas" => Some("replicas"),
        "--namespace" | "-n" => Some("namespace"),
        "--limit" | "-l" => Some("limit"),
        "--port" => Some("port"),
        "--ttl" => Some("ttl"),
        "-a" | "--all" | "--all-namespaces" | "-all" => Some("all"),
        "a-record" | "arecord" => Some("a-record"),
        _ => None,
    };
    match canon {
        Some(c) => toks.push(Tok::with_low(raw, c)),
        None => toks.push(Tok::new(raw)),
    }
}

/// Multi-word verbs become one token (raw keeps the words typed).
const PHRASES: &[(&[&str], &[&str])] = &[
    (&["get", "rid", "of"], &["remove"]),
    (&["look", "up"], &["lookup"]),
    (&["look-up"], &["lookup"]),
    (&["rollout", "restart"], &["restart"]),
    (&["roll", "out", "restart"], &["restart"]),
    (&["rolling", "restart"], &["restart"]),
    (&["rollout-restart"], &["restart"]),
    (&["kick", "off"], &["run"]),
    (&["kick-off"], &["run"]),
    (&["scale", "up"], &["scale"]),
    (&["scale", "down"], &["scale"]),
    (&["scale", "out"], &["scale"]),
    (&["ansible-playbook"], &["run", "playbook"]),
    (&["ip", "address"], &["ip"]),
    (&["thank", "you"], &["thanks"]),
    // "roll" alone is a rolling restart; "roll back" and "roll out" are not.
    (&["roll", "back"], &["rollback"]),
    (&["roll-back"], &["rollback"]),
    (&["roll", "out"], &["rollout"]),
];

fn merge_phrases(toks: Vec<Tok>) -> Vec<Tok> {
    let mut out = Vec::with_capacity(toks.len());
    let mut i = 0;
    'outer: while i < toks.len() {
        for (pat, repl) in PHRASES {
            let n = pat.len();
            if i + n <= toks.len()
                && toks[i..i + n]
                    .iter()
                    .zip(pat.iter())
                    .all(|(t, p)| t.low == *p)
            {
                let raw = toks[i..i + n]
                    .iter()
                    .map(|t| t.raw.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                for r in *repl {
                    out.push(Tok::with_low(&raw, r));
                }
                i += n;
                continue 'outer;
            }
        }
        out.push(toks[i].clone());
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lows(s: &str) -> Vec<String> {
        tokenize(s).into_iter().map(|t| t.low).collect()
    }

    #[test]
    fn splits_key_values_and_kinds() {
        assert_eq!(
            lows("--replicas=3 -n shop deployment/web"),
            ["replicas", "3", "namespace", "shop", "deployment", "web"]
        );
        assert_eq!(
            lows("ttl=60, (x.example.com.)"),
            ["ttl", "60", "x.example.com"]
        );
        assert_eq!(lows("a -> b"), ["a", "->", "b"]);
        assert_eq!(lows("get rid of it"), ["remove", "it"]);
    }

    #[test]
    fn sentences_do_not_split_inside_names() {
        let s = split_sentences("point db.corp.example.com to 10.0.1.30. Thanks!");
        assert_eq!(s.len(), 1);
        let s = split_sentences("restart web. then delete pod x");
        assert_eq!(s.len(), 2);
        let s = split_sentences("add test.local. to 10.0.0.1. thanks");
        assert_eq!(s.len(), 1);
        let s = split_sentences("why is dns failing?");
        assert!(s[0].question);
    }
}
