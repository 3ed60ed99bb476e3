//! `dns.lookup`: a read-only query against the managed DNS server.

use std::net::SocketAddr;
use std::time::Duration;

use aiops_core::{ActionSpec, ErrorCode, Intent, Plan, Target};
use aiops_exec::dns_lookup;
use serde_json::{Value, json};

use super::{Executor, ExecutorKind, PlanOutput, ReadyCheck, str_param};
use crate::config::Config;
use crate::credentials::Lease;
use crate::failure::Failure;

/// The managed DNS server, shared by the DNS and Ansible executors.
#[derive(Debug, Clone, Copy)]
pub struct DnsTarget {
    pub server: SocketAddr,
    pub timeout: Duration,
}

impl DnsTarget {
    pub fn from_config(config: &Config) -> Self {
        DnsTarget {
            server: config.dns.server,
            timeout: Duration::from_millis(config.dns.timeout_ms),
        }
    }

    /// Checks that the server answers for `zone`: a cheap query with a short timeout.
    pub async fn ready(&self, zone: &str) -> Result<(), Failure> {
        dns_lookup(self.server, zone, "TXT", self.timeout)
            .await
            .map(|_| ())
            .map_err(|e| {
                Failure::new(
                    ErrorCode::DnsUnavailable,
                    format!("DNS server {} does not answer: {e}", self.server),
                )
            })
    }

    async fn ready_check(&self, zone: &str) -> ReadyCheck {
        let result = self.ready(zone).await;
        ReadyCheck {
            name: "dns",
            ok: result.is_ok(),
            detail: json!({"server": self.server.to_string(), "error": result.err().map(|e| e.message)}),
        }
    }
}

pub struct DnsExecutor {
    dns: DnsTarget,
    /// The zone readiness asks the server about (the first managed zone).
    probe_zone: String,
}

impl DnsExecutor {
    pub fn new(dns: DnsTarget, probe_zone: String) -> Self {
        DnsExecutor { dns, probe_zone }
    }
}

#[async_trait::async_trait]
impl Executor for DnsExecutor {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Dns
    }

    async fn plan(
        &self,
        _spec: &ActionSpec,
        intent: &Intent,
        _target: &Target,
    ) -> Result<PlanOutput, Failure> {
        Ok(PlanOutput {
            diff: format!(
                "read-only query of {} {} at {}",
                str_param(intent, "name"),
                str_param(intent, "type"),
                self.dns.server
            ),
            changes: false,
            state: None,
            before: None,
        })
    }

    async fn execute(
        &self,
        _spec: &ActionSpec,
        intent: &Intent,
        _plan: &Plan,
        _lease: &Lease,
    ) -> Result<Value, Failure> {
        let answer = dns_lookup(
            self.dns.server,
            &str_param(intent, "name"),
            &str_param(intent, "type"),
            self.dns.timeout,
        )
        .await?;
        Ok(json!({
            "executor": "dns",
            "changed": false,
            "result": answer,
        }))
    }

    async fn ready(&self) -> Vec<ReadyCheck> {
        vec![self.dns.ready_check(&self.probe_zone).await]
    }
}
