//! The real `aiops` binary against a real aiopsd served in-process on 127.0.0.1:0.
//!
//! No BIND or Ansible is needed: the pending approval is written straight into the
//! daemon's store (request, intent, plan with its diff, approval), exactly the rows the
//! pipeline writes for a destructive change. Once approved, the daemon's worker tries to
//! run it and fails (the DNS server is a closed port); the CLI assertions allow for that.

// Running the binary under test is the point of this file.
#![allow(clippy::disallowed_methods)]

use std::process::Output;

use aiops_core::RequestStatus;
use aiops_e2e::{
    ADMIN_TOKEN, APPROVER_TOKEN, Daemon, REQUESTER_TOKEN, offline_config, ports, with_identities,
    with_retrieval,
};
use aiops_store::{AuditEvent, NewApproval, NewRequest, RequestUpdate};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

const DIFF: &str = "--- zone local\n- x.local. 3600 IN A 10.0.0.1\n";

/// The daemon (no backends: the e2e harness's offline config) with its data directory.
async fn start_daemon() -> (tempfile::TempDir, Daemon) {
    let data = tempfile::tempdir().expect("tempdir");
    let mut cfg = with_identities(offline_config(data.path()));
    // Decisions wake the worker anyway; this only stops idle polling.
    cfg.approvals.worker_interval_ms = 3_600_000;
    let d = Daemon::start(cfg).await.expect("the daemon starts");
    (data, d)
}

/// A pending approval for `dns.delete_record x.local`, requested by alice, one approver
/// needed, expiring in 30 minutes. Returns the approval id.
async fn pending_approval(d: &Daemon, n: u32) -> String {
    let store = &d.state.store;
    let rid = format!("01JC11TESTREQUEST{n:09}");
    let aid = format!("01JC11TESTAPPROVAL{n:08}");
    store
        .create_request(
            &NewRequest {
                id: rid.clone(),
                nl: "delete the A record x.local".into(),
                dry_run: false,
                caller: "alice".into(),
            },
            AuditEvent::new(Some(&rid), "intake", "accepted", json!({})),
        )
        .await
        .expect("create_request");
    let params = json!({"name": "x.local", "type": "A"});
    let hash = "c".repeat(64);
    store
        .update_request(
            &rid,
            RequestUpdate {
                intent: Some(json!({"action": "dns.delete_record", "params": params, "parser": "rules", "confidence": 0.9})),
                plan: Some(json!({
                    "action": "dns.delete_record",
                    "params": params,
                    "target": {"kind": "dns_zone", "zone": "local", "name": "x.local"},
                    "diff": DIFF,
                    "changes": true,
                    "hash": hash,
                })),
                ..Default::default()
            },
            AuditEvent::new(Some(&rid), "plan", "planned", json!({})),
        )
        .await
        .expect("update_request");
    let expires = time::OffsetDateTime::now_utc() + time::Duration::minutes(30);
    store
        .create_approval(
            &NewApproval {
                id: aid.clone(),
                request_id: rid.clone(),
                plan_hash: hash,
                requester: "alice".into(),
                approvals_required: 1,
                expires_at: expires.format(&Rfc3339).expect("rfc3339"),
            },
            RequestUpdate::default(),
            AuditEvent::new(
                Some(&rid),
                "approve",
                "pending",
                json!({"approval_id": aid}),
            ),
        )
        .await
        .expect("create_approval");
    aid
}

/// One run of the binary, with a clean environment for the aiops variables.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Exit 0, printing exactly `line`.
    #[track_caller]
    fn assert_prints(&self, line: &str) {
        assert_eq!((self.code, self.stdout.trim()), (0, line), "{self}");
    }
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

struct Cli {
    runs: Vec<Run>,
}

