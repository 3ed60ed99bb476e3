//! Numeric slots: replica counts, TTLs (durations) and ports.

use super::{Cx, dedupe};
use crate::R;
use crate::lexicon::is_in;
use crate::values;

impl Cx<'_> {
    /// "to N (replicas)", "N replicas", "--replicas N", "replicas to N".
    pub(crate) fn replicas(&mut self) -> R<u64> {
        let mut vals = Vec::new();
        for i in 0..self.n() {
            if !self.free(i) {
                continue;
            }
            let Some((v, len)) = self.number_at(i) else {
                continue;
            };
            let prev = if i > 0 { self.low(i - 1) } else { "" };
            let prev_cue = is_in(&["to", "at", "replicas", "replica", "count", "of"], prev);
            let next_unit = is_in(
                &["replicas", "replica", "instances", "copies", "pods", "pod"],
                self.low(i + len),
            );
            if !(prev_cue || next_unit) {
                continue;
            }
            vals.push(v);
            self.take_range(i, i + len - 1);
            if i > 0 && is_in(&["to", "at"], prev) {
                self.take(i - 1);
            }
            if next_unit {
                self.take(i + len);
            }
        }
        match dedupe(vals).as_slice() {
            [] => Err("how many replicas? (say 'to N replicas')".into()),
            [v] if *v <= values::REPLICAS_MAX => Ok(*v),
            [v] => Err(format!("{v} replicas is out of range (0..=100)")),
            _ => Err("conflicting replica counts".into()),
        }
    }

    /// A duration at `j`: "300", "300s", "5 minutes", "an hour", "five hundred seconds".
    /// Returns (seconds, words).
    fn duration_at(&self, j: usize) -> Option<(u64, usize)> {
        if !self.free(j) {
            return None;
        }
        if let Some(v) = values::number_with_unit(self.low(j)) {
            return Some((v, 1));
        }
        let unit_at = |k: usize| {
            self.free(k)
                .then(|| values::unit_seconds(self.low(k)))
                .flatten()
        };
        if let Some((n, len)) = self.number_at(j) {
            return match unit_at(j + len) {
                Some(m) => n.checked_mul(m).map(|v| (v, len + 1)),
                None => Some((n, len)),
            };
        }
        if is_in(&["a", "an"], self.low(j)) {
            return unit_at(j + 1).map(|m| (m, 2));
        }
        None
    }

    /// A duration ending right before `end` ("a 300 second ttl", "5 minute ttl",
    /// "300 ttl"). Returns (seconds, first word).
    fn duration_before(&self, end: usize) -> Option<(u64, usize)> {
        let u = end.checked_sub(1)?;
        if let Some(m) = self
            .free(u)
            .then(|| values::unit_seconds(self.low(u)))
            .flatten()
        {
            if let Some((n, start)) = self.number_ending_at(u) {
                return n.checked_mul(m).map(|v| (v, start));
            }
            if u >= 1 && self.free(u - 1) && is_in(&["a", "an"], self.low(u - 1)) {
                return Some((m, u - 1));
            }
        }
        if self.free(u)
            && let Some(v) = values::number_with_unit(self.low(u))
        {
            return Some((v, u));
        }
        self.number_ending_at(end)
    }

    /// "ttl 300", "ttl=300", "with a ttl of 5 minutes", "a 300 second ttl".
    pub(crate) fn ttl(&mut self) -> R<Option<u64>> {
        let vals = self.keyword_values("ttl", &["of", "to", "is", "at"], |cx, i, j| {
            if let Some((v, used)) = cx.duration_at(j) {
                cx.take_range(i, j + used - 1);
                return Ok(v);
            }
            if let Some((v, start)) = cx.duration_before(i) {
                cx.take_range(start, i - 1);
                return Ok(v);
            }
            Err("a TTL is mentioned without a value".into())
        })?;
        match vals.as_slice() {
            [] => Ok(None),
            [v] if (1..=values::TTL_MAX).contains(v) => Ok(Some(*v)),
            [v] => Err(format!("TTL {v} is out of range (1..=2147483647 seconds)")),
            _ => Err("conflicting TTLs".into()),
        }
    }

    /// "port 3000", "on port 3000", "--port=3000".
    pub(crate) fn port(&mut self) -> R<Option<u64>> {
        let vals = self.keyword_values("port", &["number", "of", "is"], |cx, i, j| {
            match cx.number_at(j) {
                Some((p, len)) if (1..=65_535).contains(&p) => {
                    cx.take_range(i, j + len - 1);
                    Ok(p)
                }
                Some((p, _)) => Err(format!("port {p} is out of range (1..=65535)")),
                None => Err("a port is mentioned without a number".into()),
            }
        })?;
        match vals.as_slice() {
            [] => Ok(None),
            [p] => Ok(Some(*p)),
            _ => Err("conflicting ports".into()),
        }
    }

    /// The values of every free `keyword`, deduplicated: takes the keyword and the `fillers`
    /// after it, then `value(cx, keyword_index, value_index)` reads (and takes) its value.
    fn keyword_values(
        &mut self,
        keyword: &str,
        fillers: &[&str],
        mut value: impl FnMut(&mut Self, usize, usize) -> R<u64>,
    ) -> R<Vec<u64>> {
        self.free_values(|cx, i| {
            if cx.low(i) != keyword {
                return Ok(None);
            }
            cx.take(i);
            let mut j = i + 1;
            while cx.free(j) && is_in(fillers, cx.low(j)) {
                j += 1;
            }
            value(cx, i, j).map(Some)
        })
    }
}
