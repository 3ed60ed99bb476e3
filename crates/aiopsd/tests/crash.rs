//! `kill -9` of the real `aiopsd` binary in the middle of an execution, against a real BIND
//! (`bootstrap/bind.sh`) and real Ansible, then a restart on the same data directory.
//! Each case asserts that no secret is left on disk (the data directory and the system temp
//! directory), that no process of the run outlived the daemon, that nothing ran twice, and
//! how recovery reconciled the request: verified after restart, nothing applied, or state
//! unknown (with its alert).
//!
//! **Where the kill lands, without sleeping.** The daemon runs the repository's DNS
//! playbooks from a test playbook directory in which each playbook is the shipped one plus
//! a pause task that, outside check mode, starts a `sleep` and writes to a FIFO of the test.
//! The test blocks reading the FIFO, so when the read returns, the run is inside that task:
//! before the record update (`pre_tasks`) or after it (`post_tasks`). Plans and the
//! re-plan of recovery run in check mode and skip the task. The daemon itself has no test
//! code; its process tree at that moment is deep (daemon → supervisor → ansible-playbook →
//! worker (own session) → shell → module → shell → `sleep`).
//!
//! **That nothing outlives the daemon, without sleeping.** The test process is a child
//! subreaper: when the daemon dies, its child (the run's supervisor) is reparented to the
//! test, which waits for it (on a pidfd; a generous guard turns a run that outlives the
//! daemon into a failure rather than a hang). The supervisor exits only once it has killed
//! and reaped every process below it, so after that wait every process of the snapshot
//! must be gone.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns
// Starting the real daemon binary is what this test is for.
#![allow(clippy::disallowed_methods)]

#[path = "common/process.rs"]
mod process;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aiops_core::RequestStatus;
use aiops_store::{RequestStore, SqliteStore};
use aiops_test_support::identities::{ADMIN_TOKEN, ALL, APPROVER_TOKEN, REQUESTER_TOKEN};
use aiops_test_support::procs::{self, Proc, alive, tree};
use aiops_test_support::{Bind, count_stage, stages};
use process::{Aiopsd, PausePoint, test_playbooks};
use serde_json::{Value, json};

/// Where the pause task sits in the play.
#[derive(Clone, Copy, PartialEq)]
enum Pause {
    /// Before the record update: the run is killed before it changed anything.
    BeforeChange,
    /// After the record update: the run is killed after the change.
    AfterChange,
}

/// A BIND, a playbook directory with pause points, a data directory and the daemon's
/// config file.
struct Env {
    bind: Bind,
    tmp: tempfile::TempDir,
    pause: PausePoint,
}

impl Env {
    fn new(pause: Pause) -> Env {
        be_a_subreaper();
        let bind = Bind::start().unwrap_or_else(|e| panic!("{e}"));
        let tmp = tempfile::tempdir().expect("tmp");
        let pause_point = PausePoint::create(tmp.path().join("reached.fifo"));
        let env = Env {
            bind,
            tmp,
            pause: pause_point,
        };
        std::fs::create_dir_all(env.data_dir()).expect("data dir");
        env.write_playbooks(pause);
        env
    }

