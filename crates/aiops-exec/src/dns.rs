//! Asking one DNS server directly (the managed, authoritative server).

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use hickory_resolver::Resolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ProtocolConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::rdata::{CNAME, NS, PTR};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use serde::Serialize;

use crate::ExecError;

/// The answer of one query. No such name, or no data of that type, is an empty
/// `records`, not an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsAnswer {
    /// The name asked, lower-case, without the trailing dot.
    pub name: String,
    /// The record type asked: `A`, `AAAA`, `CNAME`, `TXT`, `MX`, `NS`, `SOA`, `SRV`,
    /// `PTR` or `CAA`.
    pub rtype: String,
    /// Record data in presentation form, with domain names without their trailing dot,
    /// sorted: `192.0.2.1`, `2001:db8::1`, CNAME/NS/PTR `host.example.com`, TXT the
    /// concatenated text, MX `10 mail.example.com`, SRV `10 60 5060 sip.example.com`
    /// (priority, weight, port, target), SOA `ns1.example.com hostmaster.example.com 7 3600
    /// 600 86400 300` (primary, mailbox, serial, refresh, retry, expire, minimum), CAA
    /// `0 issue "letsencrypt.org"` (flags, tag, value).
    pub records: Vec<String>,
    /// The smallest TTL of the answer's records; `None` when there are none.
    pub ttl: Option<u32>,
}

/// The record types a lookup may ask for: the catalog's `dns.lookup` types.
const LOOKUP_TYPES: [RecordType; 10] = [
    RecordType::A,
    RecordType::AAAA,
    RecordType::CNAME,
    RecordType::TXT,
    RecordType::MX,
    RecordType::NS,
    RecordType::SOA,
    RecordType::SRV,
    RecordType::PTR,
    RecordType::CAA,
];

fn parse_rtype(rtype: &str) -> Result<RecordType, ExecError> {
    RecordType::from_str(&rtype.to_ascii_uppercase())
        .ok()
        .filter(|t| LOOKUP_TYPES.contains(t))
        .ok_or_else(|| {
            let known: Vec<String> = LOOKUP_TYPES.iter().map(ToString::to_string).collect();
            ExecError::InvalidDnsQuery(format!(
                "unsupported record type {rtype:?} (expected one of {})",
                known.join(", ")
            ))
        })
}

fn parse_name(name: &str) -> Result<Name, ExecError> {
    let trimmed = name.trim().trim_end_matches('.').to_ascii_lowercase();
    if trimmed.is_empty() {
        return Err(ExecError::InvalidDnsQuery("empty DNS name".into()));
    }
    Name::from_ascii(format!("{trimmed}."))
        .map_err(|e| ExecError::InvalidDnsQuery(format!("invalid DNS name {name:?}: {e}")))
}

/// Presentation form of one record's data, domain names without the trailing dot (as
/// the catalog spells names). A, AAAA and CAA are hickory's own presentation form.
fn rdata_text(rdata: &RData) -> String {
    match rdata {
        RData::CNAME(CNAME(name)) | RData::NS(NS(name)) | RData::PTR(PTR(name)) => {
            display_name(name)
        }
        RData::MX(mx) => format!("{} {}", mx.preference, display_name(&mx.exchange)),
        RData::SRV(srv) => format!(
            "{} {} {} {}",
            srv.priority,
            srv.weight,
            srv.port,
            display_name(&srv.target)
        ),
        RData::SOA(soa) => format!(
            "{} {} {} {} {} {} {}",
            display_name(&soa.mname),
            display_name(&soa.rname),
            soa.serial,
            soa.refresh,
            soa.retry,
            soa.expire,
            soa.minimum
        ),
        RData::TXT(txt) => txt
            .txt_data
            .iter()
            .map(|part| String::from_utf8_lossy(part).into_owned())
            .collect::<String>(),
        other => other.to_string(),
    }
}

fn display_name(name: &Name) -> String {
    name.to_string().trim_end_matches('.').to_owned()
}

