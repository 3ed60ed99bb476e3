//! What can go wrong, the exit code for each, and the one line printed on stderr.
//!
//! Exit codes: 0 ok; 1 the server refused or failed (HTTP 4xx/5xx) or another error;
//! 2 usage (clap's own code, also used for a bad `--url`); 3 the daemon cannot be reached;
//! 4 a request the daemon recorded ended without succeeding (denied, unrecognized, failed,
//! a diverged verification); 5 a request had not ended when `--wait-timeout` passed;
//! 130 Ctrl-C while waiting. 4 and 5 are apart from 1 so a script can tell "the daemon
//! refused the call" from "the change was tried and did not happen" from "still waiting".

use std::time::Duration;

use aiops_core::{ErrorCode, RequestStatus};
use reqwest::Url;
use serde_json::Value;

/// Tokens shorter than this are not searched for in output: replacing every "a" in a table
/// would protect nothing and garble everything.
const MIN_REDACTED_LEN: usize = 4;

#[derive(Debug, Clone, PartialEq)]
pub enum CliError {
    /// The command line or its configuration is wrong.
    Usage(String),
    /// The daemon answered with an error status.
    Api {
        status: u16,
        code: String,
        message: String,
        /// The approval's current state, sent with 409 answers.
        state: Option<String>,
        /// The body as received, printed on stdout with `--json`.
        raw: String,
    },
    /// Nothing answers at `url`.
    Unreachable { url: String, detail: String },
    /// Anything else (a timeout, a body that is not JSON).
    Other(String),
    /// A request the daemon recorded ended without succeeding: denied, unrecognized,
    /// failed (also a diverged verification, a rollback the world moved on from).
    Unsuccessful {
        id: String,
        status: RequestStatus,
        /// The server's error code, when it sent one.
        code: Option<ErrorCode>,
        /// Why, in the server's words (its error message, the policy's reasons, the
        /// parser's reason).
        why: String,
        /// What goes on stdout all the same: the summary, or the JSON with `--json`.
        printed: String,
    },
    /// The request had not ended when `--wait-timeout` passed. It goes on server side.
    WaitTimeout {
        id: String,
        status: RequestStatus,
        waited: Duration,
        /// The last state seen, as for [`CliError::Unsuccessful`].
        printed: String,
    },
    /// Ctrl-C while waiting: only the waiting stops, the request goes on server side.
    Interrupted { id: String },
}

impl CliError {
    /// The server's `{"error": {"code", "message"}}` (plus `state` on 409); a body that is
    /// not one (a proxy's HTML page) is summarised by its status and first line.
    pub fn from_response(status: u16, body: &str) -> CliError {
        let parsed: Option<Value> = serde_json::from_str(body).ok();
        let err = parsed.as_ref().map(|v| &v["error"]);
        let field = |name: &str| {
            err.and_then(|e| e[name].as_str())
                .map(str::to_string)
                .filter(|s| !s.is_empty())
        };
        let (code, message) = match (field("code"), field("message")) {
            (Some(c), Some(m)) => (c, m),
            (c, m) => {
                let first_line = body.lines().next().unwrap_or_default().trim();
                let snippet: String = first_line.chars().take(200).collect();
                (
                    c.unwrap_or_else(|| "http_error".into()),
                    m.unwrap_or_else(|| {
                        if snippet.is_empty() {
                            format!("the server answered HTTP {status}")
                        } else {
                            format!("the server answered HTTP {status}: {snippet}")
                        }
                    }),
                )
            }
        };
        let state = parsed
            .as_ref()
            .and_then(|v| v["state"].as_str())
            .map(str::to_string);
        CliError::Api {
            status,
            code,
            message,
            state,
            raw: body.to_string(),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Api { .. } | CliError::Other(_) => 1,
            CliError::Unreachable { .. } => 3,
            CliError::Unsuccessful { .. } => 4,
            CliError::WaitTimeout { .. } => 5,
            // 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C.
            CliError::Interrupted { .. } => 130,
        }
    }

    /// The raw server body, for `--json`.
    pub fn raw_body(&self) -> Option<&str> {
        match self {
            CliError::Api { raw, .. } if !raw.trim().is_empty() => Some(raw),
            _ => None,
        }
    }

    /// What to print on stdout besides the error line on stderr: the server's body with
    /// `--json`; a request's summary (or its JSON) whatever the flags, since it says what
    /// happened to the request.
    pub fn stdout(&self, json: bool) -> Option<&str> {
        match self {
            CliError::Unsuccessful { printed, .. } | CliError::WaitTimeout { printed, .. }
                if !printed.trim().is_empty() =>
            {
                Some(printed)
            }
            _ if json => self.raw_body(),
            _ => None,
        }
    }

