//! Evidence and undo against the real BIND and Ansible: a DNS change is verified by reading
//! the authoritative server back, a change made behind the appliance's back is caught, and
//! a change is rolled back through a new request that goes through the same gates (policy,
//! approval, plan, execution, verification, audit), or refused when the world has moved on.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::time::Duration;

use aiops_e2e::{APPROVER_TOKEN, Bind, Daemon, config_for, stages, with_identities};
use aiops_test_support::{HandOff, test_playbooks};
use serde_json::{Value, json};

async fn stack() -> (Bind, tempfile::TempDir, Daemon) {
    let bind = Bind::start().expect("BIND starts");
    let data = tempfile::tempdir().unwrap();
    let cfg = with_identities(config_for(&bind, data.path()));
    let daemon = Daemon::start(cfg).await.expect("daemon starts");
    (bind, data, daemon)
}

fn id_of(body: &Value) -> String {
    body["id"].as_str().unwrap().to_string()
}

async fn rollback(d: &Daemon, id: &str) -> (u16, Value) {
    d.post(&format!("/api/v1/intents/{id}/rollback"), json!({}))
        .await
}

/// Approves the pending request `body` as the approver, then waits for the worker to run it.
async fn approve_and_run(d: &Daemon, body: &Value) -> Value {
    let aid = body["approval"]["id"].as_str().unwrap();
    let (code, decided) = d.decide_as(APPROVER_TOKEN, aid, "approve", json!({})).await;
    assert_eq!(code, 200, "{decided:#}");
    // The worker re-plans (a check-mode playbook run), executes and verifies: not within one
    // worker interval on a loaded machine, so wait for the outcome itself.
    d.wait_status(&id_of(body), &["success", "failed"], 120)
        .await
}

/// A daemon whose DNS playbooks hand off to the test after their update (`HandOff`).
async fn stack_with_hand_off() -> (Bind, tempfile::TempDir, HandOff, Daemon) {
    let bind = Bind::start().expect("BIND starts");
    let data = tempfile::tempdir().unwrap();
    let hand_off = HandOff::new(&data.path().join("hand-off"));
    let mut cfg = config_for(&bind, data.path());
    cfg.ansible.playbook_dir = test_playbooks(data.path(), &hand_off.post_tasks(120));
    let d = Daemon::start(cfg).await.expect("daemon starts");
    (bind, data, hand_off, d)
}

