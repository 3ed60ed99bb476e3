//! The MCP server with clients nobody here wrote, installed by `bootstrap/test-env.sh`: the
//! Python `mcp` SDK (PyPI) over both transports (Streamable HTTP at `/mcp`, and stdio through
//! `aiopsd mcp`, the relay), and the MCP Inspector's CLI (npm), against the real BIND and
//! Ansible. Every tool call is the same typed, policy-checked, planned, approval-gated and
//! audited request as a `curl`.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns
// Running the SDK's client is the point of this file.
#![allow(clippy::disallowed_methods)]

use aiops_e2e::{
    APPROVER_TOKEN, Bind, Daemon, REQUESTER_TOKEN, config_for, stages, with_identities,
};
use aiops_test_support::identities::VIEWER_TOKEN;
use serde_json::{Value, json};

async fn stack() -> (Bind, tempfile::TempDir, Daemon) {
    let bind = Bind::start().expect("BIND starts");
    let data = tempfile::tempdir().unwrap();
    let cfg = with_identities(config_for(&bind, data.path()));
    let daemon = Daemon::start(cfg).await.expect("daemon starts");
    (bind, data, daemon)
}

/// How the SDK's client reaches the server.
#[derive(Debug, Clone, Copy)]
enum Via {
    /// Streamable HTTP to the daemon's `/mcp`.
    Http,
    /// stdio to `aiopsd mcp --url …/mcp`, the relay a desktop client starts.
    Stdio,
}

/// Runs `steps` through the SDK's client as `token` (none: no credentials); one JSON value
/// per step, or the client's `{"error"}`.
async fn client(d: &Daemon, via: Via, token: Option<&str>, steps: Value) -> Vec<Value> {
    let python = aiops_test_support::mcp_python().unwrap_or_else(|e| panic!("{e}"));
    let script = aiops_test_support::repo_root().join("tests/mcp/client.py");
    let url = format!("{}/mcp", d.url);
    let target: Vec<String> = match via {
        Via::Http => vec![url],
        Via::Stdio => vec![
            "--stdio".into(),
            aiops_e2e::aiopsd_binary().display().to_string(),
            url,
        ],
    };
    let token = token.map(str::to_string);
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut cmd = std::process::Command::new(python);
        cmd.arg(script)
            .args(target)
            .env_remove("AIOPS_TOKEN")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if let Some(t) = token {
            cmd.env("AIOPS_TOKEN", t);
        }
        let mut child = cmd.spawn().expect("python runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(steps.to_string().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| {
                    panic!("{e}: {l}\nstderr: {}", String::from_utf8_lossy(&out.stderr))
                })
            })
            .collect()
    })
    .await
    .unwrap()
}