/// Asks `server` (UDP, falling back to TCP on truncation) for `name`/`rtype`, without
/// recursion, caching or the hosts file.
///
/// - NXDOMAIN or no data of that type → `Ok` with empty `records`.
/// - Server unreachable, no answer within `timeout`, or an error answer (REFUSED,
///   SERVFAIL, …) → `ExecError::DnsUnavailable`.
/// - A bad name or an unsupported type → `ExecError::InvalidDnsQuery`.
#[tracing::instrument(skip_all, fields(%server, name = %name, rtype = %rtype))]
pub async fn dns_lookup(
    server: SocketAddr,
    name: &str,
    rtype: &str,
    timeout: Duration,
) -> Result<DnsAnswer, ExecError> {
    let record_type = parse_rtype(rtype)?;
    let fqdn = parse_name(name)?;

    let connection = |protocol| {
        let mut c = ConnectionConfig::new(protocol);
        c.port = server.port();
        c
    };
    let mut ns = NameServerConfig::udp_and_tcp(server.ip());
    ns.connections = vec![
        connection(ProtocolConfig::Udp),
        connection(ProtocolConfig::Tcp),
    ];
    let config = ResolverConfig::from_name_servers(vec![ns]);

    let mut opts = ResolverOpts::default();
    opts.timeout = timeout;
    opts.attempts = 1;
    opts.cache_size = 0;
    opts.use_hosts_file = ResolveHosts::Never;
    opts.recursion_desired = false;
    opts.ndots = 0;
    opts.preserve_intermediates = false;
    opts.edns0 = true;

    let mut builder = Resolver::builder_with_config(config, TokioRuntimeProvider::default());
    *builder.options_mut() = opts;
    let resolver = builder
        .build()
        .map_err(|e| ExecError::DnsUnavailable(format!("cannot set up a resolver: {e}")))?;

    let answer = |records: Vec<String>, ttl| DnsAnswer {
        name: display_name(&fqdn),
        rtype: record_type.to_string(),
        records,
        ttl,
    };

    // Belt and braces: hickory's own timeout applies per attempt and transport.
    let lookup = tokio::time::timeout(
        timeout.saturating_mul(2),
        resolver.lookup(fqdn.clone(), record_type),
    )
    .await
    .map_err(|_| {
        ExecError::DnsUnavailable(format!(
            "DNS server {server} did not answer within {}s",
            timeout.as_secs_f64()
        ))
    })?;

    match lookup {
        Ok(lookup) => {
            let mut records = Vec::new();
            let mut ttl: Option<u32> = None;
            for record in lookup.answers() {
                if record.record_type() != record_type {
                    continue;
                }
                records.push(rdata_text(&record.data));
                ttl = Some(ttl.map_or(record.ttl, |t| t.min(record.ttl)));
            }
            records.sort();
            records.dedup();
            Ok(answer(records, ttl))
        }
        Err(NetError::Dns(DnsError::NoRecordsFound(_))) => Ok(answer(Vec::new(), None)),
        Err(NetError::Dns(DnsError::ResponseCode(ResponseCode::NXDomain))) => {
            Ok(answer(Vec::new(), None))
        }
        Err(NetError::Dns(DnsError::ResponseCode(code))) => Err(ExecError::DnsUnavailable(
            format!("DNS server {server} answered {code} for {name} {rtype}"),
        )),
        Err(NetError::Timeout) => Err(ExecError::DnsUnavailable(format!(
            "DNS server {server} did not answer within {}s",
            timeout.as_secs_f64()
        ))),
        Err(e) => Err(ExecError::DnsUnavailable(format!(
            "DNS server {server} unavailable: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtypes_and_names_are_validated() {
        assert_eq!(parse_rtype("a").ok(), Some(RecordType::A));
        assert_eq!(parse_rtype("TXT").ok(), Some(RecordType::TXT));
        for t in ["aaaa", "CNAME", "mx", "NS", "SOA", "srv", "PTR", "caa"] {
            assert!(parse_rtype(t).is_ok(), "{t}");
        }
        for t in ["ANY", "AXFR", "HINFO", "NAPTR", "OPT", "TSIG", "", "X"] {
            let err = parse_rtype(t).expect_err(t);
            assert_eq!(err.code(), "invalid_dns_query");
            assert!(err.to_string().contains("PTR, CAA"), "{err}");
        }
        assert_eq!(
            parse_name("").err().map(|e| e.code()),
            Some("invalid_dns_query")
        );
        assert_eq!(
            parse_name("Test.Local.").map(|n| display_name(&n)).ok(),
            Some("test.local".to_owned())
        );
        assert!(parse_name("bad name with spaces..").is_err());
    }
}
