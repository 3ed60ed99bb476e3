//! aiops-exec: the executor, the only crate that changes the outside world.
//!
//! - [`Ansible`] runs an allow-listed playbook (a path under one playbook directory) with
//!   `ansible-playbook`, started with an argv (never through a shell), a clean environment
//!   and a local inventory. Variables go in a JSON vars file, secret variables in a separate
//!   JSON file created with mode 0600 inside a private 0700 directory; both are removed on
//!   every path (success, failure, timeout, panic) because they live in RAII guards. A run
//!   that outlives its timeout has its whole process group killed.
//! - [`dns_lookup`] asks one DNS server directly (UDP, then TCP), for reads and for
//!   verifying changes.
//! - [`scrub`] removes secret values (and their common encodings) from any text; every
//!   string in a [`PlaybookOutcome`] and in [`ExecError`] messages is scrubbed of the
//!   secret variables the run was given.
//!
//! Results are parsed from the output of Ansible's built-in `default` stdout callback with
//! `ANSIBLE_CALLBACK_RESULT_FORMAT=json` and verbosity 1 (module `output`).
//!
//! Invariants pinned by this crate's tests: no shell, no secret in output or on disk after
//! a run, a timeout kills the process group, a missing binary is `executor_unavailable`.

#![forbid(unsafe_code)]

mod ansible;
mod dns;
mod output;
mod scrub;

pub use ansible::{Ansible, AnsibleConfig, PlaybookRun};
pub use dns::{DnsAnswer, dns_lookup};
pub use output::{PlaybookOutcome, TaskResult};
pub use scrub::{REDACTED, scrub};

use std::time::Duration;

/// Errors of the executor. Every message is safe to show: it never holds a secret value
/// that the run was given (messages built from process output are scrubbed).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The `ansible-playbook` binary is missing or cannot be run.
    #[error("executor unavailable: {0}")]
    Unavailable(String),
    /// The run outlived its timeout; its process group was killed.
    #[error("executor timed out after {}s", .0.as_secs_f64())]
    Timeout(Duration),
    /// The playbook ran and failed (a task failed, a host was unreachable, or Ansible
    /// rejected the playbook). `outcome` holds what was parsed of the run, scrubbed.
    #[error("playbook failed: {message}")]
    Failed {
        /// Scrubbed, human-readable reason (the failed task's msg when there is one).
        message: String,
        /// The parsed, scrubbed run, when Ansible printed results.
        outcome: Option<Box<PlaybookOutcome>>,
    },
    /// The DNS server did not answer (unreachable, timeout, refused the query).
    #[error("DNS server unavailable: {0}")]
    DnsUnavailable(String),
    /// A DNS query that cannot be asked (bad name or unsupported record type).
    #[error("invalid DNS query: {0}")]
    InvalidDnsQuery(String),
    /// The playbook path, a variable name or the limit was rejected before anything ran.
    #[error("invalid playbook: {0}")]
    InvalidPlaybook(String),
    /// Local I/O failed (temp files, pipes).
    #[error("i/o error: {context}: {source}")]
    Io {
        /// What the executor was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl ExecError {
    /// A stable, machine-readable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            ExecError::Unavailable(_) => "executor_unavailable",
            ExecError::Timeout(_) => "executor_timeout",
            ExecError::Failed { .. } => "executor_failed",
            ExecError::DnsUnavailable(_) => "dns_unavailable",
            ExecError::InvalidDnsQuery(_) => "invalid_dns_query",
            ExecError::InvalidPlaybook(_) => "invalid_playbook",
            ExecError::Io { .. } => "io",
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ExecError::Io {
            context: context.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(
            ExecError::Unavailable("x".into()).code(),
            "executor_unavailable"
        );
        assert_eq!(
            ExecError::Timeout(Duration::from_secs(1)).code(),
            "executor_timeout"
        );
        assert_eq!(
            ExecError::Failed {
                message: "m".into(),
                outcome: None
            }
            .code(),
            "executor_failed"
        );
        assert_eq!(
            ExecError::DnsUnavailable("x".into()).code(),
            "dns_unavailable"
        );
        assert_eq!(
            ExecError::InvalidPlaybook("x".into()).code(),
            "invalid_playbook"
        );
        assert_eq!(
            ExecError::io("ctx", std::io::Error::other("e")).code(),
            "io"
        );
        assert_eq!(
            ExecError::Timeout(Duration::from_millis(1500)).to_string(),
            "executor timed out after 1.5s"
        );
    }
}
