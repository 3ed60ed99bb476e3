use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde_json::Value;

use crate::{Secret, SecretError, SecretMetadata, SecretSource, validate_path};

/// Secrets as files under a root directory, the way Vault Agent and Kubernetes render them:
/// - `<root>/<path>` a file holding a JSON object of string fields (a Vault Agent template), or
/// - `<root>/<path>/` a directory with one file per field (a Kubernetes Secret volume).
///
/// Files are read on every call so rotated secrets are picked up without a restart.
#[derive(Debug, Clone)]
pub struct DirectorySource {
    root: PathBuf,
}

impl DirectorySource {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirectorySource { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// The file system's metadata of a secret's file or directory: not found, or unreadable.
async fn stat(full: &Path, path: &str) -> Result<std::fs::Metadata, SecretError> {
    match tokio::fs::metadata(full).await {
        Ok(m) => Ok(m),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(SecretError::NotFound(path.to_string()))
        }
        Err(e) => Err(unreadable(path, e.kind())),
    }
}

fn unreadable(path: &str, reason: impl std::fmt::Display) -> SecretError {
    SecretError::Unreadable {
        path: path.to_string(),
        reason: reason.to_string(),
    }
}

#[async_trait::async_trait]
impl SecretSource for DirectorySource {
    fn kind(&self) -> &'static str {
        "directory"
    }

    async fn read(&self, path: &str) -> Result<Secret, SecretError> {
        validate_path(path)?;
        if !tokio::fs::try_exists(&self.root).await.unwrap_or(false) {
            return Err(SecretError::Unavailable(format!(
                "secret directory {} does not exist",
                self.root.display()
            )));
        }
        let full = self.root.join(path);
        let meta = stat(&full, path).await?;
        let mut fields = BTreeMap::new();
        if meta.is_dir() {
            let mut entries = tokio::fs::read_dir(&full)
                .await
                .map_err(|e| unreadable(path, e.kind()))?;
            while let Some(entry) = entries
                .next_entry()
                .await
                .map_err(|e| unreadable(path, e.kind()))?
            {
                let name = entry.file_name().to_string_lossy().into_owned();
                // Kubernetes mounts keep `..data` links and dot-files beside the keys.
                if name.starts_with('.') || !entry.path().is_file() {
                    continue;
                }
                let value = tokio::fs::read_to_string(entry.path())
                    .await
                    .map_err(|e| unreadable(path, e.kind()))?;
                fields.insert(
                    name,
                    SecretString::from(value.trim_end_matches('\n').to_string()),
                );
            }
        } else {
            let text = tokio::fs::read_to_string(&full)
                .await
                .map_err(|e| unreadable(path, e.kind()))?;
            // The parse error is dropped on purpose: serde_json quotes input in its messages.
            let doc: Value = serde_json::from_str(&text)
                .map_err(|_| unreadable(path, "file is not a JSON object of string fields"))?;
            let Value::Object(map) = doc else {
                return Err(unreadable(
                    path,
                    "file is not a JSON object of string fields",
                ));
            };
            for (k, v) in map {
                let Value::String(s) = v else {
                    return Err(unreadable(path, format!("field `{k}` is not a string")));
                };
                fields.insert(k, SecretString::from(s));
            }
        }
        if fields.is_empty() {
            return Err(unreadable(path, "secret has no fields"));
        }
        Ok(Secret::new(path, fields))
    }

