//! Approval gates end to end: a destructive DNS change waits for a human, policy says who
//! may approve, the approval is bound to the plan, and execution happens once, in the
//! worker, against real BIND and Ansible. Slack itself is unreachable here: its Web API is
//! a local receiver (`SlackReceiver`) that follows Slack's documented protocol, and the
//! interactions are signed exactly as Slack signs them.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use aiops_e2e::{
    APPROVER_SLACK_ID, APPROVER_TOKEN, Bind, Daemon, REQUESTER_TOKEN, SlackReceiver, config_for,
    slack_click, with_identities, write_slack_secret,
};
use serde_json::{Value, json};

async fn stack(tweak: impl FnOnce(&mut aiopsd::Config)) -> (Bind, tempfile::TempDir, Daemon) {
    let bind = Bind::start().expect("BIND starts");
    let data = tempfile::tempdir().unwrap();
    let mut cfg = with_identities(config_for(&bind, data.path()));
    tweak(&mut cfg);
    let daemon = Daemon::start(cfg).await.expect("daemon starts");
    (bind, data, daemon)
}

/// Adds a record directly (allowed: zone `local` is non-production), then asks to delete it.
async fn pending_delete(bind: &Bind, d: &Daemon, name: &str, ip: &str) -> (String, String) {
    let (_, add) = d
        .intent_as(REQUESTER_TOKEN, &format!("add dns record {name} to {ip}"))
        .await;
    assert_eq!(add["status"], "success", "{add:#}");
    assert_eq!(bind.dig(name, "A"), [ip]);
    let (code, del) = d
        .intent_as(REQUESTER_TOKEN, &format!("delete the A record {name}"))
        .await;
    assert_eq!(code, 202, "{del:#}");
    assert_eq!(del["status"], "pending_approval");
    (
        del["id"].as_str().unwrap().to_string(),
        del["approval"]["id"].as_str().unwrap().to_string(),
    )
}

fn approve_path(aid: &str) -> String {
    format!("/api/v1/approvals/{aid}/approve")
}

