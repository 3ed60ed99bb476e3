//! The HTTP side: one `reqwest` client (rustls), the daemon's base URL, the bearer token
//! and the TLS files. Everything that can go wrong on the wire becomes a [`CliError`] here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::error::{CliError, display_url};

/// How long to wait for the TCP (and TLS) connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for a whole answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for the answer to a submitted request (`aiops ask`, `aiops rollback`):
/// the daemon plans, runs and verifies the change before it answers, and gives up on its
/// own after `api.request_timeout_secs` (300 s by default) with a 504 that says how to find
/// the outcome. Waiting a little longer lets the daemon's answer, not ours, say how it ended.
pub const SUBMIT_TIMEOUT: Duration = Duration::from_secs(330);

/// The API bearer token. Its `Debug` never shows the value; only [`Token::expose`] does,
/// and only the request builder and the output redaction call it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn new(value: impl Into<String>) -> Self {
        Token(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// The TLS files of the client: CA certificates to trust instead of the system's roots,
/// and a client certificate with its key (mTLS).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: Option<PathBuf>,
    /// (certificate, private key), both PEM.
    pub identity: Option<(PathBuf, PathBuf)>,
}

impl TlsFiles {
    /// Configures `builder` with the files; a file that cannot be read or used is a usage
    /// error naming the flag and the file, never the file's content.
    fn apply(
        &self,
        mut builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::ClientBuilder, CliError> {
        if let Some(ca) = &self.ca {
            let pem = read(ca, "--ca / AIOPS_CA")?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .ok()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| {
                    CliError::Usage(format!(
                        "--ca / AIOPS_CA {} holds no PEM certificate",
                        ca.display()
                    ))
                })?;
            // The given CA only: a daemon with its own CA is not vouched for by public ones.
            builder = builder.tls_built_in_root_certs(false);
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let Some((cert, key)) = &self.identity {
            // The key's bytes are wiped when dropped, not left in freed memory.
            let mut pem = Zeroizing::new(read(cert, "--cert / AIOPS_CLIENT_CERT")?);
            pem.push(b'\n');
            pem.extend_from_slice(&Zeroizing::new(read(key, "--key / AIOPS_CLIENT_KEY")?));
            let identity = reqwest::Identity::from_pem(&pem).map_err(|_| {
                CliError::Usage(format!(
                    "--cert {} and --key {} are not a PEM certificate and its private key",
                    cert.display(),
                    key.display()
                ))
            })?;
            builder = builder.identity(identity);
        }
        Ok(builder)
    }
}

fn read(path: &Path, flag: &str) -> Result<Vec<u8>, CliError> {
    std::fs::read(path)
        .map_err(|e| CliError::Usage(format!("{flag}: cannot read {}: {e}", path.display())))
}

/// A status and body, exactly as the daemon answered.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    /// The body as JSON for a 2xx answer, or the server's error for anything else.
    pub fn json(&self) -> Result<Value, CliError> {
        if (200..300).contains(&self.status) {
            serde_json::from_str(&self.body).map_err(|e| {
                CliError::Other(format!(
                    "the server answered HTTP {} with a body that is not JSON ({e})",
                    self.status
                ))
            })
        } else {
            Err(CliError::from_response(self.status, &self.body))
        }
    }

    /// The body as the API type `T` (`what` names it in the error when it is not one).
    pub fn decode<T: DeserializeOwned>(&self, what: &str) -> Result<T, CliError> {
        serde_json::from_value(self.json()?).map_err(|e| {
            CliError::Other(format!(
                "the server's answer does not look like {what} ({e}); is --url pointing at aiopsd?"
            ))
        })
    }
}

/// The daemon's API.
#[derive(Debug)]
pub struct Api {
    http: reqwest::Client,
    base: Url,
    token: Option<Token>,
}

impl Api {
    /// Checks the URL (http or https) and builds the client. A bad URL is a usage error.
    pub fn new(url: &str, token: Option<Token>) -> Result<Api, CliError> {
        Self::with_tls(url, token, &TlsFiles::default())
    }

