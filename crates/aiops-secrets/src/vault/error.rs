//! How a failed call to Vault is classified ([`Failure`]) and turned into the crate's
//! [`SecretError`]: transport failures and 429/5xx are `Unavailable`, and messages carry
//! statuses and Vault's error strings with any credential redacted, never values.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use vaultrs::error::ClientError;

use crate::SecretError;

/// Why a call to Vault failed, before it is turned into a [`SecretError`].
pub(super) enum Failure {
    /// Vault answered with this HTTP status (and these error strings).
    Status(u16, Vec<String>),
    /// No answer: connection refused, timeout, TLS, …
    Transport(String),
    /// An answer we could not use.
    Reply(String),
}

impl Failure {
    pub(super) fn from_vaultrs(e: ClientError) -> Failure {
        match e {
            ClientError::APIError { code, errors } => Failure::Status(code, errors),
            ClientError::RestClientError { source } => match source {
                rustify::errors::ClientError::ServerResponseError { code, .. } => {
                    Failure::Status(code, Vec::new())
                }
                rustify::errors::ClientError::RequestError { .. }
                | rustify::errors::ClientError::ResponseError { .. } => {
                    Failure::Transport(describe_transport(&source))
                }
                other => Failure::Reply(other.to_string()),
            },
            ClientError::ResponseEmptyError | ClientError::ResponseDataEmptyError => {
                Failure::Reply("the reply holds no data".to_string())
            }
            // Display strings of the remaining variants name no content.
            other => Failure::Reply(other.to_string()),
        }
    }

    pub(super) fn is_unavailable(&self) -> bool {
        match self {
            Failure::Transport(_) => true,
            Failure::Status(code, _) => *code == 429 || *code >= 500,
            Failure::Reply(_) => false,
        }
    }
}

/// A short, content-free description of a transport error (walks the source chain).
fn describe_transport(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut timed_out = false;
    let mut io_kind = None;
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            io_kind = Some(io.kind());
        }
        if e.to_string().contains("timed out") {
            timed_out = true;
        }
        cur = e.source();
    }
    if timed_out || io_kind == Some(std::io::ErrorKind::TimedOut) {
        return "timed out".to_string();
    }
    match io_kind {
        Some(std::io::ErrorKind::ConnectionRefused) => "connection refused".to_string(),
        Some(std::io::ErrorKind::ConnectionReset) => "connection reset".to_string(),
        Some(kind) => format!("connection failed ({kind})"),
        None => "connection failed".to_string(),
    }
}

pub(super) fn plain_transport(e: &(dyn std::error::Error + 'static), is_timeout: bool) -> Failure {
    if is_timeout {
        Failure::Transport("timed out".to_string())
    } else {
        Failure::Transport(describe_transport(e))
    }
}

/// Vault's error strings, with any credential replaced, for messages.
pub(super) fn vault_errors(errors: &[String], redact: &[&SecretString]) -> String {
    let joined = errors
        .iter()
        .map(|e| e.trim().replace(['\n', '\t'], " "))
        .filter(|e| !e.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let mut out = joined;
    for secret in redact {
        let s = secret.expose_secret();
        if !s.is_empty() {
            out = out.replace(s, "[redacted]");
        }
    }
    if out.len() > 300 {
        let mut cut = 300;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

fn is_sealed(errors: &[String]) -> bool {
    errors
        .iter()
        .any(|e| e.to_ascii_lowercase().contains("sealed"))
}

/// The error of a call that did not reach a usable answer (for 429/5xx/transport failures).
pub(super) fn unavailable(addr: &str, what: &str, f: &Failure) -> SecretError {
    match f {
        Failure::Transport(why) => SecretError::Unavailable(format!(
            "vault at {addr} is unreachable ({why}) during {what}"
        )),
        Failure::Status(503, errs) if is_sealed(errs) => {
            SecretError::Unavailable(format!("vault is sealed (HTTP 503) during {what}"))
        }
        Failure::Status(code, _) => {
            SecretError::Unavailable(format!("vault answered HTTP {code} during {what}"))
        }
        Failure::Reply(why) => {
            SecretError::Unavailable(format!("vault gave an unusable reply during {what}: {why}"))
        }
    }
}

impl Failure {
    /// Vault's answer with `status` and this body (its `errors`, when the body has them).
    pub(super) fn status(status: u16, body: &[u8]) -> Failure {
        let errors = serde_json::from_slice::<ErrorsReply>(body)
            .map(|r| r.errors)
            .unwrap_or_default();
        Failure::Status(status, errors)
    }
}

/// The `errors` of a Vault error reply.
#[derive(Deserialize)]
struct ErrorsReply {
    #[serde(default)]
    errors: Vec<String>,
}
