//! Asking one DNS server directly (the managed, authoritative server).

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::Resolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ProtocolConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use serde::Serialize;

use crate::ExecError;

/// The answer of one query. No such name, or no data of that type, is an empty
/// `records`, not an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsAnswer {
    /// The name asked, lower-case, without the trailing dot.
    pub name: String,
    /// `A`, `AAAA`, `CNAME` or `TXT`.
    pub rtype: String,
    /// Record data in presentation form (CNAME targets without the trailing dot; TXT as
    /// the concatenated text), sorted.
    pub records: Vec<String>,
    /// The smallest TTL of the answer's records; `None` when there are none.
    pub ttl: Option<u32>,
}

fn parse_rtype(rtype: &str) -> Result<RecordType, ExecError> {
    match rtype.to_ascii_uppercase().as_str() {
        "A" => Ok(RecordType::A),
        "AAAA" => Ok(RecordType::AAAA),
        "CNAME" => Ok(RecordType::CNAME),
        "TXT" => Ok(RecordType::TXT),
        other => Err(ExecError::InvalidDnsQuery(format!(
            "unsupported record type {other:?} (expected A, AAAA, CNAME or TXT)"
        ))),
    }
}

fn parse_name(name: &str) -> Result<Name, ExecError> {
    let trimmed = name.trim().trim_end_matches('.').to_ascii_lowercase();
    if trimmed.is_empty() {
        return Err(ExecError::InvalidDnsQuery("empty DNS name".into()));
    }
    Name::from_ascii(format!("{trimmed}."))
        .map_err(|e| ExecError::InvalidDnsQuery(format!("invalid DNS name {name:?}: {e}")))
}

fn rdata_text(rdata: &RData) -> String {
    match rdata {
        RData::CNAME(target) => target.0.to_string().trim_end_matches('.').to_owned(),
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
        assert_eq!(
            parse_rtype("MX").err().map(|e| e.code()),
            Some("invalid_dns_query")
        );
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
