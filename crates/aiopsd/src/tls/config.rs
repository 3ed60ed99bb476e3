//! `[tls]`: the server certificate and key, and optionally the CA that client certificates
//! must chain to (mTLS). Paths only: the files are read by [`super::TlsServer`], and again
//! whenever they change.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Whether a client certificate is required when `client_ca` is set.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// A handshake without a certificate from `client_ca` is refused.
    #[default]
    Required,
    /// Clients may present a certificate (it must then chain to `client_ca`) or none, and
    /// authenticate by bearer token instead.
    Optional,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The server certificate chain (PEM, leaf first).
    pub cert: PathBuf,
    /// The server's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CA certificates (PEM) that client certificates must chain to; none: no mTLS.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// With `client_ca`: `required` (the default) or `optional`.
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// How often the three files are re-read; a change is served from the next handshake on.
    #[serde(default = "default_reload_interval_ms")]
    pub reload_interval_ms: u64,
}

fn default_reload_interval_ms() -> u64 {
    5000
}

impl TlsConfig {
    /// A configuration for `cert` and `key`, no client certificates, the default interval.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        TlsConfig {
            cert: cert.into(),
            key: key.into(),
            client_ca: None,
            client_auth: ClientAuth::default(),
            reload_interval_ms: default_reload_interval_ms(),
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.cert.as_os_str().is_empty() || self.key.as_os_str().is_empty() {
            return Err("tls.cert and tls.key must both name PEM files".into());
        }
        if self.reload_interval_ms == 0 {
            return Err("tls.reload_interval_ms must be greater than zero".into());
        }
        if self.client_auth == ClientAuth::Optional && self.client_ca.is_none() {
            return Err("tls.client_auth = \"optional\" needs tls.client_ca".into());
        }
        Ok(())
    }
}