    /// Like [`Api::new`], with TLS files (`--ca`, `--cert`, `--key`).
    pub fn with_tls(url: &str, token: Option<Token>, tls: &TlsFiles) -> Result<Api, CliError> {
        let base = parse_base(url)?;
        let builder = tls.apply(reqwest::Client::builder().use_rustls_tls())?;
        let http = builder
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            // The API never redirects; following one could carry the token elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("aiops-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CliError::Other(format!("cannot build the HTTP client: {e}")))?;
        Ok(Api { http, base, token })
    }

    /// `base` + `segments`, each segment percent-encoded (an id cannot escape its path).
    pub fn endpoint(&self, segments: &[&str]) -> Url {
        endpoint(&self.base, segments)
    }

    pub async fn get(&self, url: Url) -> Result<Reply, CliError> {
        self.send(self.http.get(url.clone()), &url, REQUEST_TIMEOUT)
            .await
    }

    pub async fn post_json(&self, url: Url, body: &impl Serialize) -> Result<Reply, CliError> {
        self.send(
            self.http.post(url.clone()).json(body),
            &url,
            REQUEST_TIMEOUT,
        )
        .await
    }

    /// POSTs a request for a change: like [`Api::post_json`], but waits up to
    /// [`SUBMIT_TIMEOUT`] for the answer.
    pub async fn submit_json(&self, url: Url, body: &impl Serialize) -> Result<Reply, CliError> {
        self.send(self.http.post(url.clone()).json(body), &url, SUBMIT_TIMEOUT)
            .await
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        url: &Url,
        timeout: Duration,
    ) -> Result<Reply, CliError> {
        let req = req.timeout(timeout);
        let mut req = match &self.token {
            Some(t) => {
                let mut value =
                    HeaderValue::from_str(&format!("Bearer {}", t.expose())).map_err(|_| {
                        CliError::Usage(
                            "the token contains characters that cannot go in an HTTP header".into(),
                        )
                    })?;
                value.set_sensitive(true);
                req.header(AUTHORIZATION, value)
            }
            None => req,
        };
        let mut attempt = 1;
        loop {
            // A JSON or empty body always clones; without a clone there is no retry.
            let retry = req.try_clone();
            let resp = req
                .send()
                .await
                .map_err(|e| transport_error(&e, url, timeout))?;
            let status = resp.status().as_u16();
            let wait = retry_after(&resp);
            let body = resp
                .text()
                .await
                .map_err(|e| transport_error(&e, url, timeout))?;
            // Rate limited (`aiops ingest` of a large tree sends one request per document):
            // wait as told, a few times, for short waits only.
            match (status, wait, retry) {
                (429, Some(wait), Some(next))
                    if attempt < MAX_ATTEMPTS && wait <= MAX_RETRY_WAIT =>
                {
                    tokio::time::sleep(wait).await;
                    req = next;
                    attempt += 1;
                }
                _ => return Ok(Reply { status, body }),
            }
        }
    }
}

/// How often a rate-limited request is sent in all, and the longest wait the CLI accepts.
const MAX_ATTEMPTS: u32 = 4;
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);

/// A `Retry-After` in seconds (the form the daemon sends).
fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let secs: u64 = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs))
}

fn parse_base(url: &str) -> Result<Url, CliError> {
    let base = Url::parse(url.trim())
        .map_err(|e| CliError::Usage(format!("--url / AIOPS_URL `{url}` is not a URL ({e})")))?;
    if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
        return Err(CliError::Usage(format!(
            "--url / AIOPS_URL `{}` must be an http:// or https:// URL with a host",
            display_url(&base)
        )));
    }
    Ok(base)
}