    fn data_dir(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    fn run_dir(&self) -> PathBuf {
        self.data_dir().join("run")
    }

    fn playbook_dir(&self) -> PathBuf {
        self.tmp.path().join("ansible/playbooks")
    }

    /// The shipped DNS playbooks (and the module) with a pause task, and a `ping`
    /// playbook that is only a pause (an arbitrary playbook, which no check can witness).
    fn write_playbooks(&self, pause: Pause) {
        let section = match pause {
            Pause::BeforeChange => "pre_tasks",
            Pause::AfterChange => "post_tasks",
        };
        let task = self.pause.task(section, "crash-test pause point");
        test_playbooks(self.tmp.path(), &task);
        std::fs::write(
            self.playbook_dir().join("ping.yml"),
            format!(
                "- name: ping that never ends\n  hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks: []\n{task}"
            ),
        )
        .expect("write ping");
    }

    /// The daemon's config file: this BIND, its key in a directory secret source, the
    /// test playbooks, the test identities.
    fn config(&self, port: u16) -> PathBuf {
        let q = |p: &Path| serde_json::to_string(&p.to_string_lossy()).expect("json string");
        let ansible = aiops_test_support::ansible_playbook().unwrap_or_else(|e| panic!("{e}"));
        let mut toml = format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = {}\n\n[log]\nlevel = \"info\"\n\n\
             [secrets]\ndir = {}\n\n[dns]\nserver = \"{}\"\n\n\
             [ansible]\nplaybook_bin = {}\nplaybook_dir = {}\ntimeout_secs = 600\n\n\
             [approvals]\nworker_interval_ms = 100\n",
            q(&self.data_dir()),
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
        let path = self.tmp.path().join("aiopsd.toml");
        std::fs::write(&path, toml).expect("write config");
        path
    }

    /// The TSIG secret: the canary that must be on no file but where it belongs.
    fn canary(&self) -> String {
        self.bind.tsig().secret
    }

    /// Files under the data directory, the system temp directory and /dev/shm that hold
    /// the canary (BIND's own state directory, where the key belongs, left out).
    fn files_with_canary(&self) -> Vec<PathBuf> {
        let canary = self.canary();
        let mut roots = vec![self.data_dir(), std::env::temp_dir(), "/dev/shm".into()];
        roots.dedup();
        let mut hits: Vec<PathBuf> = roots
            .iter()
            .flat_map(|root| {
                walkdir::WalkDir::new(root)
                    .into_iter()
                    .filter_map(Result::ok)
            })
            .filter(|e| e.file_type().is_file())
            .map(walkdir::DirEntry::into_path)
            .filter(|p| !p.starts_with(self.bind.state_dir()))
            .filter(|p| {
                std::fs::metadata(p).is_ok_and(|m| m.len() < 256 << 20)
                    && std::fs::read(p).is_ok_and(|bytes| {
                        bytes.windows(canary.len()).any(|w| w == canary.as_bytes())
                    })
            })
            .collect();
        hits.sort();
        hits.dedup();
        hits
    }
}

/// Makes the test process a child subreaper (once): orphans below it come to it.
fn be_a_subreaper() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
            .expect("PR_SET_CHILD_SUBREAPER");
    });
}

/// How long a run's supervisor may take to exit once the daemon is dead: it does so in
/// milliseconds; this only turns a run that outlives the daemon into a failure rather than
/// a hang.
const HANG_GUARD: std::time::Duration = std::time::Duration::from_secs(60);

/// How long a run may take to reach its pause point (an approval's worker re-plans first);
/// a run that ends without getting there fails the test instead of hanging it.
const PAUSE_WITHIN: std::time::Duration = std::time::Duration::from_secs(180);

/// Waits for `p` (this process's child since the daemon died: the test is a subreaper) to
/// exit, and reaps it. Fails, naming what is still alive, if it does not.
fn wait_for_exit(p: &Proc, below: &[Proc]) {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    use rustix::process::{Pid, PidfdFlags, WaitOptions, pidfd_open, waitpid};
    let pid = Pid::from_raw(p.pid as i32).expect("pid");
    // Readable once the process has exited.
    let pidfd = pidfd_open(pid, PidfdFlags::empty()).expect("pidfd_open");
    let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
    let timeout = Timespec {
        tv_sec: HANG_GUARD.as_secs() as i64,
        tv_nsec: 0,
    };
    let ready = poll(&mut fds, Some(&timeout)).expect("poll");
    let alive: Vec<&Proc> = below.iter().filter(|p| alive(p)).collect();
    assert!(
        ready == 1,
        "the run's supervisor {} did not exit after the daemon died; alive: {alive:#?}",
        p.pid
    );
    waitpid(Some(pid), WaitOptions::empty()).expect("reap the run's supervisor");
}

/// Live processes whose environment names a run directory under `run_dir`.
fn processes_of_runs_under(run_dir: &Path) -> Vec<u32> {
    procs::with_env_prefix(&format!("AIOPS_RUN_DIR={}/", run_dir.display()))
}

/// Submits `nl`, waits until the run is at the pause, checks where the secret is, kills
/// the daemon with SIGKILL, and checks that the whole run died with it. Returns the id
/// of the request caught executing.
async fn kill_at_pause(env: &Env, nl: &str, secret_in_run: bool) -> String {
    let daemon = Aiopsd::start(|port| env.config(port), &[]);
    let reached = env.pause.reached();
    daemon.submit(nl);
    kill_when_reached(env, daemon, reached, secret_in_run).await
}

