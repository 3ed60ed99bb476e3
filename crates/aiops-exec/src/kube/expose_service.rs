//! `k8s.expose_service`: server-side applies (field manager from config, never forced) a
//! Gateway API [`HttpRoute`] attached to the configured Gateway and a cert-manager
//! [`Certificate`] from the configured ClusterIssuer. Both go through the same generic
//! steps over [`kube::Resource`]: plan = read the object and dry-run the apply; execute =
//! apply carrying the planned `resourceVersion` (an object that did not exist at planning
//! must still be absent).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use ::kube::Resource;
use ::kube::api::{Api, Patch, PatchParams};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::error::Op;
use super::plan::{change_plan, object_preconditions, planned_rv, to_json};
use super::resources::{
    Certificate, CertificateSpec, HttpBackendRef, HttpRoute, HttpRouteRule, HttpRouteSpec,
    IssuerRef, ParentReference,
};
use super::{KubeExecutor, KubeOutcome, KubePlan, diff, params};
use crate::ExecError;

/// Label put on the objects `k8s.expose_service` applies (value: the field manager).
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Longest object name this executor derives (an RFC 1123 label).
const MAX_NAME: usize = 63;

/// The parameters of `k8s.expose_service` and the names derived from them.
pub(super) struct Expose<'a> {
    pub(super) namespace: &'a str,
    service: &'a str,
    hostname: &'a str,
    port: i32,
    pub(super) route_name: String,
    pub(super) cert_name: String,
    secret_name: String,
}

impl<'a> Expose<'a> {
    pub(super) fn from_params(params: &'a Map<String, Value>) -> Result<Self, ExecError> {
        let namespace = params::namespace(params)?;
        let service = params::string(params, "service")?;
        let hostname = params::string(params, "hostname")?;
        let port = params::port(params)?;
        let (route_name, cert_name, secret_name) = expose_names(service, hostname);
        Ok(Expose {
            namespace,
            service,
            hostname,
            port,
            route_name,
            cert_name,
            secret_name,
        })
    }
}

/// A custom resource this action applies (and `k8s.unexpose_service` deletes).
pub(super) trait Applied:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + fmt::Debug
    + Serialize
    + DeserializeOwned
{
}

impl<K> Applied for K where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + fmt::Debug
        + Serialize
        + DeserializeOwned
{
}

/// One object to apply: its API, name, and how plans and messages name it.
pub(super) struct Target<'a, K> {
    pub(super) api: Api<K>,
    namespace: &'a str,
    pub(super) name: &'a str,
    plural: Cow<'static, str>,
    /// `httproute`, `certificate`: the key of its preconditions in the plan.
    pub(super) key: String,
    /// `httproute shop/web-app-example-com`, for errors.
    what: String,
}

impl<'a, K: Applied> Target<'a, K> {
    pub(super) fn new(executor: &KubeExecutor, namespace: &'a str, name: &'a str) -> Self {
        let key = K::kind(&()).to_ascii_lowercase();
        Target {
            api: executor.api(namespace),
            namespace,
            name,
            plural: K::plural(&()),
            what: format!("{key} {namespace}/{name}"),
            key,
        }
    }

    pub(super) fn op<'b>(&'b self, verb: &'b str) -> Op<'b> {
        Op::new(verb, &self.plural, &self.what)
    }

    /// `Kind namespace/name`, as diff lines and observations name it.
    pub(super) fn titled(&self) -> String {
        format!("{} {}/{}", K::kind(&()), self.namespace, self.name)
    }

    /// `namespace/name`.
    pub(super) fn qualified(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Its resourceVersion at planning (`None`: it did not exist).
    fn planned_rv<'p>(&self, plan: &'p KubePlan) -> Result<Option<&'p str>, ExecError> {
        planned_rv(plan, &self.key, self.name)
    }
}

