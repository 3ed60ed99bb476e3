//! Grounding: every value a model puts into an intent must be stated in the sentence, and
//! every value the sentence states must be carried by the intent. Pure functions.
//!
//! Tiny models invent names, numbers and namespaces readily, and drop what they were told;
//! the catalog schema cannot see either. So a validated answer is held to the sentence:
//! - a string parameter must occur in the sentence as whole tokens (split on whitespace
//!   and sentence punctuation only, never inside `../x`, `a.b` or `a-b`; compared without
//!   case, quotes or a trailing dot; `kind/name` names `name`);
//! - a name (a pattern-checked string) is never a grammar or bulk word ("every"), and
//!   one stated word fills one parameter;
//! - a number must be one the sentence states, as digits or a whole number phrase
//!   (`aiops_parser::numbers_in`: "one hundred" is 100, never 1);
//! - a parameter that is not stated must equal the catalog's default for it;
//! - and the other way round, every number, every dotted or digit-bearing name in the
//!   sentence and the namespace it names must be carried by the intent, so a dropped
//!   `ttl 300` or `namespace shop` does not silently become the default.

use serde_json::{Map, Value};

/// Why an answer is not grounded; `detail` names the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ungrounded {
    pub detail: String,
}

/// A sentence split into comparable words.
#[derive(Debug, Clone)]
pub struct Words {
    words: Vec<String>,
    numbers: Vec<u64>,
}

/// Sentence punctuation: it ends a token and is never part of a value.
const PUNCTUATION: &[char] = &[
    '"', '`', '(', ')', '[', ']', '{', '}', ',', ';', ':', '!', '?', '\u{201C}', '\u{201D}',
];

/// Lower-case, without surrounding quotes and punctuation, without a trailing dot.
pub fn normalize_word(w: &str) -> String {
    let w = w.trim_matches(|c: char| {
        PUNCTUATION.contains(&c) || matches!(c, '\'' | '\u{2018}' | '\u{2019}')
    });
    w.trim_end_matches('.').to_lowercase()
}

/// Characters that end a token: whitespace and sentence punctuation. Never `/`, `.`,
/// `-`, `_` or an apostrophe, so `../../etc`, `a.b` and `web-7d4b9` are one token each
/// (a value must match all of it, not a part).
fn splits_token(c: char) -> bool {
    c.is_whitespace() || PUNCTUATION.contains(&c)
}

/// A sentence word `a` states value word `b`: the same, or a playbook written `ping.yml`
/// for `ping` (the catalog names playbooks without the extension).
fn same_word(a: &str, b: &str) -> bool {
    a == b
        || [".yml", ".yaml"]
            .iter()
            .any(|ext| a.strip_suffix(ext) == Some(b))
}

impl Words {
    pub fn new(nl: &str) -> Self {
        let mut words = Vec::new();
        for raw in nl.split(splits_token) {
            // `--replicas=3` and `name=web` state a key and a value, as the rules
            // tokenizer reads them; `deployment/web` names `web` (kubectl style).
            for part in raw.split('=') {
                let w = normalize_word(part);
                if w.is_empty() {
                    continue;
                }
                match aiops_parser::kind_slash_name(&w) {
                    Some(name) => {
                        let kind = w[..w.len() - name.len() - 1].to_string();
                        let name = name.to_string();
                        words.extend([kind, name]);
                    }
                    None => words.push(w),
                }
            }
        }
        // Numbers are read from the split words, so `--replicas=3` states 3 too.
        let numbers = aiops_parser::numbers_in(&words.join(" "));
        Words { words, numbers }
    }

    /// How many times `value` occurs as consecutive whole words.
    fn occurrences(&self, value: &str) -> usize {
        let needle: Vec<String> = value
            .split_whitespace()
            .map(normalize_word)
            .filter(|w| !w.is_empty())
            .collect();
        if needle.is_empty() {
            return 0;
        }
        self.words
            .windows(needle.len())
            .filter(|w| w.iter().zip(&needle).all(|(a, b)| same_word(a, b)))
            .count()
    }

    /// True if `value`'s words occur consecutively in the sentence.
    fn has_phrase(&self, value: &str) -> bool {
        self.occurrences(value) > 0
    }

    fn has_number(&self, n: u64) -> bool {
        self.numbers.contains(&n)
    }

    /// True if the sentence states `value` (a string as whole words, a number as digits or
    /// a whole number phrase).
    pub fn states(&self, value: &Value) -> bool {
        match value {
            Value::String(s) => self.has_phrase(s),
            Value::Number(n) => n.as_u64().is_some_and(|n| self.has_number(n)),
            _ => false,
        }
    }
}

