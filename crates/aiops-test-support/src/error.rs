//! The harness's one error type, with stable codes.

use std::path::PathBuf;

/// Why the harness could not start or use a server.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A bootstrap script failed; its output (and the command that installs what is
    /// missing) is in the message.
    #[error(
        "{script} {args:?} failed ({status}):\n{stdout}\n{stderr}\nhint: run `bash bootstrap/test-env.sh` first"
    )]
    Script {
        script: String,
        args: Vec<String>,
        status: String,
        stdout: String,
        stderr: String,
    },
    /// The port picked for a server was taken before the server bound it.
    #[error("{script}: port {port} is in use:\n{detail}")]
    PortInUse {
        script: String,
        port: u16,
        detail: String,
    },
    /// A script succeeded but did not print a line the harness needs.
    #[error("{script} printed no {key}= line")]
    MissingVar { script: String, key: String },
    /// A tool the tests need is not installed.
    #[error("{what} not found at {}: {hint}", path.display())]
    NotInstalled {
        what: &'static str,
        path: PathBuf,
        hint: &'static str,
    },
    /// Reading or writing the harness's own files.
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl HarnessError {
    /// A stable code per kind of failure.
    pub fn code(&self) -> &'static str {
        match self {
            HarnessError::Script { .. } => "script_failed",
            HarnessError::PortInUse { .. } => "port_in_use",
            HarnessError::MissingVar { .. } => "missing_var",
            HarnessError::NotInstalled { .. } => "not_installed",
            HarnessError::Io { .. } => "io",
        }
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> HarnessError {
        let context = context.into();
        move |source| HarnessError::Io { context, source }
    }
}
