//! The credentials stage's secret sources: the only place the daemon holds secret values.
//!
//! A [`SecretSource`] returns a [`Secret`]: named fields held as `secrecy` values, which are
//! zeroized on drop and have no `Debug`/`Display` that could print them. Values leave a
//! `Secret` only through [`Secret::expose`], which callers use to hand them to an executor's
//! child process and to the output scrubber, nowhere else. The embedded default reads a
//! directory as Vault Agent templates or Kubernetes Secret mounts render it; [`VaultSource`]
//! reads Vault or OpenBao KV v2 (token, AppRole or Kubernetes auth) behind the same trait.

#![forbid(unsafe_code)]

mod directory;
mod vault;

use std::collections::BTreeMap;

pub use directory::DirectorySource;
pub use secrecy::{ExposeSecret, SecretString};
pub use vault::{VaultAuth, VaultConfig, VaultSource, VaultTokenStats};

/// Errors of a secret source. Messages name paths and causes, never values.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret path `{0}` is not valid (relative, `/`-separated, no `.` or `..` parts)")]
    InvalidPath(String),
    #[error("secret `{0}` was not found")]
    NotFound(String),
    #[error("secret `{path}` could not be read: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("secret source unavailable: {0}")]
    Unavailable(String),
    /// The source answered, and refused this path (Vault: HTTP 403 with a valid token).
    #[error("permission denied reading secret `{path}` (HTTP 403)")]
    Denied { path: String },
    /// A capabilities check found paths the source's identity may not read.
    #[error("the secret source may not read {}: grant read on exactly these paths in its policy", quoted_list(.paths))]
    NotReadable { paths: Vec<String> },
    /// The secret source's configuration is invalid (found when it is built).
    #[error("secret source configuration is invalid: {0}")]
    Config(String),
}

fn quoted_list(paths: &[String]) -> String {
    paths
        .iter()
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl SecretError {
    /// Stable code; all of these fail the credentials stage closed.
    pub fn code(&self) -> &'static str {
        match self {
            SecretError::InvalidPath(_) => "invalid_secret_path",
            SecretError::Config(_) => "invalid_secrets_config",
            SecretError::NotFound(_)
            | SecretError::Unreadable { .. }
            | SecretError::Unavailable(_)
            | SecretError::Denied { .. }
            | SecretError::NotReadable { .. } => "credentials_unavailable",
        }
    }
}

/// A secret: a set of named fields (a KV v2 secret's data, a directory of files, a JSON file).
pub struct Secret {
    path: String,
    fields: BTreeMap<String, SecretString>,
    request_id: Option<String>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("path", &self.path)
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .field("request_id", &self.request_id)
            .finish()
    }
}

impl Secret {
    pub fn new(path: impl Into<String>, fields: BTreeMap<String, SecretString>) -> Self {
        Secret {
            path: path.into(),
            fields,
            request_id: None,
        }
    }

    /// Records the id of the source's request that returned this secret (Vault's
    /// `request_id`), for the audit trail. Not a secret.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// The id of the request that fetched this secret from its source (Vault's
    /// `request_id`; on a cache hit, the id of the request that filled the cache).
    /// `None` for sources without request ids (the directory source).
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn field(&self, name: &str) -> Option<&SecretString> {
        self.fields.get(name)
    }

    pub fn field_names(&self) -> impl Iterator<Item = &str> {
        self.fields.keys().map(String::as_str)
    }

    pub fn fields(&self) -> impl Iterator<Item = (&str, &SecretString)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// Counters of a secret source, exported by the daemon as metrics.
///
/// `hits`: reads served from the source's cache; `misses`: reads that went to the backend;
/// `errors`: reads that failed (any error, including denials and not-found).
#[derive(Debug, Clone, Copy, Default, serde::Serialize, PartialEq, Eq)]
pub struct SecretStats {
    pub hits: u64,
    pub misses: u64,
    pub errors: u64,
}

/// What is known about a secret apart from its value: never a value, never a field name.
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct SecretMetadata {
    pub path: String,
    /// The source's kind (`vault`, `directory`).
    pub source: &'static str,
    /// The current version (Vault KV v2); none where the source keeps no versions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// How many versions the source keeps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versions: Option<u64>,
    /// When the current value was written (RFC 3339): its last rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_rotated: Option<String>,
    /// When the secret was first written (RFC 3339), where the source knows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

/// Where secrets come from. Chosen at start-up from config; the app holds `Arc<dyn SecretSource>`.
#[async_trait::async_trait]
pub trait SecretSource: Send + Sync {
    /// A short name for readiness reports and audit rows (`directory`, `vault`).
    fn kind(&self) -> &'static str;

    /// Reads one secret by path.
    async fn read(&self, path: &str) -> Result<Secret, SecretError>;

    /// The secret's metadata (versions, last rotation), read without its value.
    async fn metadata(&self, path: &str) -> Result<SecretMetadata, SecretError>;

    /// Checks, without returning values, that each path can be read. Used by `/readyz`.
    async fn check(&self, paths: &[String]) -> Result<(), SecretError> {
        for p in paths {
            self.read(p).await?;
        }
        Ok(())
    }

    /// Whether the backend is up (Vault: reachable, initialised, unsealed). Used by `/readyz`.
    async fn health(&self) -> Result<(), SecretError> {
        Ok(())
    }

    /// Cache and error counters; sources without a cache report zeros.
    fn stats(&self) -> SecretStats {
        SecretStats::default()
    }
}

/// Validates a secret path: relative, `/`-separated, made of `[A-Za-z0-9_.-]` parts, no `.`/`..`.
pub fn validate_path(path: &str) -> Result<(), SecretError> {
    let ok = !path.is_empty()
        && path.len() <= 256
        && path.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        });
    if ok {
        Ok(())
    } else {
        Err(SecretError::InvalidPath(path.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_confined() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "a/./b",
            "a b",
            "a\0b",
        ] {
            assert!(validate_path(bad).is_err(), "{bad:?}");
        }
        for good in ["dns/tsig", "slack/bot-token", "a.b_c/d-e"] {
            assert!(validate_path(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn debug_never_prints_values() {
        let mut f = BTreeMap::new();
        f.insert("secret".to_string(), SecretString::from("hunter2-canary"));
        let s = Secret::new("dns/tsig", f);
        let d = format!("{s:?}");
        assert!(!d.contains("hunter2"), "{d}");
        assert!(d.contains("dns/tsig"));
    }
}