/// Waits until the run is at the pause (`reached`), then as [`kill_at_pause`].
async fn kill_when_reached(
    env: &Env,
    daemon: Aiopsd,
    reached: process::Reached,
    secret_in_run: bool,
) -> String {
    assert_eq!(reached.within(PAUSE_WITHIN).await.trim(), "reached");

    // The run, as it is at the pause.
    let below = tree(daemon.pid());
    let supervisors: Vec<Proc> = below
        .iter()
        .filter(|p| p.ppid == daemon.pid())
        .cloned()
        .collect();
    assert_eq!(supervisors.len(), 1, "one run under the daemon: {below:#?}");
    // The tree is deep: ansible-playbook (its name is cut at 15 characters), and the
    // pause task's shell (with its `sleep`, forked, maybe not exec'd yet) below the
    // module's python, below Ansible's worker.
    assert!(
        below.iter().any(|p| p.comm.starts_with("ansible-play")),
        "ansible-playbook below the daemon: {below:#?}"
    );
    let modules: Vec<u32> = below
        .iter()
        .filter(|p| p.comm.starts_with("python"))
        .map(|p| p.pid)
        .collect();
    assert!(
        below.iter().any(|p| modules.contains(&p.ppid)),
        "a process below the module: {below:#?}"
    );

    // The secret vars file is in the run's private directory under the data directory,
    // and the secret is in no other file.
    let hits = env.files_with_canary();
    if secret_in_run {
        assert_eq!(hits.len(), 1, "the TSIG secret is in one file: {hits:?}");
        let file = &hits[0];
        assert!(file.starts_with(env.run_dir()), "{file:?}");
        assert!(file.ends_with("secret-vars.json"), "{file:?}");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(file), 0o600);
        assert_eq!(mode(file.parent().unwrap()), 0o700);
        assert_eq!(mode(&env.run_dir()), 0o700);
    } else {
        assert!(hits.is_empty(), "{hits:?}");
    }

    daemon.kill9();
    // The supervisor is now this process's child; it exits once the run's tree is gone.
    for s in &supervisors {
        wait_for_exit(s, &below);
    }
    let survivors: Vec<&Proc> = below.iter().filter(|p| alive(p)).collect();
    assert!(survivors.is_empty(), "outlived the daemon: {survivors:#?}");
    assert_eq!(processes_of_runs_under(&env.run_dir()), Vec::<u32>::new());

    // The request was caught executing.
    let store = SqliteStore::open(&env.data_dir().join("aiops.db"))
        .await
        .expect("open the store");
    let executing = store.interrupted_executions().await.expect("list");
    assert_eq!(executing.len(), 1, "{executing:#?}");
    assert_eq!(executing[0].status, RequestStatus::Executing);
    executing[0].id.clone()
}

