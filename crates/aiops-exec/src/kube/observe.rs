//! Reading the world back after a change: [`KubeExecutor::observe`] re-reads what an action
//! changed (GETs only, so it needs no right beyond planning's) and compares it with what
//! the action's parameters and its execution result say it should be. The daemon verifies
//! each change with it, and rolls back through the same gates when the world differs.
//!
//! A change can be right and not yet finished: a Deployment whose controller is still
//! rolling it out is [`KubeObservation::Settling`], which the caller reads again until its
//! settle time is up. Without a controller (no `status.observedGeneration`, as on an API
//! server without controller-manager) only the spec can be checked, and the evidence says
//! so rather than claiming a rollout.
//!
//! Evidence is JSON a person can audit: which objects were read, their resourceVersion and
//! the fields compared (never a Secret: none of these actions reads one).

use ::kube::Resource;
use k8s_openapi::api::apps::v1::Deployment;
use serde_json::{Map, Value, json};

use super::diff::{self, show};
use super::expose_service::{Applied, Expose, Target};
use super::params::{self, Named};
use super::plan::to_json;
use super::resources::{Certificate, HttpRoute};
use super::unexpose_service::Unexpose;
use super::{KubeExecutor, KubePlan, RESTARTED_AT_ANNOTATION};
use crate::ExecError;

/// What a read of the world after a change found, against what the change planned.
#[derive(Debug, Clone, PartialEq)]
pub enum KubeObservation {
    /// The world matches the plan.
    Matches {
        /// What was read (see the module comment).
        evidence: Value,
    },
    /// The world differs: one `what: planned -> found` line per difference.
    Differs {
        /// The differences, one line each.
        diff: Vec<String>,
        /// What was read.
        evidence: Value,
    },
    /// Matches so far but not settled (a rollout in progress); `why` says what is awaited.
    Settling {
        /// What is awaited, e.g. `rollout in progress: 2 of 5 replicas available (…)`.
        why: String,
        /// What was read.
        evidence: Value,
    },
}

/// Said instead of rollout fields when no controller reports a Deployment's status.
const SPEC_ONLY: &str = "no controller reports status; spec only";

/// What a deployment action set, to compare with the deployment read back.
enum Expected<'a> {
    Replicas(i32),
    RestartedAt(&'a str),
}

