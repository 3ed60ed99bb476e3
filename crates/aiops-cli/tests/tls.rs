//! The real `aiops` binary against aiopsd served over mTLS: `--ca`, `--cert`, `--key` and
//! their environment variables work; without a client certificate, or with one from
//! another CA, the server refuses the TLS session and the CLI says so (exit 1, nothing on
//! stdout); a server certificate of another CA is refused by the CLI (exit 3).

// Running the binary under test is the point of this file.
#![allow(clippy::disallowed_methods)]

use aiops_e2e::{Daemon, Pki, REQUESTER_TOKEN, offline_config, with_identities};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// `aiops args...` with only `env` of the AIOPS_* variables set.
async fn aiops(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_aiops"));
    for var in [
        "AIOPS_URL",
        "AIOPS_TOKEN",
        "AIOPS_CA",
        "AIOPS_CLIENT_CERT",
        "AIOPS_CLIENT_KEY",
    ] {
        cmd.env_remove(var);
    }
    let out = cmd
        .args(args)
        .envs(env.iter().copied())
        .output()
        .await
        .expect("aiops runs");
    Run {
        code: out.status.code().expect("exit code"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn p(path: &std::path::Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_speaks_mtls_with_flags_or_environment() {
    let pki = Pki::new().expect("a dev PKI");
    let data = tempfile::tempdir().expect("tempdir");
    let d = Daemon::start_mtls(with_identities(offline_config(data.path())), &pki)
        .await
        .expect("the daemon starts");
    assert!(d.url.starts_with("https://127.0.0.1:"), "{}", d.url);
    let f = &pki.files;

    let run = aiops(
        &[
            "--url",
            &d.url,
            "--token",
            REQUESTER_TOKEN,
            "--ca",
            p(&f.ca_cert),
            "--cert",
            p(&f.client_cert),
            "--key",
            p(&f.client_key),
            "--json",
            "approvals",
            "list",
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, 0, "{run}");
    let list: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(list["approvals"], serde_json::json!([]), "{run}");

    let env = [
        ("AIOPS_URL", d.url.as_str()),
        ("AIOPS_TOKEN", REQUESTER_TOKEN),
        ("AIOPS_CA", p(&f.ca_cert)),
        ("AIOPS_CLIENT_CERT", p(&f.client_cert)),
        ("AIOPS_CLIENT_KEY", p(&f.client_key)),
    ];
    let run = aiops(&["approvals", "list"], &env).await;
    assert_eq!(run.code, 0, "{run}");

    // No client certificate: refused at the handshake (TLS 1.3: an alert on the first read).
    let run = aiops(&["approvals", "list"], &env[..3]).await;
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stdout.is_empty(), "{run}");
    assert!(
        run.stderr.contains("refused the TLS session")
            && run.stderr.contains("CertificateRequired"),
        "{run}"
    );

    // A client certificate of another CA: refused too.
    let other = Pki::new().expect("another PKI");
    let mut foreign = env;
    foreign[3].1 = p(&other.files.client_cert);
    foreign[4].1 = p(&other.files.client_key);
    let run = aiops(&["approvals", "list"], &foreign).await;
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stdout.is_empty(), "{run}");
    assert!(run.stderr.contains("UnknownCA"), "{run}");

    // The server's certificate is checked against --ca: another CA's is not trusted.
    let mut wrong_ca = env;
    wrong_ca[2].1 = p(&other.files.ca_cert);
    let run = aiops(&["approvals", "list"], &wrong_ca).await;
    assert_eq!(run.code, 3, "{run}");
    assert!(run.stderr.to_lowercase().contains("certificate"), "{run}");

    // The client key is never printed, whatever happens.
    let key = std::fs::read_to_string(&f.client_key).expect("key");
    let key_body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
    let run = aiops(
        &[
            "--cert",
            p(&f.client_key),
            "--key",
            p(&f.client_key),
            "approvals",
            "list",
        ],
        &env,
    )
    .await;
    assert_eq!(run.code, 2, "{run}");
    assert!(!format!("{run}").contains(&key_body[..20]), "{run}");
    d.stop().await;
}
