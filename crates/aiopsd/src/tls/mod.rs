//! TLS on the API, with rustls (ring): the server certificate, optional client certificates
//! (mTLS), reloading both when their files change, and the identity of a verified client.
//!
//! - [`config`], the `[tls]` section.
//! - [`TlsServer`] (here) loads the files into a rustls `ServerConfig`, hands out acceptors,
//!   and re-reads the files every `reload_interval_ms` ([`TlsServer::watch`]). A change that
//!   does not load (a half-written file, a key that does not match) keeps the old
//!   configuration and is logged; the next good one is served from the next handshake on.
//!   The whole `ServerConfig` is swapped, so a new `client_ca` takes effect the same way.
//! - [`identity`], [`ClientIdentity`] and [`caller_for`].
//! - [`dev`], a local CA and certificates for the dev stack and tests (`aiopsd gen-certs`).

pub mod config;
pub mod dev;
pub mod identity;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::RootCertStore;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use sha2::{Digest, Sha256};
use tokio_rustls::TlsAcceptor;
use zeroize::Zeroizing;

pub use config::{ClientAuth, TlsConfig};
pub use identity::{ClientIdentity, caller_for};

use crate::metrics::TlsCertGauge;

/// Why the TLS files cannot be served. Messages name files, never their contents.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read tls.{field} {}: {source}", path.display())]
    Read {
        field: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("tls.{field} {} holds no PEM certificate", path.display())]
    NoCertificate { field: &'static str, path: PathBuf },
    #[error("tls.{field} {} is not valid PEM", path.display())]
    BadPem { field: &'static str, path: PathBuf },
    #[error("tls.key {} holds no private key (PEM: PKCS#8, PKCS#1 or SEC1)", path.display())]
    NoKey { path: PathBuf },
    #[error("tls.cert {} does not parse as an X.509 certificate", path.display())]
    BadCertificate { path: PathBuf },
    #[error("tls.client_ca {}: {reason}", path.display())]
    ClientCa { path: PathBuf, reason: String },
    #[error("tls.cert and tls.key do not go together: {0}")]
    Mismatch(rustls::Error),
}

/// What the served certificate says about itself: logged at every load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub subject: String,
    /// Hex, as `openssl x509 -serial` prints it.
    pub serial: String,
    /// Unix seconds.
    pub not_after: i64,
}

/// The served TLS configuration, swapped whole when the files change.
pub struct TlsServer {
    config: TlsConfig,
    current: ArcSwap<ServerConfig>,
    state: Mutex<Loaded>,
    gauge: TlsCertGauge,
}

impl std::fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsServer")
            .field("cert", &self.config.cert)
            .field("client_ca", &self.config.client_ca)
            .finish_non_exhaustive()
    }
}

/// The fingerprint of the files behind the served configuration, and of the last set that
/// failed to load (so one bad file is logged once, not at every poll).
#[derive(Debug)]
struct Loaded {
    digest: [u8; 32],
    failed: Option<[u8; 32]>,
    /// The files could not be read at the last poll (warned once until they can be).
    unreadable: bool,
    info: CertInfo,
}

/// The three files' contents; the key's bytes are wiped when dropped.
struct Files {
    cert: Vec<u8>,
    key: Zeroizing<Vec<u8>>,
    client_ca: Option<Vec<u8>>,
}

impl Files {
    fn read(config: &TlsConfig) -> Result<Files, TlsError> {
        let read = |field: &'static str, path: &Path| {
            std::fs::read(path).map_err(|source| TlsError::Read {
                field,
                path: path.to_path_buf(),
                source,
            })
        };
        Ok(Files {
            cert: read("cert", &config.cert)?,
            key: Zeroizing::new(read("key", &config.key)?),
            client_ca: match &config.client_ca {
                Some(p) => Some(read("client_ca", p)?),
                None => None,
            },
        })
    }

    /// A hash over all three, length-prefixed so no two different sets collide by
    /// concatenation.
    fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for part in [
            Some(self.cert.as_slice()),
            Some(self.key.as_slice()),
            self.client_ca.as_deref(),
        ] {
            match part {
                Some(bytes) => {
                    h.update((bytes.len() as u64 + 1).to_le_bytes());
                    h.update(bytes);
                }
                None => h.update(0u64.to_le_bytes()),
            }
        }
        h.finalize().into()
    }
}

impl TlsServer {
    /// Loads the files; an error stops the start. Sets the not-after gauge and logs it.
    pub fn load(config: &TlsConfig, gauge: TlsCertGauge) -> Result<Arc<TlsServer>, TlsError> {
        let files = Files::read(config)?;
        let (server_config, info) = build(config, &files)?;
        log_loaded(&info, "TLS certificate loaded");
        gauge.set(info.not_after);
        Ok(Arc::new(TlsServer {
            config: config.clone(),
            current: ArcSwap::from(server_config),
            state: Mutex::new(Loaded {
                digest: files.digest(),
                failed: None,
                unreadable: false,
                info,
            }),
            gauge,
        }))
    }

