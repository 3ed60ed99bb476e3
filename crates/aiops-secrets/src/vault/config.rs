//! Configuration of the Vault source: the address, KV mount, cache age, timeouts and how it
//! logs in ([`VaultAuth`]). Holds no secret; checked by [`VaultConfig::validate`] without
//! contacting Vault.

use std::path::PathBuf;

use crate::{SecretError, validate_path};

fn default_kv_mount() -> String {
    "secret".to_string()
}
fn default_cache_max_age_secs() -> u64 {
    30
}
fn default_timeout_ms() -> u64 {
    5_000
}
fn default_approle_mount() -> String {
    "approle".to_string()
}
fn default_kubernetes_mount() -> String {
    "kubernetes".to_string()
}
fn default_jwt_file() -> PathBuf {
    PathBuf::from("/var/run/secrets/kubernetes.io/serviceaccount/token")
}

/// Configuration of the Vault secret source. Holds no secret: credentials are read from
/// the files it names.
///
/// ```toml
/// addr = "http://127.0.0.1:8200"
/// kv_mount = "secret"            # default
/// cache_max_age_secs = 30        # default; 0 = no cache
/// timeout_ms = 5000              # default
/// # ca_cert = "/etc/aiops/vault-ca.pem"
/// [auth]
/// method = "approle"
/// role_id = "…"
/// secret_id_file = "/run/aiops/secret-id"
/// wrapped = false                # default
/// # mount = "approle"            # default
/// ```
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VaultConfig {
    /// Base address, e.g. `http://127.0.0.1:8200` or `https://vault.example:8200`.
    pub addr: String,
    /// Mount path of the KV version 2 engine (`secret`).
    #[serde(default = "default_kv_mount")]
    pub kv_mount: String,
    pub auth: VaultAuth,
    /// How long a read value may be served from memory; 0 turns the cache off. An entry
    /// never outlives the secret's lease either (`lease_duration`, when non-zero).
    #[serde(default = "default_cache_max_age_secs")]
    pub cache_max_age_secs: u64,
    /// Timeout of each HTTP request to Vault, connection included.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// PEM file of the CA that signed Vault's certificate (https only); trusted in
    /// addition to the system's roots.
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
}

/// How the source logs in to Vault.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, PartialEq)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum VaultAuth {
    /// A token read from a file (development; never inline in config). Re-read when the
    /// token is rejected or expires. The token needs `auth/token/lookup-self` (the `default`
    /// policy has it): the login looks up its TTL and renewability.
    Token { token_file: PathBuf },
    /// AppRole: `role_id` from config, the secret id from a file. With `wrapped`, the file
    /// holds a response-wrapping token; it is unwrapped (`sys/wrapping/unwrap`) at the first
    /// login and the secret id is kept in memory for later logins, until the file changes.
    Approle {
        #[serde(default = "default_approle_mount")]
        mount: String,
        role_id: String,
        secret_id_file: PathBuf,
        #[serde(default)]
        wrapped: bool,
    },
    /// Kubernetes auth for in-cluster runs: `POST auth/<mount>/login {"role", "jwt"}` with
    /// the pod's service-account token, re-read from `jwt_file` at each login (projected
    /// tokens rotate).
    ///
    /// Implemented after Vault's documented API; it cannot be exercised against a real
    /// cluster here, so only the request's shape is tested (against a local listener).
    Kubernetes {
        #[serde(default = "default_kubernetes_mount")]
        mount: String,
        role: String,
        #[serde(default = "default_jwt_file")]
        jwt_file: PathBuf,
    },
}

impl VaultAuth {
    pub(super) fn method(&self) -> &'static str {
        match self {
            VaultAuth::Token { .. } => "token",
            VaultAuth::Approle { .. } => "approle",
            VaultAuth::Kubernetes { .. } => "kubernetes",
        }
    }
}

impl VaultConfig {
    /// Checks the configuration without contacting Vault.
    pub fn validate(&self) -> Result<(), SecretError> {
        let bad = |msg: String| Err(SecretError::Config(msg));
        match url::Url::parse(&self.addr) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => return bad(format!("vault addr `{}` is not an http(s) URL", self.addr)),
        }
        if validate_path(&self.kv_mount).is_err() {
            return bad(format!(
                "vault kv_mount `{}` is not a valid mount path",
                self.kv_mount
            ));
        }
        if self.timeout_ms == 0 {
            return bad("vault timeout_ms must be greater than 0".to_string());
        }
        let mount_ok = |m: &str| validate_path(m).is_ok();
        match &self.auth {
            VaultAuth::Token { .. } => {}
            VaultAuth::Approle { mount, role_id, .. } => {
                if !mount_ok(mount) {
                    return bad(format!("vault approle mount `{mount}` is not valid"));
                }
                if role_id.trim().is_empty() {
                    return bad("vault approle role_id is empty".to_string());
                }
            }
            VaultAuth::Kubernetes { mount, role, .. } => {
                if !mount_ok(mount) {
                    return bad(format!("vault kubernetes mount `{mount}` is not valid"));
                }
                if role.trim().is_empty() {
                    return bad("vault kubernetes role is empty".to_string());
                }
            }
        }
        Ok(())
    }
}
