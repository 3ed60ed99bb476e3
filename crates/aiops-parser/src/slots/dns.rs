//! DNS slots: the record name and the record type(s) mentioned.

use super::{Cx, dedupe};
use crate::R;
use crate::lexicon::{self as lx, is_in};
use crate::values;

/// A DNS record type some action takes (see the catalog for which action takes which).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum RecordType {
    A,
    Aaaa,
    Cname,
    Txt,
    Mx,
    Ns,
    Soa,
    Srv,
    Ptr,
    Caa,
}

impl RecordType {
    /// The catalog's spelling.
    pub(crate) fn name(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Cname => "CNAME",
            RecordType::Txt => "TXT",
            RecordType::Mx => "MX",
            RecordType::Ns => "NS",
            RecordType::Soa => "SOA",
            RecordType::Srv => "SRV",
            RecordType::Ptr => "PTR",
            RecordType::Caa => "CAA",
        }
    }

    /// Types named by a word of their own ("a" and "ns" need context, see
    /// [`Cx::record_types`]).
    pub(crate) fn from_word(w: &str) -> Option<Self> {
        Some(match w {
            "a-record" => RecordType::A,
            "aaaa" => RecordType::Aaaa,
            "cname" => RecordType::Cname,
            "txt" => RecordType::Txt,
            "mx" => RecordType::Mx,
            "soa" => RecordType::Soa,
            "srv" => RecordType::Srv,
            "ptr" => RecordType::Ptr,
            "caa" => RecordType::Caa,
            _ => return None,
        })
    }

    /// Names with underscore labels (`_acme-challenge`, `_dmarc`, `_sip._tcp`) exist
    /// for these types only (the catalog's rule).
    pub(crate) fn allows_underscore_labels(self) -> bool {
        matches!(self, RecordType::Txt | RecordType::Srv | RecordType::Cname)
    }
}

/// "ns" between `prev` and `next` names the NS record type rather than a namespace:
/// "NS records", "type ns", "dig ns example.com".
pub(crate) fn ns_is_record_type(prev: &str, next: &str) -> bool {
    is_in(lx::RECORD_NOUNS, next) || prev == "type" || is_in(lx::V_LOOKUP_STRONG, prev)
}

impl Cx<'_> {
    /// Every record type the sentence names; an unsupported one is an error.
    pub(crate) fn record_types(&mut self) -> R<Vec<RecordType>> {
        self.free_values(|cx, i| {
            let l = cx.low(i);
            let prev = if i > 0 { cx.low(i - 1) } else { "" };
            let next = cx.low(i + 1);
            let is_a = l == "a"
                && (is_in(lx::RECORD_NOUNS, next)
                    || prev == "type"
                    || (cx.raw(i) == "A"
                        && i > cx.vi
                        && (is_in(lx::V_LOOKUP_STRONG, prev)
                            || i + 1 >= cx.n()
                            || next.contains('.'))));
            // "ns" without record context is a namespace; "any" without it is plain
            // English ("is there any DNS entry for X?").
            let plain_word = is_in(&["ns", "any"], l) && !ns_is_record_type(prev, next);
            let t = if is_a {
                Some(RecordType::A)
            } else if l == "ns" && ns_is_record_type(prev, next) {
                Some(RecordType::Ns)
            } else {
                RecordType::from_word(l)
            };
            if t.is_some() {
                cx.take(i);
            } else if is_in(lx::UNSUPPORTED_TYPES, l) && !plain_word {
                return Err(format!(
                    "{} records are not supported",
                    l.to_ascii_uppercase()
                ));
            }
            Ok(t)
        })
    }

    /// The DNS name of a host (an A record, an HTTP route): no underscore labels.
    pub(crate) fn host_name(&mut self) -> R<String> {
        let name = self.dns_name()?;
        if values::has_underscore_label(&name) {
            return Err(format!("'{name}' is not a host name (underscore label)"));
        }
        Ok(name)
    }

    /// The one DNS name the sentence names (any record type's owner name).
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
