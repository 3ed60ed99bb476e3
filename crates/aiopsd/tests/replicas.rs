//! Several real `aiopsd` processes (replicas) on one real PostgreSQL database
//! (`bootstrap/postgres.sh`), executing through real Ansible against a real BIND
//! (`bootstrap/bind.sh`):
//!
//! - many approvals decided through every replica at once: each approved change runs
//!   exactly once (a witness task in the test's playbooks appends a line per real run), and
//!   the audit chain the replicas wrote concurrently verifies;
//! - `kill -9` of a replica in the middle of an execution: another replica takes it over
//!   once the dead one's lease expired and reconciles it, once, without running it again;
//! - Postgres restarted under a serving daemon: requests during the outage are answered 503
//!   with the JSON error, nothing of them is stored, and service resumes afterwards.
//!
//! Each replica has its own data directory (its run area); the database is shared. The
//! database URL (it holds a password) reaches the daemons through `AIOPS_STORE_URL` only,
//! and must appear in no log.

#![allow(clippy::unwrap_used, clippy::expect_used)]
// test helpers outside #[test] fns
// The executor's children are found through /proc; nothing here starts a process by hand.
#![allow(clippy::disallowed_methods)]

#[path = "common/process.rs"]
mod process;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aiops_test_support::identities::{ADMIN_TOKEN, ALL, APPROVER_TOKEN, REQUESTER_TOKEN};
use aiops_test_support::{Bind, Postgres, count_stage, procs, stages};
use process::{Aiopsd, PausePoint, test_playbooks};
use serde_json::{Value, json};

/// How long a replica's lease lives in these tests: short, so a takeover comes quickly.
const LEASE_TTL_SECS: u64 = 2;
/// How long a test waits for requests to end before it fails.
const PATIENCE: Duration = Duration::from_secs(120);

/// BIND, PostgreSQL, and the test's playbooks: the shipped DNS playbooks plus a witness
/// task (each real run appends its record name to a file) and, optionally, a pause task
/// after the change that writes to a FIFO of the test.
struct Env {
    bind: Bind,
    pg: Postgres,
    tmp: tempfile::TempDir,
    pause: Option<PausePoint>,
}

impl Env {
    fn new(pause: bool) -> Env {
        let bind = Bind::start().unwrap_or_else(|e| panic!("{e}"));
        let pg = Postgres::start().unwrap_or_else(|e| panic!("{e}"));
        let tmp = tempfile::tempdir().expect("tmp");
        let pause = pause.then(|| PausePoint::create(tmp.path().join("reached.fifo")));
        let env = Env {
            bind,
            pg,
            tmp,
            pause,
        };
        env.write_playbooks();
        env
    }

    /// The pause point (a test that asked for one).
    fn pause(&self) -> &PausePoint {
        self.pause.as_ref().expect("an Env with a pause point")
    }

    fn witness(&self) -> PathBuf {
        self.tmp.path().join("witness.log")
    }

    fn playbook_dir(&self) -> PathBuf {
        self.tmp.path().join("ansible/playbooks")
    }

    fn data_dir(&self, replica: &str) -> PathBuf {
        self.tmp.path().join(replica).join("data")
    }

    fn write_playbooks(&self) {
        let mut extra = format!(
            "  pre_tasks:\n    - name: witness of a real run\n      when: not ansible_check_mode\n      ansible.builtin.shell: \"echo '{{{{ record_name }}}}' >> {}\"\n",
            self.witness().display()
        );
        if let Some(pause) = &self.pause {
            extra.push_str(&pause.task("post_tasks", "replicas-test pause point"));
        }
        test_playbooks(self.tmp.path(), &extra);
    }

