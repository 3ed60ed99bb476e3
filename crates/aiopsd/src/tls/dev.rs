//! A local PKI for the dev stack and tests (`aiopsd gen-certs DIR`): a CA, a server
//! certificate for `localhost` and `127.0.0.1`, and a client certificate, as PEM files.
//! ECDSA P-256 keys, written 0600 (created with that mode, never readable by others).
//! Not for production: a real deployment brings its own certificates.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use time::{Duration, OffsetDateTime};

/// The names the dev server certificate is valid for.
pub const SERVER_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];
/// The common name of the dev client certificate.
pub const CLIENT_CN: &str = "aiops-dev-client";

#[derive(Debug, thiserror::Error)]
pub enum DevPkiError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DevPkiError + '_ {
    move |source| DevPkiError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where the files of a dev PKI live in its directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevPki {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl DevPki {
    pub fn paths(dir: &Path) -> DevPki {
        DevPki {
            ca_cert: dir.join("ca.crt"),
            ca_key: dir.join("ca.key"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.crt"),
            client_key: dir.join("client.key"),
        }
    }

    /// Creates what is missing in `dir` (0700 when created) and leaves existing files alone:
    /// a new CA (then new server and client certificates, since old ones would not chain to
    /// it), else a server or client certificate issued by the existing CA.
    pub fn ensure(dir: &Path) -> Result<DevPki, DevPkiError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io(dir))?;
        let pki = DevPki::paths(dir);
        let have_ca = pki.ca_cert.exists() && pki.ca_key.exists();
        let ca = if have_ca {
            Ca::load(&pki.ca_cert, &pki.ca_key)?
        } else {
            // Named uniquely: two dev CAs never pass for one another by name.
            let ca = Ca::generate(&format!("aiops dev CA {}", ulid::Ulid::new()))?;
            ca.write(&pki.ca_cert, &pki.ca_key)?;
            ca
        };
        if !(have_ca && pki.server_cert.exists() && pki.server_key.exists()) {
            ca.issue_server(&SERVER_NAMES, Duration::days(365))?
                .write(&pki.server_cert, &pki.server_key)?;
        }
        if !(have_ca && pki.client_cert.exists() && pki.client_key.exists()) {
            ca.issue_client(CLIENT_CN, Duration::days(365))?
                .write(&pki.client_cert, &pki.client_key)?;
        }
        Ok(pki)
    }
}

/// A certificate authority: its certificate (PEM) and signing key.
pub struct Ca {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").finish_non_exhaustive()
    }
}

/// An issued certificate and its private key, as PEM.
pub struct Issued {
    pub cert_pem: String,
    key: KeyPair,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued").finish_non_exhaustive()
    }
}

impl Issued {
    /// Writes the certificate (0644) and key (0600), each replaced atomically.
    pub fn write(&self, cert: &Path, key: &Path) -> Result<(), DevPkiError> {
        write_file(key, self.key.serialize_pem().as_bytes(), 0o600)?;
        write_file(cert, self.cert_pem.as_bytes(), 0o644)
    }

    /// The private key as PEM (for leak checks in tests).
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }
}

impl Ca {
    pub fn generate(name: &str) -> Result<Ca, DevPkiError> {
        let key = KeyPair::generate()?;
        let mut params = leaf_params(name, &[], Duration::days(5 * 365))?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.use_authority_key_identifier_extension = false;
        let cert = params.self_signed(&key)?;
        Ok(Ca {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    pub fn load(cert: &Path, key: &Path) -> Result<Ca, DevPkiError> {
        let cert_pem = std::fs::read_to_string(cert).map_err(io(cert))?;
        let key_pem = zeroize::Zeroizing::new(std::fs::read_to_string(key).map_err(io(key))?);
        let key = KeyPair::from_pem(&key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key)?;
        Ok(Ca { cert_pem, issuer })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn write(&self, cert: &Path, key: &Path) -> Result<(), DevPkiError> {
        write_file(key, self.issuer.key().serialize_pem().as_bytes(), 0o600)?;
        write_file(cert, self.cert_pem.as_bytes(), 0o644)
    }

    /// A server certificate for `names` (DNS names or IP addresses), valid for `days`.
    pub fn issue_server(&self, names: &[&str], valid: Duration) -> Result<Issued, DevPkiError> {
        self.issue(
            names.first().copied().unwrap_or("localhost"),
            names,
            ExtendedKeyUsagePurpose::ServerAuth,
            valid,
        )
    }

    /// A client certificate whose common name is `cn` (and its only SAN, as a DNS name when
    /// it is one).
    pub fn issue_client(&self, cn: &str, valid: Duration) -> Result<Issued, DevPkiError> {
        self.issue(cn, &[], ExtendedKeyUsagePurpose::ClientAuth, valid)
    }

    fn issue(
        &self,
        cn: &str,
        sans: &[&str],
        usage: ExtendedKeyUsagePurpose,
        valid: Duration,
    ) -> Result<Issued, DevPkiError> {
        let key = KeyPair::generate()?;
        let mut params = leaf_params(cn, sans, valid)?;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key,
        })
    }
}

fn leaf_params(cn: &str, sans: &[&str], valid: Duration) -> Result<CertificateParams, DevPkiError> {
    let mut params =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    // A little slack for clocks that differ.
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + valid;
    // Unique per certificate (time and randomness), so a reissue is told apart.
    params.serial_number = Some(SerialNumber::from_slice(&ulid::Ulid::new().to_bytes()));
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

/// Writes `bytes` to a temporary file created with `mode`, then renames it over `path`: a
/// reader sees the old file or the new one, never half of one.
pub fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), DevPkiError> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn ensure_creates_once_with_private_keys_and_reissues_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let pki = DevPki::ensure(&dir.path().join("tls")).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        for key in [&pki.ca_key, &pki.server_key, &pki.client_key] {
            assert_eq!(mode(key), 0o600, "{}", key.display());
        }
        assert_eq!(mode(&dir.path().join("tls")), 0o700);
        let read = |p: &Path| std::fs::read(p).unwrap();
        let (ca, server) = (read(&pki.ca_cert), read(&pki.server_cert));
        // A second run changes nothing.
        DevPki::ensure(&dir.path().join("tls")).unwrap();
        assert_eq!(read(&pki.ca_cert), ca);
        assert_eq!(read(&pki.server_cert), server);
        // A missing client certificate is reissued by the same CA.
        std::fs::remove_file(&pki.client_cert).unwrap();
        DevPki::ensure(&dir.path().join("tls")).unwrap();
        assert_eq!(read(&pki.ca_cert), ca);
        let client = std::fs::read(&pki.client_cert).unwrap();
        let der = rustls::pki_types::CertificateDer::from_pem_slice(&client).unwrap();
        let id = crate::tls::ClientIdentity::from_der(&der).unwrap();
        assert_eq!(id.subject_cn.as_deref(), Some(CLIENT_CN));
        // Nothing temporary is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("tls"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 6, "{names:?}");
    }

    use rustls::pki_types::pem::PemObject;
}