impl Cli {
    async fn run(&mut self, args: &[&str], env: &[(&str, &str)]) -> &Run {
        let out: Output = tokio::process::Command::new(env!("CARGO_BIN_EXE_aiops"))
            .args(args)
            .env_remove("AIOPS_URL")
            .env_remove("AIOPS_TOKEN")
            .env_remove("AIOPS_CA")
            .env_remove("AIOPS_CLIENT_CERT")
            .env_remove("AIOPS_CLIENT_KEY")
            .envs(env.iter().copied())
            .output()
            .await
            .expect("aiops runs");
        let run = Run {
            code: out.status.code().expect("exit code"),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        // Shown with --nocapture (the tokens masked in the echoed command line).
        let shown: Vec<&str> = args
            .iter()
            .map(|a| match *a {
                REQUESTER_TOKEN | APPROVER_TOKEN | ADMIN_TOKEN => "<token>",
                a => a,
            })
            .collect();
        println!("$ aiops {}\n{run}", shown.join(" "));
        self.runs.push(run);
        self.runs.last().expect("just pushed")
    }

    /// `aiops --url <daemon> --token <requester's token> args...` (every route but health
    /// needs a caller).
    async fn at(&mut self, url: &str, args: &[&str]) -> &Run {
        self.as_user(url, REQUESTER_TOKEN, args).await
    }

    /// `aiops --url <daemon> --token <approver's token> args...`
    async fn approver(&mut self, url: &str, args: &[&str]) -> &Run {
        self.as_user(url, APPROVER_TOKEN, args).await
    }

    /// `aiops --url <daemon> --token <token> args...`
    async fn as_user(&mut self, url: &str, token: &str, args: &[&str]) -> &Run {
        let mut full = vec!["--url", url, "--token", token];
        full.extend_from_slice(args);
        self.run(&full, &[]).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_through_the_real_binary() {
    let (_data, d) = start_daemon().await;
    let url = d.url.clone();
    let aid = pending_approval(&d, 1).await;
    let mut cli = Cli { runs: Vec::new() };

    // list: an aligned table with the approval.
    let r = cli.at(&url, &["approvals", "list"]).await;
    assert_eq!(r.code, 0, "{r}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{r}");
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("TARGET/PARAMS"),
        "{r}"
    );
    for want in [
        aid.as_str(),
        "dns.delete_record",
        "name=x.local type=A",
        "alice",
        "pending",
        "0/1",
    ] {
        assert!(lines[1].contains(want), "missing {want}: {r}");
    }
    assert!(
        lines[1].ends_with("in 29m") || lines[1].ends_with("in 30m"),
        "{r}"
    );
    assert_eq!(
        lines[0].find("REQUESTER"),
        lines[1].find("alice"),
        "aligned: {r}"
    );

    // list --json: the server's JSON, untouched.
    let r = cli.at(&url, &["--json", "approvals", "list"]).await;
    assert_eq!(r.code, 0, "{r}");
    let v: Value = serde_json::from_str(&r.stdout).expect("stdout is JSON");
    assert_eq!(v["approvals"][0]["id"], aid.as_str());
    assert_eq!(v["approvals"][0]["action"], "dns.delete_record");

    // Other states, and a state clap does not know.
    let r = cli
        .at(&url, &["approvals", "list", "--state", "approved"])
        .await;
    r.assert_prints("no approved approvals");
    let r = cli.at(&url, &["approvals", "list", "--state", "all"]).await;
    assert!(r.code == 0 && r.stdout.contains(&aid), "{r}");
    let r = cli
        .at(&url, &["approvals", "list", "--state", "bogus"])
        .await;
    assert_eq!(r.code, 2, "{r}");

    // show: fields, then the diff verbatim.
    let r = cli.at(&url, &["approvals", "show", &aid]).await;
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stdout.contains(&format!("plan diff:\n{DIFF}")), "{r}");
    for want in [
        "state:      pending",
        "requester:  alice",
        "approvals:  0/1",
        "risk:       destructive",
        "request:    delete the A record x.local",
        "decisions: none",
    ] {
        assert!(r.stdout.contains(want), "missing {want:?}: {r}");
    }
    let r = cli
        .at(&url, &["approvals", "show", "01JDNOTANAPPROVAL000000000"])
        .await;
    assert_eq!(r.code, 1, "{r}");
    assert_eq!(
        r.stderr.trim(),
        "aiops: no approval 01JDNOTANAPPROVAL000000000 (not_found, HTTP 404)"
    );

    // Who may not approve: nobody, an unknown token, the requester.
    // (No token at all, and an empty AIOPS_TOKEN, which counts as none.)
    for env in [&[][..], &[("AIOPS_TOKEN", "")][..]] {
        let mut full = env.to_vec();
        full.push(("AIOPS_URL", url.as_str()));
        let r = cli.run(&["approvals", "approve", &aid], &full).await;
        assert_eq!(r.code, 1, "{r}");
        assert!(r.stderr.contains("(unauthorized, HTTP 401)"), "{r}");
        assert!(
            r.stderr.contains("hint: pass --token or set AIOPS_TOKEN"),
            "{r}"
        );
    }
    let r = cli
        .as_user(&url, "not-a-known-token", &["approvals", "approve", &aid])
        .await;
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stderr.contains("credentials presented are not valid"),
        "{r}"
    );
    let r = cli
        .as_user(&url, REQUESTER_TOKEN, &["approvals", "approve", &aid])
        .await;
    assert_eq!(r.code, 1, "{r}");
    // The server's reasons, verbatim: an operator holds no role that decides approvals.
    let line = r.stderr.trim();
    assert!(
        line.starts_with("aiops: ")
            && line.contains("approvals.decide needs one of the roles")
            && line.ends_with("(forbidden, HTTP 403)")
            && !line.contains('\n'),
        "{r}"
    );
    let r = cli
        .run(
            &["--json", "approvals", "approve", &aid],
            &[
                ("AIOPS_URL", url.as_str()),
                ("AIOPS_TOKEN", REQUESTER_TOKEN),
            ],
        )
        .await;
    assert_eq!(r.code, 1, "{r}");
    let v: Value = serde_json::from_str(&r.stdout).expect("--json prints the error body");
    assert_eq!(v["error"]["code"], "forbidden");

