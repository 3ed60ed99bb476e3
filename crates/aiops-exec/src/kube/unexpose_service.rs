//! `k8s.unexpose_service`: undoes `k8s.expose_service` by deleting the cert-manager
//! [`Certificate`] and then the Gateway API [`HttpRoute`] it applied for a service and host
//! name (the names come from [`expose_names`]). Only objects that carry this appliance's
//! [`MANAGED_BY_LABEL`] are touched: one that is someone else's is a conflict at planning.
//!
//! Plan = read both objects and dry-run deleting each that exists (RBAC and admission are
//! checked, nothing is deleted). Execute = check both objects are still the planned ones,
//! then delete each held to its planned `uid` and `resourceVersion`. The Certificate goes
//! first, the reverse of the order expose creates them: a rollback stopped halfway leaves a
//! state that expose itself passes through (a route without its certificate), which either
//! action run again completes.

use ::kube::Resource;
use ::kube::api::DeleteParams;
use serde_json::{Map, Value, json};

use super::expose_service::{Applied, Target};
use super::plan::{change_plan, delete_preconditions, object_preconditions, planned_entry};
use super::resources::{Certificate, HttpRoute};
use super::{KubeExecutor, KubeOutcome, KubePlan, MANAGED_BY_LABEL, expose_names, params};
use crate::ExecError;

/// The parameters of `k8s.unexpose_service` and the names derived from them.
pub(super) struct Unexpose<'a> {
    pub(super) namespace: &'a str,
    pub(super) route_name: String,
    pub(super) cert_name: String,
}

impl<'a> Unexpose<'a> {
    pub(super) fn from_params(params: &'a Map<String, Value>) -> Result<Self, ExecError> {
        let namespace = params::namespace(params)?;
        let service = params::string(params, "service")?;
        let hostname = params::string(params, "hostname")?;
        let (route_name, cert_name, _secret) = expose_names(service, hostname);
        Ok(Unexpose {
            namespace,
            route_name,
            cert_name,
        })
    }
}

impl KubeExecutor {
    pub(super) async fn plan_unexpose(
        &self,
        params: &Map<String, Value>,
    ) -> Result<KubePlan, ExecError> {
        let unexpose = Unexpose::from_params(params)?;
        let route = Target::<HttpRoute>::new(self, unexpose.namespace, &unexpose.route_name);
        let cert = Target::<Certificate>::new(self, unexpose.namespace, &unexpose.cert_name);
        let route_now = self.get_opt(&route).await?;
        let cert_now = self.get_opt(&cert).await?;
        // Both ownership checks before any dry run, so the refusal names the first object
        // that is not ours whatever RBAC says about deleting the other.
        self.ours(&route, route_now.as_ref())?;
        self.ours(&cert, cert_now.as_ref())?;

        // Deletion order: the certificate first (see the module comment).
        let mut lines = Vec::new();
        if let Some(now) = &cert_now {
            lines.push(self.plan_delete(&cert, now).await?);
        }
        if let Some(now) = &route_now {
            lines.push(self.plan_delete(&route, now).await?);
        }
        let preconditions = json!({
            route.key.as_str(): object_preconditions(route.name, route_now.as_ref().map(Resource::meta)),
            cert.key.as_str(): object_preconditions(cert.name, cert_now.as_ref().map(Resource::meta)),
        });
        // The port is the one parameter of expose that the names do not carry: its inverse
        // (exposing again) needs it from the route being deleted.
        let port = route_now.as_ref().and_then(|r| {
            r.spec
                .rules
                .iter()
                .flat_map(|rule| &rule.backend_refs)
                .next()
                .and_then(|b| b.port)
        });
        Ok(change_plan(lines, preconditions, json!({ "port": port })))
    }