fn default_of<'a>(schema: &'a Value, key: &str) -> Option<&'a Value> {
    schema.get("properties")?.get(key)?.get("default")
}

/// Checks validated parameters (normalised, defaults filled) against the sentence.
pub fn check(nl: &str, schema: &Value, params: &Map<String, Value>) -> Result<(), Ungrounded> {
    let words = Words::new(nl);
    let fail = |detail: String| Err(Ungrounded { detail });
    for (key, value) in params {
        let default = default_of(schema, key) == Some(value);
        if !words.states(value) && !default {
            return fail(format!("`{key}` = {value} is not stated in the request"));
        }
        if let Some(name) = value
            .as_str()
            .filter(|_| is_identifier(schema, key) && !default)
        {
            // "restart every deployment" must not name the deployment `every`, nor "run
            // the playbook" the playbook `playbook`.
            if !aiops_parser::can_be_name(name) {
                return fail(format!(
                    "`{key}` = {value} is a structural or bulk word, never a name"
                ));
            }
            // One stated word names one thing: "restart the nginx deployment in
            // ingress" is not namespace `nginx` as well.
            let uses = params.values().filter(|v| v.as_str() == Some(name)).count();
            if uses > words.occurrences(name) {
                return fail(format!(
                    "`{key}` = {value} is stated once and used by {uses} parameters"
                ));
            }
        }
    }
    carried(&words, params)
}

/// A parameter that names something (a pattern-checked string: name, namespace, service,
/// hostname, playbook, limit), as opposed to an enumerated type or free text.
fn is_identifier(schema: &Value, key: &str) -> bool {
    schema
        .get("properties")
        .and_then(|p| p.get(key))
        .is_some_and(|p| {
            p.get("pattern").is_some() && p.get("type") == Some(&Value::from("string"))
        })
}

/// The other direction: what the sentence states must be in the intent.
fn carried(words: &Words, params: &Map<String, Value>) -> Result<(), Ungrounded> {
    let strings: Vec<Words> = params
        .values()
        .filter_map(Value::as_str)
        .map(Words::new)
        .collect();
    let in_strings = |w: &str| strings.iter().any(|s| s.words.iter().any(|x| x == w));
    let in_string_numbers = |n: u64| strings.iter().any(|s| s.numbers.contains(&n));
    let ints: Vec<u64> = params.values().filter_map(Value::as_u64).collect();
    for n in &words.numbers {
        if !ints.contains(n) && !in_string_numbers(*n) {
            return Err(Ungrounded {
                detail: format!("the request states {n}, which no parameter carries"),
            });
        }
    }
    for w in &words.words {
        let dotted = w.trim_matches('.').contains('.');
        let alnum = w.chars().any(|c| c.is_ascii_digit())
            && w.chars().any(|c| c.is_ascii_alphabetic())
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
        let yaml = w.ends_with(".yml") || w.ends_with(".yaml");
        if (dotted || alnum) && !yaml && w != "k8s" && !in_strings(w) {
            return Err(Ungrounded {
                detail: format!("the request names `{w}`, which no parameter carries"),
            });
        }
    }
    if let Some(ns) = stated_namespace(&words.words)
        && params
            .get("namespace")
            .and_then(Value::as_str)
            .is_some_and(|v| v != ns)
    {
        return Err(Ungrounded {
            detail: format!("the request names namespace `{ns}`, the answer another"),
        });
    }
    Ok(())
}