    /// An acceptor for the configuration served now.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.current.load_full())
    }

    /// The certificate served now.
    pub fn info(&self) -> CertInfo {
        self.lock().info.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Loaded> {
        // The state is a few plain values, consistent after any panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Re-reads the files; when they changed and load, serves them from the next handshake
    /// on. Returns whether the served configuration changed. A set that does not load is
    /// logged once and the current configuration stays.
    pub fn reload(&self) -> bool {
        let files = match Files::read(&self.config) {
            Ok(f) => f,
            Err(e) => {
                // A file being replaced can be missing for a moment: retried at the next poll,
                // and said once.
                let mut state = self.lock();
                if !state.unreadable {
                    tracing::warn!(error = %e, "TLS files not readable; still serving the previous certificate");
                }
                state.unreadable = true;
                return false;
            }
        };
        let digest = files.digest();
        {
            let mut state = self.lock();
            state.unreadable = false;
            if state.digest == digest || state.failed == Some(digest) {
                return false;
            }
        }
        match build(&self.config, &files) {
            Ok((server_config, info)) => {
                self.current.store(server_config);
                self.gauge.set(info.not_after);
                log_loaded(&info, "TLS certificate reloaded");
                let mut state = self.lock();
                *state = Loaded {
                    digest,
                    failed: None,
                    unreadable: false,
                    info,
                };
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "the changed TLS files do not load; still serving the previous certificate");
                self.lock().failed = Some(digest);
                false
            }
        }
    }

    /// Polls the files every `reload_interval_ms` until `stop` turns true.
    pub async fn watch(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let interval = Duration::from_millis(self.config.reload_interval_ms);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = crate::serve::stopped(&mut stop) => return,
            }
            let this = Arc::clone(&self);
            // File reads and key parsing are blocking work.
            let _ = tokio::task::spawn_blocking(move || this.reload()).await;
        }
    }
}

fn log_loaded(info: &CertInfo, what: &str) {
    let not_after = time::OffsetDateTime::from_unix_timestamp(info.not_after)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| info.not_after.to_string());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if info.not_after <= now {
        tracing::warn!(subject = %info.subject, serial = %info.serial, %not_after, "{what}: it has EXPIRED; clients will refuse it");
    } else {
        let days_left = (info.not_after - now) / 86_400;
        tracing::info!(subject = %info.subject, serial = %info.serial, %not_after, days_left, "{what}");
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certificates(
    field: &'static str,
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| TlsError::BadPem {
            field,
            path: path.to_path_buf(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            field,
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// The rustls configuration of a set of files, and what its leaf certificate says.
fn build(config: &TlsConfig, files: &Files) -> Result<(Arc<ServerConfig>, CertInfo), TlsError> {
    let chain = certificates("cert", &config.cert, &files.cert)?;
    let info = cert_info(&chain[0]).ok_or_else(|| TlsError::BadCertificate {
        path: config.cert.clone(),
    })?;
    // The PEM parser's errors can quote the input: none of them is passed on.
    let key = PrivateKeyDer::from_pem_slice(&files.key).map_err(|_| TlsError::NoKey {
        path: config.key.clone(),
    })?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Mismatch)?;
    let builder = match (&config.client_ca, &files.client_ca) {
        (Some(path), Some(pem)) => {
            let ca_error = |reason: String| TlsError::ClientCa {
                path: path.clone(),
                reason,
            };
            let mut roots = RootCertStore::empty();
            for cert in certificates("client_ca", path, pem)? {
                roots
                    .add(cert)
                    .map_err(|e| ca_error(format!("not a usable CA certificate: {e}")))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
            let verifier = match config.client_auth {
                ClientAuth::Required => verifier,
                ClientAuth::Optional => verifier.allow_unauthenticated(),
            };
            builder.with_client_cert_verifier(
                verifier
                    .build()
                    .map_err(|e| ca_error(format!("cannot verify clients with it: {e}")))?,
            )
        }
        _ => builder.with_no_client_auth(),
    };
    let mut server_config = builder
        .with_single_cert(chain, key)
        .map_err(TlsError::Mismatch)?;
    // The API speaks HTTP/1.1 only.
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(server_config), info))
}

/// Subject, serial and not-after of a DER certificate.
pub fn cert_info(der: &[u8]) -> Option<CertInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(CertInfo {
        subject: cert.subject().to_string(),
        serial: hex::encode(cert.raw_serial()),
        not_after: cert.validity().not_after.timestamp(),
    })
}

/// The verified client certificate of an accepted connection, if the client sent one.
pub fn client_identity(conn: &rustls::ServerConnection) -> Option<ClientIdentity> {
    let leaf = conn.peer_certificates()?.first()?;
    ClientIdentity::from_der(leaf)
}