impl KubeExecutor {
    pub(super) async fn plan_expose(
        &self,
        params: &Map<String, Value>,
    ) -> Result<KubePlan, ExecError> {
        let expose = Expose::from_params(params)?;
        let route = Target::<HttpRoute>::new(self, expose.namespace, &expose.route_name);
        let cert = Target::<Certificate>::new(self, expose.namespace, &expose.cert_name);
        let (mut lines, route_preconditions, route_existed) = self
            .plan_apply(&route, &self.desired_route(&expose, None))
            .await?;
        let (cert_lines, cert_preconditions, cert_existed) = self
            .plan_apply(&cert, &self.desired_certificate(&expose, None))
            .await?;
        lines.extend(cert_lines);
        let preconditions = json!({
            route.key.as_str(): route_preconditions,
            cert.key.as_str(): cert_preconditions,
        });
        // Undoing an expose deletes only what it created: an object that was already
        // there (perhaps with another port or issuer) cannot be put back by a delete.
        let before = json!({
            route.key.as_str(): route_existed,
            cert.key.as_str(): cert_existed,
        });
        Ok(change_plan(lines, preconditions, before))
    }

    pub(super) async fn execute_expose(
        &self,
        params: &Map<String, Value>,
        plan: &KubePlan,
    ) -> Result<KubeOutcome, ExecError> {
        let expose = Expose::from_params(params)?;
        let route = Target::<HttpRoute>::new(self, expose.namespace, &expose.route_name);
        let cert = Target::<Certificate>::new(self, expose.namespace, &expose.cert_name);
        let route_rv = route.planned_rv(plan)?;
        let cert_rv = cert.planned_rv(plan)?;
        // Both checks before either apply: a conflict on either changes nothing.
        self.absent_as_planned(&route, route_rv).await?;
        self.absent_as_planned(&cert, cert_rv).await?;
        let route_changed = self
            .apply(&route, &self.desired_route(&expose, route_rv), route_rv)
            .await?;
        let cert_changed = self
            .apply(&cert, &self.desired_certificate(&expose, cert_rv), cert_rv)
            .await?;
        Ok(KubeOutcome {
            changed: route_changed || cert_changed,
            result: json!({
                "httproute": format!("{}/{}", expose.namespace, expose.route_name),
                "certificate": format!("{}/{}", expose.namespace, expose.cert_name),
                "secretName": expose.secret_name,
                "hostname": expose.hostname,
                "service": expose.service,
                "port": expose.port,
                "gateway": format!("{}/{}", self.cfg.gateway_namespace, self.cfg.gateway_name),
                "clusterIssuer": self.cfg.cluster_issuer,
            }),
        })
    }

    /// Reads the object and dry-runs applying `desired`: the diff lines (prefixed with
    /// `Kind namespace/name: `), the preconditions execution holds the server to, and
    /// whether the object existed.
    async fn plan_apply<K: Applied>(
        &self,
        target: &Target<'_, K>,
        desired: &K,
    ) -> Result<(Vec<String>, Value, bool), ExecError> {
        let now = self.get_opt(target).await?;
        let dry = self.server_side_apply(target, desired, true).await?;
        let before = now.as_ref().map(to_json).transpose()?;
        let kind = K::kind(&());
        let lines = diff::object_diff(before.as_ref(), &to_json(&dry)?)
            .into_iter()
            .map(|line| format!("{kind} {}/{}: {line}", target.namespace, target.name))
            .collect();
        let preconditions = object_preconditions(target.name, now.as_ref().map(Resource::meta));
        Ok((lines, preconditions, now.is_some()))
    }

    /// An object that did not exist at planning must not exist now either (server-side
    /// apply has no "create only" precondition; the window left is this call's length).
    async fn absent_as_planned<K: Applied>(
        &self,
        target: &Target<'_, K>,
        planned_rv: Option<&str>,
    ) -> Result<(), ExecError> {
        if planned_rv.is_none() && self.get_opt(target).await?.is_some() {
            return Err(ExecError::Conflict(format!(
                "{} was created by someone else since it was planned; nothing was changed",
                target.what
            )));
        }
        Ok(())
    }

    /// Applies `desired` (which carries the planned resourceVersion); whether the object
    /// changed.
    async fn apply<K: Applied>(
        &self,
        target: &Target<'_, K>,
        desired: &K,
        planned_rv: Option<&str>,
    ) -> Result<bool, ExecError> {
        let applied = self.server_side_apply(target, desired, false).await?;
        Ok(applied.meta().resource_version.as_deref() != planned_rv)
    }

    /// The object, if it exists.
    pub(super) async fn get_opt<K: Applied>(
        &self,
        target: &Target<'_, K>,
    ) -> Result<Option<K>, ExecError> {
        self.call(target.op("get"), target.api.get_opt(target.name))
            .await
    }