/// The namespace a sentence names: "namespace X", "ns X", "-n X", "in the X namespace".
fn stated_namespace(words: &[String]) -> Option<&str> {
    for (i, w) in words.iter().enumerate() {
        if matches!(w.as_str(), "namespace" | "ns" | "-n" | "--namespace")
            && let Some(next) = words.get(i + 1)
            && !matches!(next.as_str(), "the" | "a")
        {
            return Some(next);
        }
        if w == "namespace" && i >= 2 && matches!(words[i - 2].as_str(), "the" | "in" | "into") {
            return Some(&words[i - 1]);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "namespace": {"type": "string", "default": "default", "pattern": "^[a-z0-9-]+$"},
            "name": {"type": "string", "pattern": "^[a-z0-9.-]+$"},
            "replicas": {"type": "integer"},
            "ttl": {"type": "integer", "default": 3600},
            "ip": {"type": "string"},
            "type": {"type": "string", "default": "A"},
            "playbook": {"type": "string", "pattern": "^[a-z0-9_.-]+$"},
            "question": {"type": "string"}
        }})
    }

    fn check_json(nl: &str, params: Value) -> Result<(), Ungrounded> {
        check(nl, &schema(), params.as_object().unwrap())
    }

    #[test]
    fn grounding_table() {
        let ok: &[(&str, Value)] = &[
            (
                "scale web to 5 replicas",
                json!({"name": "web", "replicas": 5, "namespace": "default"}),
            ),
            (
                "scale web to five replicas",
                json!({"name": "web", "replicas": 5}),
            ),
            (
                "scale web to one hundred replicas",
                json!({"name": "web", "replicas": 100}),
            ),
            (
                "scale web to 5 hundred replicas",
                json!({"name": "web", "replicas": 500}),
            ),
            (
                "Point \"Test.Local.\" at 10.0.0.1",
                json!({"name": "test.local", "ip": "10.0.0.1", "ttl": 3600}),
            ),
            (
                "with ttl 300 point db.x to 10.0.0.2",
                json!({"name": "db.x", "ip": "10.0.0.2", "ttl": 300}),
            ),
            (
                "kubectl scale deployment/web --replicas=3",
                json!({"name": "web", "replicas": 3}),
            ),
            ("execute ping.yml", json!({"playbook": "ping"})),
            (
                "kubectl rollout restart deploy/traefik -n kube-system",
                json!({"name": "traefik", "namespace": "kube-system"}),
            ),
            (
                "restart web in web",
                json!({"name": "web", "namespace": "web"}),
            ),
            ("restart web.", json!({"name": "web"})),
            (
                "bounce web in the shop namespace",
                json!({"name": "web", "namespace": "shop"}),
            ),
            (
                "how do I rotate the key?",
                json!({"question": "how do I rotate the key?"}),
            ),
            (
                "remove the CNAME www.x.com",
                json!({"name": "www.x.com", "type": "CNAME"}),
            ),
        ];
        for (nl, params) in ok {
            assert_eq!(check_json(nl, params.clone()), Ok(()), "{nl}: {params}");
        }
        let refused: &[(&str, Value, &str)] = &[
            // "one hundred" is 100, never 1
            (
                "scale web to one hundred replicas",
                json!({"name": "web", "replicas": 1}),
                "replicas",
            ),
            // "5 hundred" is 500 only
            (
                "scale web to 5 hundred replicas",
                json!({"name": "web", "replicas": 5}),
                "replicas",
            ),
            (
                "scale web to 5 hundred replicas",
                json!({"name": "web", "replicas": 100}),
                "replicas",
            ),
            // invented values
            (
                "scale web to 5 replicas",
                json!({"name": "api", "replicas": 5}),
                "name",
            ),
            (
                "point db.x to 10.0.0.2",
                json!({"name": "db.x", "ip": "10.0.0.2", "ttl": 300}),
                "ttl",
            ),
            (
                "restart web",
                json!({"name": "web", "namespace": "prod"}),
                "namespace",
            ),
            // a part of a word is not the word
            ("delete pod web-7d4b9", json!({"name": "web"}), "`name`"),
            // dropped values
            (
                "point db.x to 10.0.0.2 with ttl 300",
                json!({"name": "db.x", "ip": "10.0.0.2", "ttl": 3600}),
                "300",
            ),
            (
                "restart web in namespace shop",
                json!({"name": "web", "namespace": "default"}),
                "shop",
            ),
            (
                "restart web in namespace shop",
                json!({"name": "shop", "namespace": "default"}),
                "shop",
            ),
            ("run ping on web01", json!({"playbook": "ping"}), "web01"),
            // a token is split on sentence punctuation only, never inside `../x`
            (
                "list pods in namespace ../../etc",
                json!({"namespace": "etc"}),
                "namespace",
            ),
            ("restart web/api", json!({"name": "api"}), "name"),
            ("restart web.api", json!({"name": "api"}), "name"),
            ("restart web-api", json!({"name": "api"}), "name"),
            // bulk and grammar words are never names
            (
                "restart every deployment in shop",
                json!({"name": "every", "namespace": "shop"}),
                "bulk",
            ),
            ("run the playbook", json!({"playbook": "playbook"}), "bulk"),
            // one stated word names one thing
            (
                "restart the nginx deployment in ingress",
                json!({"name": "nginx", "namespace": "nginx"}),
                "used by 2",
            ),
            (
                "point db.x to 10.0.0.2",
                json!({"name": "db.x", "ip": "10.0.0.3"}),
                "ip",
            ),
        ];
        for (nl, params, needle) in refused {
            let err = check_json(nl, params.clone()).expect_err(&format!("{nl}: {params}"));
            assert!(err.detail.contains(needle), "{nl}: {}", err.detail);
        }
    }
}