/// Submits `nl` in a task of its own and returns once its run waits at the hand-off; the
/// task answers the HTTP status and body once the test released it.
async fn submit_to_hand_off(
    d: &Daemon,
    hand_off: &HandOff,
    nl: &str,
) -> tokio::task::JoinHandle<(u16, Value)> {
    let (client, url, nl) = (d.client.clone(), d.url.clone(), nl.to_string());
    let submitted = tokio::spawn(async move {
        let resp = client
            .post(format!("{url}/api/v1/intent"))
            .json(&json!({"nl": nl}))
            .send()
            .await
            .expect("the request is answered");
        let code = resp.status().as_u16();
        (code, resp.json::<Value>().await.expect("a JSON body"))
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while !hand_off.is_reached() {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never reached the hand-off"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    submitted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dns_change_is_verified_by_reading_the_authoritative_server() {
    let (bind, _data, d) = stack().await;
    let body = d
        .intent_expect(
            "add dns record seen.local to 10.0.4.1 with ttl 600",
            200,
            "success",
        )
        .await;
    let v = &body["verification"];
    assert_eq!(v["outcome"], "verified", "{body:#}");
    assert_eq!(v["evidence"]["read"], "dns");
    assert_eq!(v["evidence"]["server"], bind.addr.to_string());
    assert_eq!(v["evidence"]["query"], "seen.local A");
    assert_eq!(v["evidence"]["found"], json!(["10.0.4.1"]));
    assert_eq!(v["evidence"]["ttl"], 600);
    assert!(v["at"].as_str().is_some());
    // The plan recorded what the change replaced: nothing.
    assert_eq!(body["plan"]["before"], json!({"records": [], "ttl": null}));

    let rec = d.record(&id_of(&body)).await;
    assert_eq!(rec["verification"], body["verification"]);
    assert_eq!(
        stages(&rec)[stages(&rec).len() - 2..],
        ["execute:succeeded", "verify:verified"]
    );
    // The evidence is in the audit row too.
    let row = rec["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["stage"] == "verify")
        .unwrap();
    assert_eq!(row["data"]["evidence"]["found"], json!(["10.0.4.1"]));
    assert!(d.audit_ok().await);
}

/// The playbook hands off to the test after its update; the test changes the record with
/// its own `nsupdate`, then lets the run finish. The executor said ok; the reading says
/// otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_behind_the_appliances_back_before_verification_is_diverged() {
    let (bind, _data, hand_off, d) = stack_with_hand_off().await;
    let submitted =
        submit_to_hand_off(&d, &hand_off, "add dns record moved.local to 10.0.5.1").await;
    assert_eq!(
        bind.dig("moved.local", "A"),
        ["10.0.5.1"],
        "the update was made"
    );
    bind.nsupdate(
        "local",
        &[
            "update delete moved.local. A",
            "update add moved.local. 3600 A 10.0.5.99",
        ],
    );
    hand_off.release();
    let (code, body) = submitted.await.unwrap();

    assert_eq!(
        (code, body["status"].as_str()),
        (502, Some("failed")),
        "{body:#}"
    );
    assert_eq!(body["execution"]["changed"], true, "the executor said ok");
    assert_eq!(body["error"]["code"], "verification_diverged");
    let v = &body["verification"];
    assert_eq!(v["outcome"], "diverged");
    assert_eq!(v["diff"], "moved.local A: 10.0.5.1 -> 10.0.5.99");
    assert_eq!(v["evidence"]["found"], json!(["10.0.5.99"]));
    let rec = d.record(&id_of(&body)).await;
    assert_eq!(stages(&rec).last().unwrap(), "verify:diverged");
    assert!(d.audit_ok().await);
}

/// The authoritative server stops answering between execute and verify: the change is
/// reported as made (the executor said so) but `unverified`, with the reason, never
/// `verified` by default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_world_that_cannot_be_read_back_is_unverified_with_the_reason() {
    let (bind, _data, hand_off, d) = stack_with_hand_off().await;
    let submitted =
        submit_to_hand_off(&d, &hand_off, "add dns record dark.local to 10.0.9.1").await;
    bind.stop();
    hand_off.release();
    let (code, body) = submitted.await.unwrap();
    assert_eq!(
        (code, body["status"].as_str()),
        (200, Some("success")),
        "{body:#}"
    );
    let v = &body["verification"];
    assert_eq!(v["outcome"], "unverified", "{body:#}");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("could not be read back"),
        "{v:#}"
    );
    // Read again until the settle time was over (the test config's 1.5 s).
    assert!(v["attempts"].as_u64().unwrap() >= 2, "{v:#}");
    assert_eq!(v["evidence"]["error"]["code"], "dns_unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_record_is_rolled_back_by_deleting_it_after_approval() {
    let (bind, _data, d) = stack().await;
    let created = d
        .intent_expect("add dns record undo.local to 10.0.6.1", 200, "success")
        .await;
    let cid = id_of(&created);

    // The inverse of creating a record that did not exist is deleting it: destructive, so
    // it waits for a human like any other deletion.
    let (code, pending) = rollback(&d, &cid).await;
    assert_eq!(
        (code, pending["status"].as_str()),
        (202, Some("pending_approval")),
        "{pending:#}"
    );
    assert_eq!(pending["rollback_of"], cid.as_str());
    assert_eq!(pending["intent"]["action"], "dns.delete_record");
    assert_eq!(
        pending["intent"]["params"],
        json!({"name": "undo.local", "type": "A"})
    );
    assert_eq!(pending["intent"]["parser"], "rollback");
    assert_eq!(
        bind.dig("undo.local", "A"),
        ["10.0.6.1"],
        "nothing runs before approval"
    );

    // A second rollback while the first waits is refused.
    let (code, again) = rollback(&d, &cid).await;
    assert_eq!(code, 409, "{again:#}");
    assert_eq!(again["error"]["code"], "conflict");

    let done = approve_and_run(&d, &pending).await;
    assert_eq!(done["status"], "success", "{done:#}");
    assert_eq!(done["verification"]["outcome"], "verified");
    assert!(bind.dig("undo.local", "A").is_empty(), "the record is gone");

    // Linked both ways in the audit trail.
    let rid = id_of(&pending);
    let original = d.record(&cid).await;
    // (The refused second rollback created no request.)
    assert_eq!(original["rollbacks"], json!([rid]));
    assert!(
        stages(&original).contains(&"rollback:requested".to_string()),
        "{original:#}"
    );
    assert_eq!(done["rollback_of"], cid.as_str());
    assert_eq!(
        stages(&done)[..3],
        ["intake:accepted", "rollback:verified", "parse:parsed"]
    );
    // Nothing left to undo now: the change it would undo is no longer in the world.
    let (code, late) = rollback(&d, &cid).await;
    assert_eq!(
        (code, late["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{late:#}"
    );
    assert!(d.audit_ok().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_record_is_rolled_back_to_its_previous_address() {
    let (bind, _data, d) = stack().await;
    d.intent_expect(
        "add dns record swap.local to 10.0.7.1 with ttl 300",
        200,
        "success",
    )
    .await;
    let replaced = d
        .intent_expect("add dns record swap.local to 10.0.7.2", 200, "success")
        .await;
    assert_eq!(
        replaced["plan"]["before"],
        json!({"records": ["10.0.7.1"], "ttl": 300})
    );
    assert_eq!(bind.dig("swap.local", "A"), ["10.0.7.2"]);

    // Restoring the previous address is a change in a lab zone: policy lets it run.
    let (code, back) = rollback(&d, &id_of(&replaced)).await;
    assert_eq!(
        (code, back["status"].as_str()),
        (200, Some("success")),
        "{back:#}"
    );
    assert_eq!(back["intent"]["action"], "dns.create_a_record");
    assert_eq!(
        back["intent"]["params"],
        json!({"name": "swap.local", "ip": "10.0.7.1", "ttl": 300})
    );
    assert_eq!(back["verification"]["outcome"], "verified");
    assert_eq!(bind.dig("swap.local", "A"), ["10.0.7.1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_back_a_record_someone_has_since_changed_is_a_conflict() {
    let (bind, _data, d) = stack().await;
    let created = d
        .intent_expect("add dns record race.local to 10.0.8.1", 200, "success")
        .await;
    let cid = id_of(&created);
    bind.nsupdate(
        "local",
        &[
            "update delete race.local. A",
            "update add race.local. 3600 A 10.0.8.9",
        ],
    );

    let (code, refused) = rollback(&d, &cid).await;
    assert_eq!(
        (code, refused["status"].as_str()),
        (409, Some("failed")),
        "{refused:#}"
    );
    assert_eq!(refused["error"]["code"], "conflict");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("race.local A: 10.0.8.1 -> 10.0.8.9"),
        "{message}"
    );
    assert_eq!(
        bind.dig("race.local", "A"),
        ["10.0.8.9"],
        "nothing was overwritten"
    );

    // The refusal is audited on both requests.
    let rec = d.record(&id_of(&refused)).await;
    assert_eq!(rec["rollback_of"], cid.as_str());
    assert_eq!(stages(&rec), ["intake:accepted", "rollback:conflict"]);
    assert_eq!(d.record(&cid).await["rollbacks"], json!([id_of(&refused)]));

    // What cannot be undone says why, and creates nothing.
    let (code, denied) = d
        .post(
            &format!("/api/v1/intents/{}/rollback", id_of(&rec)),
            json!({}),
        )
        .await;
    assert_eq!(
        (code, denied["error"]["code"].as_str()),
        (409, Some("not_reversible")),
        "{denied:#}"
    );
    let (code, missing) = rollback(&d, "01JD0000000000000000000000").await;
    assert_eq!(
        (code, missing["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    assert!(d.audit_ok().await);
}
