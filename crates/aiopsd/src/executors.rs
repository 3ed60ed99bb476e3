//! Binds catalog actions to the executor crate: turns a typed intent into playbook variables
//! or a DNS query. This module decides *what* to run; `aiops-exec` is what touches the world.

use std::collections::BTreeMap;
use std::time::Duration;

use aiops_core::{ActionSpec, ExecutorBinding, Intent, Plan, Target};
use aiops_exec::{Ansible, ExecError, KubeConfig, KubeExecutor, KubePlan, PlaybookRun, dns_lookup};
use aiops_secrets::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::credentials::Lease;

/// A stage failure with a stable code; the message is safe to show.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Failure {
    pub code: &'static str,
    pub message: String,
}

impl Failure {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl From<ExecError> for Failure {
    fn from(e: ExecError) -> Self {
        Failure::new(e.code(), e.to_string())
    }
}

/// What planning found: the dry-run diff, whether a real run would change anything, and
/// the executor's preconditions for that run.
#[derive(Debug, Clone)]
pub struct PlanOutput {
    pub diff: String,
    pub changes: bool,
    pub state: Option<Value>,
}

pub struct Executors {
    ansible: Ansible,
    dns_server: std::net::SocketAddr,
    dns_timeout: Duration,
    tsig_path: String,
    slack_secret: Option<String>,
    kube: Option<KubeExecutor>,
}

impl Executors {
    /// Builds the executors from config. Connecting to Kubernetes does not contact the API
    /// server; a bad kubeconfig is a start-up error.
    pub async fn new(config: &Config) -> Result<Self, Failure> {
        let kube = if config.kube.enabled {
            Some(
                KubeExecutor::connect(KubeConfig {
                    kubeconfig: config.kube.kubeconfig.clone(),
                    context: config.kube.context.clone(),
                    gateway_name: config.kube.gateway_name.clone(),
                    gateway_namespace: config.kube.gateway_namespace.clone(),
                    cluster_issuer: config.kube.cluster_issuer.clone(),
                    field_manager: config.kube.field_manager.clone(),
                    timeout: Duration::from_millis(config.kube.timeout_ms),
                })
                .await?,
            )
        } else {
            None
        };
        Ok(Executors {
            ansible: Ansible::new(aiops_exec::AnsibleConfig {
                ansible_playbook: config.ansible.playbook_bin.clone(),
                playbook_dir: config.ansible.playbook_dir.clone(),
                timeout: Duration::from_secs(config.ansible.timeout_secs),
                tmp_dir: None,
            }),
            dns_server: config.dns.server,
            dns_timeout: Duration::from_millis(config.dns.timeout_ms),
            tsig_path: config.dns.tsig_secret.clone(),
            slack_secret: config
                .slack
                .enabled
                .then(|| config.slack.secret_path.clone()),
            kube,
        })
    }

    /// The Kubernetes executor, when configured.
    pub fn kube(&self) -> Option<&KubeExecutor> {
        self.kube.as_ref()
    }

    fn kube_or_unavailable(&self) -> Result<&KubeExecutor, Failure> {
        self.kube.as_ref().ok_or_else(|| {
            Failure::new(
                "executor_unavailable",
                "the Kubernetes executor is not configured on this appliance ([kube] enabled = false)",
            )
        })
    }

    pub fn ansible(&self) -> &Ansible {
        &self.ansible
    }

    /// Checks that the managed DNS server answers. A cheap query with a short timeout.
    pub async fn dns_ready(&self, zone: &str) -> Result<(), Failure> {
        dns_lookup(self.dns_server, zone, "TXT", self.dns_timeout)
            .await
            .map(|_| ())
            .map_err(|e| {
                Failure::new(
                    "dns_unavailable",
                    format!("DNS server {} does not answer: {e}", self.dns_server),
                )
            })
    }

