//! Shared test harness: a private Ollama started with `bootstrap/ollama.sh` (stopped on
//! drop), the rules parser as an `IntentParser`, and eval-file helpers.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
// The harness drives the bootstrap script; only the executor crate starts processes in
// product code.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use aiops_core::{Catalog, ParseOutcome, ParseVerdict};
use aiops_llm::LlmConfig;
use serde_json::Value;

pub const GEMMA: &str = "aiops-gemma3:270m";
pub const SMOLLM: &str = "aiops-smollm2:135m";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn parse_env(out: &str) -> HashMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| !k.is_empty() && k.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A private `ollama serve` on a free loopback port with the two small models; stopped
/// (server and model runners) on drop.
pub struct Ollama {
    pub state: tempfile::TempDir,
    pub host: String,
    pub pid: u32,
}

impl Ollama {
    pub fn start() -> Ollama {
        let state = tempfile::tempdir().unwrap();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let out = Command::new("bash")
            .args([
                "bootstrap/ollama.sh",
                "start",
                "--port",
                &port.to_string(),
                "--threads",
                "1",
            ])
            .arg("--state")
            .arg(state.path())
            .current_dir(repo_root())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "bootstrap/ollama.sh start failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let env = parse_env(&String::from_utf8_lossy(&out.stdout));
        Ollama {
            host: env["OLLAMA_HOST"].clone(),
            pid: env["AIOPS_OLLAMA_PID"].parse().unwrap(),
            state,
        }
    }

    /// Stops the server (and its runners) the way an operator would.
    pub fn stop(&self) {
        let _ = Command::new("bash")
            .args(["bootstrap/ollama.sh", "stop", "--state"])
            .arg(self.state.path())
            .current_dir(repo_root())
            .output();
    }

    /// SIGKILL to the server process, no clean-up (a crash).
    pub fn kill_server(&self) {
        let ok = Command::new("kill")
            .args(["-KILL", &self.pid.to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    pub fn config(&self, models: &[&str]) -> LlmConfig {
        LlmConfig {
            enabled: true,
            host: self.host.clone(),
            models: models.iter().map(|m| m.to_string()).collect(),
            num_thread: Some(1),
            num_predict: 160,
            timeout_ms: 120_000,
            ..LlmConfig::default()
        }
    }
}

impl Drop for Ollama {
    fn drop(&mut self) {
        self.stop();
        // After a simulated crash the pid file names a dead server, so the script cannot stop
        // its model runners: they share its process group (started with setsid); end them.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.pid)])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// The rules parser, as the daemon wires it.
pub use aiops_parser::RulesParser as Rules;

/// One line of an eval file: a sentence and `{"action", "params"}` or `"unrecognized"`.
pub struct Case {
    pub nl: String,
    pub expect: Value,
}

pub fn cases(path: &Path) -> Vec<Case> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            Case {
                nl: v["nl"].as_str().unwrap().to_string(),
                expect: v["expect"].clone(),
            }
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Score {
    Correct,
    Wrong,
    Unrecognized,
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x
            .trim_end_matches('.')
            .eq_ignore_ascii_case(y.trim_end_matches('.')),
        _ => a == b,
    }
}

/// The eval rules: correct when the validated intent matches (strings without case or a
/// trailing dot), wrong when another intent came out, unrecognized otherwise. An expected
/// refusal is correct when nothing was recognised.
pub fn score(catalog: &Catalog, outcome: &ParseOutcome, expect: &Value) -> Score {
    let intent = match &outcome.verdict {
        ParseVerdict::Proposed(p) => catalog
            .validate(&p.action, &p.params, outcome.parser, p.confidence)
            .ok(),
        ParseVerdict::Unrecognized { .. } => None,
    };
    match (intent, expect.as_str()) {
        (None, Some("unrecognized")) => Score::Correct,
        (None, _) => Score::Unrecognized,
        (Some(_), Some("unrecognized")) => Score::Wrong,
        (Some(i), _) => {
            let params = expect["params"].as_object().unwrap();
            let ok = <&str>::from(i.action) == expect["action"].as_str().unwrap()
                && i.params.len() == params.len()
                && params
                    .iter()
                    .all(|(k, v)| i.params.get(k).is_some_and(|x| same(x, v)));
            if ok { Score::Correct } else { Score::Wrong }
        }
    }
}
