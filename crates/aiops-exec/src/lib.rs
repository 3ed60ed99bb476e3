//! aiops-exec: the executor, the only crate that changes the outside world.
//!
//! - [`Ansible`] runs an allow-listed playbook (a path under one playbook directory) with
//!   `ansible-playbook`, started with an argv (never through a shell), a clean environment
//!   and a local inventory. Variables go in a JSON vars file, secret variables in a separate
//!   JSON file created with mode 0600 inside the run's private 0700 directory under the run
//!   area (`<data_dir>/run`, never the system temp dir); both are removed on every path
//!   (success, failure, timeout, panic) because they live in RAII guards, and after a crash
//!   [`reclaim_run_area`] wipes the run area at start-up. Every run starts under a
//!   supervisor that kills its whole process tree when the daemon dies (module
//!   `supervise`), and a run that outlives its timeout has its whole tree killed.
//! - [`dns_lookup`] asks one DNS server directly (UDP, then TCP), for reads and for
//!   verifying changes.
//! - [`KubeExecutor`] runs the `k8s.*` actions through the Kubernetes API (kube client,
//!   rustls): plan = the same request with server-side dry run turned into a deterministic
//!   diff plus `resourceVersion`/`uid` preconditions; execute = the real request held to
//!   those preconditions (a change since planning is [`ExecError::Conflict`]).
//! - [`scrub`] removes secret values (and their common encodings) from any text; every
//!   string in a [`PlaybookOutcome`] and in [`ExecError`] messages is scrubbed of the
//!   secret variables the run was given.
//!
//! [`AnsibleConfig`] and [`KubeConfig`] are the daemon's `[ansible]` and `[kube]`
//! configuration sections as they are (serde, defaults, unknown keys rejected).
//!
//! Results are parsed from the output of Ansible's built-in `default` stdout callback with
//! `ANSIBLE_CALLBACK_RESULT_FORMAT=json` and verbosity 1 (module `output`).
//!
//! Invariants pinned by this crate's tests: no shell, no secret in output or on disk after
//! a run, a timeout kills the process group, the run's tree dies when its lifeline is cut,
//! a missing binary is `executor_unavailable`.

#![deny(unsafe_code)]

mod ansible;
#[cfg(test)]
mod config_check;
mod dns;
mod kube;
mod output;
mod scrub;
// The supervisor of executor children runs between fork and exec: the one place in this
// crate with `unsafe` (see its module comment).
#[allow(unsafe_code)]
mod supervise;

pub use crate::kube::{
    Certificate, CertificateSpec, EXECUTION_TIME, HttpBackendRef, HttpRoute, HttpRouteRule,
    HttpRouteSpec, IssuerRef, KubeConfig, KubeExecutor, KubeObservation, KubeOutcome, KubePlan,
    MANAGED_BY_LABEL, NO_CHANGES, ParentReference, READ_ONLY, RESTARTED_AT_ANNOTATION,
    expose_names, host_label,
};
pub use ansible::{Ansible, AnsibleConfig, PlaybookRun, Reclaimed, reclaim_run_area};
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
    /// The Kubernetes API refused the request for lack of permission (RBAC 403). `verb`
    /// and `resource` are the ones the authorizer checked (e.g. `patch`, `deployments`).
    #[error("forbidden: cannot {verb} {resource}: {message}")]
    Forbidden {
        /// The API verb that was refused.
        verb: String,
        /// The resource (plural name) it was refused on.
        resource: String,
        /// The API server's explanation.
        message: String,
    },
    /// The object the action names does not exist (Kubernetes 404).
    #[error("not found: {what}")]
    NotFound {
        /// What was looked for, e.g. `deployment shop/web`.
        what: String,
    },
    /// The object changed since it was planned (Kubernetes 409 on a precondition, or an
    /// apply conflict); nothing was changed.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The action's parameters (or the plan handed to execute) are not usable.
    #[error("invalid parameters: {0}")]
    InvalidParams(String),
    /// The executor does not implement this action.
    #[error("unknown action: {0}")]
    UnknownAction(String),
    /// The executor's configuration is unusable (kubeconfig unreadable, no in-cluster
    /// service account).
    #[error("executor configuration: {0}")]
    Config(String),
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
            ExecError::Forbidden { .. } => "forbidden",
            ExecError::NotFound { .. } => "not_found",
            ExecError::Conflict(_) => "conflict",
            ExecError::InvalidParams(_) => "invalid_params",
            ExecError::UnknownAction(_) => "unknown_action",
            ExecError::Config(_) => "executor_config",
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
        let cases = [
            (ExecError::Unavailable("x".into()), "executor_unavailable"),
            (
                ExecError::Timeout(Duration::from_secs(1)),
                "executor_timeout",
            ),
            (
                ExecError::Failed {
                    message: "m".into(),
                    outcome: None,
                },
                "executor_failed",
            ),
            (ExecError::DnsUnavailable("x".into()), "dns_unavailable"),
            (ExecError::InvalidDnsQuery("x".into()), "invalid_dns_query"),
            (ExecError::InvalidPlaybook("x".into()), "invalid_playbook"),
            (
                ExecError::Forbidden {
                    verb: "patch".into(),
                    resource: "deployments".into(),
                    message: "m".into(),
                },
                "forbidden",
            ),
            (ExecError::NotFound { what: "x".into() }, "not_found"),
            (ExecError::Conflict("x".into()), "conflict"),
            (ExecError::InvalidParams("x".into()), "invalid_params"),
            (ExecError::UnknownAction("x".into()), "unknown_action"),
            (ExecError::Config("x".into()), "executor_config"),
            (ExecError::io("ctx", std::io::Error::other("e")), "io"),
        ];
        for (err, code) in cases {
            assert_eq!(err.code(), code, "{err}");
        }
        assert_eq!(
            ExecError::Timeout(Duration::from_millis(1500)).to_string(),
            "executor timed out after 1.5s"
        );
    }
}