impl KubeExecutor {
    /// Re-reads what `action` changed (GETs only) and compares it with what its parameters and
    /// `executed` (the `result` JSON that `execute` returned for this run) say it should be.
    #[tracing::instrument(skip_all, fields(action = %action))]
    pub async fn observe(
        &self,
        action: &str,
        params: &Map<String, Value>,
        plan: &KubePlan,
        executed: &Value,
    ) -> Result<KubeObservation, ExecError> {
        match action {
            "k8s.scale_deployment" => {
                let replicas = params::replicas(params)?;
                self.observe_deployment(params, Expected::Replicas(replicas))
                    .await
            }
            "k8s.restart_deployment" => {
                // The time only execution knew: the plan shows a placeholder instead.
                let at = executed
                    .get("restartedAt")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        ExecError::InvalidParams(
                            "the execution result has no `restartedAt` to compare with".to_string(),
                        )
                    })?;
                self.observe_deployment(params, Expected::RestartedAt(at))
                    .await
            }
            "k8s.expose_service" => self.observe_expose(params).await,
            "k8s.unexpose_service" => self.observe_unexpose(params).await,
            "k8s.delete_pod" => self.observe_delete_pod(params, plan).await,
            // list_pods changes nothing: there is nothing to verify.
            other => Err(ExecError::UnknownAction(other.to_string())),
        }
    }

    async fn observe_deployment(
        &self,
        params: &Map<String, Value>,
        expected: Expected<'_>,
    ) -> Result<KubeObservation, ExecError> {
        let target = Named::from_params(params, "name", "deployment")?;
        let deployment = match self.get::<Deployment>(&target).await {
            Ok((_, deployment)) => deployment,
            // Gone since the change: a definite difference, not a failure to read.
            Err(ExecError::NotFound { .. }) => {
                return Ok(KubeObservation::Differs {
                    diff: vec![format!(
                        "deployment {}: present -> missing",
                        target.qualified()
                    )],
                    evidence: evidence(vec![found(
                        "Deployment",
                        &target.qualified(),
                        None,
                        Value::Null,
                    )]),
                });
            }
            Err(e) => return Err(e),
        };
        let spec = deployment.spec.as_ref();
        let spec_replicas = spec.and_then(|s| s.replicas);
        let (path, planned, now, desired) = match expected {
            Expected::Replicas(replicas) => (
                "spec.replicas".to_string(),
                json!(replicas),
                json!(spec_replicas),
                replicas,
            ),
            Expected::RestartedAt(at) => {
                let annotation = spec
                    .and_then(|s| s.template.metadata.as_ref())
                    .and_then(|m| m.annotations.as_ref())
                    .and_then(|a| a.get(RESTARTED_AT_ANNOTATION));
                (
                    format!("spec.template.metadata.annotations.{RESTARTED_AT_ANNOTATION}"),
                    json!(at),
                    json!(annotation),
                    // The API server defaults an unset replicas to 1.
                    spec_replicas.unwrap_or(1),
                )
            }
        };
        let mut evidence = evidence(vec![found(
            "Deployment",
            &target.qualified(),
            deployment.metadata.resource_version.as_deref(),
            json!({ path.as_str(): now }),
        )]);
        let rollout = Rollout::of(&deployment, desired);
        evidence["rollout"] = rollout.evidence();
        if planned != now {
            return Ok(KubeObservation::Differs {
                diff: vec![format!(
                    "{path}: {} -> {}",
                    show(Some(&planned)),
                    show(Some(&now))
                )],
                evidence,
            });
        }
        Ok(match rollout.pending() {
            Some(why) => KubeObservation::Settling { why, evidence },
            None => KubeObservation::Matches { evidence },
        })
    }

    async fn observe_expose(
        &self,
        params: &Map<String, Value>,
    ) -> Result<KubeObservation, ExecError> {
        let expose = Expose::from_params(params)?;
        let route = Target::<HttpRoute>::new(self, expose.namespace, &expose.route_name);
        let cert = Target::<Certificate>::new(self, expose.namespace, &expose.cert_name);
        let mut seen = Seen::default();
        self.observe_applied(&route, &self.desired_route(&expose, None), &mut seen)
            .await?;
        self.observe_applied(&cert, &self.desired_certificate(&expose, None), &mut seen)
            .await?;
        Ok(seen.into_observation())
    }

    /// The object must exist, not be being deleted, and its spec must hold the spec this
    /// executor applies (the server may add defaults and extra fields).
    async fn observe_applied<K: Applied>(
        &self,
        target: &Target<'_, K>,
        desired: &K,
        seen: &mut Seen,
    ) -> Result<(), ExecError> {
        let title = target.titled();
        let Some(now) = self.get_opt(target).await? else {
            seen.diff.push(format!("{title}: present -> missing"));
            seen.objects.push(found(
                K::kind(&()).as_ref(),
                &target.qualified(),
                None,
                Value::Null,
            ));
            return Ok(());
        };
        let live = to_json(&now)?;
        let live_spec = live.get("spec").cloned().unwrap_or(Value::Null);
        let desired_spec = to_json(desired)?
            .get("spec")
            .cloned()
            .unwrap_or(Value::Null);
        if now.meta().deletion_timestamp.is_some() {
            seen.diff.push(format!("{title}: present -> being deleted"));
        }
        seen.diff.extend(
            diff::subset_diff("spec", &desired_spec, Some(&live_spec))
                .into_iter()
                .map(|line| format!("{title}: {line}")),
        );
        seen.objects.push(found(
            K::kind(&()).as_ref(),
            &target.qualified(),
            now.meta().resource_version.as_deref(),
            json!({ "spec": live_spec }),
        ));
        Ok(())
    }

    async fn observe_unexpose(
        &self,
        params: &Map<String, Value>,
    ) -> Result<KubeObservation, ExecError> {
        let unexpose = Unexpose::from_params(params)?;
        let route = Target::<HttpRoute>::new(self, unexpose.namespace, &unexpose.route_name);
        let cert = Target::<Certificate>::new(self, unexpose.namespace, &unexpose.cert_name);
        let mut seen = Seen::default();
        // The deletion order, as the plan lists them.
        self.observe_deleted(&cert, &mut seen).await?;
        self.observe_deleted(&route, &mut seen).await?;
        Ok(seen.into_observation())
    }

    /// The object must be gone, or marked for deletion (a finalizer may hold it a while).
    async fn observe_deleted<K: Applied>(
        &self,
        target: &Target<'_, K>,
        seen: &mut Seen,
    ) -> Result<(), ExecError> {
        let now = self.get_opt(target).await?;
        let meta = now.as_ref().map(Resource::meta);
        if meta.is_some_and(|m| m.deletion_timestamp.is_none()) {
            seen.diff
                .push(format!("{}: deleted -> present", target.titled()));
        }
        seen.objects.push(found(
            K::kind(&()).as_ref(),
            &target.qualified(),
            meta.and_then(|m| m.resource_version.as_deref()),
            meta.map_or(
                Value::Null,
                |m| json!({ "uid": m.uid, "deletionTimestamp": m.deletion_timestamp }),
            ),
        ));
        Ok(())
    }

    async fn observe_delete_pod(
        &self,
        params: &Map<String, Value>,
        plan: &KubePlan,
    ) -> Result<KubeObservation, ExecError> {
        let target = Named::from_params(params, "name", "pod")?;
        let (deleted, pod) = self.read_planned_pod(params, plan).await?;
        let meta = pod.as_ref().map(|p| &p.metadata);
        let evidence = evidence(vec![found(
            "Pod",
            &target.qualified(),
            meta.and_then(|m| m.resource_version.as_deref()),
            meta.map_or(
                Value::Null,
                |m| json!({ "uid": m.uid, "deletionTimestamp": m.deletion_timestamp }),
            ),
        )]);
        if deleted {
            return Ok(KubeObservation::Matches { evidence });
        }
        let uid = meta.and_then(|m| m.uid.as_deref()).unwrap_or(diff::NONE);
        Ok(KubeObservation::Differs {
            diff: vec![format!(
                "pod {}: deleted -> still present (uid {uid})",
                target.qualified()
            )],
            evidence,
        })
    }
}

