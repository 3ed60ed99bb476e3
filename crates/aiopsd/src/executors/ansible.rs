//! Actions run by `ansible-playbook`: the DNS changes (fixed playbooks doing an RFC 2136
//! update signed with the TSIG key) and `ansible.run_playbook` (a name from the
//! allow-listed directory, nothing else).

use std::collections::BTreeMap;

use aiops_core::{ActionId, ActionSpec, ErrorCode, ExecutorBinding, Intent, Plan, Target};
use aiops_exec::{Ansible, DnsAnswer, PlaybookRun, dns_lookup};
use aiops_secrets::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};

use super::dns::DnsTarget;
use super::{Executor, ExecutorKind, PlanOutput, ReadyCheck, Reconciled, str_param};
use crate::config::Config;
use crate::credentials::Lease;
use crate::failure::Failure;
use crate::verify::Observation;

/// The catalog's name for the TSIG key; the config says where the secret source keeps it.
const TSIG_SECRET: &str = "dns/tsig";

pub struct AnsibleExecutor {
    ansible: Ansible,
    dns: DnsTarget,
    tsig_path: String,
}

impl AnsibleExecutor {
    pub fn new(config: &Config, dns: DnsTarget) -> Self {
        // Runs (and their secret vars files) live in the data directory's run area, which
        // start-up wipes; never in the system temp dir.
        let ansible = Ansible::new(aiops_exec::AnsibleConfig {
            run_root: Some(config.run_dir()),
            ..config.ansible.clone()
        });
        AnsibleExecutor {
            ansible,
            dns,
            tsig_path: config.dns.tsig_secret.clone(),
        }
    }

    fn secret_vars(
        &self,
        spec: &ActionSpec,
        lease: &Lease,
    ) -> Result<BTreeMap<String, SecretString>, Failure> {
        let mut vars = BTreeMap::new();
        if spec.secrets.iter().any(|p| p == TSIG_SECRET) {
            let key = lease.get(&self.tsig_path).ok_or_else(|| {
                Failure::new(
                    ErrorCode::CredentialsUnavailable,
                    "the TSIG key was not fetched",
                )
            })?;
            for (field, var) in [
                ("name", "tsig_key_name"),
                ("algorithm", "tsig_key_algorithm"),
                ("secret", "tsig_key_secret"),
            ] {
                let value = key.field(field).ok_or_else(|| {
                    Failure::new(
                        ErrorCode::CredentialsUnavailable,
                        format!("secret `{}` has no `{field}` field", self.tsig_path),
                    )
                })?;
                vars.insert(
                    var.to_string(),
                    SecretString::from(value.expose_secret().to_string()),
                );
            }
        }
        Ok(vars)
    }

    fn playbook_run(
        &self,
        spec: &ActionSpec,
        intent: &Intent,
        target: &Target,
        secret_vars: BTreeMap<String, SecretString>,
        check: bool,
    ) -> Result<PlaybookRun, Failure> {
        let ExecutorBinding::Ansible { playbook } = &spec.executor else {
            return Err(Failure::new(
                ErrorCode::ExecutorUnavailable,
                "not an Ansible action",
            ));
        };
        let (playbook, vars, limit) = match playbook {
            Some(fixed) => (fixed.clone(), self.dns_vars(intent, target)?, None),
            // ansible.run_playbook: a name from the allow-listed directory, nothing else.
            None => (
                format!("{}.yml", str_param(intent, "playbook")),
                Map::new(),
                intent
                    .params
                    .get("limit")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            ),
        };
        Ok(PlaybookRun {
            playbook,
            vars,
            secret_vars,
            check,
            limit,
        })
    }

    /// The record set a DNS change replaces, read from the authoritative server:
    /// `{"records": [...], "ttl": n}` (what its inverse restores). `None` for playbooks.
    async fn dns_before(&self, intent: &Intent) -> Result<Option<Value>, Failure> {
        let Some((name, rtype)) = dns_record_of(intent) else {
            return Ok(None);
        };
        let answer = self.lookup(&name, &rtype).await?;
        Ok(Some(json!({"records": answer.records, "ttl": answer.ttl})))
    }

    async fn lookup(&self, name: &str, rtype: &str) -> Result<DnsAnswer, Failure> {
        Ok(dns_lookup(self.dns.server, name, rtype, self.dns.timeout).await?)
    }

    /// A DNS change read back from the authoritative server: a created A record holds
    /// exactly the planned address with the planned TTL; a deleted record set is empty.
    async fn observe_dns(
        &self,
        intent: &Intent,
        name: &str,
        rtype: &str,
    ) -> Result<Observation, Failure> {
        let answer = self.lookup(name, rtype).await?;
        let evidence = json!({
            "read": "dns",
            "server": self.dns.server.to_string(),
            "query": format!("{name} {rtype}"),
            "found": answer.records,
            "ttl": answer.ttl,
        });
        let found = if answer.records.is_empty() {
            "nothing".to_string()
        } else {
            answer.records.join(", ")
        };
        let mut diff = Vec::new();
        if intent.action == ActionId::DnsCreateARecord {
            let ip = str_param(intent, "ip");
            if answer.records != [ip.as_str()] {
                diff.push(format!("{name} {rtype}: {ip} -> {found}"));
            }
            let ttl = intent.params.get("ttl").and_then(Value::as_u64);
            let found_ttl = answer.ttl.map(u64::from);
            if diff.is_empty() && ttl != found_ttl {
                diff.push(format!(
                    "{name} {rtype} ttl: {} -> {}",
                    ttl.map_or("?".into(), |t| t.to_string()),
                    found_ttl.map_or("none".into(), |t| t.to_string())
                ));
            }
        } else if !answer.records.is_empty() {
            diff.push(format!("{name} {rtype}: absent -> {found}"));
        }
        Ok(if diff.is_empty() {
            Observation::Matches { evidence }
        } else {
            Observation::Differs { diff, evidence }
        })
    }

