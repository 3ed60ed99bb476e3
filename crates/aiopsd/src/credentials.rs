//! The credentials stage: fetches exactly the secrets an action declares, just before it runs.

use aiops_secrets::{Secret, SecretError, SecretSource};

/// The secrets fetched for one execution. Dropped (and zeroized) when the execution ends.
pub struct Lease {
    secrets: Vec<Secret>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("paths", &self.paths())
            .finish()
    }
}

impl Lease {
    pub async fn fetch(source: &dyn SecretSource, paths: &[String]) -> Result<Lease, SecretError> {
        let mut secrets = Vec::with_capacity(paths.len());
        for p in paths {
            secrets.push(source.read(p).await?);
        }
        Ok(Lease { secrets })
    }

    pub fn empty() -> Lease {
        Lease {
            secrets: Vec::new(),
        }
    }

    /// The paths read: what the audit records (never values).
    pub fn paths(&self) -> Vec<&str> {
        self.secrets.iter().map(Secret::path).collect()
    }

    pub fn get(&self, path: &str) -> Option<&Secret> {
        self.secrets.iter().find(|s| s.path() == path)
    }

    /// Request ids of the reads (Vault's `request_id`), for the audit trail.
    pub fn request_ids(&self) -> Vec<&str> {
        self.secrets.iter().filter_map(Secret::request_id).collect()
    }
}