    pub(super) async fn execute_unexpose(
        &self,
        params: &Map<String, Value>,
        plan: &KubePlan,
    ) -> Result<KubeOutcome, ExecError> {
        let unexpose = Unexpose::from_params(params)?;
        let route = Target::<HttpRoute>::new(self, unexpose.namespace, &unexpose.route_name);
        let cert = Target::<Certificate>::new(self, unexpose.namespace, &unexpose.cert_name);
        let route_planned = planned_entry(plan, &route.key, route.name)?;
        let cert_planned = planned_entry(plan, &cert.key, cert.name)?;
        // Both checks before either delete: a conflict on the route must not leave the
        // certificate deleted and the route serving a host without one.
        self.unchanged_since_planning(&route, route_planned).await?;
        self.unchanged_since_planning(&cert, cert_planned).await?;

        let mut deleted = Vec::new();
        for (what, done) in [
            (
                format!("certificate {}", cert.qualified()),
                self.delete_as_planned(&cert, cert_planned).await?,
            ),
            (
                format!("httproute {}", route.qualified()),
                self.delete_as_planned(&route, route_planned).await?,
            ),
        ] {
            if done {
                deleted.push(what);
            }
        }
        Ok(KubeOutcome {
            changed: !deleted.is_empty(),
            result: json!({
                "httproute": route.qualified(),
                "certificate": cert.qualified(),
                "deleted": deleted,
            }),
        })
    }

    /// An existing object must carry our managed-by label: deleting someone else's route
    /// or certificate is never a rollback of ours.
    fn ours<K: Applied>(&self, target: &Target<'_, K>, now: Option<&K>) -> Result<(), ExecError> {
        let Some(now) = now else { return Ok(()) };
        let managed = now
            .meta()
            .labels
            .as_ref()
            .and_then(|l| l.get(MANAGED_BY_LABEL))
            .is_some_and(|v| *v == self.cfg.field_manager);
        if managed {
            Ok(())
        } else {
            Err(ExecError::Conflict(format!(
                "{} is not managed by this appliance (no label {MANAGED_BY_LABEL}={}); nothing was changed",
                target.titled(),
                self.cfg.field_manager
            )))
        }
    }

    /// A server-side dry-run delete of `now` (RBAC and admission checked, nothing deleted);
    /// its diff line.
    async fn plan_delete<K: Applied>(
        &self,
        target: &Target<'_, K>,
        now: &K,
    ) -> Result<String, ExecError> {
        let preconditions = object_preconditions(target.name, Some(now.meta()));
        let dry = DeleteParams {
            dry_run: true,
            preconditions: Some(delete_preconditions(&preconditions)),
            ..DeleteParams::default()
        };
        self.call(target.op("delete"), target.api.delete(target.name, &dry))
            .await?;
        Ok(format!("{}: deleted", target.titled()))
    }

    /// An object present at planning must still be that object, unchanged (same uid and
    /// resourceVersion); one absent at planning is not looked at (it is skipped).
    async fn unchanged_since_planning<K: Applied>(
        &self,
        target: &Target<'_, K>,
        planned: &Value,
    ) -> Result<(), ExecError> {
        let planned_rv = planned.get("resourceVersion").and_then(Value::as_str);
        let planned_uid = planned.get("uid").and_then(Value::as_str);
        if planned_rv.is_none() {
            return Ok(());
        }
        let why = match self.get_opt(target).await? {
            None => "was deleted by someone else",
            Some(now) if now.meta().uid.as_deref() != planned_uid => {
                "was re-created by someone else"
            }
            Some(now) if now.meta().resource_version.as_deref() != planned_rv => "changed",
            Some(_) => return Ok(()),
        };
        Err(ExecError::Conflict(format!(
            "{} {why} since it was planned; nothing was changed",
            target.titled()
        )))
    }

    /// Deletes the object held to its planned uid and resourceVersion (a change since is a
    /// 409: a conflict); whether there was anything to delete.
    async fn delete_as_planned<K: Applied>(
        &self,
        target: &Target<'_, K>,
        planned: &Value,
    ) -> Result<bool, ExecError> {
        if planned
            .get("resourceVersion")
            .and_then(Value::as_str)
            .is_none()
        {
            return Ok(false);
        }
        let delete = DeleteParams {
            preconditions: Some(delete_preconditions(planned)),
            ..DeleteParams::default()
        };
        self.call(target.op("delete"), target.api.delete(target.name, &delete))
            .await?;
        Ok(true)
    }
}
