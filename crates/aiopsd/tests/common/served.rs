// Each including test file uses a part of this harness.
#![allow(dead_code)]

//! The daemon served for real on a socket (plain HTTP or TLS), for the tests of the accept
//! loop, TLS and the HTTP limits. Included by those files only (`#[path]`).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aiopsd::tls::dev::{Ca, DevPki};
use aiopsd::{App, AppState, Config, StartError};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The bearer token of the test user `alice` (operator) that these configs define.
pub const TOKEN: &str = "serve-test-token-alice";

/// Adds `alice` (token [`TOKEN`]) and `bob` (no token), mapped to the client certificate
/// names `alice-client` and `bob-client`.
pub fn with_users(mut c: Config) -> Config {
    c.auth.users = vec![
        aiopsd::config::UserConfig {
            name: "alice".into(),
            roles: vec!["operator".into()],
            token_sha256: Some(aiops_core::sha256_hex(TOKEN)),
            client_cert: Some("alice-client".into()),
            ..Default::default()
        },
        aiopsd::config::UserConfig {
            name: "bob".into(),
            roles: vec!["operator".into()],
            client_cert: Some("bob-client".into()),
            ..Default::default()
        },
    ];
    c
}

/// A running `serve_state`.
pub struct Served {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<Result<(), StartError>>,
}

impl Served {
    /// Serves `config` on a listener bound to `bind` (port 0).
    pub async fn start_on(config: Config, bind: &str) -> Result<Served, StartError> {
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
            .try_init();
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .expect("bind a test listener");
        let addr = listener.local_addr().expect("local addr");
        let state = App::build(config).await?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let serve_state = state.clone();
        let handle = tokio::spawn(async move {
            aiopsd::serve_state(listener, serve_state, async {
                let _ = rx.await;
            })
            .await
        });
        Ok(Served {
            addr,
            state,
            stop: Some(tx),
            handle,
        })
    }

    pub async fn start(config: Config) -> Served {
        Self::start_on(config, "127.0.0.1:0")
            .await
            .expect("the daemon starts")
    }

    /// The address to connect to (loopback, also for a listener on 0.0.0.0).
    pub fn connect_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.addr.port()))
    }

    /// Stops the server and returns what `serve_state` returned.
    pub async fn stop(mut self) -> Result<(), StartError> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        (&mut self.handle)
            .await
            .expect("serve_state does not panic")
    }

    /// What `serve_state` returned, when it stops on its own (a refused start).
    pub async fn outcome(self) -> Result<(), StartError> {
        let mut this = self;
        (&mut this.handle)
            .await
            .expect("serve_state does not panic")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Writes `request` on a fresh plain connection and reads until the server closes it.
/// Panics if the server keeps it open longer than `guard` (a hang, not a timing bound).
pub async fn exchange(addr: SocketAddr, request: &[u8], guard: Duration) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request).await.expect("write");
    read_to_close(&mut s, guard).await
}

/// Reads until EOF (or a reset, which also closes); the text read.
pub async fn read_to_close(s: &mut TcpStream, guard: Duration) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(guard, async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&out).into_owned();
    assert!(
        read.is_ok(),
        "the server kept the connection open: {text:?}"
    );
    text
}

/// GET `path` on a fresh plain connection (`Connection: close`); the whole answer.
pub async fn get_plain(addr: SocketAddr, path: &str) -> String {
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    );
    exchange(addr, req.as_bytes(), Duration::from_secs(30)).await
}