    // The approver approves (URL and token from the environment).
    let r = cli
        .run(
            &["approvals", "approve", &aid, "--reason", "ticket OPS-1"],
            &[("AIOPS_URL", url.as_str()), ("AIOPS_TOKEN", APPROVER_TOKEN)],
        )
        .await;
    r.assert_prints(&format!("approved {aid} (1/1); execution queued"));
    let stored = d
        .state
        .store
        .get_approval(&aid)
        .await
        .expect("store")
        .expect("approval");
    assert_eq!(stored.decisions.len(), 1);
    assert_eq!(stored.decisions[0].approver, "bob");
    assert_eq!(stored.decisions[0].channel, aiops_core::Channel::Cli);
    assert_eq!(stored.decisions[0].reason.as_deref(), Some("ticket OPS-1"));

    let r = cli.at(&url, &["approvals", "show", &aid]).await;
    assert_eq!(r.code, 0, "{r}");
    let decision = r
        .stdout
        .lines()
        .find(|l| l.contains("ticket OPS-1"))
        .unwrap_or_default();
    assert!(
        decision.contains("bob") && decision.contains("approve") && decision.contains("via cli"),
        "{r}"
    );
    assert!(r.stdout.contains("approvals:  1/1 (bob)"), "{r}");

    // A second click is a no-op that says so.
    let r = cli.approver(&url, &["approvals", "approve", &aid]).await;
    assert_eq!(r.code, 0, "{r}");
    assert!(
        r.stdout
            .starts_with(&format!("already approved by you; {aid} is ")),
        "{r}"
    );

    // Rejecting a closed approval: 409 with the current state.
    let r = cli
        .approver(&url, &["approvals", "reject", &aid, "--reason", "too late"])
        .await;
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stderr
            .contains("(approval_closed, HTTP 409); current state: "),
        "{r}"
    );
    let state = r
        .stderr
        .trim()
        .rsplit("current state: ")
        .next()
        .expect("a state");
    assert!(
        ["approved", "executing", "failed", "succeeded", "void"].contains(&state),
        "{r}"
    );
    // reject without --reason is a usage error, before any request.
    let r = cli.approver(&url, &["approvals", "reject", &aid]).await;
    assert_eq!(r.code, 2, "{r}");

    // A second approval, rejected.
    let aid2 = pending_approval(&d, 2).await;
    let r = cli
        .approver(&url, &["approvals", "reject", &aid2, "--reason", "not now"])
        .await;
    r.assert_prints(&format!("rejected {aid2}; the request is denied"));
    let r = cli
        .at(&url, &["approvals", "list", "--state", "rejected"])
        .await;
    assert!(r.code == 0 && r.stdout.contains(&aid2), "{r}");
    let r = cli.at(&url, &["approvals", "list"]).await;
    r.assert_prints("no pending approvals");

    // Nothing listening: exit 3, the URL and how to start the daemon.
    let dead = format!("http://{}", ports::closed_addr());
    let r = cli
        .as_user(&dead, APPROVER_TOKEN, &["approvals", "list"])
        .await;
    assert_eq!(r.code, 3, "{r}");
    assert!(
        r.stderr
            .contains(&format!("cannot connect to aiopsd at {dead}")),
        "{r}"
    );
    assert!(r.stderr.contains("bootstrap/dev-up.sh"), "{r}");
    let r = cli
        .run(&["approvals", "list"], &[("AIOPS_URL", dead.as_str())])
        .await;
    assert_eq!(r.code, 3, "{r}");
    // Not a URL: a usage error.
    let r = cli.at("not a url", &["approvals", "list"]).await;
    assert_eq!(r.code, 2, "{r}");

    // --help with a token in the environment does not show it.
    let r = cli
        .run(&["--help"], &[("AIOPS_TOKEN", APPROVER_TOKEN)])
        .await;
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stdout.contains("AIOPS_TOKEN"), "{r}");

    // The tokens never appear in anything the CLI printed.
    for r in &cli.runs {
        for token in [REQUESTER_TOKEN, APPROVER_TOKEN] {
            assert!(!r.all().contains(token), "token leaked: {r}");
        }
    }
    d.stop().await;
}