    /// Server-side apply of `desired` (a dry run when `dry_run`): our field manager,
    /// never forced, so a field another manager owns is a conflict, not a takeover.
    async fn server_side_apply<K: Applied>(
        &self,
        target: &Target<'_, K>,
        desired: &K,
        dry_run: bool,
    ) -> Result<K, ExecError> {
        let params = PatchParams::apply(&self.cfg.field_manager);
        let params = if dry_run { params.dry_run() } else { params };
        self.call(
            target.op("patch"),
            target
                .api
                .patch(target.name, &params, &Patch::Apply(desired)),
        )
        .await
    }

    pub(super) fn desired_route(
        &self,
        expose: &Expose<'_>,
        resource_version: Option<&str>,
    ) -> HttpRoute {
        HttpRoute {
            metadata: self.desired_meta(expose.namespace, &expose.route_name, resource_version),
            spec: HttpRouteSpec {
                parent_refs: vec![ParentReference {
                    group: Some("gateway.networking.k8s.io".to_string()),
                    kind: Some("Gateway".to_string()),
                    namespace: Some(self.cfg.gateway_namespace.clone()),
                    name: self.cfg.gateway_name.clone(),
                }],
                hostnames: vec![expose.hostname.to_string()],
                rules: vec![HttpRouteRule {
                    backend_refs: vec![HttpBackendRef {
                        name: expose.service.to_string(),
                        port: Some(expose.port),
                    }],
                }],
            },
            status: None,
        }
    }

    pub(super) fn desired_certificate(
        &self,
        expose: &Expose<'_>,
        resource_version: Option<&str>,
    ) -> Certificate {
        Certificate {
            metadata: self.desired_meta(expose.namespace, &expose.cert_name, resource_version),
            spec: CertificateSpec {
                secret_name: expose.secret_name.clone(),
                dns_names: vec![expose.hostname.to_string()],
                issuer_ref: IssuerRef {
                    name: self.cfg.cluster_issuer.clone(),
                    kind: Some("ClusterIssuer".to_string()),
                    group: Some("cert-manager.io".to_string()),
                },
            },
            status: None,
        }
    }

    fn desired_meta(
        &self,
        namespace: &str,
        name: &str,
        resource_version: Option<&str>,
    ) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(BTreeMap::from([(
                MANAGED_BY_LABEL.to_string(),
                self.cfg.field_manager.clone(),
            )])),
            resource_version: resource_version.map(str::to_string),
            ..ObjectMeta::default()
        }
    }
}

/// `app.example.com` → `app-example-com`; `*.example.com` → `wildcard-example-com`.
pub fn host_label(hostname: &str) -> String {
    let replaced = hostname.to_ascii_lowercase().replace('*', "wildcard");
    let mapped: String = replaced
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    mapped.trim_matches('-').to_string()
}

/// A name within 63 characters: longer ones are cut and given a stable hash suffix.
fn bounded_name(name: &str) -> String {
    if name.len() <= MAX_NAME {
        return name.to_string();
    }
    // FNV-1a, 32 bits: stable across builds and platforms.
    let hash = name.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    let head: String = name.chars().take(MAX_NAME - 9).collect();
    format!("{}-{hash:08x}", head.trim_end_matches('-'))
}

/// The derived names of `k8s.expose_service`: (HTTPRoute, Certificate, Secret).
pub fn expose_names(service: &str, hostname: &str) -> (String, String, String) {
    let host = host_label(hostname);
    (
        bounded_name(&format!("{service}-{host}")),
        bounded_name(&host),
        bounded_name(&format!("{host}-tls")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_names() {
        assert_eq!(
            expose_names("web", "App.Example.com"),
            (
                "web-app-example-com".to_string(),
                "app-example-com".to_string(),
                "app-example-com-tls".to_string()
            )
        );
        assert_eq!(host_label("*.example.com"), "wildcard-example-com");
        let long = "a".repeat(40);
        let (route, _, _) = expose_names(&long, &format!("{long}.example.com"));
        assert!(route.len() <= 63, "{route}");
        assert_eq!(route, expose_names(&long, &format!("{long}.example.com")).0);
        assert!(
            route
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
    }
}
