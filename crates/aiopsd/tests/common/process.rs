// Each including test file uses a part of this harness.
#![allow(dead_code)]
// Starting the real daemon binary is what this harness is for.
#![allow(clippy::disallowed_methods)]

//! The real `aiopsd serve` as a child process, its log captured: for the tests that kill it
//! (`crash.rs`) or run several of it on one database (`replicas.rs`). Included by those
//! files only (`#[path]`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};

use aiops_test_support::identities::{ADMIN_TOKEN, REQUESTER_TOKEN};
use aiops_test_support::ports;
use serde_json::{Value, json};

/// The real `aiopsd serve`, its log captured.
pub struct Aiopsd {
    child: Child,
    pub url: String,
    log: Arc<Mutex<String>>,
    client: reqwest::Client,
}

impl Aiopsd {
    /// Starts the daemon with the config file `config(port)` writes (and `vars` added to its
    /// environment) and returns once it is serving (its log says `listening`, which comes
    /// after recovery). Retries on another port if the picked one was taken.
    pub fn start(config: impl Fn(u16) -> PathBuf, vars: &[(&str, &str)]) -> Aiopsd {
        for _ in 0..5 {
            let port = ports::free_port();
            let mut child = Command::new(env!("CARGO_BIN_EXE_aiopsd"))
                .arg("--config")
                .arg(config(port))
                .arg("serve")
                .env_remove("RUST_LOG")
                .envs(vars.iter().copied())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start aiopsd");
            let log = Arc::new(Mutex::new(String::new()));
            let (tx, rx) = mpsc::channel();
            let stderr = child.stderr.take().expect("stderr");
            let sink = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let listening = line.contains("listening");
                    sink.lock().expect("log").push_str(&format!("{line}\n"));
                    if listening {
                        let _ = tx.send(());
                    }
                }
            });
            // Either the daemon serves, or its log ends (it exited).
            if rx.recv().is_ok() {
                return Aiopsd {
                    child,
                    url: format!("http://127.0.0.1:{port}"),
                    log,
                    client: reqwest::Client::new(),
                };
            }
            let _ = child.wait();
            let text = log.lock().expect("log").clone();
            assert!(
                text.contains("cannot listen"),
                "aiopsd did not start:\n{text}"
            );
        }
        panic!("no free port for aiopsd after 5 attempts");
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        self.log.lock().expect("log").clone()
    }

    /// POSTs a sentence as alice without waiting for the answer (the daemon will die
    /// before it answers).
    pub fn submit(&self, nl: &str) {
        let req = self
            .client
            .post(format!("{}/api/v1/intent", self.url))
            .bearer_auth(REQUESTER_TOKEN)
            .json(&json!({"nl": nl}));
        tokio::spawn(async move {
            let _ = req.send().await;
        });
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.url))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, token: &str, path: &str) -> (u16, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }

    pub async fn record(&self, id: &str) -> Value {
        let (code, body) = self
            .get(REQUESTER_TOKEN, &format!("/api/v1/intents/{id}"))
            .await;
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).expect("json")
    }

    pub async fn audit_ok(&self) -> bool {
        let (_, body) = self.get(ADMIN_TOKEN, "/api/v1/audit/verify").await;
        serde_json::from_str::<Value>(&body).expect("json")["ok"] == true
    }

    /// `aiops_reconciliations_total{outcome}`.
    pub async fn reconciliations(&self, outcome: &str) -> u64 {
        let (_, metrics) = self.get(ADMIN_TOKEN, "/metrics").await;
        let series = format!("aiops_reconciliations_total{{outcome=\"{outcome}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&series)?.trim().parse().ok())
            .unwrap_or(0)
    }

    /// `kill -9`, and reaps it.
    pub fn kill9(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap aiopsd");
    }

    /// A clean stop (SIGTERM), for the end of a test.
    pub fn stop(mut self) {
        let pid = rustix::process::Pid::from_raw(self.pid() as i32).expect("pid");
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let _ = self.child.wait();
    }
}

impl Drop for Aiopsd {
    /// A test that fails half-way must not leave a daemon (or, through its supervisor, a
    /// run) behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub use aiops_test_support::test_playbooks;

/// A point a playbook run stops at: a FIFO its pause task writes to, then sleeps until the
/// run's process tree is killed.
pub struct PausePoint {
    pub fifo: PathBuf,
}

impl PausePoint {
    /// Makes the FIFO at `fifo`.
    pub fn create(fifo: PathBuf) -> PausePoint {
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .expect("mkfifo");
        PausePoint { fifo }
    }

    /// The play section `section` (`pre_tasks`, `post_tasks`) holding the pause task, for a
    /// real run only (not the dry run's check mode).
    pub fn task(&self, section: &str, name: &str) -> String {
        format!(
            "  {section}:\n    - name: {name}\n      when: not ansible_check_mode\n      ansible.builtin.shell: \"sleep 100000 & echo reached > {}; wait\"\n",
            self.fifo.display()
        )
    }

    /// Waits (on a blocking thread) for the pause task to write to the FIFO.
    pub fn reached(&self) -> Reached {
        let fifo = self.fifo.clone();
        let handle = tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let mut text = String::new();
            std::fs::File::open(fifo)
                .and_then(|mut f| f.read_to_string(&mut text))
                .expect("read the fifo");
            text
        });
        Reached {
            fifo: self.fifo.clone(),
            handle,
        }
    }
}

/// A wait for a run to reach its pause point.
pub struct Reached {
    fifo: PathBuf,
    handle: tokio::task::JoinHandle<String>,
}

impl Reached {
    /// What the pause task wrote. A run that ends without reaching the pause fails the test
    /// after `limit` instead of hanging it: the reader blocked on the FIFO is released by
    /// opening it for writing (a blocking thread cannot be cancelled, and the runtime would
    /// wait for it).
    pub async fn within(mut self, limit: std::time::Duration) -> String {
        match tokio::time::timeout(limit, &mut self.handle).await {
            Ok(text) => text.expect("fifo"),
            Err(_) => {
                let _ = std::fs::OpenOptions::new().write(true).open(&self.fifo);
                let _ = self.handle.await;
                panic!("the run did not reach its pause point within {limit:?}");
            }
        }
    }
}
