//! Address slots: the one IPv4 address of an A record.

use super::{Cx, dedupe};
use crate::R;
use crate::values;

impl Cx<'_> {
    pub(crate) fn ipv4(&mut self) -> R<Option<String>> {
        let mut vals = Vec::new();
        for i in 0..self.n() {
            if !self.free(i) {
                continue;
            }
            let l = self.low(i);
            if values::ipv6_like(l) {
                return Err(
                    "an IPv6 address needs an AAAA record, which this action cannot create".into(),
                );
            }
            if values::ip_like(l) {
                let Some(a) = values::ipv4(l) else {
                    return Err(format!("'{}' is not a valid IPv4 address", self.raw(i)));
                };
                vals.push(a.to_string());
                self.take(i);
            }
        }
        let vals = dedupe(vals);
        if vals.len() > 1 {
            return Err(format!("more than one address: {}", vals.join(", ")));
        }
        Ok(vals.into_iter().next())
    }
}