/// `approvals list` follows `next_cursor` through every page (one table, or one JSON list),
/// or answers one page with `--limit`, naming the cursor of the next; a cursor the daemon did
/// not issue is its 400, said in words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_list_follows_cursors_or_answers_one_page() {
    let (_data, d) = start_daemon().await;
    let url = d.url.clone();
    let mut ids = Vec::new();
    for n in 1..=7 {
        ids.push(pending_approval(&d, n).await);
    }
    let mut cli = Cli { runs: Vec::new() };
    let listed = |stdout: &str| -> Vec<String> {
        stdout
            .lines()
            .skip(1)
            .filter(|l| !l.starts_with("more:"))
            .map(|l| l.split_whitespace().next().unwrap_or_default().to_string())
            .collect()
    };

    // Every page, two approvals a request: one table, oldest first.
    let r = cli
        .at(&url, &["approvals", "list", "--page-size", "2"])
        .await;
    assert_eq!(r.code, 0, "{r}");
    assert_eq!(listed(&r.stdout), ids, "{r}");
    let r = cli
        .at(&url, &["--json", "approvals", "list", "--page-size", "2"])
        .await;
    assert_eq!(r.code, 0, "{r}");
    let v: Value = serde_json::from_str(&r.stdout).expect("stdout is JSON");
    let json_ids: Vec<&str> = v["approvals"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|a| a["id"].as_str().expect("an id"))
        .collect();
    assert_eq!(json_ids, ids, "{r}");
    assert!(v["next_cursor"].is_null(), "{r}");
    let pages = d
        .state
        .metrics
        .render()
        .lines()
        .filter(|l| {
            l.starts_with("aiops_http_requests_total{")
                && l.contains("route=\"/api/v1/approvals\"")
                && l.contains("status=\"200\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum::<u64>();
    assert_eq!(pages, 8, "two walks of four pages");

    // One page at a time, each naming the next.
    let mut seen = Vec::new();
    let mut args = vec![
        "approvals".to_string(),
        "list".into(),
        "--limit".into(),
        "3".into(),
    ];
    loop {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = cli.at(&url, &argv).await;
        assert_eq!(r.code, 0, "{r}");
        seen.extend(listed(&r.stdout));
        let Some(more) = r
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("more: aiops "))
        else {
            break;
        };
        assert!(
            more.starts_with("approvals list --state pending --limit 3 --cursor "),
            "{r}"
        );
        args = more.split(' ').map(String::from).collect();
    }
    assert_eq!(seen, ids);
    let r = cli
        .at(&url, &["--json", "approvals", "list", "--limit", "3"])
        .await;
    let v: Value = serde_json::from_str(&r.stdout).expect("stdout is JSON");
    assert_eq!(v["approvals"].as_array().map(Vec::len), Some(3), "{r}");
    assert!(v["next_cursor"].is_string(), "{r}");

    // A cursor the daemon did not issue: its error, in words.
    let r = cli
        .at(
            &url,
            &["approvals", "list", "--limit", "3", "--cursor", "bogus"],
        )
        .await;
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stderr.contains("cursor") && r.stderr.contains("(bad_request, HTTP 400)"),
        "{r}"
    );
    d.stop().await;
}

