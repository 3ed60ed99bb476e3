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
            let Some(v) = values::count(self.low(i)) else {
                continue;
            };
            let prev = if i > 0 { self.low(i - 1) } else { "" };
            let prev_cue = is_in(&["to", "at", "replicas", "replica", "count", "of"], prev);
            let next_unit = is_in(
                &["replicas", "replica", "instances", "copies", "pods", "pod"],
                self.low(i + 1),
            );
            if !(prev_cue || next_unit) {
                continue;
            }
            vals.push(v);
            self.take(i);
            if i > 0 && is_in(&["to", "at"], prev) {
                self.take(i - 1);
            }
            if next_unit {
                self.take(i + 1);
            }
        }
        match dedupe(vals).as_slice() {
            [] => Err("how many replicas? (say 'to N replicas')".into()),
            [v] if *v <= values::REPLICAS_MAX => Ok(*v),
            [v] => Err(format!("{v} replicas is out of range (0..=100)")),
            _ => Err("conflicting replica counts".into()),
        }
    }

    /// A duration at `j`: "300", "300s", "5 minutes", "an hour". Returns (seconds, tokens).
    fn duration_at(&self, j: usize) -> Option<(u64, usize)> {
        if !self.free(j) {
            return None;
        }
        let w = self.low(j);
        if let Some(v) = values::number_with_unit(w) {
            return Some((v, 1));
        }
        let unit = if self.free(j + 1) {
            values::unit_seconds(self.low(j + 1))
        } else {
            None
        };
        if let Some(n) = values::count(w) {
            return match unit {
                Some(m) => n.checked_mul(m).map(|v| (v, 2)),
                None => Some((n, 1)),
            };
        }
        if is_in(&["a", "an"], w) {
            return unit.map(|m| (m, 2));
        }
        None
    }

    /// "ttl 300", "ttl=300", "with a ttl of 5 minutes", "a 300 second ttl".
    pub(crate) fn ttl(&mut self) -> R<Option<u64>> {
        let mut vals = Vec::new();
        for i in 0..self.n() {
            if !self.free(i) || self.low(i) != "ttl" {
                continue;
            }
            self.take(i);
            let mut j = i + 1;
            while self.free(j) && is_in(&["of", "to", "is", "at"], self.low(j)) {
                j += 1;
            }
            if let Some((v, used)) = self.duration_at(j) {
                self.take_range(i, j + used - 1);
                vals.push(v);
                continue;
            }
            if i >= 2
                && let Some((v, 2)) = self.duration_at(i - 2)
            {
                self.take_range(i - 2, i - 1);
                vals.push(v);
                continue;
            }
            if i >= 1
                && let Some((v, 1)) = self.duration_at(i - 1)
            {
                self.take(i - 1);
                vals.push(v);
                continue;
            }
            return Err("a TTL is mentioned without a value".into());
        }
        match dedupe(vals).as_slice() {
            [] => Ok(None),
            [v] if (1..=values::TTL_MAX).contains(v) => Ok(Some(*v)),
            [v] => Err(format!("TTL {v} is out of range (1..=2147483647 seconds)")),
            _ => Err("conflicting TTLs".into()),
        }
    }

    /// "port 3000", "on port 3000", "--port=3000".
    pub(crate) fn port(&mut self) -> R<Option<u64>> {
        let mut vals = Vec::new();
        for i in 0..self.n() {
            if !self.free(i) || self.low(i) != "port" {
                continue;
            }
            self.take(i);
            let mut j = i + 1;
            while self.free(j) && is_in(&["number", "of", "is"], self.low(j)) {
                j += 1;
            }
            match (self.free(j)).then(|| values::count(self.low(j))).flatten() {
                Some(p) if (1..=65_535).contains(&p) => {
                    self.take_range(i, j);
                    vals.push(p);
                }
                Some(p) => return Err(format!("port {p} is out of range (1..=65535)")),
                None => return Err("a port is mentioned without a number".into()),
            }
        }
        match dedupe(vals).as_slice() {
            [] => Ok(None),
            [p] => Ok(Some(*p)),
            _ => Err("conflicting ports".into()),
        }
    }
}