    /// The variables of the fixed DNS playbooks.
    fn dns_vars(&self, intent: &Intent, target: &Target) -> Result<Map<String, Value>, Failure> {
        let Target::DnsZone {
            zone: Some(zone),
            name,
        } = target
        else {
            return Err(Failure::new(
                ErrorCode::InvalidParams,
                "the name is outside the managed zones",
            ));
        };
        let mut vars = Map::new();
        vars.insert("dns_server".into(), json!(self.dns.server.ip().to_string()));
        vars.insert("dns_port".into(), json!(self.dns.server.port()));
        vars.insert("zone".into(), json!(zone));
        vars.insert("record_name".into(), json!(name));
        let param = |key: &str| intent.params.get(key).cloned().unwrap_or(Value::Null);
        match intent.action {
            ActionId::DnsCreateARecord => {
                vars.insert("ip".into(), param("ip"));
                vars.insert("ttl".into(), param("ttl"));
            }
            ActionId::DnsDeleteRecord => {
                vars.insert("record_type".into(), param("type"));
            }
            other => {
                return Err(Failure::new(
                    ErrorCode::ExecutorUnavailable,
                    format!("no playbook binding for `{other}`"),
                ));
            }
        }
        Ok(vars)
    }
}

#[async_trait::async_trait]
impl Executor for AnsibleExecutor {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Ansible
    }

    fn secret_paths(&self, spec: &ActionSpec) -> Vec<String> {
        spec.secrets
            .iter()
            .map(|p| {
                if p == TSIG_SECRET {
                    self.tsig_path.clone()
                } else {
                    p.clone()
                }
            })
            .collect()
    }

    async fn plan(
        &self,
        spec: &ActionSpec,
        intent: &Intent,
        target: &Target,
    ) -> Result<PlanOutput, Failure> {
        if let Target::DnsZone {
            zone: Some(zone), ..
        } = target
        {
            self.dns.ready(zone).await?;
        }
        let run = self.playbook_run(spec, intent, target, BTreeMap::new(), true)?;
        let out = self.ansible.run(&run).await?;
        let diff = if !out.diff.trim().is_empty() {
            out.diff.clone()
        } else if out.changed {
            out.msg.clone()
        } else {
            "no changes".to_string()
        };
        Ok(PlanOutput {
            diff,
            changes: out.changed,
            state: None,
            before: self.dns_before(intent).await?,
        })
    }

    async fn execute(
        &self,
        spec: &ActionSpec,
        intent: &Intent,
        plan: &Plan,
        lease: &Lease,
    ) -> Result<Value, Failure> {
        let secrets = self.secret_vars(spec, lease)?;
        let run = self.playbook_run(spec, intent, &plan.target, secrets, false)?;
        let out = self.ansible.run(&run).await?;
        Ok(json!({
            "executor": "ansible",
            "playbook": run.playbook,
            "changed": out.changed,
            "result": out.msg,
            "diff": out.diff,
            "tasks": out.tasks,
        }))
    }

    async fn ready(&self) -> Vec<ReadyCheck> {
        vec![ReadyCheck::of_version(
            "ansible",
            self.ansible.version().await,
        )]
    }

    /// DNS changes are read from the authoritative server; a playbook is run again in check
    /// mode, which must report no changes.
    async fn observe(
        &self,
        spec: &ActionSpec,
        intent: &Intent,
        plan: &Plan,
        _execution: &Value,
    ) -> Result<Observation, Failure> {
        if let Some((name, rtype)) = dns_record_of(intent) {
            return self.observe_dns(intent, &name, &rtype).await;
        }
        let run = self.playbook_run(spec, intent, &plan.target, BTreeMap::new(), true)?;
        let out = self.ansible.run(&run).await?;
        let evidence = json!({
            "read": "ansible-playbook --check",
            "playbook": run.playbook,
            "changed": out.changed,
            "tasks": out.tasks,
        });
        if !out.changed {
            return Ok(Observation::Matches { evidence });
        }
        let diff = if out.diff.trim().is_empty() {
            vec![format!("{}: no changes -> {}", run.playbook, out.msg)]
        } else {
            out.diff.lines().map(str::to_string).collect()
        };
        Ok(Observation::Differs { diff, evidence })
    }

    /// The DNS playbooks' check mode reads the record set from the server, so re-planning
    /// shows what a run did. An arbitrary playbook's check mode does not (command and
    /// shell tasks are skipped in it): an interrupted playbook run cannot be checked.
    async fn reconcile(&self, spec: &ActionSpec, intent: &Intent, plan: &Plan) -> Reconciled {
        if intent.action == ActionId::AnsibleRunPlaybook {
            return Reconciled::unverifiable(
                "an interrupted playbook run cannot be checked: check mode skips command and shell tasks, so it does not show what the run did",
            );
        }
        Reconciled::by_replan(plan, self.plan(spec, intent, &plan.target).await)
    }
}

/// The record set a DNS change acts on: (name, type); `None` for other actions.
fn dns_record_of(intent: &Intent) -> Option<(String, String)> {
    match intent.action {
        ActionId::DnsCreateARecord => Some((str_param(intent, "name"), "A".to_string())),
        ActionId::DnsDeleteRecord => Some((str_param(intent, "name"), str_param(intent, "type"))),
        _ => None,
    }
}
