//! Number phrases: digits, English number words and mixes of both ("7", "seven",
//! "twenty-five", "twenty five", "one hundred", "2 thousand", "5 hundred",
//! "a hundred", "twenty-five hundred", "two thousand and five").
//!
//! A phrase is always read whole. The maximal run of number words around a position
//! either forms one well-formed number or is refused ([`NumberPhrase::value`] is
//! `None`): a prefix is never taken, so "one hundred" is 100 and never 1, and
//! "two three" is no number at all rather than 2.

use std::ops::Range;

use crate::lexicon::{self as lx, is_in};
use crate::text::{self, Tok};

/// One run of number words in a list of words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberPhrase {
    /// The words it covers (indices into the list it was found in): always the whole
    /// run, never part of it.
    pub span: Range<usize>,
    /// Its value, or `None` when the run is not one well-formed number ("two three",
    /// "hundred" without a count, "hundreds", "minus 5", more than `u64::MAX`).
    /// A caller must refuse a request with such a phrase, not guess.
    pub value: Option<u64>,
}

/// The number phrase that word `i` belongs to, if it belongs to one. Words are
/// compared case-insensitively; `span` may start before `i` (the phrase is whole).
pub fn number_phrase<S: AsRef<str>>(words: &[S], i: usize) -> Option<NumberPhrase> {
    number_phrases(words)
        .into_iter()
        .find(|p| p.span.contains(&i))
}