    /// The text for stderr (one line, plus a hint line where one helps). `token` is
    /// redacted from it, whatever the server or the network said.
    pub fn render(&self, token: Option<&str>) -> String {
        let text = match self {
            CliError::Usage(m) | CliError::Other(m) => format!("aiops: {m}"),
            CliError::Api {
                status,
                code,
                message,
                state,
                ..
            } => {
                let mut line = format!("aiops: {message} ({code}, HTTP {status})");
                if let Some(state) = state {
                    line.push_str(&format!("; current state: {state}"));
                }
                if *status == 401 && token.is_none() {
                    line.push_str("\nhint: pass --token or set AIOPS_TOKEN");
                }
                line
            }
            CliError::Unreachable { url, detail } => format!(
                "aiops: cannot connect to aiopsd at {url}: {detail}\n\
                 hint: is the daemon running? Start it with bootstrap/dev-up.sh, or point --url / AIOPS_URL at it"
            ),
            CliError::Unsuccessful {
                id,
                status,
                code,
                why,
                ..
            } => {
                let ended = match (status, code) {
                    (_, Some(ErrorCode::VerificationDiverged)) => "diverged from its plan",
                    (RequestStatus::Denied, _) => "was denied",
                    (RequestStatus::Unrecognized, _) => "was unrecognized",
                    (RequestStatus::Failed, _) => "failed",
                    _ => "did not succeed",
                };
                let mut line = format!("aiops: request {id} {ended}: {}", one_line(why));
                if let Some(code) = code {
                    line.push_str(&format!(" ({code})"));
                }
                line
            }
            CliError::WaitTimeout {
                id, status, waited, ..
            } => format!(
                "aiops: gave up waiting after {}: request {id} is still {status}\n\
                 hint: it goes on server side; follow it with `aiops show {id}`",
                crate::render::human_duration(waited.as_secs())
            ),
            CliError::Interrupted { id } => format!(
                "aiops: stopped waiting; request {id} goes on server side\n\
                 hint: follow it with `aiops show {id}`"
            ),
        };
        redact(&text, token)
    }
}

/// One line: a server's multi-line message must not break the one error line.
fn one_line(s: &str) -> String {
    crate::render::one_line(s.trim())
}

/// Replaces every occurrence of the token with `<redacted>`.
pub fn redact(text: &str, token: Option<&str>) -> String {
    match token.map(str::trim) {
        Some(t) if t.chars().count() >= MIN_REDACTED_LEN => text.replace(t, "<redacted>"),
        _ => text.to_string(),
    }
}

/// A URL for messages: any password in it is masked.
pub fn display_url(url: &Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    u.to_string().trim_end_matches('/').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "tok-0123456789-secret";

    #[test]
    fn server_errors_print_message_code_and_status() {
        let e = CliError::from_response(
            403,
            r#"{"error":{"code":"forbidden","message":"the requester may not approve their own request"}}"#,
        );
        assert_eq!(
            e.render(Some(TOKEN)),
            "aiops: the requester may not approve their own request (forbidden, HTTP 403)"
        );
        assert_eq!(e.exit_code(), 1);
    }

    #[test]
    fn conflicts_include_the_current_state() {
        let e = CliError::from_response(
            409,
            r#"{"error":{"code":"approval_closed","message":"approval 01J is succeeded"},"state":"succeeded"}"#,
        );
        assert_eq!(
            e.render(None),
            "aiops: approval 01J is succeeded (approval_closed, HTTP 409); current state: succeeded"
        );
        assert!(e.raw_body().unwrap().contains("approval_closed"));
    }

    #[test]
    fn missing_token_gets_a_hint() {
        let e = CliError::from_response(
            401,
            r#"{"error":{"code":"unauthorized","message":"deciding an approval needs an identity (a bearer token)"}}"#,
        );
        assert!(
            e.render(None)
                .contains("hint: pass --token or set AIOPS_TOKEN")
        );
        assert!(!e.render(Some(TOKEN)).contains("hint"));
    }

    #[test]
    fn bodies_that_are_not_api_errors_are_summarised() {
        let e = CliError::from_response(502, "<html>Bad Gateway</html>\n<body>…</body>");
        assert_eq!(
            e.render(None),
            "aiops: the server answered HTTP 502: <html>Bad Gateway</html> (http_error, HTTP 502)"
        );
        let e = CliError::from_response(500, "");
        assert_eq!(
            e.render(None),
            "aiops: the server answered HTTP 500 (http_error, HTTP 500)"
        );
        assert_eq!(e.raw_body(), None);
    }

    #[test]
    fn unreachable_names_the_url_and_the_way_to_start_the_daemon() {
        let e = CliError::Unreachable {
            url: "http://127.0.0.1:1".into(),
            detail: "Connection refused (os error 111)".into(),
        };
        let text = e.render(Some(TOKEN));
        assert!(text.starts_with(
            "aiops: cannot connect to aiopsd at http://127.0.0.1:1: Connection refused"
        ));
        assert!(text.contains("bootstrap/dev-up.sh"));
        assert_eq!(e.exit_code(), 3);
    }

    #[test]
    fn the_token_never_appears_in_an_error() {
        // Even if a server (or a proxy) echoed it back.
        let body =
            format!(r#"{{"error":{{"code":"unauthorized","message":"bad token {TOKEN}"}}}}"#);
        let e = CliError::from_response(401, &body);
        let text = e.render(Some(TOKEN));
        assert!(!text.contains(TOKEN), "{text}");
        assert!(text.contains("bad token <redacted>"), "{text}");
        for e in [
            CliError::Usage(format!("x {TOKEN}")),
            CliError::Other(format!("y {TOKEN}")),
            CliError::Unreachable {
                url: format!("http://{TOKEN}@h"),
                detail: TOKEN.into(),
            },
        ] {
            assert!(!e.render(Some(TOKEN)).contains(TOKEN));
        }
        // Very short tokens are not hunted for (they would garble the text).
        assert_eq!(redact("a cat", Some("a")), "a cat");
    }

    #[test]
    fn passwords_in_urls_are_masked() {
        let u = Url::parse("http://user:hunter2@h:1/").unwrap();
        assert_eq!(display_url(&u), "http://user:***@h:1");
    }
}