/// After the restart: no secret left on any file, the run area empty, and exactly one
/// execution of the request started (recovery never runs it again).
async fn assert_clean_restart(env: &Env, daemon: &Aiopsd, rec: &Value) {
    assert_eq!(env.files_with_canary(), Vec::<PathBuf>::new());
    let left: Vec<_> = std::fs::read_dir(env.run_dir())
        .expect("the run area exists")
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(count_stage(rec, "execute:started"), 1, "{:?}", stages(rec));
    assert!(daemon.audit_ok().await, "the audit chain verifies");
    assert!(
        !daemon.log().contains(&env.canary()),
        "the secret reached the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_before_the_change_is_nothing_applied_with_no_secret_or_child_left() {
    let env = Env::new(Pause::BeforeChange);
    let id = kill_at_pause(&env, "add dns record crash1.local to 192.0.2.11", true).await;

    let daemon = Aiopsd::start(|port| env.config(port), &[]);
    let rec = daemon.record(&id).await;
    assert_eq!(rec["status"], "failed", "{rec:#}");
    assert_eq!(rec["error"]["code"], "interrupted", "{rec:#}");
    let message = rec["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("interrupted, nothing applied"),
        "{message}"
    );
    assert_eq!(rec["execution"]["reconciliation"], "nothing_applied");
    let last = rec["timeline"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["stage"].as_str(), last["outcome"].as_str()),
        (Some("recover"), Some("nothing_applied"))
    );
    assert_clean_restart(&env, &daemon, &rec).await;
    // Nothing was applied, and recovery did not apply it either.
    assert!(env.bind.dig("crash1.local", "A").is_empty());
    assert_eq!(daemon.reconciliations("nothing_applied").await, 1);
    daemon.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_change_is_verified_after_restart() {
    let env = Env::new(Pause::AfterChange);
    let id = kill_at_pause(&env, "add dns record crash2.local to 192.0.2.12", true).await;
    // The update happened before the kill.
    assert_eq!(env.bind.dig("crash2.local", "A"), ["192.0.2.12"]);

    let daemon = Aiopsd::start(|port| env.config(port), &[]);
    let rec = daemon.record(&id).await;
    assert_eq!(rec["status"], "success", "{rec:#}");
    assert_eq!(rec["execution"]["reconciliation"], "verified_after_restart");
    assert_eq!(
        rec["execution"]["summary"],
        "succeeded (verified after restart)"
    );
    assert!(rec["error"].is_null(), "{rec:#}");
    assert_clean_restart(&env, &daemon, &rec).await;
    assert_eq!(env.bind.dig("crash2.local", "A"), ["192.0.2.12"]);
    assert_eq!(daemon.reconciliations("verified_after_restart").await, 1);
    daemon.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_changed_out_of_band_is_state_unknown_and_alerts() {
    let env = Env::new(Pause::BeforeChange);
    let id = kill_at_pause(&env, "add dns record crash3.local to 192.0.2.13", true).await;
    // While the daemon is down, someone sets the record to a third value.
    env.bind
        .nsupdate("local", &["update add crash3.local. 300 A 192.0.2.99"]);

    let daemon = Aiopsd::start(|port| env.config(port), &[]);
    let rec = daemon.record(&id).await;
    assert_eq!(rec["status"], "failed", "{rec:#}");
    assert_eq!(rec["error"]["code"], "interrupted");
    let message = rec["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("interrupted, state unknown"),
        "{message}"
    );
    assert_eq!(rec["execution"]["reconciliation"], "state_unknown");
    assert_clean_restart(&env, &daemon, &rec).await;
    // The alert: a counter and an error line naming the request. The world is left as
    // it was found.
    assert_eq!(daemon.reconciliations("state_unknown").await, 1);
    let log = daemon.log();
    assert!(
        log.lines()
            .any(|l| l.contains("ERROR") && l.contains("ALERT") && l.contains(&id)),
        "{log}"
    );
    assert_eq!(env.bind.dig("crash3.local", "A"), ["192.0.2.99"]);
    daemon.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_playbook_run_cannot_be_checked_so_it_is_state_unknown() {
    let env = Env::new(Pause::BeforeChange);
    let id = kill_at_pause(&env, "run the ping playbook", false).await;

    let daemon = Aiopsd::start(|port| env.config(port), &[]);
    let rec = daemon.record(&id).await;
    assert_eq!(rec["status"], "failed", "{rec:#}");
    assert_eq!(rec["execution"]["reconciliation"], "state_unknown");
    let evidence = rec["execution"]["evidence"].as_str().unwrap();
    assert!(evidence.contains("cannot be checked"), "{evidence}");
    assert_clean_restart(&env, &daemon, &rec).await;
    assert_eq!(daemon.reconciliations("state_unknown").await, 1);
    daemon.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_run_killed_half_way_ends_its_approval_with_it() {
    let env = Env::new(Pause::BeforeChange);
    env.bind
        .nsupdate("local", &["update add crash5.local. 300 A 192.0.2.15"]);
    let daemon = Aiopsd::start(|port| env.config(port), &[]);
    let (code, body) = daemon
        .post(
            REQUESTER_TOKEN,
            "/api/v1/intent",
            json!({"nl": "delete the A record crash5.local"}),
        )
        .await;
    assert_eq!(
        (code, body["status"].as_str()),
        (202, Some("pending_approval")),
        "{body:#}"
    );
    let id = body["id"].as_str().unwrap().to_string();
    let aid = body["approval"]["id"].as_str().unwrap().to_string();
    // Bob approves; the worker runs it, up to the pause.
    let reached = env.pause.reached();
    let (code, decided) = daemon
        .post(
            APPROVER_TOKEN,
            &format!("/api/v1/approvals/{aid}/approve"),
            json!({}),
        )
        .await;
    assert_eq!(code, 200, "{decided:#}");
    assert_eq!(kill_when_reached(&env, daemon, reached, true).await, id);

    let daemon = Aiopsd::start(|port| env.config(port), &[]);
    let rec = daemon.record(&id).await;
    assert_eq!(rec["status"], "failed", "{rec:#}");
    assert_eq!(rec["execution"]["reconciliation"], "nothing_applied");
    // The approval ended with its request (and its Slack message, if any, follows).
    assert_eq!(rec["approval"]["state"], "failed", "{rec:#}");
    let reason = rec["approval"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("interrupted, nothing applied"),
        "{reason}"
    );
    assert_clean_restart(&env, &daemon, &rec).await;
    assert_eq!(env.bind.dig("crash5.local", "A"), ["192.0.2.15"]);
    // Nothing left for the worker to run again.
    let (_, approvals) = daemon
        .get(ADMIN_TOKEN, "/api/v1/approvals?state=approved")
        .await;
    assert_eq!(
        serde_json::from_str::<Value>(&approvals).unwrap()["approvals"],
        json!([])
    );
    daemon.stop();
}
