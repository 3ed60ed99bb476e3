//! DNS slots: the record name and the record type(s) mentioned.

use super::{Cx, dedupe};
use crate::R;
use crate::lexicon::{self as lx, is_in};
use crate::values;

impl Cx<'_> {
    pub(crate) fn record_types(&mut self) -> R<Vec<String>> {
        let mut out = Vec::new();
        for i in 0..self.n() {
            if !self.free(i) {
                continue;
            }
            let l = self.low(i);
            let prev = if i > 0 { self.low(i - 1) } else { "" };
            let next = self.low(i + 1);
            let is_a = l == "a-record"
                || (l == "a"
                    && (is_in(&["record", "records", "entry", "entries", "rr"], next)
                        || prev == "type"
                        || (self.raw(i) == "A"
                            && i > self.vi
                            && (is_in(lx::V_LOOKUP_STRONG, prev)
                                || i + 1 >= self.n()
                                || next.contains('.')))));
            if is_a {
                out.push("A".to_string());
                self.take(i);
            } else if is_in(&["aaaa", "cname", "txt"], l) {
                out.push(l.to_ascii_uppercase());
                self.take(i);
            } else if is_in(lx::UNSUPPORTED_TYPES, l) {
                return Err(format!(
                    "{} records are not supported",
                    l.to_ascii_uppercase()
                ));
            }
        }
        Ok(dedupe(out))
    }

    pub(crate) fn dns_name(&mut self) -> R<String> {
        let mut vals = Vec::new();
        for i in 0..self.n() {
            let l = self.low(i);
            if !self.free(i) || !l.contains('.') || values::ip_like(l) {
                continue;
            }
            match values::dns_name(l) {
                Some(v) => {
                    vals.push(v);
                    self.take(i);
                }
                None => return Err(format!("'{}' is not a valid DNS name", self.raw(i))),
            }
        }
        let vals = dedupe(vals);
        match vals.len() {
            0 => Err("no DNS name given (a name like host.example.com)".into()),
            1 => Ok(vals.into_iter().next().unwrap_or_default()),
            _ => Err(format!("more than one DNS name: {}", vals.join(", "))),
        }
    }
}