/// `aiops ingest` mirrors a tree into the daemon's runbook index: a JSON summary, an
/// unchanged tree changes nothing, a deleted file leaves the index, a non-UTF-8 file is
/// skipped with its reason, and an operator's token is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_through_the_real_binary() {
    let data = tempfile::tempdir().expect("tempdir");
    let d = Daemon::start(with_retrieval(
        with_identities(offline_config(data.path())),
        None,
    ))
    .await
    .expect("the daemon starts");
    let tree = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(tree.path().join("dns")).expect("mkdir");
    std::fs::write(
        tree.path().join("dns/records.md"),
        "---\ntitle: DNS\n---\n# Records\n\nAdd A records with a dry run first.\n## TSIG\n\nRotate the TSIG key yearly.\n",
    )
    .expect("write");
    std::fs::write(
        tree.path().join("vault.txt"),
        "Unseal OpenBao with three key shares.\n",
    )
    .expect("write");
    std::fs::write(tree.path().join("latin1.md"), b"caf\xe9 runbook\n").expect("write");
    std::fs::write(tree.path().join("picture.png"), [0u8, 1, 2]).expect("write");
    let dir = tree.path().to_str().expect("UTF-8 path");
    let mut cli = Cli { runs: Vec::new() };

    let run = cli.as_user(&d.url, REQUESTER_TOKEN, &["ingest", dir]).await;
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("forbidden"), "{run}");

    let run = cli
        .as_user(&d.url, ADMIN_TOKEN, &["--json", "ingest", dir])
        .await;
    assert_eq!(run.code, 0, "{run}");
    let first: Value = serde_json::from_str(&run.stdout).expect("a JSON summary");
    assert_eq!(first["source"], "runbooks");
    assert_eq!(first["documents"], 2, "{first:#}");
    assert_eq!(first["chunks_removed"], 0, "{first:#}");
    let added = first["chunks_added"].as_u64().expect("a count");
    assert!(added >= 3, "{first:#}");
    assert_eq!(
        first["skipped"],
        json!([{"path": "latin1.md", "reason": "not_utf8", "detail": "not UTF-8 text"}])
    );

    let run = cli
        .as_user(&d.url, ADMIN_TOKEN, &["--json", "ingest", dir])
        .await;
    let again: Value = serde_json::from_str(&run.stdout).expect("a JSON summary");
    assert_eq!(
        (
            &again["chunks_added"],
            &again["chunks_kept"],
            &again["chunks_removed"]
        ),
        (&json!(0), &json!(added), &json!(0)),
        "{again:#}"
    );

    std::fs::remove_file(tree.path().join("vault.txt")).expect("rm");
    let run = cli.as_user(&d.url, ADMIN_TOKEN, &["ingest", dir]).await;
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains("documents removed: 1"), "{run}");
    assert!(run.stdout.contains("latin1.md"), "{run}");
    let (_, ready) = d.get("/readyz").await;
    assert_eq!(
        ready["checks"]["retrieval"]["detail"]["chunks"],
        added - 1,
        "{ready:#}"
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_command_waits_as_told_and_succeeds() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut cfg = with_identities(offline_config(data.path()));
    // One request, then one a second: the second command is told to wait (429, Retry-After).
    cfg.api.rate_limit_per_minute = 60;
    cfg.api.rate_limit_burst = 1;
    let d = Daemon::start(cfg).await.expect("the daemon starts");
    let mut cli = Cli { runs: Vec::new() };
    for _ in 0..2 {
        cli.approver(&d.url, &["approvals", "list"])
            .await
            .assert_prints("no pending approvals");
    }
    // It was told to wait (and did): the daemon answered a 429 on the way.
    let metrics = d.state.metrics.render();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("aiops_http_requests_total{") && l.contains("status=\"429\"")),
        "{metrics}"
    );
    d.stop().await;
}

