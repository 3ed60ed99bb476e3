//! Validators and value parsers for slot values. All are pure and total.

use std::net::Ipv4Addr;

/// Largest TTL a DNS record may carry (RFC 2181: 2^31 - 1).
pub(crate) const TTL_MAX: u64 = 2_147_483_647;
/// Largest replica count the catalog allows.
pub(crate) const REPLICAS_MAX: u64 = 100;

/// A DNS name: lower-cased, trailing dot removed, at least one dot, labels of
/// `[a-z0-9-]` (1..=63, not starting or ending with `-`), total ≤ 253, and a last
/// label that is not all digits (so it can never be confused with an address).
/// A label other than the last may start with `_` (`_dmarc`, `_sip._tcp`); which
/// record types such a name may carry is the caller's check
/// ([`has_underscore_label`]).
pub(crate) fn dns_name(s: &str) -> Option<String> {
    let s = s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase();
    if s.is_empty() || s.len() > 253 || !s.contains('.') {
        return None;
    }
    let labels: Vec<&str> = s.split('.').collect();
    for (i, l) in labels.iter().enumerate() {
        let last = i + 1 == labels.len();
        let l = match l.strip_prefix('_') {
            Some(rest) if !last => rest,
            _ => l,
        };
        if l.is_empty() || labels[i].len() > 63 || l.starts_with('-') || l.ends_with('-') {
            return None;
        }
        if !l
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return None;
        }
    }
    if labels
        .last()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    Some(s)
}

/// True if a label of the (validated) name starts with `_` ("_dmarc.example.com").
pub(crate) fn has_underscore_label(name: &str) -> bool {
    name.split('.').any(|l| l.starts_with('_'))
}

/// Looks like an IPv4 address attempt: starts with a digit, only digits and dots,
/// contains a dot. Such a token must parse as IPv4 or the request is refused.
pub(crate) fn ip_like(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_digit())
        && s.contains('.')
        && s.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// Looks like an IPv6 address (a colon, and only hex digits, colons and dots).
pub(crate) fn ipv6_like(s: &str) -> bool {
    s.matches(':').count() >= 2
        && s.chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
}

/// Strict dotted-quad IPv4 (std parsing: no leading zeros, no junk).
pub(crate) fn ipv4(s: &str) -> Option<Ipv4Addr> {
    s.parse::<Ipv4Addr>().ok()
}

/// RFC 1123 label: 1..=63 of `[a-z0-9-]`, starting and ending alphanumeric.
pub(crate) fn k8s_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Playbook name: `[a-z0-9][a-z0-9_.-]*`, no `..`, at most 100 characters.
pub(crate) fn playbook_name(s: &str) -> bool {
    s.len() <= 100
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
        })
        && !s.contains("..")
}

/// Conservative Ansible host pattern: elements separated by `,` or `:`, each a host, group
/// or wildcard of `[A-Za-z0-9_.*-]` not starting with `-` (never an option), optionally
/// prefixed with one `!` (exclude) or `&` (intersect); at least one alphanumeric (a bare `*`
/// is a bulk request). `!` and `&` anywhere else (`web01&&reboot`) are not Ansible's grammar.
/// Which patterns still select every host (`all:!none`) is policy's call.
pub(crate) fn limit_pattern(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && !s.contains("..")
        && s.bytes().any(|b| b.is_ascii_alphanumeric())
        && s.split([',', ':']).all(|e| {
            let e = e.strip_prefix(['!', '&']).unwrap_or(e);
            !e.is_empty()
                && !e.starts_with('-')
                && e.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'*' | b'-'))
        })
}

/// Seconds per unit word or suffix.
pub(crate) fn unit_seconds(u: &str) -> Option<u64> {
    match u {
        "s" | "sec" | "secs" | "second" | "seconds" => Some(1),
        "m" | "min" | "mins" | "minute" | "minutes" => Some(60),
        "h" | "hr" | "hrs" | "hour" | "hours" => Some(3600),
        "d" | "day" | "days" => Some(86_400),
        _ => None,
    }
}

/// "300s", "5m", "1h" → seconds.
pub(crate) fn number_with_unit(w: &str) -> Option<u64> {
    let split = w.find(|c: char| !c.is_ascii_digit())?;
    if split == 0 {
        return None;
    }
    let (n, u) = w.split_at(split);
    n.parse::<u64>().ok()?.checked_mul(unit_seconds(u)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names() {
        assert_eq!(dns_name("Test.Local.").as_deref(), Some("test.local"));
        assert_eq!(dns_name("record"), None);
        assert_eq!(dns_name("-a.example.com"), None);
        assert_eq!(dns_name("a..b"), None);
        assert_eq!(
            dns_name("_DMARC.example.com").as_deref(),
            Some("_dmarc.example.com")
        );
        assert_eq!(
            dns_name("_sip._tcp.example.com").as_deref(),
            Some("_sip._tcp.example.com")
        );
        assert!(has_underscore_label("_sip._tcp.example.com"));
        assert!(!has_underscore_label("sip.example.com"));
        assert_eq!(dns_name("example._com"), None);
        assert_eq!(dns_name("_.example.com"), None);
        assert_eq!(dns_name("__x.example.com"), None);
        assert_eq!(dns_name("_-x.example.com"), None);
        assert_eq!(dns_name("a_b.example.com"), None);
        assert_eq!(dns_name("10.0.0.1"), None);
        assert_eq!(dns_name(&format!("{}.com", "a".repeat(64))), None);
    }

    #[test]
    fn addresses() {
        assert!(ipv4("192.168.1.100").is_some());
        assert!(ipv4("999.1.1.1").is_none());
        assert!(ipv4("1.2.3").is_none());
        assert!(ip_like("999.1.1.1"));
        assert!(!ip_like("web.example.com"));
        assert!(ipv6_like("2001:db8::1"));
    }

    #[test]
    fn durations() {
        assert_eq!(number_with_unit("5m"), Some(300));
        assert_eq!(number_with_unit("300s"), Some(300));
        assert_eq!(number_with_unit("5x"), None);
        assert_eq!(number_with_unit("99999999999999999999h"), None);
        assert_eq!(number_with_unit("m5"), None);
    }

    #[test]
    fn names() {
        assert!(k8s_name("web-7d9f8-abcde"));
        assert!(!k8s_name("kube_system"));
        assert!(!k8s_name("-web"));
        assert!(playbook_name("patch-hosts"));
        assert!(playbook_name("site.yml"));
        assert!(!playbook_name("../etc/passwd"));
        assert!(!playbook_name("a/b"));
        assert!(limit_pattern("web01,web02"));
        assert!(limit_pattern("web*:&prod"));
        assert!(!limit_pattern("*"));
        assert!(!limit_pattern("--become"));
        assert!(!limit_pattern("web;rm"));
        assert!(limit_pattern("web*:!db1"));
        assert!(limit_pattern("!db1:web*"));
        // `!` and `&` only as element prefixes; no empty or option-like elements.
        for bad in [
            "web01&&reboot",
            "web01!x",
            "web01,",
            ":web01",
            "web01:-e",
            "web01,,db",
            "!!web01",
            "&",
        ] {
            assert!(!limit_pattern(bad), "{bad}");
        }
    }
}