/// Every number phrase in `words`, in order; each is a maximal run (see
/// [`number_phrase`]).
pub fn number_phrases<S: AsRef<str>>(words: &[S]) -> Vec<NumberPhrase> {
    let lows: Vec<String> = words
        .iter()
        .map(|w| w.as_ref().to_ascii_lowercase())
        .collect();
    let atoms: Vec<Option<Vec<Atom>>> = lows.iter().map(|w| word_atoms(w)).collect();
    let starts_scale = |j: usize| {
        matches!(
            atoms.get(j).and_then(|a| a.as_deref()),
            Some([Atom::Scale(_), ..])
        )
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < lows.len() {
        // "a" counts only before a scale word ("a hundred"); it never ends a run.
        let article = |j: usize| lows[j] == "a" && starts_scale(j + 1);
        if atoms[i].is_none() && !article(i) {
            i += 1;
            continue;
        }
        let start = i;
        let mut flat = Vec::new();
        while i < lows.len() {
            if let Some(a) = &atoms[i] {
                flat.extend_from_slice(a);
            } else if article(i) {
                flat.push(Atom::A);
            } else if lows[i] == "and"
                && matches!(flat.last(), Some(Atom::Scale(_)))
                && atoms.get(i + 1).is_some_and(Option::is_some)
            {
                // "one hundred and five"; "3 and 4" stays two numbers.
                flat.push(Atom::And);
            } else {
                break;
            }
            i += 1;
        }
        out.push(NumberPhrase {
            span: start..i,
            value: value(&flat),
        });
    }
    out
}

/// Every whole number stated in `text`, in order: digits ("300") and number phrases
/// ("one hundred", "2 thousand", "twenty-five"), each read whole, so "one hundred"
/// yields only 100, never 1. Phrases that are not one well-formed number ("two three",
/// "hundreds") yield nothing. Digits inside names and addresses ("web-1",
/// "10.0.0.1"), and durations written with a unit suffix ("300s", "5m") are not
/// numbers here.
///
/// The text is split into words the same way [`crate::parse`] splits it, so a
/// grounding check can ask: is every number a model put into an intent one that
/// the request actually states?
pub fn numbers_in(text: &str) -> Vec<u64> {
    text::split_sentences(&text::normalize(text))
        .iter()
        .flat_map(|s| {
            let lows: Vec<&str> = s.toks.iter().map(|t| t.low.as_str()).collect();
            number_phrases(&lows)
        })
        .filter_map(|p| p.value)
        .collect()
}

/// [`number_phrases`] over a sentence's tokens.
pub(crate) fn token_phrases(toks: &[Tok]) -> Vec<NumberPhrase> {
    number_phrases(&toks.iter().map(|t| t.low.as_str()).collect::<Vec<_>>())
}

/// True for any word that is (part of) a number: digits, number words, scale words,
/// vague amounts. A leftover one makes a request ambiguous.
pub(crate) fn is_number_word(w: &str) -> bool {
    word_atoms(w).is_some()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Atom {
    /// ASCII digits (`None`: too large for `u64`).
    Digits(Option<u64>),
    /// "zero".."nineteen".
    Unit(u64),
    /// "twenty".."ninety".
    Tens(u64),
    /// "hundred", "thousand", "million", "billion".
    Scale(u64),
    /// "a" before a scale word.
    A,
    /// "and" after a scale word.
    And,
    /// Part of an amount that is never exact ("hundreds", "dozen", "minus").
    Vague,
}

/// The atoms of one word; hyphenated compounds ("twenty-five", "one-hundred") give
/// one atom per part. `None` if the word is not (all) number.
fn word_atoms(w: &str) -> Option<Vec<Atom>> {
    if w.is_empty() {
        return None;
    }
    if w.bytes().all(|b| b.is_ascii_digit()) {
        return Some(vec![Atom::Digits(w.parse().ok())]);
    }
    w.split('-').map(word_atom).collect()
}

fn word_atom(w: &str) -> Option<Atom> {
    let index = |set: &[&str]| set.iter().position(|x| *x == w).map(|i| i as u64);
    if let Some(u) = index(lx::UNITS) {
        return Some(Atom::Unit(u));
    }
    if let Some(t) = index(lx::TENS) {
        return Some(Atom::Tens((t + 2) * 10));
    }
    if let Some((_, s)) = lx::SCALES.iter().find(|(name, _)| *name == w) {
        return Some(Atom::Scale(*s));
    }
    is_in(lx::VAGUE_NUMBERS, w).then_some(Atom::Vague)
}

/// The value of a whole run of atoms, or `None` if it is not exactly one number.
///
/// Grammar: a lone number (digits of any size, or "zero"), or groups
/// `below_thousand (thousand|million|billion)` with strictly falling scales, each
/// optionally followed by "and", then an optional last `below_thousand`.
fn value(atoms: &[Atom]) -> Option<u64> {
    match atoms {
        [Atom::Digits(v)] => return *v,
        [Atom::Unit(0)] => return Some(0),
        _ => {}
    }
    let mut r = Reader { atoms, at: 0 };
    let mut total: u64 = 0;
    let mut last_scale = u64::MAX;
    loop {
        let group = r.below_thousand()?;
        match r.peek() {
            None => return total.checked_add(group),
            Some(Atom::Scale(s)) if s >= 1_000 && s < last_scale => {
                r.at += 1;
                total = total.checked_add(group.checked_mul(s)?)?;
                last_scale = s;
                if r.peek() == Some(Atom::And) {
                    r.at += 1;
                } else if r.peek().is_none() {
                    return Some(total);
                }
            }
            Some(_) => return None,
        }
    }
}

struct Reader<'a> {
    atoms: &'a [Atom],
    at: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<Atom> {
        self.atoms.get(self.at).copied()
    }

    fn next(&mut self) -> Option<Atom> {
        let a = self.peek();
        self.at += 1;
        a
    }

    /// 1..=99 in words: "seven", "fifteen", "forty", "forty two", "forty-two".
    fn below_hundred_words(&mut self) -> Option<u64> {
        match self.next()? {
            Atom::Unit(u) if u >= 1 => Some(u),
            Atom::Tens(t) => match self.peek() {
                Some(Atom::Unit(u)) if (1..=9).contains(&u) => {
                    self.at += 1;
                    Some(t + u)
                }
                _ => Some(t),
            },
            _ => None,
        }
    }

    /// 1..=999: "five hundred", "a hundred and five", "25 hundred" (2500 is fine: a
    /// count of hundreds up to 99), "twelve", "300".
    fn below_thousand(&mut self) -> Option<u64> {
        let head = match self.peek()? {
            Atom::Digits(v) => {
                self.at += 1;
                v.filter(|v| (1..=999).contains(v))?
            }
            Atom::A => {
                self.at += 1;
                1
            }
            _ => self.below_hundred_words()?,
        };
        if self.peek() != Some(Atom::Scale(100)) {
            return Some(head);
        }
        if head > 99 {
            return None;
        }
        self.at += 1;
        let and = self.peek() == Some(Atom::And);
        if and {
            self.at += 1;
        }
        let rest = match self.peek() {
            Some(Atom::Digits(Some(d))) if (1..=99).contains(&d) => {
                self.at += 1;
                d
            }
            Some(Atom::Unit(_) | Atom::Tens(_)) => self.below_hundred_words()?,
            _ if and => return None,
            _ => 0,
        };
        Some(head * 100 + rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<&str> {
        s.split_whitespace().collect()
    }

    /// The value of `s` read as one whole phrase (None: refused or not one phrase).
    fn whole(s: &str) -> Option<u64> {
        let w = words(s);
        match number_phrases(&w).as_slice() {
            [p] if p.span == (0..w.len()) => p.value,
            other => panic!("{s:?} is not one phrase: {other:?}"),
        }
    }

    #[test]
    fn phrases_are_read_whole() {
        for (s, v) in [
            ("0", 0),
            ("zero", 0),
            ("7", 7),
            ("seven", 7),
            ("nineteen", 19),
            ("twenty", 20),
            ("twenty-five", 25),
            ("twenty five", 25),
            ("ninety-nine", 99),
            ("one hundred", 100),
            ("a hundred", 100),
            ("one-hundred", 100),
            ("5 hundred", 500),
            ("five hundred", 500),
            ("one hundred and five", 105),
            ("one hundred five", 105),
            ("a hundred and twenty-five", 125),
            ("twenty-five hundred", 2_500),
            ("25 hundred", 2_500),
            ("nineteen hundred", 1_900),
            ("two thousand", 2_000),
            ("2 thousand", 2_000),
            ("a thousand", 1_000),
            ("two thousand and five", 2_005),
            ("2 thousand 500", 2_500),
            ("two thousand five hundred", 2_500),
            ("seven million", 7_000_000),
            ("a million", 1_000_000),
            ("one million two hundred thousand", 1_200_000),
            ("one hundred thousand", 100_000),
            ("three billion", 3_000_000_000),
            ("3600", 3_600),
            ("007", 7),
            ("18446744073709551615", u64::MAX),
        ] {
            assert_eq!(whole(s), Some(v), "{s:?}");
        }
    }

    #[test]
    fn malformed_phrases_are_refused_never_shortened() {
        for s in [
            "two three",
            "3 4",
            "five twenty",
            "twenty twenty",
            "twenty-zero",
            "thirty-fifteen",
            "hundred",
            "thousand",
            "zero hundred",
            "zero zero",
            "one hundred hundred",
            "2 thousand 3 thousand",
            "two thousand million",
            "500 hundred",
            "1000 thousand",
            "hundreds",
            "5 thousands",
            "a dozen",
            "two dozen",
            "minus 5",
            "negative five",
            "18446744073709551616",
            "99999999999999999999 thousand",
            "twenty billion billion",
        ] {
            let w = words(s);
            let ps = number_phrases(&w);
            assert!(
                ps.iter().all(|p| p.value.is_none()) && !ps.is_empty(),
                "{s:?} must be refused: {ps:?}"
            );
        }
    }

    #[test]
    fn runs_end_at_non_number_words() {
        let w = words("scale web to one hundred replicas");
        assert_eq!(
            number_phrases(&w),
            [NumberPhrase {
                span: 3..5,
                value: Some(100)
            }]
        );
        // The phrase containing any of its words is the whole phrase.
        assert_eq!(number_phrase(&w, 3), number_phrase(&w, 4));
        assert_eq!(number_phrase(&w, 2), None);
        // "a" and "and" belong to a number only inside one.
        assert!(number_phrases(&words("add a record")).is_empty());
        let w = words("3 and 4");
        let vals: Vec<_> = number_phrases(&w).into_iter().map(|p| p.value).collect();
        assert_eq!(vals, [Some(3), Some(4)]);
        // Case does not matter.
        assert_eq!(whole("One HUNDRED"), Some(100));
    }

    #[test]
    fn numbers_in_sentences() {
        for (s, want) in [
            (
                "scale deployment web in namespace shop to one hundred replicas",
                &[100][..],
            ),
            (
                "scale deployment web in namespace shop to two thousand",
                &[2_000],
            ),
            (
                "scale deployment web in namespace shop to seven million",
                &[7_000_000],
            ),
            ("scale web to twenty-five hundred replicas", &[2_500]),
            ("scale web to 5 hundred replicas", &[500]),
            (
                "Add DNS A record for ttlx.local to 192.168.1.77 with ttl five hundred",
                &[500],
            ),
            (
                "expose grafana as g.example.com on port 3000, ttl=60",
                &[3_000, 60],
            ),
            ("kubectl scale deploy/web --replicas=3", &[3]),
            ("scale web-1 to two. Thanks", &[2]),
            ("scale web to 3 and 4 replicas", &[3, 4]),
            ("scale web to two three replicas", &[]),
            ("add x.example.com at 10.0.0.1 with ttl 300s", &[]),
            ("restart the api deployment", &[]),
        ] {
            assert_eq!(numbers_in(s), want, "{s:?}");
        }
    }
}