    /// The file's (or mounted directory's) modification time is its last rotation; a
    /// directory keeps no versions. Nothing is read but the file system's metadata.
    async fn metadata(&self, path: &str) -> Result<SecretMetadata, SecretError> {
        validate_path(path)?;
        let full = self.root.join(path);
        let meta = stat(&full, path).await?;
        let rfc3339 = |t: std::io::Result<std::time::SystemTime>| {
            t.ok().and_then(|t| {
                time::OffsetDateTime::from(t)
                    .format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
        };
        Ok(SecretMetadata {
            path: path.to_string(),
            source: self.kind(),
            version: None,
            versions: None,
            last_rotated: rfc3339(meta.modified()),
            created: None,
        })
    }

    async fn health(&self) -> Result<(), SecretError> {
        if tokio::fs::try_exists(&self.root).await.unwrap_or(false) {
            Ok(())
        } else {
            Err(SecretError::Unavailable(format!(
                "secret directory {} does not exist",
                self.root.display()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[tokio::test]
    async fn metadata_is_the_modification_time_and_nothing_of_the_value() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("dns")).unwrap();
        std::fs::write(dir.path().join("dns/tsig"), r#"{"secret":"c2VjcmV0"}"#).unwrap();
        let src = DirectorySource::new(dir.path());
        let m = src.metadata("dns/tsig").await.unwrap();
        assert_eq!((m.source, m.version, m.versions), ("directory", None, None));
        let rotated = m.last_rotated.clone().expect("a modification time");
        time::OffsetDateTime::parse(&rotated, &time::format_description::well_known::Rfc3339)
            .unwrap();
        assert!(!serde_json::to_string(&m).unwrap().contains("c2VjcmV0"));
        assert!(matches!(
            src.metadata("dns/missing").await,
            Err(SecretError::NotFound(_))
        ));
        assert!(matches!(
            src.metadata("../etc").await,
            Err(SecretError::InvalidPath(_))
        ));
    }

    #[tokio::test]
    async fn reads_json_files_and_mount_directories() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("dns")).unwrap();
        std::fs::write(
            dir.path().join("dns/tsig"),
            r#"{"name":"aiops-key","algorithm":"hmac-sha256","secret":"c2VjcmV0"}"#,
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("slack/bot")).unwrap();
        std::fs::write(dir.path().join("slack/bot/token"), "xoxb-1\n").unwrap();
        std::fs::write(dir.path().join("slack/bot/..data"), "ignored").unwrap();
        let src = DirectorySource::new(dir.path());

        let s = src.read("dns/tsig").await.unwrap();
        assert_eq!(s.field("secret").unwrap().expose_secret(), "c2VjcmV0");
        assert_eq!(s.request_id(), None);
        assert_eq!(
            s.field_names().collect::<Vec<_>>(),
            ["algorithm", "name", "secret"]
        );
        let s = src.read("slack/bot").await.unwrap();
        assert_eq!(s.field("token").unwrap().expose_secret(), "xoxb-1");
        assert_eq!(s.field_names().count(), 1);
        src.check(&["dns/tsig".into(), "slack/bot".into()])
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn errors_are_specific_and_never_echo_content() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("broken"), "not json but a canary-value-123").unwrap();
        std::fs::write(
            dir.path().join("nested"),
            r#"{"a": {"b": "canary-value-123"}}"#,
        )
        .unwrap();
        let src = DirectorySource::new(dir.path());
        assert_eq!(
            src.read("missing").await.unwrap_err().code(),
            "credentials_unavailable"
        );
        assert!(matches!(
            src.read("missing").await,
            Err(SecretError::NotFound(_))
        ));
        assert!(matches!(
            src.read("../etc").await,
            Err(SecretError::InvalidPath(_))
        ));
        for p in ["broken", "nested"] {
            let msg = src.read(p).await.unwrap_err().to_string();
            assert!(!msg.contains("canary"), "{msg}");
        }
        let gone = DirectorySource::new(dir.path().join("nope"));
        assert!(matches!(
            gone.read("x").await,
            Err(SecretError::Unavailable(_))
        ));
        assert!(matches!(
            gone.health().await,
            Err(SecretError::Unavailable(_))
        ));
        assert!(src.health().await.is_ok());
        assert_eq!(src.stats(), crate::SecretStats::default());
        assert!(
            src.read("broken")
                .await
                .unwrap_err()
                .to_string()
                .contains("broken")
        );
    }
}