/// What reading several objects found so far.
#[derive(Default)]
struct Seen {
    diff: Vec<String>,
    objects: Vec<Value>,
}

impl Seen {
    fn into_observation(self) -> KubeObservation {
        let evidence = evidence(self.objects);
        if self.diff.is_empty() {
            KubeObservation::Matches { evidence }
        } else {
            KubeObservation::Differs {
                diff: self.diff,
                evidence,
            }
        }
    }
}

/// A Deployment's rollout as its controller reports it.
struct Rollout {
    desired: i32,
    generation: Option<i64>,
    /// `None`: no controller has reported status.
    observed_generation: Option<i64>,
    updated: i32,
    ready: i32,
    available: i32,
}

impl Rollout {
    fn of(deployment: &Deployment, desired: i32) -> Self {
        let status = deployment.status.as_ref();
        Rollout {
            desired,
            generation: deployment.metadata.generation,
            observed_generation: status.and_then(|s| s.observed_generation),
            // A count the controller leaves out is zero (it omits zeros).
            updated: status.and_then(|s| s.updated_replicas).unwrap_or(0),
            ready: status.and_then(|s| s.ready_replicas).unwrap_or(0),
            available: status.and_then(|s| s.available_replicas).unwrap_or(0),
        }
    }

    fn evidence(&self) -> Value {
        match self.observed_generation {
            None => json!(SPEC_ONLY),
            Some(observed) => json!({
                "desiredReplicas": self.desired,
                "generation": self.generation,
                "observedGeneration": observed,
                "updatedReplicas": self.updated,
                "readyReplicas": self.ready,
                "availableReplicas": self.available,
            }),
        }
    }

    /// What the rollout still awaits; `None` when it is done or no controller reports.
    fn pending(&self) -> Option<String> {
        let observed = self.observed_generation?;
        let generation = self.generation.unwrap_or(0);
        if observed < generation {
            // The counts describe an older spec until the controller catches up.
            return Some(format!(
                "rollout in progress: the controller has not yet seen generation {generation} (it reports {observed})"
            ));
        }
        let settled = [self.updated, self.ready, self.available]
            .iter()
            .all(|n| *n == self.desired);
        (!settled).then(|| {
            format!(
                "rollout in progress: {} of {} replicas available ({} updated, {} ready)",
                self.available, self.desired, self.updated, self.ready
            )
        })
    }
}

/// `{"read": "kube-apiserver", "objects": […]}`.
fn evidence(objects: Vec<Value>) -> Value {
    json!({ "read": "kube-apiserver", "objects": objects })
}

/// One object read: `found` holds the compared fields, `null` when it is absent.
fn found(kind: &str, name: &str, resource_version: Option<&str>, found: Value) -> Value {
    json!({ "kind": kind, "name": name, "resourceVersion": resource_version, "found": found })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(generation: i64, status: Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "generation": generation},
            "spec": {"replicas": 5, "selector": {}, "template": {}},
            "status": status,
        }))
        .expect("deployment")
    }

    #[test]
    fn rollout_without_a_controller_is_spec_only() {
        let r = Rollout::of(&deployment(2, json!({})), 5);
        assert_eq!(r.pending(), None);
        assert_eq!(r.evidence(), json!(SPEC_ONLY));
    }

    #[test]
    fn rollout_waits_for_the_generation_and_every_count() {
        let r = Rollout::of(&deployment(3, json!({"observedGeneration": 2})), 5);
        assert_eq!(
            r.pending().as_deref(),
            Some(
                "rollout in progress: the controller has not yet seen generation 3 (it reports 2)"
            )
        );
        let status = json!({"observedGeneration": 3, "updatedReplicas": 5,
                            "readyReplicas": 5, "availableReplicas": 2});
        let r = Rollout::of(&deployment(3, status), 5);
        assert_eq!(
            r.pending().as_deref(),
            Some("rollout in progress: 2 of 5 replicas available (5 updated, 5 ready)")
        );
        // Scaling down: old replicas still running count as not settled.
        let status = json!({"observedGeneration": 3, "updatedReplicas": 5,
                            "readyReplicas": 5, "availableReplicas": 5});
        assert!(Rollout::of(&deployment(3, status), 3).pending().is_some());
        let status = json!({"observedGeneration": 3, "updatedReplicas": 5,
                            "readyReplicas": 5, "availableReplicas": 5});
        let r = Rollout::of(&deployment(3, status), 5);
        assert_eq!(r.pending(), None);
        assert_eq!(r.evidence()["availableReplicas"], json!(5));
        // Scaled to zero: the controller omits the zero counts.
        let r = Rollout::of(&deployment(4, json!({"observedGeneration": 4})), 0);
        assert_eq!(r.pending(), None);
    }
}
