//! The credentials stage's secret sources: the only place the daemon holds secret values.
//!
//! A [`SecretSource`] returns a [`Secret`]: named fields held as `secrecy` values, which are
//! zeroized on drop and have no `Debug`/`Display` that could print them. Values leave a
//! `Secret` only through [`Secret::expose`], which callers use to hand them to an executor's
//! child process and to the output scrubber, nowhere else. The embedded default reads a
//! directory as Vault Agent templates or Kubernetes Secret mounts render it; Vault itself
//! implements the same trait.

#![forbid(unsafe_code)]

mod directory;

use std::collections::BTreeMap;

pub use directory::DirectorySource;
pub use secrecy::{ExposeSecret, SecretString};

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
}

impl SecretError {
    /// Stable code; all of these fail the credentials stage closed.
    pub fn code(&self) -> &'static str {
        match self {
            SecretError::InvalidPath(_) => "invalid_secret_path",
            SecretError::NotFound(_)
            | SecretError::Unreadable { .. }
            | SecretError::Unavailable(_) => "credentials_unavailable",
        }
    }
}

/// A secret: a set of named fields (a KV v2 secret's data, a directory of files, a JSON file).
pub struct Secret {
    path: String,
    fields: BTreeMap<String, SecretString>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("path", &self.path)
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Secret {
    pub fn new(path: impl Into<String>, fields: BTreeMap<String, SecretString>) -> Self {
        Secret {
            path: path.into(),
            fields,
        }
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

/// Where secrets come from. Chosen at start-up from config; the app holds `Arc<dyn SecretSource>`.
#[async_trait::async_trait]
pub trait SecretSource: Send + Sync {
    /// A short name for readiness reports and audit rows (`directory`, `vault`).
    fn kind(&self) -> &'static str;

    /// Reads one secret by path.
    async fn read(&self, path: &str) -> Result<Secret, SecretError>;

    /// Checks, without returning values, that each path can be read. Used by `/readyz`.
    async fn check(&self, paths: &[String]) -> Result<(), SecretError> {
        for p in paths {
            self.read(p).await?;
        }
        Ok(())
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
