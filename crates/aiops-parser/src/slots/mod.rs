//! Slot extraction. [`Cx`] is a cursor over one sentence's tokens that marks each
//! token used once a slot has consumed it, so whatever is left over can be judged
//! afterwards. One submodule per slot family adds its extractors to [`Cx`].

pub(crate) mod dns;
mod ip;
mod k8s;
pub(crate) mod number;
mod playbook;
mod quantity;

use crate::R;
use crate::lexicon::{self as lx, is_in};
use crate::text::Tok;
use crate::values;
use number::NumberPhrase;

pub(crate) struct Cx<'a> {
    t: &'a [Tok],
    used: Vec<bool>,
    /// Index of the verb that chose the frame.
    vi: usize,
    /// Every number phrase in the sentence, each whole.
    numbers: Vec<NumberPhrase>,
    /// Slots filled from position alone (lowers the confidence).
    pub(crate) inferred: u32,
}

/// `v` without repeats, first occurrence order.
fn dedupe<T: PartialEq>(v: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(v.len());
    for x in v {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

impl<'a> Cx<'a> {
    pub(crate) fn new(t: &'a [Tok], vi: usize) -> Self {
        Cx {
            t,
            used: vec![false; t.len()],
            vi,
            numbers: number::token_phrases(t),
            inferred: 0,
        }
    }

    pub(crate) fn n(&self) -> usize {
        self.t.len()
    }

    /// Runs `read` on each token still free (in order) and collects what it reads,
    /// deduplicated; `read` takes the tokens it uses, and its first error ends the scan.
    fn free_values<T: PartialEq>(
        &mut self,
        mut read: impl FnMut(&mut Self, usize) -> R<Option<T>>,
    ) -> R<Vec<T>> {
        let mut vals = Vec::new();
        for i in 0..self.n() {
            if self.free(i)
                && let Some(v) = read(self, i)?
            {
                vals.push(v);
            }
        }
        Ok(dedupe(vals))
    }

    pub(crate) fn low(&self, i: usize) -> &'a str {
        self.t.get(i).map_or("", |t| t.low.as_str())
    }

    pub(crate) fn raw(&self, i: usize) -> &'a str {
        self.t.get(i).map_or("", |t| t.raw.as_str())
    }

    pub(crate) fn free(&self, i: usize) -> bool {
        self.used.get(i).is_some_and(|u| !u)
    }

    pub(crate) fn take(&mut self, i: usize) {
        if let Some(u) = self.used.get_mut(i) {
            *u = true;
        }
    }

    pub(crate) fn take_range(&mut self, from: usize, to: usize) {
        for i in from..=to {
            self.take(i);
        }
    }

    pub(crate) fn any_free(&self, w: &str) -> bool {
        (0..self.n()).any(|i| self.free(i) && self.low(i) == w)
    }

    /// The words of a number phrase that is not one well-formed number, if any: such a
    /// request is refused rather than read as part of the phrase.
    pub(crate) fn unclear_number(&self) -> Option<String> {
        let p = self.numbers.iter().find(|p| p.value.is_none())?;
        let words: Vec<&str> = p.span.clone().map(|i| self.raw(i)).collect();
        Some(words.join(" "))
    }

    /// The whole number phrase starting at `i`, all its words free: (value, words).
    fn number_at(&self, i: usize) -> Option<(u64, usize)> {
        let p = self.numbers.iter().find(|p| p.span.start == i)?;
        let free = p.span.clone().all(|k| self.free(k));
        Some((p.value?, p.span.len())).filter(|_| free)
    }

    /// The whole number phrase ending right before `end`, all its words free:
    /// (value, first word).
    fn number_ending_at(&self, end: usize) -> Option<(u64, usize)> {
        let p = self.numbers.iter().find(|p| p.span.end == end)?;
        self.number_at(p.span.start).map(|(v, _)| (v, p.span.start))
    }

    /// Take the first free run of `words` in a row; true if there was one.
    pub(crate) fn take_words(&mut self, words: &[&str]) -> bool {
        let hit = (0..self.n()).find(|&i| {
            words
                .iter()
                .enumerate()
                .all(|(k, w)| self.free(i + k) && self.low(i + k) == *w)
        });
        if let Some(i) = hit {
            self.take_range(i, i + words.len() - 1);
        }
        hit.is_some()
    }

    /// Skip "named"/"called" from `j`: the position after them, and whether any were there.
    fn skip_naming(&self, mut j: usize) -> (usize, bool) {
        let start = j;
        while self.free(j) && is_in(&["named", "called"], self.low(j)) {
            j += 1;
        }
        (j, j > start)
    }

    /// The token after `i` ends the value (end of sentence or a cue word).
    fn boundary_after(&self, i: usize) -> bool {
        i + 1 >= self.n() || is_in(lx::BOUNDARY, self.low(i + 1))
    }

    /// A free RFC 1123 label usable as a name. `strict` also excludes every verb and
    /// vocabulary word (for names found by position only).
    fn name_at(&self, i: usize, strict: bool) -> bool {
        let w = self.low(i);
        self.free(i)
            && values::k8s_name(w)
            && !w.bytes().all(|b| b.is_ascii_digit())
            && if strict {
                !lx::is_reserved(w)
            } else {
                !lx::is_structural(w)
            }
    }

    /// Position `b` (a name before its kind word) follows the verb or an article.
    fn pre_ok(&self, b: usize) -> bool {
        b >= 1 && (b - 1 == self.vi || is_in(lx::PRE_NAME, self.low(b - 1)))
    }

    pub(crate) fn after_preposition(&self, i: usize) -> bool {
        let mut k = i;
        while k > 0 {
            k -= 1;
            let l = self.low(k);
            if is_in(lx::ARTICLES, l) {
                continue;
            }
            return is_in(lx::PREPOSITIONS, l);
        }
        false
    }
}