    /// The config of replica `name` on `port`: its own data directory, the shared database
    /// (the URL comes from the environment, see [`Env::vars`]), this BIND, the test
    /// playbooks and identities.
    fn config(&self, name: &str, port: u16, lease_ttl_secs: u64) -> PathBuf {
        let q = |p: &Path| serde_json::to_string(&p.to_string_lossy()).expect("json string");
        let ansible = aiops_test_support::ansible_playbook().unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(self.data_dir(name)).expect("data dir");
        let mut toml = format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = {}\n\n[log]\nlevel = \"info\"\n\n\
             [store]\nbackend = \"postgres\"\nlease_ttl_secs = {lease_ttl_secs}\n\
             acquire_timeout_ms = 1000\nstatement_timeout_ms = 5000\n\n\
             [secrets]\ndir = {}\n\n[dns]\nserver = \"{}\"\n\n\
             [ansible]\nplaybook_bin = {}\nplaybook_dir = {}\ntimeout_secs = 600\n\n\
             [approvals]\nworker_interval_ms = 100\n\n[api]\nrate_limit_per_minute = 100000\nrate_limit_burst = 10000\n",
            q(&self.data_dir(name)),
            q(&self.bind.secrets_dir),
            self.bind.addr,
            q(&ansible),
            q(&self.playbook_dir()),
        );
        for id in ALL {
            toml.push_str(&format!(
                "\n[[auth.users]]\nname = \"{}\"\nroles = {}\ntoken_sha256 = \"{}\"\n",
                id.name,
                serde_json::to_string(id.roles).expect("roles"),
                aiops_core::sha256_hex(id.token),
            ));
        }
        let path = self.tmp.path().join(name).join("aiopsd.toml");
        std::fs::write(&path, toml).expect("write config");
        path
    }

    /// The environment of every replica: the database URL, never in a file.
    fn vars(&self) -> [(&str, &str); 1] {
        [("AIOPS_STORE_URL", self.pg.url())]
    }

    fn start(&self, name: &str, lease_ttl_secs: u64) -> Aiopsd {
        Aiopsd::start(|port| self.config(name, port, lease_ttl_secs), &self.vars())
    }

    /// How many real runs touched each record name.
    fn runs(&self) -> BTreeMap<String, usize> {
        let mut runs = BTreeMap::new();
        for line in std::fs::read_to_string(self.witness())
            .unwrap_or_default()
            .lines()
        {
            *runs.entry(line.trim().to_string()).or_default() += 1;
        }
        runs
    }

    /// The replicas holding a lease, as the database says.
    fn leases(&self) -> usize {
        self.pg
            .psql("aiops", "SELECT count(*) FROM replica_leases")
            .expect("psql")
            .trim()
            .parse()
            .expect("a count")
    }
}