/// A request that ran `dns.create_a_record c.local` and was read back, written straight into
/// the store with its audit rows (intake, parse, decide, plan, execute, verify), as the
/// pipeline leaves one. Returns the request id.
async fn succeeded_request(d: &Daemon, n: u32) -> String {
    let store = &d.state.store;
    let rid = format!("01JC11TESTSUCCESS{n:09}");
    let params = json!({"name": "c.local", "ip": "10.1.1.3", "ttl": 3600});
    store
        .create_request(
            &NewRequest {
                id: rid.clone(),
                nl: "add dns record c.local to 10.1.1.3".into(),
                dry_run: false,
                caller: "alice".into(),
            },
            AuditEvent::new(
                Some(&rid),
                "intake",
                "accepted",
                json!({"caller": "alice", "dry_run": false, "nl_chars": 34}),
            ),
        )
        .await
        .expect("create_request");
    let events = [
        (
            "parse",
            "parsed",
            json!({"action": "dns.create_a_record", "params": params, "parser": "rules"}),
        ),
        (
            "decide",
            "allow",
            json!({"outcome": "allow", "reasons": ["non-production target: allowed"]}),
        ),
        (
            "plan",
            "planned",
            json!({"changes": true, "hash": "d".repeat(64)}),
        ),
    ];
    for (stage, outcome, data) in events {
        store
            .append_event(AuditEvent::new(Some(&rid), stage, outcome, data))
            .await
            .expect("append_event");
    }
    store
        .update_request(
            &rid,
            RequestUpdate {
                status: Some(RequestStatus::Success),
                intent: Some(json!({"action": "dns.create_a_record", "params": params, "parser": "rules", "confidence": 0.93})),
                execution: Some(json!({"executor": "ansible", "changed": true, "result": "Record added successfully"})),
                ..Default::default()
            },
            AuditEvent::new(Some(&rid), "execute", "succeeded", json!({"changed": true})),
        )
        .await
        .expect("update_request");
    // Read back after the change, as the verify stage records it.
    let verification = json!({"outcome": "verified", "evidence": {"read": "c.local A", "from": "127.0.0.1:53"},
                              "at": "2026-01-01T00:00:00Z", "attempts": 1});
    store
        .append_event(AuditEvent::new(
            Some(&rid),
            "verify",
            "verified",
            verification,
        ))
        .await
        .expect("append_event");
    rid
}

/// A request the policy denied: nothing ran, so there is nothing to roll back.
async fn denied_request(d: &Daemon, n: u32) -> String {
    let store = &d.state.store;
    let rid = format!("01JC11TESTDENIED{n:010}");
    store
        .create_request(
            &NewRequest {
                id: rid.clone(),
                nl: "delete the A record prod.example".into(),
                dry_run: false,
                caller: "alice".into(),
            },
            AuditEvent::new(Some(&rid), "intake", "accepted", json!({})),
        )
        .await
        .expect("create_request");
    store
        .update_request(
            &rid,
            RequestUpdate {
                status: Some(RequestStatus::Denied),
                intent: Some(json!({"action": "dns.delete_record", "params": {"name": "prod.example", "type": "A"}, "parser": "rules", "confidence": 0.9})),
                decision: Some(json!({"outcome": "deny", "reasons": ["production zone"], "policy_revision": "r", "approvals_required": 0})),
                ..Default::default()
            },
            AuditEvent::new(Some(&rid), "decide", "deny", json!({"outcome": "deny", "reasons": ["production zone"]})),
        )
        .await
        .expect("update_request");
    rid
}

