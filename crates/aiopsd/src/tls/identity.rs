//! Who is at the other end of an mTLS connection: the names of the verified client
//! certificate, and the configured user they map to.

use std::net::IpAddr;

use aiops_core::Caller;
use x509_parser::extensions::GeneralName;

use crate::config::UserConfig;

/// The names of a client certificate that the handshake verified against `tls.client_ca`.
/// Put into the extensions of every request on the connection; absent on plain HTTP and on
/// TLS connections without a client certificate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientIdentity {
    /// The subject's common name.
    pub subject_cn: Option<String>,
    /// Subject alternative names: DNS names, e-mail addresses, URIs and IP addresses, as text.
    pub sans: Vec<String>,
}

impl ClientIdentity {
    /// The names of a DER certificate; `None` when it does not parse (rustls verified it,
    /// so that does not happen for a connection's leaf).
    pub fn from_der(der: &[u8]) -> Option<ClientIdentity> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let subject_cn = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_string);
        let mut sans = Vec::new();
        if let Ok(Some(ext)) = cert.subject_alternative_name() {
            for name in &ext.value.general_names {
                match name {
                    GeneralName::DNSName(s) | GeneralName::RFC822Name(s) | GeneralName::URI(s) => {
                        sans.push((*s).to_string())
                    }
                    GeneralName::IPAddress(bytes) => {
                        if let Some(ip) = ip_from_bytes(bytes) {
                            sans.push(ip.to_string());
                        }
                    }
                    _ => {}
                }
            }
        }
        Some(ClientIdentity { subject_cn, sans })
    }

    /// Every name this certificate carries: the common name, then the SANs.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.subject_cn
            .iter()
            .chain(self.sans.iter())
            .map(String::as_str)
    }

    /// One stable name for rate limiting and logs: the common name, else the first SAN.
    pub fn primary_name(&self) -> Option<&str> {
        self.names().next()
    }
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

/// The configured user whose `client_cert` is the certificate's common name or one of its
/// SANs. `None` when no user matches, and when the names match two different users (a
/// certificate must never be able to choose whom it acts as).
pub fn caller_for(identity: &ClientIdentity, users: &[UserConfig]) -> Option<Caller> {
    let mut found: Option<&UserConfig> = None;
    for user in users {
        let Some(wanted) = user.client_cert.as_deref() else {
            continue;
        };
        if identity.names().any(|n| n == wanted) {
            if found.is_some_and(|f| f.name != user.name) {
                return None;
            }
            found = Some(user);
        }
    }
    found.map(|u| {
        Caller::new(
            u.name.clone(),
            u.roles.clone(),
            aiops_core::AuthMethod::ClientCertificate,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, cert: Option<&str>) -> UserConfig {
        UserConfig {
            name: name.into(),
            roles: vec!["operator".into()],
            client_cert: cert.map(Into::into),
            ..Default::default()
        }
    }

    fn identity(cn: Option<&str>, sans: &[&str]) -> ClientIdentity {
        ClientIdentity {
            subject_cn: cn.map(Into::into),
            sans: sans.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_certificate_maps_by_common_name_or_san_and_never_to_two_users() {
        let users = [
            user("alice", Some("alice.ops.example")),
            user("bob", Some("spiffe://example/bob")),
            user("carol", None),
        ];
        let by_cn = caller_for(&identity(Some("alice.ops.example"), &[]), &users);
        assert_eq!(by_cn.map(|c| c.user), Some("alice".to_string()));
        let by_san = caller_for(
            &identity(Some("someone"), &["x.example", "spiffe://example/bob"]),
            &users,
        );
        assert_eq!(by_san.map(|c| c.user), Some("bob".to_string()));
        assert_eq!(caller_for(&identity(Some("carol"), &[]), &users), None);
        assert_eq!(caller_for(&identity(None, &[]), &users), None);
        // Names of two users: neither.
        let both = identity(Some("alice.ops.example"), &["spiffe://example/bob"]);
        assert_eq!(caller_for(&both, &users), None);
        // Matching is exact: no prefixes, no case folding.
        assert_eq!(
            caller_for(&identity(Some("ALICE.ops.example"), &[]), &users),
            None
        );
    }

    #[test]
    fn names_come_from_a_real_certificate() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![
            "client.example".to_string(),
            "10.1.2.3".to_string(),
        ])
        .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "ops-alice");
        let cert = params.self_signed(&key).unwrap();
        let id = ClientIdentity::from_der(cert.der()).unwrap();
        assert_eq!(id.subject_cn.as_deref(), Some("ops-alice"));
        assert_eq!(id.sans, ["client.example", "10.1.2.3"]);
        assert_eq!(id.primary_name(), Some("ops-alice"));
        assert_eq!(ClientIdentity::from_der(b"not a certificate"), None);
    }
}