/// Polls request `id` on `daemon` until its status is final; the record.
async fn until_final(daemon: &Aiopsd, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let (code, body) = daemon
            .get(REQUESTER_TOKEN, &format!("/api/v1/intents/{id}"))
            .await;
        if code == 200 {
            let rec: Value = serde_json::from_str(&body).expect("json");
            let status = rec["status"].as_str().unwrap_or_default();
            if !matches!(
                status,
                "received" | "executing" | "pending_approval" | "approved"
            ) {
                return rec;
            }
        }
        assert!(
            started.elapsed() < PATIENCE,
            "request {id} did not end: {code} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A full verification of the chain, as `daemon` answers it.
async fn verify_full(daemon: &Aiopsd) -> Value {
    let (code, body) = daemon
        .get(ADMIN_TOKEN, "/api/v1/audit/verify?mode=full")
        .await;
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_run_each_approved_change_exactly_once_and_keep_one_chain() {
    let env = Env::new(false);
    let replicas: Vec<Aiopsd> = ["a", "b", "c"]
        .iter()
        .map(|name| env.start(name, LEASE_TTL_SECS))
        .collect();
    const APPROVALS: usize = 9;
    const DIRECT: usize = 6;
    let names: Vec<String> = (0..APPROVALS).map(|i| format!("gone{i}.local")).collect();
    for name in &names {
        env.bind
            .nsupdate("local", &[&format!("update add {name}. 300 A 192.0.2.50")]);
    }

    // Deletions wait for a human; each is submitted to a replica in turn.
    let mut pending = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let (code, body) = replicas[i % 3]
            .post(
                REQUESTER_TOKEN,
                "/api/v1/intent",
                json!({"nl": format!("delete the A record {name}")}),
            )
            .await;
        assert_eq!(
            (code, body["status"].as_str()),
            (202, Some("pending_approval")),
            "{body:#}"
        );
        pending.push((
            body["id"].as_str().unwrap().to_string(),
            body["approval"]["id"].as_str().unwrap().to_string(),
        ));
    }

    // All approvals at once, each through another replica than the one that took it, while
    // direct changes arrive at every replica too: concurrent writers on the one chain.
    let mut calls = tokio::task::JoinSet::new();
    for (i, (_, aid)) in pending.iter().enumerate() {
        let replica = &replicas[(i + 1) % 3];
        let url = format!("{}/api/v1/approvals/{aid}/approve", replica.url);
        calls.spawn(async move {
            let r = reqwest::Client::new()
                .post(url)
                .bearer_auth(APPROVER_TOKEN)
                .json(&json!({}))
                .send()
                .await
                .expect("approve");
            (r.status().as_u16(), r.text().await.unwrap_or_default())
        });
    }
    for i in 0..DIRECT {
        let url = format!("{}/api/v1/intent", replicas[i % 3].url);
        calls.spawn(async move {
            let r = reqwest::Client::new()
                .post(url)
                .bearer_auth(REQUESTER_TOKEN)
                .json(
                    &json!({"nl": format!("add dns record direct{i}.local to 192.0.2.{}", 60 + i)}),
                )
                .send()
                .await
                .expect("intent");
            (r.status().as_u16(), r.text().await.unwrap_or_default())
        });
    }
    for (code, body) in calls.join_all().await {
        assert_eq!(code, 200, "{body}");
    }

    // Every approved deletion ends, exactly once, on whichever replica claimed it.
    for (i, (id, _)) in pending.iter().enumerate() {
        let rec = until_final(&replicas[i % 3], id).await;
        assert_eq!(rec["status"], "success", "{rec:#}");
        assert_eq!(rec["approval"]["state"], "succeeded", "{rec:#}");
        assert_eq!(
            count_stage(&rec, "execute:started"),
            1,
            "{:?}",
            stages(&rec)
        );
        assert!(
            env.bind.dig(&names[i], "A").is_empty(),
            "{} deleted",
            names[i]
        );
    }
    let runs = env.runs();
    for name in &names {
        assert_eq!(runs.get(name.as_str()), Some(&1), "{name}: {runs:?}");
    }
    for i in 0..DIRECT {
        let name = format!("direct{i}.local");
        assert_eq!(runs.get(name.as_str()), Some(&1), "{name}: {runs:?}");
        assert_eq!(env.bind.dig(&name, "A"), [format!("192.0.2.{}", 60 + i)]);
    }
    assert_eq!(runs.len(), APPROVALS + DIRECT, "{runs:?}");
    // Nothing approved is left to run on any replica.
    let (_, approved) = replicas[0]
        .get(ADMIN_TOKEN, "/api/v1/approvals?state=approved")
        .await;
    assert_eq!(
        serde_json::from_str::<Value>(&approved).unwrap()["approvals"],
        json!([])
    );

    // One chain, written by three processes at once, verifies from every replica.
    let events = verify_full(&replicas[0]).await["events"].clone();
    for r in &replicas {
        let report = verify_full(r).await;
        assert_eq!(report["ok"], true, "{report:#}");
        assert_eq!(report["events"], events);
    }
    let password = env.pg.password();
    for r in replicas {
        assert!(
            !r.log().contains(&password),
            "the database password reached a log"
        );
        r.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_killed_mid_execution_is_recovered_once_by_another() {
    let env = Env::new(true);
    let a = env.start("a", LEASE_TTL_SECS);
    let b = env.start("b", LEASE_TTL_SECS);
    let reached = env.pause().reached();
    // Not answered: the run pauses after the change, and a dies there.
    a.submit("add dns record takeover.local to 192.0.2.77");
    assert_eq!(reached.within(PATIENCE).await.trim(), "reached");
    // The change happened; the request is executing, owned by a.
    assert_eq!(env.bind.dig("takeover.local", "A"), ["192.0.2.77"]);
    let (_, list) = b
        .get(REQUESTER_TOKEN, "/api/v1/intents?status=executing")
        .await;
    let list: Value = serde_json::from_str(&list).unwrap();
    let id = list["intents"][0]["id"].as_str().unwrap().to_string();
    let run_dir = env.data_dir("a").join("run");
    assert_eq!(env.leases(), 2);
    a.kill9();
    // a's run dies with it (its supervisor's lifeline is cut).
    let started = Instant::now();
    while !procs::with_env_prefix(&format!("AIOPS_RUN_DIR={}/", run_dir.display())).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "a's run outlived it"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // b takes it over once a's lease expired, and reconciles it: verified, not re-run.
    let rec = until_final(&b, &id).await;
    // a's lease was deleted by the takeover; b's is the only one left.
    assert_eq!(env.leases(), 1);
    assert_eq!(rec["status"], "success", "{rec:#}");
    assert_eq!(rec["execution"]["reconciliation"], "verified_after_restart");
    assert_eq!(
        count_stage(&rec, "execute:started"),
        1,
        "{:?}",
        stages(&rec)
    );
    assert_eq!(
        count_stage(&rec, "recover:verified_after_restart"),
        1,
        "{:?}",
        stages(&rec)
    );
    assert_eq!(env.runs().get("takeover.local"), Some(&1), "one real run");
    assert!(
        b.log()
            .contains("took over the requests of replicas whose lease expired")
    );
    assert_eq!(b.reconciliations("verified_after_restart").await, 1);
    // A replica started later finds nothing left to take over.
    let c = env.start("c", LEASE_TTL_SECS);
    tokio::time::sleep(Duration::from_secs(LEASE_TTL_SECS)).await;
    assert_eq!(c.reconciliations("verified_after_restart").await, 0);
    assert_eq!(verify_full(&b).await["ok"], true);
    assert_eq!(
        until_final(&c, &id).await["timeline"],
        rec["timeline"],
        "recovered once"
    );
    b.stop();
    c.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_during_a_postgres_restart_get_503_and_nothing_half_done() {
    let env = Env::new(false);
    // A lease longer than the outage: nobody takes anything over.
    let daemon = env.start("a", 60);
    let (code, body) = daemon
        .post(
            REQUESTER_TOKEN,
            "/api/v1/intent",
            json!({"nl": "add dns record before.local to 192.0.2.81"}),
        )
        .await;
    assert_eq!(
        (code, body["status"].as_str()),
        (200, Some("success")),
        "{body:#}"
    );

    env.pg.stop().unwrap();
    // Answered (not hung: the pool's acquire timeout bounds the wait), with the JSON error.
    let (code, body) = daemon
        .post(
            REQUESTER_TOKEN,
            "/api/v1/intent",
            json!({"nl": "add dns record during.local to 192.0.2.82"}),
        )
        .await;
    assert_eq!(code, 503, "{body:#}");
    assert_eq!(body["error"]["code"], "store_unavailable", "{body:#}");
    let (code, body) = daemon.get(REQUESTER_TOKEN, "/api/v1/intents").await;
    assert_eq!(code, 503, "{body}");
    let error: Value = serde_json::from_str(&body).expect("a JSON error");
    assert_eq!(error["error"]["code"], "store_unavailable");
    let (code, _) = daemon.get(REQUESTER_TOKEN, "/readyz").await;
    assert_eq!(code, 503);
    // Nothing ran: the request never became durable, so it never reached the executor.
    assert!(env.bind.dig("during.local", "A").is_empty());

    env.pg.restart().unwrap();
    let started = Instant::now();
    while daemon.get(REQUESTER_TOKEN, "/readyz").await.0 != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not ready again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (code, body) = daemon
        .post(
            REQUESTER_TOKEN,
            "/api/v1/intent",
            json!({"nl": "add dns record after.local to 192.0.2.83"}),
        )
        .await;
    assert_eq!(
        (code, body["status"].as_str()),
        (200, Some("success")),
        "{body:#}"
    );
    // Two requests stored, none of the outage; the chain verifies.
    let (_, list) = daemon.get(REQUESTER_TOKEN, "/api/v1/intents").await;
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(
        list["intents"].as_array().map(Vec::len),
        Some(2),
        "{list:#}"
    );
    assert_eq!(verify_full(&daemon).await["ok"], true);
    assert!(env.bind.dig("during.local", "A").is_empty());
    assert_eq!(env.runs().len(), 2);
    assert!(!daemon.log().contains(&env.pg.password()));
    daemon.stop();
}

/// `aiopsd` started with a store URL it cannot use: a wrong password, a URL that does not
/// parse, a port nothing listens on. Each is refused at start-up with the store's error,
/// and the password it carried is on no output, even with every log at TRACE.
#[test]
fn a_bad_store_url_is_refused_without_echoing_its_password() {
    const WRONG: &str = "Wr0ng-pw-9f3c1";
    let env = Env::new(false);
    let config = env.config("a", aiops_test_support::ports::free_port(), LEASE_TTL_SECS);
    let password = env.pg.password();
    let port = env
        .pg
        .url()
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split_once('/'))
        .map(|(port, _)| port.to_string())
        .expect("a port in the URL");
    let cases = [
        (
            "wrong password",
            env.pg.url().replace(&password, WRONG),
            "store unavailable",
        ),
        (
            "not a URL",
            format!("postgres://aiops:{WRONG}@[::1:{port}/aiops"),
            "not a valid postgres:// URL",
        ),
        (
            "nothing listening",
            format!("postgres://aiops:{WRONG}@127.0.0.1:1/aiops"),
            "store unavailable",
        ),
    ];
    for (what, url, expected) in cases {
        for command in ["check-config", "serve"] {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_aiopsd"))
                .arg("--config")
                .arg(&config)
                .arg(command)
                .env("AIOPS_STORE_URL", &url)
                .env("RUST_LOG", "trace")
                .stdin(std::process::Stdio::null())
                .output()
                .expect("run aiopsd");
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!out.status.success(), "{what}: {command} started:\n{text}");
            let last = text.lines().last().unwrap_or_default();
            assert!(last.contains(expected), "{what}: {command}: {last}");
            assert!(
                !text.contains(WRONG) && !text.contains(&password),
                "{what}: {command} echoed the password:\n{text}"
            );
        }
    }
    // Nothing was stored under the bad URLs: the database is still empty of requests.
    let rows = env
        .pg
        .psql(
            "aiops",
            "SELECT count(*) FROM pg_tables WHERE tablename = 'requests'",
        )
        .expect("psql");
    assert_eq!(rows.trim(), "0", "no migrations ran through a refused URL");
}
