//! The accept loop of the API: plain HTTP or TLS (rustls) on one listener, HTTP/1.1 by
//! hyper with the limits below the router, and a graceful stop.
//!
//! - At most `api.max_connections` connections are open; the next one is accepted when one
//!   closes (until then it waits in the kernel's listen backlog).
//! - The TLS handshake and each request head must complete within
//!   `api.header_read_timeout_ms`, and a keep-alive connection may sit idle between requests
//!   no longer than that (hyper starts the same timer when it waits for the next head): slow
//!   and idle clients are disconnected. A slow body is cut by the router's request timeout,
//!   which covers reading the body.
//! - A request head over `api.max_header_bytes` or with more than `api.max_headers` fields
//!   is answered 431 by hyper, and the connection is closed.
//! - Each request carries the peer address (`ConnectInfo<SocketAddr>`) and, on mTLS, the
//!   verified [`ClientIdentity`] in its extensions.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

use crate::config::ApiConfig;
use crate::tls::{ClientIdentity, TlsServer};

/// Serves `app` on `listener` until `stop` turns true; then stops accepting, lets requests in
/// flight finish (idle connections are closed) and returns.
pub async fn run(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<TlsServer>>,
    api: &ApiConfig,
    mut stop: watch::Receiver<bool>,
) {
    let header_timeout = Duration::from_millis(api.header_read_timeout_ms);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_header_size(api.max_header_bytes)
        .max_headers(api.max_headers);
    let conn = Arc::new(Connection {
        app,
        tls,
        http,
        header_timeout,
    });
    let slots = Arc::new(Semaphore::new(api.max_connections));
    let graceful = GracefulShutdown::new();
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break, // never closed
            },
            _ = stopped(&mut stop) => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            _ = stopped(&mut stop) => break,
        };
        let _ = stream.set_nodelay(true);
        let conn = Arc::clone(&conn);
        let watcher = graceful.watcher();
        let stop = stop.clone();
        tokio::spawn(async move {
            conn.serve(stream, peer, watcher, stop).await;
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Resolves when `stop` turns true. (The guard `wait_for` returns is not `Send`: it is
/// dropped here, before any other await.)
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// A failed `accept`: the peer's problem (reset before we took it) is skipped; anything
/// else (out of file descriptors) pauses accepting a moment rather than spinning.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind as K;
    if matches!(
        e.kind(),
        K::ConnectionAborted | K::ConnectionReset | K::ConnectionRefused | K::Interrupted
    ) {
        return;
    }
    tracing::warn!(error = %e, "accepting a connection failed; pausing");
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// What every connection is served with.
struct Connection {
    app: Router,
    tls: Option<Arc<TlsServer>>,
    http: hyper::server::conn::http1::Builder,
    header_timeout: Duration,
}

impl Connection {
    async fn serve(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        watcher: Watcher,
        mut stop: watch::Receiver<bool>,
    ) {
        let Some(tls) = &self.tls else {
            return self.http(stream, peer, None, watcher).await;
        };
        let handshake = tokio::time::timeout(self.header_timeout, tls.acceptor().accept(stream));
        let stream = tokio::select! {
            done = handshake => match done {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake refused");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            },
            _ = stopped(&mut stop) => return,
        };
        let identity = crate::tls::client_identity(stream.get_ref().1);
        self.http(stream, peer, identity, watcher).await;
    }

    async fn http<IO>(
        &self,
        io: IO,
        peer: SocketAddr,
        identity: Option<ClientIdentity>,
        watcher: Watcher,
    ) where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let app = self.app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            if let Some(id) = &identity {
                req.extensions_mut().insert(id.clone());
            }
            app.clone().oneshot(req)
        });
        let conn = self.http.serve_connection(TokioIo::new(io), service);
        if let Err(e) = watcher.watch(conn).await {
            // Timeouts, oversized heads and clients hanging up all end here.
            tracing::debug!(%peer, error = %e, "connection closed with an error");
        }
    }
}
