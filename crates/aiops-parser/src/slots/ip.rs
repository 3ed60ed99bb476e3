//! Address slots: the one IPv4 address of an A record.

use super::Cx;
use crate::R;
use crate::values;

impl Cx<'_> {
    pub(crate) fn ipv4(&mut self) -> R<Option<String>> {
        let vals = self.free_values(|cx, i| {
            let l = cx.low(i);
            if values::ipv6_like(l) {
                return Err(
                    "an IPv6 address needs an AAAA record, which this action cannot create".into(),
                );
            }
            if !values::ip_like(l) {
                return Ok(None);
            }
            let Some(a) = values::ipv4(l) else {
                return Err(format!("'{}' is not a valid IPv4 address", cx.raw(i)));
            };
            cx.take(i);
            Ok(Some(a.to_string()))
        })?;
        if vals.len() > 1 {
            return Err(format!("more than one address: {}", vals.join(", ")));
        }
        Ok(vals.into_iter().next())
    }
}