    /// Every secret path the daemon reads: each catalog action's, plus Slack's when enabled.
    pub fn all_secret_paths(&self, catalog: &aiops_core::Catalog) -> Vec<String> {
        catalog
            .actions()
            .flat_map(|a| self.secret_paths(a))
            .chain(self.slack_secret.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    /// The secret paths this action's executor needs.
    pub fn secret_paths(&self, spec: &ActionSpec) -> Vec<String> {
        spec.secrets
            .iter()
            .map(|p| {
                if p == "dns/tsig" {
                    self.tsig_path.clone()
                } else {
                    p.clone()
                }
            })
            .collect()
    }

    /// Plans with the executor's own dry run. Needs no credentials: approval comes before them.
    pub async fn plan(
        &self,
        spec: &ActionSpec,
        intent: &Intent,
        target: &Target,
    ) -> Result<PlanOutput, Failure> {
        match &spec.executor {
            ExecutorBinding::Ansible { .. } => {
                if let Target::DnsZone {
                    zone: Some(zone), ..
                } = target
                {
                    self.dns_ready(zone).await?;
                }
                let run = self.playbook_run(spec, intent, target, BTreeMap::new(), true)?;
                let out = self.ansible.run(&run).await?;
                let diff = if out.diff.trim().is_empty() {
                    if out.changed {
                        out.msg.clone()
                    } else {
                        "no changes".to_string()
                    }
                } else {
                    out.diff.clone()
                };
                Ok(PlanOutput {
                    diff,
                    changes: out.changed,
                    state: None,
                })
            }
            ExecutorBinding::Dns => Ok(PlanOutput {
                diff: format!(
                    "read-only query of {} {} at {}",
                    str_param(intent, "name"),
                    str_param(intent, "type"),
                    self.dns_server
                ),
                changes: false,
                state: None,
            }),
            ExecutorBinding::Kube => {
                let plan = self
                    .kube_or_unavailable()?
                    .plan(&intent.action, &intent.params)
                    .await?;
                Ok(PlanOutput {
                    diff: plan.diff,
                    changes: plan.changes,
                    state: Some(plan.preconditions),
                })
            }
            ExecutorBinding::Retrieval => Err(Failure::new(
                "retrieval_unavailable",
                "runbook retrieval is not configured on this appliance",
            )),
        }
    }

    /// Runs the action for real. Returns the `execution` object of the response.
    pub async fn execute(
        &self,
        spec: &ActionSpec,
        intent: &Intent,
        plan: &Plan,
        lease: &Lease,
    ) -> Result<Value, Failure> {
        let target = &plan.target;
        match &spec.executor {
            ExecutorBinding::Ansible { .. } => {
                let secrets = self.secret_vars(spec, lease)?;
                let run = self.playbook_run(spec, intent, target, secrets, false)?;
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
            ExecutorBinding::Dns => {
                let answer = dns_lookup(
                    self.dns_server,
                    &str_param(intent, "name"),
                    &str_param(intent, "type"),
                    self.dns_timeout,
                )
                .await?;
                Ok(json!({
                    "executor": "dns",
                    "changed": false,
                    "result": answer,
                }))
            }
            ExecutorBinding::Kube => {
                let kube_plan = KubePlan {
                    diff: plan.diff.clone(),
                    changes: plan.changes,
                    preconditions: plan.executor_state.clone().unwrap_or(Value::Null),
                };
                let out = self
                    .kube_or_unavailable()?
                    .execute(&intent.action, &intent.params, &kube_plan)
                    .await?;
                Ok(json!({
                    "executor": "kube",
                    "changed": out.changed,
                    "result": out.result,
                }))
            }
            ExecutorBinding::Retrieval => Err(self
                .plan(spec, intent, target)
                .await
                .err()
                .unwrap_or_else(|| {
                    Failure::new("executor_unavailable", "no executor for this action")
                })),
        }
    }

    fn secret_vars(
        &self,
        spec: &ActionSpec,
        lease: &Lease,
    ) -> Result<BTreeMap<String, SecretString>, Failure> {
        let mut vars = BTreeMap::new();
        if spec.secrets.iter().any(|p| p == "dns/tsig") {
            let key = lease.get(&self.tsig_path).ok_or_else(|| {
                Failure::new("credentials_unavailable", "the TSIG key was not fetched")
            })?;
            for (field, var) in [
                ("name", "tsig_key_name"),
                ("algorithm", "tsig_key_algorithm"),
                ("secret", "tsig_key_secret"),
            ] {
                let value = key.field(field).ok_or_else(|| {
                    Failure::new(
                        "credentials_unavailable",
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
                "executor_unavailable",
                "not an Ansible action",
            ));
        };
        let mut vars = Map::new();
        let (playbook, limit) = match playbook {
            Some(fixed) => {
                let Target::DnsZone {
                    zone: Some(zone),
                    name,
                } = target
                else {
                    return Err(Failure::new(
                        "invalid_params",
                        "the name is outside the managed zones",
                    ));
                };
                vars.insert("dns_server".into(), json!(self.dns_server.ip().to_string()));
                vars.insert("dns_port".into(), json!(self.dns_server.port()));
                vars.insert("zone".into(), json!(zone));
                vars.insert("record_name".into(), json!(name));
                match intent.action.as_str() {
                    "dns.create_a_record" => {
                        vars.insert(
                            "ip".into(),
                            intent.params.get("ip").cloned().unwrap_or(Value::Null),
                        );
                        vars.insert(
                            "ttl".into(),
                            intent.params.get("ttl").cloned().unwrap_or(json!(3600)),
                        );
                    }
                    "dns.delete_record" => {
                        vars.insert("record_type".into(), json!(str_param(intent, "type")));
                    }
                    other => {
                        return Err(Failure::new(
                            "executor_unavailable",
                            format!("no playbook binding for `{other}`"),
                        ));
                    }
                }
                (fixed.clone(), None)
            }
            // ansible.run_playbook: a name from the allow-listed directory, nothing else.
            None => (
                format!("{}.yml", str_param(intent, "playbook")),
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
}

fn str_param(intent: &Intent, key: &str) -> String {
    intent
        .params
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}
