//! The shared test harness of the workspace: the real servers the tests run against, started
//! by the project's own bootstrap scripts (BIND 9 via `bootstrap/bind.sh`, OpenBao via
//! `bootstrap/openbao.sh`, kube-apiserver + etcd via `bootstrap/kube.sh`, Qdrant via
//! `bootstrap/qdrant.sh`, PostgreSQL via `bootstrap/postgres.sh`, Ollama with the small test models via `bootstrap/ollama.sh`), the one place
//! that picks ports for them, the test identities, readers for `/proc` process trees
//! (`procs`) and request timelines, and the only stand-in: a local receiver
//! for Slack's Web API (feature `slack`), because Slack itself is unreachable from tests.
//! The stand-in follows Slack's documented protocol; everything else is the real thing.
//!
//! Missing tools fail the tests with a message naming the script to run; nothing skips.
//! This crate does not depend on `aiopsd` (whose dependencies' tests use it); the daemon
//! harness built on it is `tests/` (`aiops-e2e`).

// Starting the bootstrap scripts and `dig` is what this crate is for.
#![allow(clippy::disallowed_methods)]

mod bind;
mod error;
pub mod identities;
mod kube_api;
mod logs;
mod ollama;
mod openbao;
mod paths;
mod playbooks;
pub mod ports;
mod postgres;
pub mod procs;
mod qdrant;
pub mod schedule;
mod script;
#[cfg(feature = "slack")]
pub mod slack;
mod timeline;
mod tools;

pub use bind::{Bind, Tsig};
pub use error::HarnessError;
pub use kube_api::KubeApi;
#[cfg(feature = "kube")]
pub use kube_api::client_for;
pub use logs::LogBuffer;
pub use ollama::{GEMMA, Ollama, SMOLLM};
pub use openbao::OpenBao;
pub use paths::{cache_dir, repo_root};
pub use playbooks::{HandOff, test_playbooks};
pub use postgres::Postgres;
pub use qdrant::Qdrant;
pub use script::{Vars, run_script};
pub use timeline::{count_stage, stages};
pub use tools::{
    ansible_playbook, chromedriver, chromium, embedding_model_dir, kubectl, mcp_inspector,
    mcp_python,
};

/// Results of the harness.
pub type Result<T, E = HarnessError> = std::result::Result<T, E>;
