//! `aiopsd mcp`: the MCP server over stdio, for desktop clients that start their servers as
//! processes. It opens no store and loads no policy: it relays every JSON-RPC message
//! between its stdin/stdout and a running daemon's `/mcp`, with the caller's credentials,
//! so each call meets the daemon's authentication, policy, approvals and audit exactly as
//! over HTTP.
//!
//! Both ends are rmcp transports (stdio as a server, Streamable HTTP as a client), so
//! framing, session ids, the protocol-version header and event streams are the SDK's.
//! A refused connection (a wrong token, a daemon that is down) ends the relay with the
//! reason on stderr and a non-zero exit; the client sees its server process end.

use std::path::PathBuf;

use rmcp::RoleServer;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{IntoTransport, StreamableHttpClientTransport, Transport};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

/// Where the daemon is and who is calling.
pub struct ProxyOptions {
    /// The daemon's MCP endpoint, e.g. `http://127.0.0.1:30080/mcp`.
    pub url: String,
    /// The bearer token (absent with mTLS only).
    pub token: Option<SecretString>,
    /// CA certificates (PEM) to trust instead of the system's roots.
    pub ca: Option<PathBuf>,
    /// A client certificate and its key (PEM), for mTLS.
    pub identity: Option<(PathBuf, PathBuf)>,
}

/// Why the relay could not start or ended early. Never holds the token or a file's content.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("{0}")]
    Usage(String),
    #[error("the daemon at {url} ended the connection: {reason}")]
    Upstream { url: String, reason: String },
    #[error("writing to stdout failed: {0}")]
    Stdout(String),
}

/// Relays until the client closes stdin or the daemon's side ends.
pub async fn proxy(opts: ProxyOptions) -> Result<(), ProxyError> {
    let url = opts.url.clone();
    let client = http_client(&opts)?;
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.clone());
    config.auth_header = opts.token.as_ref().map(|t| t.expose_secret().to_string());
    // The daemon serves MCP statelessly (any replica answers any message).
    config.allow_stateless = true;
    let mut upstream = StreamableHttpClientTransport::with_client(client, config);
    let mut downstream =
        IntoTransport::<RoleServer, _, _>::into_transport(rmcp::transport::stdio());
    let ended = loop {
        tokio::select! {
            from_client = downstream.receive() => match from_client {
                // The client closed stdin: done.
                None => break Ok(()),
                Some(message) => {
                    if let Err(e) = upstream.send(message).await {
                        break Err(ProxyError::Upstream { url: url.clone(), reason: e.to_string() });
                    }
                }
            },
            from_daemon = upstream.receive() => match from_daemon {
                None => break Err(ProxyError::Upstream {
                    url: url.clone(),
                    reason: "the connection was refused or closed (check the URL, the token and the daemon's log)".into(),
                }),
                Some(message) => {
                    if let Err(e) = downstream.send(message).await {
                        break Err(ProxyError::Stdout(e.to_string()));
                    }
                }
            },
        }
    };
    let _ = upstream.close().await;
    let _ = downstream.close().await;
    ended
}

/// The HTTP client: the given CA only (a daemon with its own CA is not vouched for by public
/// ones) and the client certificate, when given.
fn http_client(opts: &ProxyOptions) -> Result<reqwest013::Client, ProxyError> {
    // rustls with ring, the process's one provider (no aws-lc); already set is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest013::Client::builder();
    if let Some(ca) = &opts.ca {
        let pem = read(ca, "--ca")?;
        let certs = reqwest013::Certificate::from_pem_bundle(&pem)
            .ok()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                ProxyError::Usage(format!("--ca {} holds no PEM certificate", ca.display()))
            })?;
        builder = builder.tls_certs_only(certs);
    }
    if let Some((cert, key)) = &opts.identity {
        let mut pem = Zeroizing::new(read(cert, "--cert")?);
        pem.push(b'\n');
        pem.extend_from_slice(&Zeroizing::new(read(key, "--key")?));
        let identity = reqwest013::Identity::from_pem(&pem).map_err(|_| {
            ProxyError::Usage(format!(
                "--cert {} and --key {} are not a PEM certificate and its private key",
                cert.display(),
                key.display()
            ))
        })?;
        builder = builder.identity(identity);
    }
    builder
        .build()
        .map_err(|e| ProxyError::Usage(format!("cannot build the HTTP client: {e}")))
}

fn read(path: &std::path::Path, flag: &str) -> Result<Vec<u8>, ProxyError> {
    std::fs::read(path)
        .map_err(|e| ProxyError::Usage(format!("{flag}: cannot read {}: {e}", path.display())))
}
