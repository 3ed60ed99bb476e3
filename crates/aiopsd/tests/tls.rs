//! TLS on the API with real handshakes: mTLS with `curl` and with rustls clients, refused
//! handshakes, certificate files replaced while serving, the not-after metric, and plain
//! HTTP refused off loopback.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns
// `curl` is the client under test here.
#![allow(clippy::disallowed_methods)]

mod common;
#[path = "common/served.rs"]
mod served;

use std::path::Path;
use std::time::Duration;

use aiopsd::tls::{TlsServer, dev::DevPki};
use rustls::AlertDescription;
use served::{Pki, Served, TOKEN, json_of, status_of, tls_get, with_users};

fn mtls_config(pki: &Pki, data: &Path) -> aiopsd::Config {
    let mut c = with_users(common::offline_config(data));
    c.tls = Some(pki.mtls());
    c
}

/// `curl` with `args` against `url`: (exit code, stdout).
fn curl(args: &[&str], url: &str) -> (i32, String) {
    let out = std::process::Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "30"])
        .args(args)
        .arg(url)
        .output()
        .expect("curl is installed (bootstrap/lib.sh aiops_ensure_curl)");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The TLS alert a refused client reads: the error's inner rustls error.
fn alert_of(e: &std::io::Error) -> Option<AlertDescription> {
    match e.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::AlertReceived(a) => Some(*a),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_works_with_curl_and_the_not_after_is_a_metric() {
    let pki = Pki::new();
    let data = tempfile::tempdir().unwrap();
    let d = Served::start(mtls_config(&pki, data.path())).await;
    let url = format!("https://127.0.0.1:{}", d.addr.port());
    let (cert, key) = (path(&pki.files.client_cert), path(&pki.files.client_key));
    let ca = path(&pki.files.ca_cert);
    let auth = format!("Authorization: Bearer {TOKEN}");

    let (code, body) = curl(
        &["--cacert", ca, "--cert", cert, "--key", key, "-H", &auth],
        &format!("{url}/api/v1/catalog"),
    );
    assert_eq!(code, 0, "{body}");
    let catalog: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        catalog["actions"].as_array().is_some_and(|a| !a.is_empty()),
        "{catalog:#}"
    );

    // The served certificate's not-after, as a metric (and as served).
    let (code, metrics) = curl(
        &["--cacert", ca, "--cert", cert, "--key", key, "-H", &auth],
        &format!("{url}/metrics"),
    );
    assert_eq!(code, 0, "{metrics}");
    let connector = pki.connector(Some((&pki.files.client_cert, &pki.files.client_key)));
    let (_, served) = tls_get(&connector, d.addr, "/healthz").await.unwrap();
    let not_after = served.unwrap().not_after;
    assert!(
        metrics.contains(&format!("\naiops_tls_cert_not_after_seconds {not_after}\n")),
        "{metrics}"
    );

    // Without a client certificate, or with one from another CA: refused (curl exits
    // non-zero without any HTTP answer).
    let other = tempfile::tempdir().unwrap();
    let stranger = DevPki::ensure(other.path()).unwrap();
    for args in [
        vec!["--cacert", ca],
        vec![
            "--cacert",
            ca,
            "--cert",
            path(&stranger.client_cert),
            "--key",
            path(&stranger.client_key),
        ],
    ] {
        let (code, body) = curl(&args, &format!("{url}/healthz"));
        assert_ne!(code, 0, "{args:?}: {body}");
        assert!(body.is_empty(), "{args:?}: {body}");
    }
    // Plain HTTP on the TLS port gets no API answer.
    let (code, body) = curl(&[], &format!("http://127.0.0.1:{}/healthz", d.addr.port()));
    assert!(code != 0 || !body.contains("ok"), "{body}");
    d.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_and_missing_client_certificates_are_refused_at_the_handshake() {
    let pki = Pki::new();
    let data = tempfile::tempdir().unwrap();
    let d = Served::start(mtls_config(&pki, data.path())).await;

    let (cert, key) = pki.client("alice-client");
    let (answer, _) = tls_get(&pki.connector(Some((&cert, &key))), d.addr, "/healthz")
        .await
        .unwrap();
    assert_eq!(status_of(&answer), 200, "{answer}");

    let other = tempfile::tempdir().unwrap();
    let stranger = DevPki::ensure(other.path()).unwrap();
    let foreign = pki.connector(Some((&stranger.client_cert, &stranger.client_key)));
    let err = tls_get(&foreign, d.addr, "/healthz").await.unwrap_err();
    assert_eq!(alert_of(&err), Some(AlertDescription::UnknownCA), "{err:?}");

    let anonymous = pki.connector(None);
    let err = tls_get(&anonymous, d.addr, "/healthz").await.unwrap_err();
    assert_eq!(
        alert_of(&err),
        Some(AlertDescription::CertificateRequired),
        "{err:?}"
    );

    // With client_auth = "optional", no certificate is fine, a foreign one still is not.
    d.stop().await.unwrap();
    let mut c = mtls_config(&pki, data.path());
    c.tls.as_mut().unwrap().client_auth = aiopsd::tls::ClientAuth::Optional;
    let d = Served::start(c).await;
    let (answer, _) = tls_get(&anonymous, d.addr, "/healthz").await.unwrap();
    assert_eq!(status_of(&answer), 200, "{answer}");
    let err = tls_get(&foreign, d.addr, "/healthz").await.unwrap_err();
    assert_eq!(alert_of(&err), Some(AlertDescription::UnknownCA), "{err:?}");
    d.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaced_certificate_files_are_served_without_a_restart() {
    let pki = Pki::new();
    let data = tempfile::tempdir().unwrap();
    let config = mtls_config(&pki, data.path());
    let interval = Duration::from_millis(config.tls.as_ref().unwrap().reload_interval_ms);
    let d = Served::start(config).await;
    let (cert, key) = pki.client("alice-client");
    let connector = pki.connector(Some((&cert, &key)));
    let (_, first) = tls_get(&connector, d.addr, "/healthz").await.unwrap();
    let first = first.unwrap();

    // A new server certificate from the same CA, valid for 30 days instead of 365.
    let next = pki
        .ca
        .issue_server(&aiopsd::tls::dev::SERVER_NAMES, time::Duration::days(30))
        .unwrap();
    next.write(&pki.files.server_cert, &pki.files.server_key)
        .unwrap();
    let (connector, addr, old) = (&connector, d.addr, first.serial.as_str());
    // Polled: the reloader looks every `interval`; the margin is for a loaded machine.
    let served = served::eventually(
        interval + Duration::from_secs(3),
        "the new certificate is served",
        || async move {
            let (_, info) = tls_get(connector, addr, "/healthz").await.ok()?;
            info.filter(|i| i.serial != old)
        },
    )
    .await;
    assert!(
        served.not_after < first.not_after,
        "{served:?} vs {first:?}"
    );
    assert_eq!(
        d.state.metrics.tls_cert_not_after.get(),
        Some(served.not_after)
    );
    d.stop().await.unwrap();
}

#[tokio::test]
async fn a_bad_replacement_keeps_the_served_certificate_and_never_echoes_the_key() {
    let pki = Pki::new();
    let gauge = aiopsd::metrics::TlsCertGauge::default();
    let server = TlsServer::load(&pki.mtls(), gauge.clone()).unwrap();
    let before = server.info();
    assert_eq!(gauge.get(), Some(before.not_after));

    // A key that does not parse (holding a canary), then one of another certificate.
    let canary = "TLS-KEY-CANARY-2b7e";
    std::fs::write(
        &pki.files.server_key,
        format!("-----BEGIN PRIVATE KEY-----\n{canary}\n-----END PRIVATE KEY-----\n"),
    )
    .unwrap();
    assert!(!server.reload());
    assert_eq!(server.info(), before);
    let other = pki
        .ca
        .issue_server(&["localhost"], time::Duration::days(3))
        .unwrap();
    std::fs::write(&pki.files.server_key, other.key_pem()).unwrap();
    assert!(!server.reload());
    assert_eq!(server.info(), before);
    assert_eq!(gauge.get(), Some(before.not_after));

    // The load errors name the file, never its content.
    let mut bad = pki.mtls();
    std::fs::write(
        &pki.files.server_key,
        format!("-----BEGIN PRIVATE KEY-----\n{canary}\n-----END PRIVATE KEY-----\n"),
    )
    .unwrap();
    let e = TlsServer::load(&bad, gauge.clone())
        .unwrap_err()
        .to_string();
    assert!(e.contains("tls.key") && !e.contains(canary), "{e}");
    bad.key = pki.dir.path().join("missing.key");
    let e = TlsServer::load(&bad, gauge.clone())
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.key"), "{e}");

    // The matching pair loads again.
    other
        .write(&pki.files.server_cert, &pki.files.server_key)
        .unwrap();
    assert!(server.reload());
    assert_ne!(server.info().serial, before.serial);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_off_loopback_is_refused_unless_allowed_and_tls_is_fine() {
    let data = tempfile::tempdir().unwrap();
    let plain = with_users(common::offline_config(data.path()));

    // Refused at start-up, before the data directory is touched.
    let refused = Served::start_on(plain.clone(), "0.0.0.0:0")
        .await
        .unwrap()
        .outcome()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("refusing to serve plain HTTP") && refused.contains("allow_plain_http"),
        "{refused}"
    );
    // The same check on the configured address (check-config, start-up).
    let mut listen = plain.clone();
    listen.listen = "0.0.0.0:30080".parse().unwrap();
    assert!(
        listen
            .validate()
            .unwrap_err()
            .to_string()
            .contains("plain HTTP")
    );

    // With the switch: served.
    let mut allowed = plain.clone();
    allowed.api.allow_plain_http = true;
    let d = Served::start_on(allowed, "0.0.0.0:0").await.unwrap();
    let answer = served::get_plain(d.connect_addr(), "/healthz").await;
    assert_eq!(status_of(&answer), 200, "{answer}");
    d.stop().await.unwrap();

    // TLS without client certificates off loopback: served.
    let pki = Pki::new();
    let mut tls = plain;
    tls.tls = Some(aiopsd::tls::TlsConfig::new(
        &pki.files.server_cert,
        &pki.files.server_key,
    ));
    let d = Served::start_on(tls, "0.0.0.0:0").await.unwrap();
    let (answer, _) = tls_get(&pki.connector(None), d.connect_addr(), "/healthz")
        .await
        .unwrap();
    assert_eq!(json_of(&answer)["status"], "ok", "{answer}");
    d.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_the_handshake_is_disconnected() {
    let pki = Pki::new();
    let data = tempfile::tempdir().unwrap();
    let mut c = mtls_config(&pki, data.path());
    c.api.header_read_timeout_ms = 300;
    let d = Served::start(c).await;
    // Silent, then a ClientHello cut short: both closed by the server.
    let mut silent = tokio::net::TcpStream::connect(d.addr).await.unwrap();
    assert_eq!(
        served::read_to_close(&mut silent, Duration::from_secs(30)).await,
        ""
    );
    let partial = served::exchange(
        d.addr,
        &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(partial, "");
    // And the server still serves. Retried: on a loaded machine this client's own
    // handshake may miss the 300 ms deadline, which says nothing about the server.
    let (cert, key) = pki.client("alice-client");
    let client = pki.connector(Some((&cert, &key)));
    let addr = d.addr;
    served::eventually(
        Duration::from_secs(30),
        "a full handshake is served",
        || {
            let client = client.clone();
            async move {
                let (answer, _) = tls_get(&client, addr, "/healthz").await.ok()?;
                (status_of(&answer) == 200).then_some(())
            }
        },
    )
    .await;
    d.stop().await.unwrap();
}