fn tool<'a>(tools: &'a Value, name: &str) -> &'a Value {
    tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no tool {name}: {tools:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_the_sdk_client_lists_the_catalog_as_tools_and_calls_them_through_the_gates() {
    tools_through_the_gates(Via::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_stdio_the_sdk_client_lists_the_catalog_as_tools_and_calls_them_through_the_gates() {
    tools_through_the_gates(Via::Stdio).await;
}

async fn tools_through_the_gates(via: Via) {
    let (bind, _data, d) = stack().await;
    let out = client(
        &d,
        via,
        Some(REQUESTER_TOKEN),
        json!([
            {"op": "list"},
            // A change dry-runs unless asked otherwise.
            {"op": "call", "name": "dns_create_a_record",
             "arguments": {"name": "agent.local", "ip": "10.0.10.1"}},
            {"op": "call", "name": "dns_create_a_record",
             "arguments": {"name": "agent.local", "ip": "10.0.10.1", "dry_run": false}},
            // The schema is the boundary: extra or invalid arguments are a tool error.
            {"op": "call", "name": "dns_create_a_record",
             "arguments": {"name": "agent.local", "ip": "10.0.10.1", "cmd": "rm -rf /"}},
            {"op": "call", "name": "dns_create_a_record",
             "arguments": {"name": "agent.local", "ip": "999.0.0.1", "dry_run": false}},
            // Destructive: waits for a human.
            {"op": "call", "name": "dns_delete_record",
             "arguments": {"name": "agent.local", "type": "A", "dry_run": false}},
        ]),
    )
    .await;
    assert_eq!(out.len(), 6, "{out:#?}");

    // Listing: one tool per parseable action (internal ones are not offered), the action's
    // schema plus dry_run, the risk in the description, the annotations.
    let tools = &out[0];
    let names: Vec<&str> = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"dns_create_a_record"), "{names:?}");
    assert!(names.contains(&"get_request"));
    assert!(!names.contains(&"k8s_unexpose_service"), "{names:?}");
    let create = tool(tools, "dns_create_a_record");
    assert_eq!(create["inputSchema"]["additionalProperties"], false);
    assert_eq!(create["inputSchema"]["required"], json!(["name", "ip"]));
    assert_eq!(
        create["inputSchema"]["properties"]["dry_run"]["default"],
        true
    );
    assert!(
        create["description"]
            .as_str()
            .unwrap()
            .contains("Risk: change")
    );
    assert_eq!(create["annotations"]["readOnlyHint"], false);
    assert_eq!(create["annotations"]["destructiveHint"], false);
    assert_eq!(create["annotations"]["idempotentHint"], true);
    assert_eq!(
        tool(tools, "dns_delete_record")["annotations"]["destructiveHint"],
        true
    );
    let lookup = tool(tools, "dns_lookup");
    assert_eq!(lookup["annotations"]["readOnlyHint"], true);
    assert_eq!(
        lookup["inputSchema"]["properties"]["dry_run"]["default"],
        false
    );

    // The dry run planned and changed nothing.
    let dry = &out[1];
    assert!(!dry["isError"].as_bool().unwrap(), "{dry:#}");
    assert_eq!(dry["structured"]["status"], "dry_run");
    assert!(
        dry["text"].as_str().unwrap().contains("10.0.10.1"),
        "{dry:#}"
    );
    // The real run: `dig` sees it, and it was verified.
    let real = &out[2];
    assert_eq!(real["structured"]["status"], "success", "{real:#}");
    assert_eq!(real["structured"]["verification"]["outcome"], "verified");
    assert_eq!(bind.dig("agent.local", "A"), ["10.0.10.1"]);
    // Schema violations never become requests.
    for bad in [&out[3], &out[4]] {
        assert!(bad["isError"].as_bool().unwrap(), "{bad:#}");
        assert_eq!(
            bad["structured"]["error"]["code"], "invalid_params",
            "{bad:#}"
        );
    }
    // Destructive: pending, with the approval id; approved over REST, then read back.
    let pending = &out[5];
    assert_eq!(
        pending["structured"]["status"], "pending_approval",
        "{pending:#}"
    );
    let aid = pending["structured"]["approval"]["id"].as_str().unwrap();
    assert!(pending["text"].as_str().unwrap().contains(aid));
    let (code, _) = d.decide_as(APPROVER_TOKEN, aid, "approve", json!({})).await;
    assert_eq!(code, 200);
    let rid = pending["structured"]["id"].as_str().unwrap();
    d.wait_status(rid, &["success", "failed"], 120).await;
    let after = client(
        &d,
        via,
        Some(REQUESTER_TOKEN),
        json!([{"op": "call", "name": "get_request", "arguments": {"id": rid}}]),
    )
    .await;
    assert_eq!(after[0]["structured"]["status"], "success", "{after:#?}");
    assert!(bind.dig("agent.local", "A").is_empty());

    // In the audit chain exactly like an API request: the caller, parser `mcp`.
    let rec = d.record(real["structured"]["id"].as_str().unwrap()).await;
    assert_eq!(rec["caller"], "alice");
    assert_eq!(rec["intent"]["parser"], "mcp");
    assert_eq!(
        stages(&rec),
        [
            "intake:accepted",
            "parse:parsed",
            "decide:allow",
            "plan:planned",
            "credentials:fetched",
            "execute:started",
            "execute:succeeded",
            "verify:verified"
        ]
    );
    assert!(d.audit_ok().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credentials_no_connection_and_roles_see_only_their_tools() {
    let (_bind, _data, d) = stack().await;
    // The SDK's client cannot even initialize without credentials or with a wrong token, over
    // either transport (the relay passes the daemon's refusal on and ends)…
    for via in [Via::Http, Via::Stdio] {
        for token in [None, Some("not-a-token")] {
            let refused = client(&d, via, token, json!([{"op": "list"}])).await;
            assert_eq!(refused.len(), 1, "{via:?} {token:?}: {refused:#?}");
            assert!(
                refused[0]["error"].is_string(),
                "{via:?} {token:?}: {refused:#?}"
            );
        }
    }
    // …because `/mcp` answers 401 like every other guarded route.
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                      "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                                 "clientInfo": {"name": "t", "version": "0"}}});
    let resp = d
        .anonymous
        .post(format!("{}/mcp", d.url))
        .header("accept", "application/json, text/event-stream")
        .json(&init)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert!(resp.headers().contains_key("www-authenticate"));
    // A viewer may read, not change: policy hides the change and destructive tools, and a
    // call of one anyway is refused (nothing is submitted).
    for via in [Via::Http, Via::Stdio] {
        let viewer = client(&d, via, Some(VIEWER_TOKEN), json!([
            {"op": "list"},
            {"op": "call", "name": "dns_delete_record", "arguments": {"name": "x.local", "type": "A"}},
        ]))
        .await;
        let names: Vec<&str> = viewer[0]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"dns_lookup"), "{via:?} {names:?}");
        assert!(!names.contains(&"dns_delete_record"), "{via:?} {names:?}");
        assert!(!names.contains(&"dns_create_a_record"), "{via:?} {names:?}");
        assert!(viewer[1]["isError"].as_bool().unwrap(), "{viewer:#?}");
        assert_eq!(
            viewer[1]["structured"]["error"]["code"], "unknown_action",
            "{viewer:#?}"
        );
    }
    let (_, list) = d.get("/api/v1/intents").await;
    assert_eq!(
        list["intents"],
        json!([]),
        "nothing was submitted: {list:#}"
    );
}

/// Runs the MCP Inspector's CLI against the daemon's `/mcp` as `token`: the JSON it printed
/// first (a result, also the result of a tool error, on which it exits non-zero), or
/// `Err(output)` when it printed none.
async fn inspector(
    d: &Daemon,
    scratch: &std::path::Path,
    token: Option<&str>,
    args: &[&str],
) -> Result<Value, String> {
    let launcher = aiops_test_support::mcp_inspector().unwrap_or_else(|e| panic!("{e}"));
    let mut cmd = tokio::process::Command::new(launcher);
    cmd.arg("--cli")
        .arg(format!("{}/mcp", d.url))
        .args(["--transport", "http"])
        .args(args)
        // Its own catalog file, not the user's.
        .env("MCP_CATALOG_PATH", scratch.join("inspector-catalog.json"))
        .kill_on_drop(true);
    if let Some(t) = token {
        cmd.arg("--header")
            .arg(format!("Authorization: Bearer {t}"));
    }
    let out = cmd.output().await.expect("the Inspector runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let first = serde_json::Deserializer::from_str(&stdout)
        .into_iter::<Value>()
        .next()
        .and_then(Result::ok)
        .filter(|v| v.get("error").is_none());
    first.ok_or_else(|| {
        format!(
            "exit {:?}\nstdout: {stdout}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The Inspector's arguments for `tools/call` of `dns_create_a_record` (inspector.local →
/// 10.0.20.2), plus `extra` tool arguments.
fn create_call(extra: &[&'static str]) -> Vec<&'static str> {
    let mut args = vec![
        "--method",
        "tools/call",
        "--tool-name",
        "dns_create_a_record",
        "--tool-arg",
        "name=inspector.local",
        "ip=10.0.20.2",
    ];
    args.extend_from_slice(extra);
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inspector_cli_lists_the_tools_and_calls_one() {
    let (bind, data, d) = stack().await;
    let inspector = |token, args| inspector(&d, data.path(), token, args);
    let listed = inspector(Some(REQUESTER_TOKEN), &["--method", "tools/list"])
        .await
        .unwrap();
    let create = tool(&listed, "dns_create_a_record");
    assert_eq!(
        create["inputSchema"]["additionalProperties"], false,
        "{create:#}"
    );
    assert_eq!(
        create["inputSchema"]["properties"]["ip"]["format"], "ipv4",
        "the action's own schema: {create:#}"
    );
    assert_eq!(create["annotations"]["idempotentHint"], true);
    assert_eq!(
        tool(&listed, "k8s_delete_pod")["annotations"]["destructiveHint"],
        true
    );
    assert_eq!(
        tool(&listed, "dns_lookup")["annotations"]["readOnlyHint"],
        true
    );

    // A dry run (the default for a change), then the real run that `dig` sees.
    let dry_args = create_call(&[]);
    let dry = inspector(Some(REQUESTER_TOKEN), &dry_args).await.unwrap();
    assert_eq!(dry["structuredContent"]["status"], "dry_run", "{dry:#}");
    assert!(bind.dig("inspector.local", "A").is_empty());
    let real_args = create_call(&["dry_run=false"]);
    let real = inspector(Some(REQUESTER_TOKEN), &real_args).await.unwrap();
    assert_eq!(real["structuredContent"]["status"], "success", "{real:#}");
    assert_eq!(bind.dig("inspector.local", "A"), ["10.0.20.2"]);
    let rec = d
        .record(real["structuredContent"]["id"].as_str().unwrap())
        .await;
    assert_eq!(rec["caller"], "alice");
    assert_eq!(rec["intent"]["parser"], "mcp");

    // A schema violation is a tool error, never a request.
    let bad_args = create_call(&["extra=1"]);
    let bad = inspector(Some(REQUESTER_TOKEN), &bad_args).await.unwrap();
    assert_eq!(bad["isError"], true, "{bad:#}");
    assert_eq!(bad["structuredContent"]["error"]["code"], "invalid_params");

    // No credentials: refused.
    let refused = inspector(None, &["--method", "tools/list"]).await;
    assert!(refused.is_err(), "{refused:?}");
}

/// A runbook whose three sections are three chunks, in this order.
fn sectioned(order: [&str; 3]) -> String {
    let mut text = String::from("# Zone transfers\n\nHow the zone moves between servers.\n");
    for s in order {
        text.push_str(&format!(
            "\n## Step {s}\n\nStep {s} of the zone transfer runbook: check the serial, then the TSIG key of step {s}.\n"
        ));
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runbooks_are_paged_resources_read_whole_or_by_chunk_and_plan_change_guides_the_agent() {
    let bind = Bind::start().expect("BIND starts");
    let data = tempfile::tempdir().unwrap();
    let cfg = aiops_e2e::with_retrieval(with_identities(config_for(&bind, data.path())), None);
    let d = Daemon::start(cfg).await.expect("daemon starts");
    // 55 one-section notes (more than a page) and one runbook of several chunks.
    let mut documents: Vec<Value> = (0..55)
        .map(|i| json!({"path": format!("notes/n{i:02}.md"), "text": format!("# Note {i}\n\nNote number {i} about host web{i}.\n")}))
        .collect();
    documents.push(json!({"path": "dns/zone transfer.md", "text": sectioned(["A", "B", "C"])}));
    let (code, body) = d
        .post_as(
            aiops_e2e::ADMIN_TOKEN,
            "/api/v1/documents",
            json!({"source": "ops", "documents": documents}),
        )
        .await;
    assert_eq!(code, 200, "{body:#}");

    let doc_uri = "aiops://runbooks/ops/dns%2Fzone%20transfer.md";
    let out = client(
        &d,
        Via::Http,
        Some(REQUESTER_TOKEN),
        json!([
            {"op": "resources"},
            {"op": "read", "uri": doc_uri},
            {"op": "read", "uri": format!("{doc_uri}/chunks/2")},
            {"op": "prompts"},
            {"op": "prompt", "name": "plan_change", "arguments": {"change": "point www.local at 10.0.0.7"}},
            {"op": "call", "name": "ops_ask", "arguments": {"question": "how do I check the serial in a zone transfer?"}},
        ]),
    )
    .await;
    assert_eq!(out.len(), 6, "{out:#?}");

    // Paged: a full first page, the rest on the second, every document once.
    let pages = out[0]["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 2, "{pages:#?}");
    assert_eq!(pages[0].as_array().unwrap().len(), 50);
    let all: Vec<&str> = pages
        .iter()
        .flat_map(|p| p.as_array().unwrap())
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    assert_eq!(all.len(), 56, "{all:?}");
    assert!(all.contains(&doc_uri), "{all:?}");
    let listed = pages
        .iter()
        .flat_map(|p| p.as_array().unwrap())
        .find(|r| r["uri"] == doc_uri)
        .unwrap();
    assert_eq!(listed["name"], "dns/zone transfer.md");
    assert_eq!(listed["mimeType"], "text/markdown");

    // Whole: the chunks in document order, each under its own URI; one chunk alone.
    let chunks = out[1]["contents"].as_array().unwrap();
    let order: Vec<usize> = ["Step A", "Step B", "Step C"]
        .iter()
        .map(|s| {
            chunks
                .iter()
                .position(|c| c["text"].as_str().unwrap().contains(s))
                .unwrap_or_else(|| panic!("{s} in {chunks:#?}"))
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{chunks:#?}");
    for (n, c) in chunks.iter().enumerate() {
        assert_eq!(c["uri"], format!("{doc_uri}/chunks/{n}"));
    }
    let one = out[2]["contents"].as_array().unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["text"], chunks[2]["text"]);

    // The prompt: dry run first, the real run only on confirmation.
    assert_eq!(out[3]["prompts"][0]["name"], "plan_change", "{:#}", out[3]);
    let guide = out[4]["messages"][0]["text"].as_str().unwrap();
    assert!(guide.contains("point www.local at 10.0.0.7"), "{guide}");
    assert!(guide.contains("dry_run: false"), "{guide}");

    // ops_ask: passages with citations into the runbook.
    let ask = &out[5];
    assert_eq!(ask["structured"]["status"], "answered", "{ask:#}");
    assert!(
        ask["text"]
            .as_str()
            .unwrap()
            .contains("dns/zone transfer.md"),
        "{ask:#}"
    );

    // Reordered sections: read back in the new order (moved chunks are written again).
    let (code, body) = d
        .post_as(
            aiops_e2e::ADMIN_TOKEN,
            "/api/v1/documents",
            json!({"source": "ops", "documents": [{"path": "dns/zone transfer.md", "text": sectioned(["C", "A", "B"])}]}),
        )
        .await;
    assert_eq!(code, 200, "{body:#}");
    let again = client(
        &d,
        Via::Http,
        Some(REQUESTER_TOKEN),
        json!([{"op": "read", "uri": doc_uri}, {"op": "read", "uri": "aiops://runbooks/ops/missing.md"}]),
    )
    .await;
    let chunks = again[0]["contents"].as_array().unwrap();
    let first_step = |c: &Value| {
        ["Step A", "Step B", "Step C"]
            .into_iter()
            .find(|s| c["text"].as_str().unwrap().contains(s))
    };
    let steps: Vec<&str> = chunks.iter().filter_map(first_step).collect();
    assert_eq!(steps, ["Step C", "Step A", "Step B"], "{chunks:#?}");
    // An unknown resource is the protocol's error, and ends this client's run.
    assert!(again[1]["error"].is_string(), "{again:#?}");
    // The shard is flushed before its directory goes.
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_metadata_shows_versions_and_rotation_never_a_value() {
    let bind = Bind::start().expect("BIND starts");
    let bao = aiops_e2e::OpenBao::start_dev().expect("OpenBao starts");
    let data = tempfile::tempdir().unwrap();
    let tsig = bind.secrets_dir.join("dns/tsig");
    // Written twice: the second write is a rotation (version 2).
    aiops_e2e::vault_secrets(&bao, &tsig).unwrap();
    let (secrets, _) = aiops_e2e::vault_secrets(&bao, &tsig).unwrap();
    let mut cfg = with_identities(config_for(&bind, data.path()));
    cfg.secrets = secrets;
    let d = Daemon::start(cfg).await.expect("daemon starts");

    let out = client(
        &d,
        Via::Http,
        Some(REQUESTER_TOKEN),
        json!([
            {"op": "list"},
            {"op": "call", "name": "vault_metadata", "arguments": {}},
            {"op": "call", "name": "vault_metadata", "arguments": {"path": "dns/other"}},
        ]),
    )
    .await;
    assert_eq!(out.len(), 3, "{out:#?}");
    assert_eq!(
        tool(&out[0], "vault_metadata")["annotations"]["readOnlyHint"],
        true
    );
    let entries = out[1]["structured"]["secrets"].as_array().unwrap();
    let dns = entries
        .iter()
        .find(|e| e["path"] == "dns/tsig")
        .unwrap_or_else(|| panic!("{out:#?}"));
    assert_eq!(dns["source"], "vault", "{dns:#}");
    assert_eq!(dns["version"], 2, "{dns:#}");
    assert_eq!(dns["versions"], 2, "{dns:#}");
    let rotated = dns["last_rotated"].as_str().unwrap();
    time::OffsetDateTime::parse(rotated, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{rotated}: {e}"));
    // Only a path the actions use.
    assert!(out[2]["isError"].as_bool().unwrap(), "{out:#?}");
    // Never a value, anywhere in what the agent sees.
    let key: Value = serde_json::from_str(&std::fs::read_to_string(&tsig).unwrap()).unwrap();
    let secret = key["secret"].as_str().unwrap();
    assert!(secret.len() >= 16);
    assert!(!out[1].to_string().contains(secret), "{:#}", out[1]);

    // A viewer is not shown the tool, and may not call it.
    let viewer = client(
        &d,
        Via::Http,
        Some(VIEWER_TOKEN),
        json!([{"op": "list"}, {"op": "call", "name": "vault_metadata", "arguments": {}}]),
    )
    .await;
    assert!(
        !viewer[0]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "vault_metadata"),
        "{viewer:#?}"
    );
    assert!(viewer[1]["isError"].as_bool().unwrap(), "{viewer:#?}");
    assert!(
        viewer[1]["structured"]
            .to_string()
            .contains("unknown_action")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_asks_for_progress_hears_the_approval_and_gets_the_end() {
    let (bind, _data, d) = stack().await;
    d.intent_expect("add dns record progress.local to 10.0.30.3", 200, "success")
        .await;
    // The destructive call waits for a human; this client asked for progress, so the call
    // stays open while a person approves over REST.
    let call = {
        let d = &d;
        async move {
            client(
                d,
                Via::Http,
                Some(REQUESTER_TOKEN),
                json!([{"op": "call_progress", "name": "dns_delete_record",
                        "arguments": {"name": "progress.local", "type": "A", "dry_run": false}}]),
            )
            .await
        }
    };
    let approve = async {
        let aid = loop {
            let (_, list) = d.get("/api/v1/approvals?state=pending").await;
            if let Some(id) = list["approvals"][0]["id"].as_str() {
                break id.to_string();
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        let (code, body) = d
            .decide_as(APPROVER_TOKEN, &aid, "approve", json!({}))
            .await;
        assert_eq!(code, 200, "{body:#}");
        aid
    };
    let (out, aid) = tokio::join!(call, approve);
    let result = &out[0];
    // The result is the request's end, not `pending_approval`…
    assert_eq!(result["structured"]["status"], "success", "{result:#}");
    assert!(bind.dig("progress.local", "A").is_empty());
    // …and the notifications told the way there: waiting for that approval, then onwards.
    let progress = result["progress"].as_array().unwrap();
    assert!(progress.len() >= 2, "{progress:#?}");
    let first = progress[0]["message"].as_str().unwrap();
    assert!(
        first.contains(&aid) && first.contains("waits for approval"),
        "{progress:#?}"
    );
    assert!(
        progress.last().unwrap()["message"]
            .as_str()
            .unwrap()
            .ends_with("is success"),
        "{progress:#?}"
    );
    let steps: Vec<f64> = progress
        .iter()
        .map(|p| p["progress"].as_f64().unwrap())
        .collect();
    assert!(steps.windows(2).all(|w| w[0] < w[1]), "{steps:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_rate_limit_holds_for_mcp_too() {
    let bind = Bind::start().expect("BIND starts");
    let data = tempfile::tempdir().unwrap();
    let mut cfg = with_identities(config_for(&bind, data.path()));
    cfg.api.rate_limit_per_minute = 1;
    cfg.api.rate_limit_burst = 2;
    let d = Daemon::start(cfg).await.expect("daemon starts");
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                      "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                                 "clientInfo": {"name": "t", "version": "0"}}});
    let mut codes = Vec::new();
    for _ in 0..3 {
        let resp = d
            .client
            .post(format!("{}/mcp", d.url))
            .header("accept", "application/json, text/event-stream")
            .json(&init)
            .send()
            .await
            .unwrap();
        codes.push(resp.status().as_u16());
    }
    assert_eq!(codes, [200, 200, 429], "the caller's budget is the API's");
}
