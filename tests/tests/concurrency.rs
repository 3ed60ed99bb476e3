//! Many writers at once through the real daemon and its SQLite store: signed Slack
//! interactions (replay nonces), REST decisions (recorded and refused) and new intents all
//! write to the same store. None may answer 5xx ("database is locked" was one), and the
//! audit chain must verify afterwards. Slack's Web API is the local `SlackStandIn`
//! (Slack is unreachable here); everything else is real (BIND, Ansible, SQLite).

#![allow(clippy::unwrap_used)]

use aiops_e2e::{
    APPROVER_SLACK_ID, APPROVER_TOKEN, Bind, Daemon, REQUESTER_TOKEN, SlackStandIn, config_for,
    slack_click, unix_now, with_identities, write_slack_secret,
};
use serde_json::Value;

async fn pending_delete(d: &Daemon, name: &str, ip: &str) -> String {
    let (_, add) = d
        .intent_as(REQUESTER_TOKEN, &format!("add dns record {name} to {ip}"))
        .await;
    assert_eq!(add["status"], "success", "{add:#}");
    let (code, del) = d
        .intent_as(REQUESTER_TOKEN, &format!("delete the A record {name}"))
        .await;
    assert_eq!(code, 202, "{del:#}");
    del["approval"]["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_slack_posts_decisions_and_intents_never_answer_5xx() {
    let slack = SlackStandIn::start().await;
    let bind = Bind::start().unwrap();
    write_slack_secret(&bind.secrets_dir, "xoxb-concurrency");
    let data = tempfile::tempdir().unwrap();
    let mut cfg = with_identities(config_for(&bind, data.path()));
    cfg.slack.enabled = true;
    cfg.slack.api_base = slack.url.clone();
    // Shared by the request tasks below.
    let d = std::sync::Arc::new(Daemon::start(cfg).await.unwrap());

    let mut approvals = Vec::new();
    for i in 0..4 {
        approvals.push(
            pending_delete(&d, &format!("busy{i}.local"), &format!("10.8.0.{}", i + 1)).await,
        );
    }

    let now = unix_now();
    let mut tasks = tokio::task::JoinSet::new();
    for round in 0..10 {
        for (i, aid) in approvals.iter().enumerate() {
            // Signed Slack clicks: each signature distinct (a different timestamp), so each
            // is a nonce write; the approver's clicks on the first two approve them.
            let action = if i < 2 {
                "aiops_approve"
            } else {
                "aiops_reject"
            };
            let user = if round % 2 == 0 {
                APPROVER_SLACK_ID
            } else {
                "UNKNOWN"
            };
            let click = slack_click(action, aid, user, now - round);
            let slack_d = d.clone();
            tasks.spawn(async move {
                let code = slack_d.slack_interaction(&click).await;
                ("slack", code, Value::Null)
            });
            // REST decisions: the requester is refused (403), the approver decides.
            for token in [REQUESTER_TOKEN, APPROVER_TOKEN] {
                let (rest_d, aid) = (d.clone(), aid.clone());
                let verb = if i % 2 == 0 { "approve" } else { "reject" };
                tasks.spawn(async move {
                    let reason = serde_json::json!({"reason": "load"});
                    let (code, body) = rest_d.decide_as(token, &aid, verb, reason).await;
                    ("decision", code, body)
                });
            }
        }
        // Intents that write without executing: unrecognized and refused ones.
        for nl in ["make me a sandwich", "delete everything in prod"] {
            let intent_d = d.clone();
            tasks.spawn(async move {
                let (code, body) = intent_d.intent_as(REQUESTER_TOKEN, nl).await;
                ("intent", code, body)
            });
        }
    }
    let mut answered = 0;
    while let Some(done) = tasks.join_next().await {
        let (kind, code, body) = done.unwrap();
        answered += 1;
        assert!(code < 500, "{kind} answered {code}: {body:#}");
    }
    assert_eq!(answered, 10 * (4 * 3 + 2));

    // The Slack decisions run in the background: wait until the approved ones have run.
    for aid in &approvals[..2] {
        let (_, a) = d.get(&format!("/api/v1/approvals/{aid}")).await;
        let id = a["request_id"].as_str().unwrap().to_string();
        let rec = d
            .wait_status(&id, &["success", "failed", "denied"], 60)
            .await;
        assert_ne!(rec["status"], "failed", "{rec:#}");
    }
    assert!(d.audit_ok().await);
}