/// `base` + `segments`; pure, so it is tested without a server.
pub fn endpoint(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// Connection failures (refused, unresolvable host, connect timeout) mean the daemon is
/// not there: exit code 3. Anything else on the wire is exit code 1.
fn transport_error(e: &reqwest::Error, url: &Url, timeout: Duration) -> CliError {
    let origin = origin(url);
    if e.is_connect() {
        CliError::Unreachable {
            url: origin,
            detail: root_cause(e),
        }
    } else if e.is_timeout() {
        CliError::Other(format!(
            "aiopsd at {origin} did not answer within {} s",
            timeout.as_secs()
        ))
    } else {
        let cause = root_cause(e);
        // With TLS 1.3 the server refuses a client certificate after the client's side of
        // the handshake: the refusal arrives as an alert on the first read.
        if cause.contains("fatal alert") {
            return CliError::Other(format!(
                "aiopsd at {origin} refused the TLS session ({cause}); it may want a client certificate of its CA (--cert and --key, or AIOPS_CLIENT_CERT and AIOPS_CLIENT_KEY)"
            ));
        }
        CliError::Other(format!("talking to aiopsd at {origin}: {cause}"))
    }
}

/// `scheme://host:port` (plus any path prefix) without credentials, for messages.
fn origin(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_path("");
    display_url(&u)
}

/// The innermost error message ("Connection refused (os error 111)"), which is the one
/// that says what happened. reqwest errors carry URLs and causes, never headers.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_encode_ids_and_keep_a_path_prefix() {
        let base = Url::parse("http://h:8080/").unwrap();
        assert_eq!(
            endpoint(&base, &["api", "v1", "approvals", "01J"]).as_str(),
            "http://h:8080/api/v1/approvals/01J"
        );
        assert_eq!(
            endpoint(&base, &["api", "v1", "approvals", "../x?y"]).as_str(),
            "http://h:8080/api/v1/approvals/..%2Fx%3Fy"
        );
        let prefixed = Url::parse("https://proxy/aiops/").unwrap();
        assert_eq!(
            endpoint(&prefixed, &["api", "v1"]).as_str(),
            "https://proxy/aiops/api/v1"
        );
    }

    #[test]
    fn bad_urls_are_usage_errors() {
        for bad in ["not a url", "ftp://h/", "127.0.0.1:30080"] {
            let err = Api::new(bad, None).unwrap_err();
            assert!(matches!(err, CliError::Usage(_)), "{bad}: {err:?}");
            assert_eq!(err.exit_code(), 2);
        }
        assert!(Api::new("http://127.0.0.1:30080", None).is_ok());
    }

    #[test]
    fn unusable_tls_files_are_usage_errors_that_never_quote_them() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "-----BEGIN PRIVATE KEY-----\nkey-canary-3141\n").unwrap();
        let missing = dir.path().join("missing.pem");
        for tls in [
            TlsFiles {
                ca: Some(junk.clone()),
                identity: None,
            },
            TlsFiles {
                ca: Some(missing.clone()),
                identity: None,
            },
            TlsFiles {
                ca: None,
                identity: Some((junk.clone(), junk.clone())),
            },
            TlsFiles {
                ca: None,
                identity: Some((missing.clone(), junk.clone())),
            },
        ] {
            let err = Api::with_tls("https://127.0.0.1:1", None, &tls).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{err:?}");
            let text = format!("{err:?} {}", err.render(None));
            assert!(!text.contains("key-canary"), "{text}");
        }
    }

    #[test]
    fn the_token_is_not_in_debug_output() {
        let api = Api::new(
            "http://127.0.0.1:1",
            Some(Token::new("very-secret-token-1")),
        )
        .unwrap();
        assert!(!format!("{api:?}").contains("very-secret-token-1"));
    }

    #[test]
    fn error_replies_become_server_errors() {
        let r = Reply {
            status: 404,
            body: r#"{"error":{"code":"not_found","message":"no approval X"}}"#.into(),
        };
        let err = r.json().unwrap_err();
        assert_eq!(err.exit_code(), 1);
        let ok = Reply {
            status: 200,
            body: r#"{"approvals":[]}"#.into(),
        };
        assert_eq!(ok.json().unwrap()["approvals"], serde_json::json!([]));
        let list: aiops_api::ApprovalList = ok.decode("the approval list").unwrap();
        assert!(list.approvals.is_empty());
        // JSON, but not the answer asked for; and not JSON at all.
        let err = ok
            .decode::<aiops_api::DecisionResponse>("a decision")
            .unwrap_err();
        assert!(
            err.render(None).contains("does not look like a decision"),
            "{err:?}"
        );
        let html = Reply {
            status: 200,
            body: "<html>".into(),
        };
        assert!(html.json().unwrap_err().render(None).contains("not JSON"));
    }
}
