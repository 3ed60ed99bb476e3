//! Approval gates end to end: a destructive DNS change waits for a human, policy says who
//! may approve, the approval is bound to the plan, and execution happens once, in the
//! worker, against real BIND and Ansible. Slack itself is unreachable here: its Web API is
//! a local stand-in (`SlackStandIn`) that follows Slack's documented protocol, and the
//! interactions are signed exactly as Slack signs them. Waits for the worker and the Slack
//! outbox follow their schedules (`WORKER_INTERVAL`, `retry_deadline`), never a round number.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use aiops_e2e::{
    APPROVER_SLACK_ID, APPROVER_TOKEN, Bind, Daemon, OUTSIDER_APPROVER_TOKEN, REQUESTER_TOKEN,
    SlackStandIn, WORKER_INTERVAL, config_for, count_stage, slack_click, unix_now, with_identities,
    write_slack_secret,
};
use aiops_test_support::schedule::{MARGIN, retry_deadline, worker_deadline};
use aiops_test_support::slack::SlackCall;
use serde_json::{Value, json};

async fn stack(tweak: impl FnOnce(&mut aiopsd::Config)) -> (Bind, tempfile::TempDir, Daemon) {
    stack_with_secrets(|_| {}, tweak).await
}

async fn stack_with_secrets(
    secrets: impl FnOnce(&Bind),
    tweak: impl FnOnce(&mut aiopsd::Config),
) -> (Bind, tempfile::TempDir, Daemon) {
    let bind = Bind::start().expect("BIND starts");
    secrets(&bind);
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

/// Approves `aid` as bob through an app built from `cfg` while no daemon serves (so no
/// worker runs), as an operator with the CLI on the host would.
async fn approve_offline(cfg: aiopsd::Config, aid: &str) -> aiopsd::approvals::DecisionReply {
    use aiops_core::{Channel::Cli, Verdict::Approve};
    let offline = aiopsd::App::build(cfg).await.unwrap();
    let bob = offline.authenticator.current("bob");
    let reply = aiopsd::approvals::decide(&offline, aid, &bob, Cli, Approve, None).await;
    reply.unwrap()
}

/// A stack whose daemon posts approvals to a Slack stand-in with bot token `bot_token`.
async fn slack_stack(bot_token: &str) -> (SlackStandIn, Bind, tempfile::TempDir, Daemon) {
    let slack = SlackStandIn::start().await;
    let api_base = slack.url.clone();
    let (bind, data, d) = stack_with_secrets(
        |bind| write_slack_secret(&bind.secrets_dir, bot_token),
        move |c| {
            c.slack.enabled = true;
            c.slack.api_base = api_base;
            c.slack.channel = "C0APPROVALS".into();
        },
    )
    .await;
    (slack, bind, data, d)
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
    let (code, body) = d
        .post_anonymous(&format!("/api/v1/approvals/{aid}/approve"), json!({}))
        .await;
    assert_eq!(code, 401, "anonymous: {body}");
    let (code, body) = d.decide_as("not-a-token", &aid, "approve", json!({})).await;
    assert_eq!(code, 401, "unknown token: {body}");
    let (code, body) = d
        .decide_as(REQUESTER_TOKEN, &aid, "approve", json!({}))
        .await;
    assert_eq!(
        code, 403,
        "the requester approving their own request: {body}"
    );
    // An operator holds no role that decides approvals: refused at the route, before the
    // approval is looked up (self-approval by an approver is refused by
    // `approver_decision`: Rego `test_requester_may_not_approve_own_request`).
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("approvals.decide needs one of the roles"),
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

    // An approver outside the group that owns the zone is refused by policy, on record.
    let (code, body) = d
        .decide_as(OUTSIDER_APPROVER_TOKEN, &aid, "approve", json!({}))
        .await;
    assert_eq!(code, 403, "{body}");

    // The approver approves; the worker runs it.
    let reason = json!({"reason": "ticket OPS-1"});
    let (code, body) = d.decide_as(APPROVER_TOKEN, &aid, "approve", reason).await;
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
        .decide_as(APPROVER_TOKEN, &aid, "approve", json!({}))
        .await;
    assert_eq!(code, 200, "{again}");
    assert_eq!(again["changed"], false);
    let reason = json!({"reason": "too late"});
    let (code, late) = d.decide_as(APPROVER_TOKEN, &aid, "reject", reason).await;
    assert_eq!(code, 409, "{late}");
    assert_eq!(late["state"], "succeeded");

    // Executed exactly once, every approval event in the chain.
    assert_eq!(count_stage(&rec, "execute:started"), 1, "{rec:#}");
    for outcome in ["pending", "refused", "approved", "executing", "succeeded"] {
        assert!(
            count_stage(&rec, &format!("approve:{outcome}")) >= 1,
            "no approve:{outcome} event: {rec:#}"
        );
    }
    assert!(d.audit_ok().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejection_expiry_and_plan_drift_run_nothing() {
    const TTL: std::time::Duration = std::time::Duration::from_secs(1);
    let (bind, _data, d) = stack(|c| {
        c.approvals
            .ttl_secs_by_action
            .insert("dns.create_a_record".into(), TTL.as_secs());
    })
    .await;

    // Rejected: denied, nothing changes.
    let (id, aid) = pending_delete(&bind, &d, "keep1.local", "10.4.4.1").await;
    let (code, body) = d
        .decide_as(APPROVER_TOKEN, &aid, "reject", json!({"reason": "not now"}))
        .await;
    assert_eq!(code, 200, "{body}");
    let rec = d.wait_worker(&id, &["denied"]).await;
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
        .decide_as(APPROVER_TOKEN, &aid, "approve", json!({}))
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

    // Expiry (a per-action TTL): a production create waits, then expires.
    let (code, prod) = d
        .intent_as(REQUESTER_TOKEN, "point late.corp.example.com to 10.4.4.4")
        .await;
    assert_eq!(code, 202, "{prod:#}");
    let aid = prod["approval"]["id"].as_str().unwrap().to_string();
    // Past the TTL (plus one worker interval, so the expiry is surely due).
    tokio::time::sleep(TTL + WORKER_INTERVAL).await;
    let (code, body) = d
        .decide_as(APPROVER_TOKEN, &aid, "approve", json!({}))
        .await;
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["state"], "expired");
    let rec = d
        .wait_worker(prod["id"].as_str().unwrap(), &["failed"])
        .await;
    assert_eq!(rec["error"]["code"], "approval_expired");
    assert!(bind.dig("late.corp.example.com", "A").is_empty());
    assert!(d.audit_ok().await);
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
    let reply = approve_offline(cfg(), &aid).await;
    assert!(
        matches!(reply, aiopsd::approvals::DecisionReply::Recorded { .. }),
        "{reply:?}"
    );
    assert_eq!(bind.dig("goes.local", "A"), ["10.5.5.2"]);

    // Back up: the approved one runs exactly once, the pending one is still pending.
    let d = Daemon::start(cfg()).await.unwrap();
    let rec = d
        .wait_status(&approved_id, &["success", "failed"], 60)
        .await;
    assert_eq!(rec["status"], "success", "{rec:#}");
    assert!(bind.dig("goes.local", "A").is_empty());
    assert_eq!(count_stage(&rec, "execute:started"), 1);
    let (_, waiting) = d.get(&format!("/api/v1/intents/{waiting_id}")).await;
    assert_eq!(waiting["status"], "pending_approval");
    assert_eq!(waiting["approval"]["state"], "pending");
    d.stop().await;

    // Another restart runs nothing again: a full worker pass (run here, so no waiting on
    // its timer) finds nothing to claim.
    let d = Daemon::start(cfg()).await.unwrap();
    aiopsd::approvals::tick(&d.state).await.unwrap();
    let rec = d.record(&approved_id).await;
    assert_eq!(count_stage(&rec, "execute:started"), 1);
    assert!(d.audit_ok().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_button_approves_and_the_message_follows() {
    let bot_token = "xoxb-test-bot-token-canary";
    let (slack, bind, _data, d) = slack_stack(bot_token).await;
    let (id, aid) = pending_delete(&bind, &d, "slacked.local", "10.6.6.6").await;

    // The approval is posted (on the worker's next pass) with the plan and both buttons.
    let by = worker_deadline(WORKER_INTERVAL);
    let posted = slack
        .wait_for("chat.postMessage", |_| by, |calls| !calls.is_empty())
        .await;
    assert!(posted, "no chat.postMessage");
    let msg = slack.calls("chat.postMessage").remove(0);
    assert!(!msg.failed);
    assert_eq!(msg.auth, format!("Bearer {bot_token}"));
    let msg = msg.body;
    assert_eq!(msg["channel"], "C0APPROVALS");
    let text = msg.to_string();
    assert!(
        text.contains("10.6.6.6")
            && text.contains("aiops_approve")
            && text.contains("aiops_reject"),
        "{msg:#}"
    );
    assert!(text.contains(&aid));
    // It names the group that owns the zone: only its members (or an admin) may approve.
    assert!(text.contains("from *netops*"), "{msg:#}");
    // The post is recorded in the same transaction as its audit row: wait for that row, so
    // the trail below is settled.
    d.wait_record(&id, MARGIN, |rec| count_stage(rec, "approve:notified") == 1)
        .await;

    // Bad requests are refused before anything is decoded, and leave no trace: no
    // decision, no audit row, nothing run.
    let now = unix_now();
    let click = slack_click("aiops_approve", &aid, APPROVER_SLACK_ID, now);
    let (body, ts, sig) = click.clone();
    let before = d.trail(&id).await;
    for (what, request) in [
        (
            "bad signature",
            (body.clone(), ts.clone(), "v0=00".to_string()),
        ),
        (
            "tampered body",
            (body.replace("UAPPROVER1", "UEVIL00001"), ts, sig),
        ),
        (
            "stale timestamp",
            slack_click("aiops_approve", &aid, APPROVER_SLACK_ID, now - 400),
        ),
    ] {
        assert_eq!(d.slack_interaction(&request).await, 401, "{what}");
        assert_eq!(d.trail(&id).await, before, "{what} left a trace");
    }
    assert_eq!(bind.dig("slacked.local", "A"), ["10.6.6.6"]);

    // The real click: answered at once, decided and executed in the background.
    // Answered before the decision is made: the handler only verifies and hands off (the
    // execution itself takes seconds of Ansible), which is what keeps it inside Slack's 3 s.
    assert_eq!(d.slack_interaction(&click).await, 200);
    let right_after = d.record(&id).await;
    assert_ne!(
        right_after["status"], "success",
        "the execution runs after the answer"
    );
    assert_eq!(
        d.slack_interaction(&click).await,
        401,
        "a replay is refused"
    );
    let rec = d.wait_status(&id, &["success", "failed"], 60).await;
    assert_eq!(rec["status"], "success", "{rec:#}");
    assert!(bind.dig("slacked.local", "A").is_empty());
    // One decision and one run: the replay added neither.
    assert_eq!(rec["approval"]["decisions"].as_array().unwrap().len(), 1);
    assert_eq!(rec["approval"]["decisions"][0]["channel"], "slack");
    assert_eq!(rec["approval"]["decisions"][0]["approver"], "bob");
    assert_eq!(count_stage(&rec, "approve:approved"), 1, "{rec:#}");
    assert_eq!(count_stage(&rec, "execute:started"), 1, "{rec:#}");
    // The audit row of the decision names bob, authenticated by Slack's signature.
    let events = aiops_store::RequestStore::events_for(d.state.store.as_ref(), &id)
        .await
        .unwrap();
    let approved = events
        .iter()
        .find(|e| e.stage == "approve" && e.outcome == "approved")
        .unwrap();
    assert_eq!(
        approved.actor,
        Some(aiops_core::Actor {
            user: "bob".into(),
            auth: aiops_core::AuthMethod::Slack
        })
    );

    // The message is updated with the outcome, without buttons (the worker's next pass).
    let by = worker_deadline(WORKER_INTERVAL);
    let updated = slack
        .wait_for(
            "chat.update",
            |_| by,
            |calls| {
                calls
                    .iter()
                    .any(|c| c.body.to_string().contains("succeeded"))
            },
        )
        .await;
    assert!(
        updated,
        "no chat.update with the outcome: {:?}",
        slack.calls("chat.update")
    );
    let upd = slack.calls("chat.update").pop().unwrap().body;
    assert_eq!(upd["ts"], aiops_test_support::slack::MESSAGE_TS);
    assert!(!upd.to_string().contains("aiops_approve"));
    assert_eq!(count_stage(&rec, "approve:notified"), 1, "{rec:#}");

    // The bot token never reaches the audit trail or responses.
    assert!(!rec.to_string().contains(bot_token));
}

/// By when the outbox's next attempt is due, from the failed attempts recorded so far.
fn next_attempt_due(calls: &[SlackCall]) -> std::time::Instant {
    let failed: Vec<&SlackCall> = calls.iter().filter(|c| c.failed).collect();
    let last = failed.last().expect("a failed attempt");
    retry_deadline(last.at, failed.len() as u32, WORKER_INTERVAL)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_down_does_not_lose_the_approval() {
    let (slack, bind, _data, d) = slack_stack("xoxb-down").await;
    slack.set_down(true);
    let (id, aid) = pending_delete(&bind, &d, "outage.local", "10.7.7.7").await;

    // The outage is really hit: the worker's next pass tries to post, and fails.
    let by = worker_deadline(WORKER_INTERVAL);
    let tried = slack
        .wait_for(
            "chat.postMessage",
            |_| by,
            |calls| calls.iter().any(|c| c.failed),
        )
        .await;
    assert!(tried, "no postMessage attempt while Slack was down");

    // Still actionable by REST while Slack is down.
    let (code, _) = d
        .decide_as(APPROVER_TOKEN, &aid, "approve", json!({}))
        .await;
    assert_eq!(code, 200);
    let rec = d.wait_status(&id, &["success"], 60).await;
    assert!(bind.dig("outage.local", "A").is_empty());
    assert_eq!(rec["approval"]["state"], "succeeded");
    assert!(
        slack.answered("chat.postMessage").is_empty(),
        "nothing was posted while Slack was down"
    );
    assert_eq!(count_stage(&rec, "approve:notified"), 0);

    // Slack comes back: the retry the schedule has due next posts the (now closed)
    // message, once.
    slack.set_down(false);
    let posted = slack
        .wait_for("chat.postMessage", next_attempt_due, |calls| {
            calls.iter().any(|c| !c.failed)
        })
        .await;
    assert!(
        posted,
        "the post was not retried on schedule: {:?}",
        slack.calls("chat.postMessage")
    );
    let post = slack.answered("chat.postMessage").remove(0).body;
    assert!(post.to_string().contains("outage.local"), "{post:#}");
    assert!(
        !post.to_string().contains("aiops_approve"),
        "closed: no buttons"
    );
    let rec = d
        .wait_record(&id, MARGIN, |rec| count_stage(rec, "approve:notified") == 1)
        .await;
    assert_eq!(rec["approval"]["state"], "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_asking_for_more_approvers_while_waiting_stops_the_run() {
    let bind = Bind::start().unwrap();
    let data = tempfile::tempdir().unwrap();
    // A copy of the shipped policies, so the test can change their data between runs.
    let policies = data.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    for f in ["aiops.rego", "approvals.rego", "access.rego", "data.json"] {
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
    approve_offline(cfg(), &aid).await;
    let d = Daemon::start(cfg()).await.unwrap();
    let rec = d
        .wait_status(&id, &["denied", "success", "failed"], 60)
        .await;
    assert_eq!(rec["status"], "denied", "{rec:#}");
    assert_eq!(rec["error"]["code"], "approval_required");
    assert_eq!(rec["approval"]["state"], "void");
    assert_eq!(bind.dig("twice.local", "A"), ["10.9.0.1"], "nothing ran");
}