fn stages(rec: &Value, stage: &str, outcome: &str) -> usize {
    rec["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["stage"] == stage && e["outcome"] == outcome)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_approval_executes_once_and_is_audited() {
    let (bind, _data, d) = stack(|_| {}).await;
    let (id, aid) = pending_delete(&bind, &d, "victim.local", "10.2.2.2").await;

    // Listing and showing: the approver sees exactly what will change.
    let (code, list) = d.get("/api/v1/approvals?state=pending").await;
    assert_eq!(code, 200);
    assert_eq!(list["approvals"].as_array().unwrap().len(), 1);
    assert_eq!(list["approvals"][0]["id"], aid.as_str());
    assert_eq!(list["approvals"][0]["requester"], "alice");
    let (_, show) = d.get(&format!("/api/v1/approvals/{aid}")).await;
    assert!(
        show["plan"]["diff"].as_str().unwrap().contains("10.2.2.2"),
        "{show:#}"
    );
    assert_eq!(show["action"], "dns.delete_record");

    // Who may not approve.
    let (code, body) = d.post(&approve_path(&aid), json!({})).await;
    assert_eq!(code, 401, "anonymous: {body}");
    let (code, body) = d
        .post_as("not-a-token", &approve_path(&aid), json!({}))
        .await;
    assert_eq!(code, 401, "unknown token: {body}");
    let (code, body) = d
        .post_as(REQUESTER_TOKEN, &approve_path(&aid), json!({}))
        .await;
    assert_eq!(
        code, 403,
        "the requester approving their own request: {body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("own request"),
        "{body}"
    );
    let (code, _) = d
        .post_as(
            APPROVER_TOKEN,
            "/api/v1/approvals/01JDNOTANAPPROVAL000000000/approve",
            json!({}),
        )
        .await;
    assert_eq!(code, 404);
    assert_eq!(
        bind.dig("victim.local", "A"),
        ["10.2.2.2"],
        "nothing ran yet"
    );

    // The approver approves; the worker runs it.
    let (code, body) = d
        .post_as(
            APPROVER_TOKEN,
            &approve_path(&aid),
            json!({"reason": "ticket OPS-1"}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["changed"], true);
    let rec = d.wait_status(&id, &["success", "failed"], 60).await;
    assert_eq!(rec["status"], "success", "{rec:#}");
    assert!(
        bind.dig("victim.local", "A").is_empty(),
        "the record is gone"
    );
    assert_eq!(rec["approval"]["state"], "succeeded");
    assert_eq!(rec["approval"]["decisions"][0]["approver"], "bob");
    assert_eq!(rec["approval"]["decisions"][0]["channel"], "rest");

    // A double click is a no-op that says so; a late decision is a conflict with the state.
    let (code, again) = d
        .post_as(APPROVER_TOKEN, &approve_path(&aid), json!({}))
        .await;
    assert_eq!(code, 200, "{again}");
    assert_eq!(again["changed"], false);
    let (code, late) = d
        .post_as(
            APPROVER_TOKEN,
            &format!("/api/v1/approvals/{aid}/reject"),
            json!({"reason": "too late"}),
        )
        .await;
    assert_eq!(code, 409, "{late}");
    assert_eq!(late["state"], "succeeded");

    // Executed exactly once, every approval event in the chain.
    assert_eq!(stages(&rec, "execute", "started"), 1, "{rec:#}");
    for outcome in ["pending", "refused", "approved", "executing", "succeeded"] {
        assert!(
            stages(&rec, "approve", outcome) >= 1,
            "no approve:{outcome} event: {rec:#}"
        );
    }
    let (_, v) = d.get("/api/v1/audit/verify").await;
    assert_eq!(v["ok"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejection_expiry_and_plan_drift_run_nothing() {
    let (bind, _data, d) = stack(|c| {
        c.approvals
            .ttl_secs_by_action
            .insert("dns.create_a_record".into(), 1);
    })
    .await;

    // Rejected: denied, nothing changes.
    let (id, aid) = pending_delete(&bind, &d, "keep1.local", "10.4.4.1").await;
    let (code, body) = d
        .post_as(
            APPROVER_TOKEN,
            &format!("/api/v1/approvals/{aid}/reject"),
            json!({"reason": "not now"}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let rec = d.wait_status(&id, &["denied"], 10).await;
    assert!(
        rec["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not now")
    );
    assert_eq!(bind.dig("keep1.local", "A"), ["10.4.4.1"]);

    // Plan drift: the record changes after the plan was shown; the approval is void.
    let (id, aid) = pending_delete(&bind, &d, "drift.local", "10.4.4.2").await;
    let (_, moved) = d
        .intent_as(REQUESTER_TOKEN, "add dns record drift.local to 10.4.4.3")
        .await;
    assert_eq!(moved["status"], "success", "{moved:#}");
    let (code, _) = d
        .post_as(APPROVER_TOKEN, &approve_path(&aid), json!({}))
        .await;
    assert_eq!(code, 200);
    let rec = d.wait_status(&id, &["failed", "success"], 60).await;
    assert_eq!(rec["status"], "failed", "{rec:#}");
    assert_eq!(rec["error"]["code"], "approval_void");
    assert_eq!(rec["approval"]["state"], "void");
    assert_eq!(
        bind.dig("drift.local", "A"),
        ["10.4.4.3"],
        "a void approval runs nothing"
    );

    // Expiry (per-action TTL of 1 s): a production create waits, then expires.
    let (code, prod) = d
        .intent_as(REQUESTER_TOKEN, "point late.corp.example.com to 10.4.4.4")
        .await;
    assert_eq!(code, 202, "{prod:#}");
    let aid = prod["approval"]["id"].as_str().unwrap().to_string();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (code, body) = d
        .post_as(APPROVER_TOKEN, &approve_path(&aid), json!({}))
        .await;
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["state"], "expired");
    let rec = d
        .wait_status(prod["id"].as_str().unwrap(), &["failed"], 10)
        .await;
    assert_eq!(rec["error"]["code"], "approval_expired");
    assert!(bind.dig("late.corp.example.com", "A").is_empty());
    let (_, v) = d.get("/api/v1/audit/verify").await;
    assert_eq!(v["ok"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_survive_restarts_and_run_once() {
    let bind = Bind::start().unwrap();
    let data = tempfile::tempdir().unwrap();
    let cfg = || with_identities(config_for(&bind, data.path()));

    let d = Daemon::start(cfg()).await.unwrap();
    let (waiting_id, _) = pending_delete(&bind, &d, "stays.local", "10.5.5.1").await;
    let (approved_id, aid) = pending_delete(&bind, &d, "goes.local", "10.5.5.2").await;
    d.stop().await;

    // While no daemon serves (so no worker runs), an approval lands.
    {
        let offline = aiopsd::App::build(cfg()).await.unwrap();
        let bob = aiopsd::auth::Identities::from_config(&offline.config.auth).current("bob");
        let (code, _) = aiopsd::approvals::decide(
            &offline,
            &aid,
            &bob,
            aiops_core::Channel::Cli,
            aiops_core::Verdict::Approve,
            None,
        )
        .await
        .unwrap();
        assert_eq!(code.as_u16(), 200);
    }
    assert_eq!(bind.dig("goes.local", "A"), ["10.5.5.2"]);

    // Back up: the approved one runs exactly once, the pending one is still pending.
    let d = Daemon::start(cfg()).await.unwrap();
    let rec = d
        .wait_status(&approved_id, &["success", "failed"], 60)
        .await;
    assert_eq!(rec["status"], "success", "{rec:#}");
    assert!(bind.dig("goes.local", "A").is_empty());
    assert_eq!(stages(&rec, "execute", "started"), 1);
    let (_, waiting) = d.get(&format!("/api/v1/intents/{waiting_id}")).await;
    assert_eq!(waiting["status"], "pending_approval");
    assert_eq!(waiting["approval"]["state"], "pending");
    d.stop().await;

    // Another restart runs nothing again.
    let d = Daemon::start(cfg()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let (_, rec) = d.get(&format!("/api/v1/intents/{approved_id}")).await;
    assert_eq!(stages(&rec, "execute", "started"), 1);
    let (_, v) = d.get("/api/v1/audit/verify").await;
    assert_eq!(v["ok"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_button_approves_and_the_message_follows() {
    let slack = SlackReceiver::start().await;
    let bind = Bind::start().unwrap();
    let bot_token = "xoxb-test-bot-token-canary";
    write_slack_secret(&bind.secrets_dir, bot_token);
    let data = tempfile::tempdir().unwrap();
    let mut cfg = with_identities(config_for(&bind, data.path()));
    cfg.slack.enabled = true;
    cfg.slack.api_base = slack.url.clone();
    cfg.slack.channel = "C0APPROVALS".into();
    let d = Daemon::start(cfg).await.unwrap();

    let (id, aid) = pending_delete(&bind, &d, "slacked.local", "10.6.6.6").await;

    // The approval is posted with the plan and both buttons.
    let posted = wait_for(|| slack.calls("chat.postMessage").len() == 1).await;
    assert!(posted, "no chat.postMessage");
    let (auth, msg) = slack.calls("chat.postMessage").remove(0);
    assert_eq!(auth, format!("Bearer {bot_token}"));
    assert_eq!(msg["channel"], "C0APPROVALS");
    let text = msg.to_string();
    assert!(
        text.contains("10.6.6.6")
            && text.contains("aiops_approve")
            && text.contains("aiops_reject"),
        "{msg:#}"
    );
    assert!(text.contains(&aid));

    // Bad requests are refused before anything is decoded.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let (body, ts, sig) = slack_click("aiops_approve", &aid, APPROVER_SLACK_ID, now);
    let post = |body: String, ts: String, sig: String| {
        let client = d.client.clone();
        let url = format!("{}/api/v1/slack/interactions", d.url);
        async move {
            client
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-slack-request-timestamp", ts)
                .header("x-slack-signature", sig)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        post(body.clone(), ts.clone(), "v0=00".into()).await,
        401,
        "bad signature"
    );
    assert_eq!(
        post(
            body.replace("UAPPROVER1", "UEVIL00001"),
            ts.clone(),
            sig.clone()
        )
        .await,
        401,
        "tampered body"
    );
    let (old_body, old_ts, old_sig) =
        slack_click("aiops_approve", &aid, APPROVER_SLACK_ID, now - 400);
    assert_eq!(
        post(old_body, old_ts, old_sig).await,
        401,
        "stale timestamp"
    );
    assert_eq!(bind.dig("slacked.local", "A"), ["10.6.6.6"]);

    // The real click: answered at once, decided and executed in the background.
    // Answered before the decision is made: the handler only verifies and hands off (the
    // execution itself takes seconds of Ansible), which is what keeps it inside Slack's 3 s.
    assert_eq!(post(body.clone(), ts.clone(), sig.clone()).await, 200);
    let (_, right_after) = d.get(&format!("/api/v1/intents/{id}")).await;
    assert_ne!(
        right_after["status"], "success",
        "the execution runs after the answer"
    );
    assert_eq!(post(body, ts, sig).await, 401, "a replay is refused");
    let rec = d.wait_status(&id, &["success", "failed"], 60).await;
    assert_eq!(rec["status"], "success", "{rec:#}");
    assert!(bind.dig("slacked.local", "A").is_empty());
    assert_eq!(rec["approval"]["decisions"][0]["channel"], "slack");
    assert_eq!(rec["approval"]["decisions"][0]["approver"], "bob");

    // The message is updated with the outcome, without buttons.
    let updated = wait_for(|| {
        slack
            .calls("chat.update")
            .iter()
            .any(|(_, m)| m.to_string().contains("succeeded"))
    })
    .await;
    assert!(
        updated,
        "no chat.update with the outcome: {:?}",
        slack.calls("chat.update")
    );
    let (_, upd) = slack.calls("chat.update").pop().unwrap();
    assert_eq!(upd["ts"], "1700000000.000100");
    assert!(!upd.to_string().contains("aiops_approve"));
    assert!(stages(&rec, "approve", "notified") == 1, "{rec:#}");

    // The bot token never reaches the audit trail or responses.
    assert!(!rec.to_string().contains(bot_token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_down_does_not_lose_the_approval() {
    let slack = SlackReceiver::start().await;
    slack.fail.store(true, std::sync::atomic::Ordering::SeqCst);
    let bind = Bind::start().unwrap();
    write_slack_secret(&bind.secrets_dir, "xoxb-down");
    let data = tempfile::tempdir().unwrap();
    let mut cfg = with_identities(config_for(&bind, data.path()));
    cfg.slack.enabled = true;
    cfg.slack.api_base = slack.url.clone();
    let d = Daemon::start(cfg).await.unwrap();
    let (id, aid) = pending_delete(&bind, &d, "outage.local", "10.7.7.7").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(slack.calls("chat.postMessage").is_empty());
    // Still actionable by REST while Slack is down.
    let (code, _) = d
        .post_as(APPROVER_TOKEN, &approve_path(&aid), json!({}))
        .await;
    assert_eq!(code, 200);
    let rec = d.wait_status(&id, &["success"], 60).await;
    assert!(bind.dig("outage.local", "A").is_empty());
    // Slack comes back: the retry posts the (now closed) message.
    slack.fail.store(false, std::sync::atomic::Ordering::SeqCst);
    let posted = wait_for(|| !slack.calls("chat.postMessage").is_empty()).await;
    assert!(posted, "the post was retried once Slack answered");
    assert_eq!(rec["approval"]["state"], "succeeded");
}

async fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..150 {
        if cond() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_asking_for_more_approvers_while_waiting_stops_the_run() {
    let bind = Bind::start().unwrap();
    let data = tempfile::tempdir().unwrap();
    // A copy of the shipped policies, so the test can change their data between runs.
    let policies = data.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    for f in ["aiops.rego", "approvals.rego", "data.json"] {
        std::fs::copy(
            aiops_e2e::repo_root().join("policies").join(f),
            policies.join(f),
        )
        .unwrap();
    }
    let cfg = || {
        let mut c = with_identities(config_for(&bind, data.path()));
        c.policy.dir = Some(policies.clone());
        c
    };
    let d = Daemon::start(cfg()).await.unwrap();
    let (id, aid) = pending_delete(&bind, &d, "twice.local", "10.9.0.1").await;
    d.stop().await;

    // The operator raises the approver count, then one approver approves.
    let mut policy_data: Value =
        serde_json::from_str(&std::fs::read_to_string(policies.join("data.json")).unwrap())
            .unwrap();
    policy_data["aiops"]["config"]["approvals"]["default"] = json!(2);
    std::fs::write(policies.join("data.json"), policy_data.to_string()).unwrap();
    {
        let offline = aiopsd::App::build(cfg()).await.unwrap();
        let bob = offline.identities.current("bob");
        aiopsd::approvals::decide(
            &offline,
            &aid,
            &bob,
            aiops_core::Channel::Cli,
            aiops_core::Verdict::Approve,
            None,
        )
        .await
        .unwrap();
    }
    let d = Daemon::start(cfg()).await.unwrap();
    let rec = d
        .wait_status(&id, &["denied", "success", "failed"], 60)
        .await;
    assert_eq!(rec["status"], "denied", "{rec:#}");
    assert_eq!(rec["error"]["code"], "approval_required");
    assert_eq!(rec["approval"]["state"], "void");
    assert_eq!(bind.dig("twice.local", "A"), ["10.9.0.1"], "nothing ran");
}