/// `ask`, `show` and `rollback` through the real binary. The offline daemon has no DNS,
/// Ansible or Kubernetes, so nothing here gets as far as a plan: a sentence nothing
/// recognizes, and requests written into the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_through_the_real_binary() {
    let (_data, d) = start_daemon().await;
    let url = d.url.clone();
    let mut cli = Cli { runs: Vec::new() };

    // A sentence nothing recognizes: the request is recorded, and ends unrecognized (exit 4).
    let r = cli.at(&url, &["ask", "make me a sandwich"]).await;
    assert_eq!(r.code, 4, "{r}");
    assert!(r.stdout.contains("status: unrecognized"), "{r}");
    assert!(r.stderr.contains("was unrecognized"), "{r}");
    let id = r
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("id:"))
        .map(|s| s.trim().to_string())
        .expect("the summary names the request");
    let r = cli
        .at(&url, &["--json", "ask", "make me a sandwich", "--no-wait"])
        .await;
    assert_eq!(r.code, 4, "{r}");
    let v: Value = serde_json::from_str(&r.stdout).expect("stdout is JSON");
    assert_eq!(v["status"], "unrecognized", "{r}");
    // ...and `show` finds it, with its timeline.
    let r = cli.at(&url, &["show", &id]).await;
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stdout.contains("status:  unrecognized"), "{r}");
    assert!(r.stdout.contains("request: make me a sandwich"), "{r}");
    assert!(r.stdout.contains("timeline:\n  SEQ"), "{r}");

    // A request that ran: the header, the timeline table, the execution and its verification.
    let rid = succeeded_request(&d, 1).await;
    let r = cli.at(&url, &["show", &rid]).await;
    assert_eq!(r.code, 0, "{r}");
    for want in [
        format!("id:      {rid}"),
        "status:  success".into(),
        "caller:  alice".into(),
        "request: add dns record c.local to 10.1.1.3".into(),
        "action:  dns.create_a_record".into(),
        "params:  name=c.local ip=10.1.1.3 ttl=3600".into(),
        format!("hint: undo it with `aiops rollback {rid}`"),
    ] {
        assert!(r.stdout.contains(&want), "missing {want:?}: {r}");
    }
    // (Aligned with the verification when the daemon reports one.)
    assert!(
        r.stdout.lines().any(|l| l.starts_with("execution:")
            && l.ends_with(" ansible: Record added successfully (changed)")),
        "{r}"
    );
    let table: Vec<&str> = r
        .stdout
        .split("timeline:\n")
        .nth(1)
        .expect("a timeline")
        .lines()
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(
        table[0].trim_start().starts_with("SEQ") && table[0].ends_with("DETAIL"),
        "{r}"
    );
    let row = |stage: &str| {
        table
            .iter()
            .find(|l| l.split_whitespace().nth(2) == Some(stage))
            .copied()
            .unwrap_or_else(|| panic!("no {stage} row: {r}"))
    };
    assert!(row("intake").contains("caller=alice"), "{r}");
    assert!(
        row("decide").ends_with("non-production target: allowed"),
        "{r}"
    );
    assert!(row("plan").ends_with("changes, hash dddddddddddd"), "{r}");
    assert!(row("execute").ends_with("changed"), "{r}");
    assert!(
        row("verify").ends_with("verified, read c.local A from 127.0.0.1:53"),
        "{r}"
    );
    assert_eq!(
        table[0].find("DETAIL"),
        row("verify").find("verified, "),
        "aligned: {r}"
    );

    // --json: the record, parseable, with its timeline.
    let r = cli.at(&url, &["--json", "show", &rid]).await;
    assert_eq!(r.code, 0, "{r}");
    let v: Value = serde_json::from_str(&r.stdout).expect("stdout is JSON");
    assert_eq!(v["id"], rid.as_str());
    assert_eq!(v["status"], "success");
    let stages: Vec<&str> = v["timeline"]
        .as_array()
        .expect("a timeline")
        .iter()
        .filter_map(|e| e["stage"].as_str())
        .collect();
    assert!(
        stages.starts_with(&["intake", "parse", "decide", "plan", "execute", "verify"]),
        "{v:#}"
    );

    // Unknown ids: the daemon's 404, in words.
    let unknown = "01JDNOTAREQUEST0000000000A";
    let r = cli.at(&url, &["show", unknown]).await;
    assert_eq!(r.code, 1, "{r}");
    assert_eq!(
        r.stderr.trim(),
        format!("aiops: no intent {unknown} (not_found, HTTP 404)")
    );
    let r = cli.at(&url, &["rollback", unknown]).await;
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stderr.contains("(not_found, HTTP 404)"), "{r}");
    assert!(r.stdout.is_empty(), "{r}");

    // A denied request changed nothing: there is nothing to undo, and the daemon says why.
    let denied = denied_request(&d, 1).await;
    let r = cli.at(&url, &["rollback", &denied]).await;
    assert_eq!(r.code, 1, "{r}");
    let line = r.stderr.trim();
    assert!(
        line.starts_with("aiops: ") && line.ends_with("(not_reversible, HTTP 409)"),
        "{r}"
    );
    let r = cli
        .at(&url, &["--json", "rollback", &denied, "--dry-run"])
        .await;
    assert_eq!(r.code, 1, "{r}");
    let v: Value = serde_json::from_str(&r.stdout).expect("--json prints the error body");
    assert_eq!(v["error"]["code"], "not_reversible", "{r}");

    // The tokens never appear in anything the CLI printed.
    for r in &cli.runs {
        assert!(!r.all().contains(REQUESTER_TOKEN), "token leaked: {r}");
    }
    d.stop().await;
}