/// Polls `probe` until it returns `Some`, for at most `within`; panics with `what` after.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A dev PKI (`aiopsd gen-certs`) in a temporary directory, and client certificates for
/// `alice-client` and `bob-client` from its CA.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub files: DevPki,
    pub ca: Ca,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = DevPki::ensure(&dir.path().join("pki")).expect("gen-certs");
        let ca = Ca::load(&files.ca_cert, &files.ca_key).expect("the CA loads");
        for cn in ["alice-client", "bob-client"] {
            ca.issue_client(cn, time::Duration::days(1))
                .expect("issue")
                .write(
                    &self_path(dir.path(), cn, "crt"),
                    &self_path(dir.path(), cn, "key"),
                )
                .expect("write");
        }
        Pki { dir, files, ca }
    }

    /// `[tls]` with the server certificate, client certificates required, fast reloads.
    pub fn mtls(&self) -> aiopsd::tls::TlsConfig {
        aiopsd::tls::TlsConfig {
            client_ca: Some(self.files.ca_cert.clone()),
            reload_interval_ms: 100,
            ..aiopsd::tls::TlsConfig::new(&self.files.server_cert, &self.files.server_key)
        }
    }

    /// (certificate, key) files of the client certificate named `cn`.
    pub fn client(&self, cn: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        (
            self_path(self.dir.path(), cn, "crt"),
            self_path(self.dir.path(), cn, "key"),
        )
    }

    /// A rustls client trusting this CA, presenting `identity` (cert, key files) if given.
    pub fn connector(&self, identity: Option<(&Path, &Path)>) -> tokio_rustls::TlsConnector {
        connector(&self.files.ca_cert, identity)
    }
}

fn self_path(dir: &Path, cn: &str, ext: &str) -> std::path::PathBuf {
    dir.join(format!("{cn}.{ext}"))
}

/// A rustls client (ring) trusting `ca`, presenting `identity` if given.
pub fn connector(ca: &Path, identity: Option<(&Path, &Path)>) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).expect("ca file") {
        roots.add(c.expect("ca pem")).expect("ca cert");
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots);
    let config = match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_file_iter(cert)
                    .expect("cert file")
                    .collect::<Result<Vec<_>, _>>()
                    .expect("cert pem"),
                PrivateKeyDer::from_pem_file(key).expect("key pem"),
            )
            .expect("client auth"),
        None => builder.with_no_client_auth(),
    };
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Connects with TLS to `addr` as `127.0.0.1`, sends `GET path` and reads the answer until
/// the server closes. `Err` carries the TLS or I/O error (a refused handshake).
pub async fn tls_get(
    connector: &tokio_rustls::TlsConnector,
    addr: SocketAddr,
    path: &str,
) -> Result<(String, Option<aiopsd::tls::CertInfo>), std::io::Error> {
    tls_get_with(connector, addr, path, Some(TOKEN)).await
}

/// `GET path` over TLS with only the client certificate to say who is calling (no token:
/// a token would win over the certificate).
#[allow(dead_code)] // not every test file uses it
pub async fn tls_get_by_certificate(
    connector: &tokio_rustls::TlsConnector,
    addr: SocketAddr,
    path: &str,
) -> Result<(String, Option<aiopsd::tls::CertInfo>), std::io::Error> {
    tls_get_with(connector, addr, path, None).await
}

async fn tls_get_with(
    connector: &tokio_rustls::TlsConnector,
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
) -> Result<(String, Option<aiopsd::tls::CertInfo>), std::io::Error> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("127.0.0.1").expect("an IP name");
    let mut tls = connector.connect(name, tcp).await?;
    let served = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(|leaf| aiopsd::tls::cert_info(leaf));
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n");
    tls.write_all(req.as_bytes()).await?;
    let mut out = Vec::new();
    tls.read_to_end(&mut out).await?;
    Ok((String::from_utf8_lossy(&out).into_owned(), served))
}

/// The status code of a raw HTTP/1.1 answer.
pub fn status_of(answer: &str) -> u16 {
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"))
}

/// The JSON body of a raw HTTP/1.1 answer (`Connection: close`, not chunked).
pub fn json_of(answer: &str) -> serde_json::Value {
    let body = answer
        .split_once("\r\n\r\n")
        .map(|x| x.1)
        .unwrap_or_default();
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}

/// The value of header `name` in a raw HTTP/1.1 answer.
pub fn header_of<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let head = answer.split_once("\r\n\r\n").map(|x| x.0).unwrap_or(answer);
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}
