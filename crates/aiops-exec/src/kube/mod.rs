//! The Kubernetes executor: the `k8s.*` actions of the catalog through the API server with
//! the `kube` client (rustls, no kubectl, no shell).
//!
//! - **Plan** sends the same request as execution with server-side dry run
//!   (`dryRun=All`: admission and validation run, nothing is stored) and turns the
//!   difference between the object now and the object the server would store into a
//!   readable, deterministic diff (module `diff`): only the fields that would change,
//!   never a resourceVersion or timestamp. It also records **preconditions** (the
//!   object's `resourceVersion` and `uid`) that execution holds the server to.
//! - **Execute** sends the real request with those preconditions: a merge patch carrying
//!   `metadata.resourceVersion` (the API server's optimistic lock), a delete with
//!   `Preconditions { uid, resourceVersion }`, a server-side apply carrying the planned
//!   `resourceVersion`. If the object changed since planning the server answers 409 and
//!   this returns [`ExecError::Conflict`], the object untouched.
//! - `k8s.expose_service` server-side applies (field manager from config, never forced) a
//!   Gateway API [`HttpRoute`] attached to the configured Gateway and a cert-manager
//!   [`Certificate`] from the configured ClusterIssuer, both typed. Applying what is
//!   already there changes nothing (`changes == false`, `changed == false`).
//!
//! Errors: unreachable server or timeout → [`ExecError::Unavailable`]; RBAC 403 →
//! [`ExecError::Forbidden`] naming the verb and resource; 404 → [`ExecError::NotFound`];
//! 409 → [`ExecError::Conflict`]. No message holds a credential.

mod diff;
mod error;
mod pods;
mod resources;

pub use resources::{
    Certificate, CertificateSpec, HttpBackendRef, HttpRoute, HttpRouteRule, HttpRouteSpec,
    IssuerRef, ParentReference,
};

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use ::kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, Preconditions};
use ::kube::config::{KubeConfigOptions, Kubeconfig};
use ::kube::{Client, Config};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::ExecError;
use error::{Op, map_kube_error};

/// The annotation `kubectl rollout restart` sets on the pod template.
pub const RESTARTED_AT_ANNOTATION: &str = "kubectl.kubernetes.io/restartedAt";
/// Stands for the restart time in a plan's diff, so the diff (and the plan hash) does not
/// depend on the clock.
pub const EXECUTION_TIME: &str = "<time of execution>";
/// Label put on the objects `k8s.expose_service` applies (value: the field manager).
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// The diff of a plan that changes nothing.
pub const NO_CHANGES: &str = "no changes";
/// The diff of a read-only action.
pub const READ_ONLY: &str = "read-only";

/// Upper bound of the TCP/TLS connect phase (the whole call is bounded by `timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest object name this executor derives (an RFC 1123 label).
const MAX_NAME: usize = 63;

/// How to reach the cluster, and where `k8s.expose_service` attaches routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeConfig {
    /// A kubeconfig file (development); `None`: the in-cluster service account.
    pub kubeconfig: Option<PathBuf>,
    /// Context of the kubeconfig to use (default: its current context).
    pub context: Option<String>,
    /// The appliance's Gateway that HTTPRoutes attach to.
    pub gateway_name: String,
    /// Namespace of that Gateway.
    pub gateway_namespace: String,
    /// cert-manager ClusterIssuer that signs the Certificates.
    pub cluster_issuer: String,
    /// Field manager of patches and server-side applies (`aiopsd`).
    pub field_manager: String,
    /// Limit of each call to the API server.
    pub timeout: Duration,
}

/// The result of planning one action.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KubePlan {
    /// Readable and deterministic: one `path: old -> new` line per field that would
    /// change (no resourceVersion, no timestamps); [`NO_CHANGES`] or [`READ_ONLY`].
    pub diff: String,
    /// Whether executing would change anything.
    pub changes: bool,
    /// What execution holds the server to (`resourceVersion`, `uid`, …); not part of the
    /// diff.
    pub preconditions: Value,
}

/// The result of executing one action.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KubeOutcome {
    /// Whether the cluster changed.
    pub changed: bool,
    /// Structured result, e.g. `{"deployment":"shop/web","replicas":5}`.
    pub result: Value,
}

/// The Kubernetes executor.
#[derive(Clone)]
pub struct KubeExecutor {
    client: Client,
    cfg: KubeConfig,
}

impl fmt::Debug for KubeExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubeExecutor")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl KubeExecutor {
    /// Builds the client from the kubeconfig (or the in-cluster service account). Does not
    /// contact the server: an API server that is down shows at the first call.
    pub async fn connect(cfg: KubeConfig) -> Result<Self, ExecError> {
        // One process-wide TLS provider (ring) even if another crate of the build also
        // enables aws-lc-rs; an error only means one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut config = match &cfg.kubeconfig {
            Some(path) => {
                let kubeconfig = Kubeconfig::read_from(path).map_err(|e| {
                    ExecError::Config(format!("cannot read kubeconfig {}: {e}", path.display()))
                })?;
                let options = KubeConfigOptions {
                    context: cfg.context.clone(),
                    cluster: None,
                    user: None,
                };
                Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(|e| {
                        ExecError::Config(format!("invalid kubeconfig {}: {e}", path.display()))
                    })?
            }
            None => Config::incluster()
                .map_err(|e| ExecError::Config(format!("no in-cluster service account: {e}")))?,
        };
        config.connect_timeout = Some(cfg.timeout.min(CONNECT_TIMEOUT));
        config.read_timeout = Some(cfg.timeout);
        config.reset_reader_on_write = true;
        config.write_timeout = Some(cfg.timeout);
        let client = Client::try_from(config)
            .map_err(|e| ExecError::Config(format!("cannot build the Kubernetes client: {e}")))?;
        Ok(KubeExecutor { client, cfg })
    }

    /// The configuration this executor was built with.
    pub fn config(&self) -> &KubeConfig {
        &self.cfg
    }

    /// The API server's version (`GET /version`), e.g. `v1.20.2`: the readiness probe.
    pub async fn version(&self) -> Result<String, ExecError> {
        let op = Op {
            verb: "get",
            resource: "version",
            what: "the API server version",
        };
        let info = self.call(op, self.client.apiserver_version()).await?;
        Ok(info.git_version)
    }

    /// Plans `action` with server-side dry run; changes nothing.
    #[tracing::instrument(skip_all, fields(action = %action))]
    pub async fn plan(
        &self,
        action: &str,
        params: &Map<String, Value>,
    ) -> Result<KubePlan, ExecError> {
        match action {
            "k8s.scale_deployment" => self.plan_scale(params).await,
            "k8s.restart_deployment" => self.plan_restart(params).await,
            "k8s.list_pods" => self.plan_list_pods(params).await,
            "k8s.delete_pod" => self.plan_delete_pod(params).await,
            "k8s.expose_service" => self.plan_expose(params).await,
            other => Err(ExecError::UnknownAction(other.to_string())),
        }
    }

    /// Executes `action` as planned, holding the server to the plan's preconditions.
    #[tracing::instrument(skip_all, fields(action = %action))]
    pub async fn execute(
        &self,
        action: &str,
        params: &Map<String, Value>,
        plan: &KubePlan,
    ) -> Result<KubeOutcome, ExecError> {
        match action {
            "k8s.scale_deployment" => self.execute_scale(params, plan).await,
            "k8s.restart_deployment" => self.execute_restart(params, plan).await,
            "k8s.list_pods" => self.execute_list_pods(params).await,
            "k8s.delete_pod" => self.execute_delete_pod(params, plan).await,
            "k8s.expose_service" => self.execute_expose(params, plan).await,
            other => Err(ExecError::UnknownAction(other.to_string())),
        }
    }

    // --- k8s.scale_deployment ----------------------------------------------------------

    async fn plan_scale(&self, params: &Map<String, Value>) -> Result<KubePlan, ExecError> {
        let target = Named::from_params(params, "name", "deployment")?;
        let replicas = replicas_param(params)?;
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), target.namespace);
        let current = self
            .call(target.op("get", "deployments"), api.get(target.name))
            .await?;
        let patch = json!({ "spec": { "replicas": replicas } });
        let dry = self
            .call(
                target.op("patch", "deployments"),
                api.patch(target.name, &self.patch_params(true), &Patch::Merge(&patch)),
            )
            .await?;
        let lines = diff::object_diff(Some(&to_json(&current)?), &to_json(&dry)?);
        Ok(change_plan(lines, preconditions_of(&current.metadata)))
    }

    async fn execute_scale(
        &self,
        params: &Map<String, Value>,
        plan: &KubePlan,
    ) -> Result<KubeOutcome, ExecError> {
        let target = Named::from_params(params, "name", "deployment")?;
        let replicas = replicas_param(params)?;
        let rv = precondition(plan, "resourceVersion")?;
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), target.namespace);
        let patch = json!({
            "metadata": { "resourceVersion": rv },
            "spec": { "replicas": replicas },
        });
        let after = self
            .call(
                target.op("patch", "deployments"),
                api.patch(
                    target.name,
                    &self.patch_params(false),
                    &Patch::Merge(&patch),
                ),
            )
            .await?;
        Ok(KubeOutcome {
            changed: after.metadata.resource_version.as_deref() != Some(rv),
            result: json!({
                "deployment": target.qualified(),
                "replicas": after.spec.as_ref().and_then(|s| s.replicas),
            }),
        })
    }

    // --- k8s.restart_deployment --------------------------------------------------------

    async fn plan_restart(&self, params: &Map<String, Value>) -> Result<KubePlan, ExecError> {
        let target = Named::from_params(params, "name", "deployment")?;
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), target.namespace);
        let current = self
            .call(target.op("get", "deployments"), api.get(target.name))
            .await?;
        let patch = restart_patch(&restart_time(), None);
        let dry = self
            .call(
                target.op("patch", "deployments"),
                api.patch(target.name, &self.patch_params(true), &Patch::Merge(&patch)),
            )
            .await?;
        let mut after = to_json(&dry)?;
        // The real restart time is only known at execution: keep the clock out of the diff.
        let pointer = format!(
            "/spec/template/metadata/annotations/{}",
            RESTARTED_AT_ANNOTATION
                .replace('~', "~0")
                .replace('/', "~1")
        );
        if let Some(value) = after.pointer_mut(&pointer) {
            *value = Value::String(EXECUTION_TIME.to_string());
        }
        let lines = diff::object_diff(Some(&to_json(&current)?), &after);
        Ok(change_plan(lines, preconditions_of(&current.metadata)))
    }

    async fn execute_restart(
        &self,
        params: &Map<String, Value>,
        plan: &KubePlan,
    ) -> Result<KubeOutcome, ExecError> {
        let target = Named::from_params(params, "name", "deployment")?;
        let rv = precondition(plan, "resourceVersion")?;
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), target.namespace);
        let at = restart_time();
        let patch = restart_patch(&at, Some(rv));
        let after = self
            .call(
                target.op("patch", "deployments"),
                api.patch(
                    target.name,
                    &self.patch_params(false),
                    &Patch::Merge(&patch),
                ),
            )
            .await?;
        Ok(KubeOutcome {
            changed: after.metadata.resource_version.as_deref() != Some(rv),
            result: json!({ "deployment": target.qualified(), "restartedAt": at }),
        })
    }

    // --- k8s.list_pods -----------------------------------------------------------------

    async fn plan_list_pods(&self, params: &Map<String, Value>) -> Result<KubePlan, ExecError> {
        // Read-only; one cheap list checks that the server answers and RBAC allows it.
        let namespace = namespace_param(params)?;
        let what = format!("pods in namespace {namespace}");
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        self.call(
            Op {
                verb: "list",
                resource: "pods",
                what: &what,
            },
            api.list(&ListParams::default().limit(1)),
        )
        .await?;
        Ok(KubePlan {
            diff: READ_ONLY.to_string(),
            changes: false,
            preconditions: json!({}),
        })
    }

    async fn execute_list_pods(
        &self,
        params: &Map<String, Value>,
    ) -> Result<KubeOutcome, ExecError> {
        let namespace = namespace_param(params)?;
        let what = format!("pods in namespace {namespace}");
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let op = Op {
            verb: "list",
            resource: "pods",
            what: &what,
        };
        let mut pods = Vec::new();
        let mut list_params = ListParams::default().limit(500);
        loop {
            let page = self.call(op, api.list(&list_params)).await?;
            let next = page.metadata.continue_.clone().filter(|c| !c.is_empty());
            pods.extend(page.items);
            match next {
                Some(token) => list_params = list_params.continue_token(&token),
                None => break,
            }
        }
        pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        let now = Timestamp::now();
        let entries: Vec<Value> = pods.iter().map(|p| pods::pod_summary(p, now)).collect();
        Ok(KubeOutcome {
            changed: false,
            result: json!({ "namespace": namespace, "count": entries.len(), "pods": entries }),
        })
    }

    // --- k8s.delete_pod ----------------------------------------------------------------

    async fn plan_delete_pod(&self, params: &Map<String, Value>) -> Result<KubePlan, ExecError> {
        let target = Named::from_params(params, "name", "pod")?;
        let api: Api<Pod> = Api::namespaced(self.client.clone(), target.namespace);
        let current = self
            .call(target.op("get", "pods"), api.get(target.name))
            .await?;
        let preconditions = preconditions_of(&current.metadata);
        let dry = DeleteParams {
            dry_run: true,
            preconditions: Some(delete_preconditions(&preconditions)),
            ..DeleteParams::default()
        };
        self.call(target.op("delete", "pods"), api.delete(target.name, &dry))
            .await?;
        let uid = current.metadata.uid.as_deref().unwrap_or(diff::NONE);
        Ok(KubePlan {
            diff: format!("pod {}: present (uid {uid}) -> deleted", target.qualified()),
            changes: true,
            preconditions,
        })
    }

    async fn execute_delete_pod(
        &self,
        params: &Map<String, Value>,
        plan: &KubePlan,
    ) -> Result<KubeOutcome, ExecError> {
        let target = Named::from_params(params, "name", "pod")?;
        precondition(plan, "uid")?;
        precondition(plan, "resourceVersion")?;
        let api: Api<Pod> = Api::namespaced(self.client.clone(), target.namespace);
        let delete = DeleteParams {
            preconditions: Some(delete_preconditions(&plan.preconditions)),
            ..DeleteParams::default()
        };
        self.call(
            target.op("delete", "pods"),
            api.delete(target.name, &delete),
        )
        .await?;
        Ok(KubeOutcome {
            changed: true,
            result: json!({
                "pod": target.qualified(),
                "deleted": true,
                "uid": plan.preconditions.get("uid"),
            }),
        })
    }

    // --- k8s.expose_service ------------------------------------------------------------

    async fn plan_expose(&self, params: &Map<String, Value>) -> Result<KubePlan, ExecError> {
        let expose = Expose::from_params(params)?;
        let routes: Api<HttpRoute> = Api::namespaced(self.client.clone(), expose.namespace);
        let certs: Api<Certificate> = Api::namespaced(self.client.clone(), expose.namespace);

        let route_what = format!("httproute {}/{}", expose.namespace, expose.route_name);
        let route_now = self
            .call(
                op("get", HttpRoute::PLURAL, &route_what),
                routes.get_opt(&expose.route_name),
            )
            .await?;
        let route_dry = self
            .call(
                op("patch", HttpRoute::PLURAL, &route_what),
                routes.patch(
                    &expose.route_name,
                    &self.apply_params(true),
                    &Patch::Apply(&self.desired_route(&expose, None)),
                ),
            )
            .await?;

        let cert_what = format!("certificate {}/{}", expose.namespace, expose.cert_name);
        let cert_now = self
            .call(
                op("get", Certificate::PLURAL, &cert_what),
                certs.get_opt(&expose.cert_name),
            )
            .await?;
        let cert_dry = self
            .call(
                op("patch", Certificate::PLURAL, &cert_what),
                certs.patch(
                    &expose.cert_name,
                    &self.apply_params(true),
                    &Patch::Apply(&self.desired_certificate(&expose, None)),
                ),
            )
            .await?;

        let mut lines = Vec::new();
        let route_before = route_now.as_ref().map(to_json).transpose()?;
        for line in diff::object_diff(route_before.as_ref(), &to_json(&route_dry)?) {
            lines.push(format!(
                "HTTPRoute {}/{}: {line}",
                expose.namespace, expose.route_name
            ));
        }
        let cert_before = cert_now.as_ref().map(to_json).transpose()?;
        for line in diff::object_diff(cert_before.as_ref(), &to_json(&cert_dry)?) {
            lines.push(format!(
                "Certificate {}/{}: {line}",
                expose.namespace, expose.cert_name
            ));
        }
        let preconditions = json!({
            "httproute": object_preconditions(&expose.route_name, route_now.as_ref().map(|r| &r.metadata)),
            "certificate": object_preconditions(&expose.cert_name, cert_now.as_ref().map(|c| &c.metadata)),
        });
        Ok(change_plan(lines, preconditions))
    }

    async fn execute_expose(
        &self,
        params: &Map<String, Value>,
        plan: &KubePlan,
    ) -> Result<KubeOutcome, ExecError> {
        let expose = Expose::from_params(params)?;
        let route_rv = planned_rv(plan, "httproute", &expose.route_name)?;
        let cert_rv = planned_rv(plan, "certificate", &expose.cert_name)?;

        let routes: Api<HttpRoute> = Api::namespaced(self.client.clone(), expose.namespace);
        let route_what = format!("httproute {}/{}", expose.namespace, expose.route_name);
        self.absent_as_planned(
            &routes,
            &expose.route_name,
            route_rv,
            op("get", HttpRoute::PLURAL, &route_what),
        )
        .await?;
        let certs: Api<Certificate> = Api::namespaced(self.client.clone(), expose.namespace);
        let cert_what = format!("certificate {}/{}", expose.namespace, expose.cert_name);
        self.absent_as_planned(
            &certs,
            &expose.cert_name,
            cert_rv,
            op("get", Certificate::PLURAL, &cert_what),
        )
        .await?;

        let route = self
            .call(
                op("patch", HttpRoute::PLURAL, &route_what),
                routes.patch(
                    &expose.route_name,
                    &self.apply_params(false),
                    &Patch::Apply(&self.desired_route(&expose, route_rv)),
                ),
            )
            .await?;
        let cert = self
            .call(
                op("patch", Certificate::PLURAL, &cert_what),
                certs.patch(
                    &expose.cert_name,
                    &self.apply_params(false),
                    &Patch::Apply(&self.desired_certificate(&expose, cert_rv)),
                ),
            )
            .await?;
        let route_changed = route.metadata.resource_version.as_deref() != route_rv;
        let cert_changed = cert.metadata.resource_version.as_deref() != cert_rv;
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

    /// An object that did not exist at planning must not exist now either (server-side
    /// apply has no "create only" precondition; the window left is this call's length).
    async fn absent_as_planned<K>(
        &self,
        api: &Api<K>,
        name: &str,
        planned_rv: Option<&str>,
        op: Op<'_>,
    ) -> Result<(), ExecError>
    where
        K: Clone + fmt::Debug + serde::de::DeserializeOwned,
    {
        if planned_rv.is_some() {
            return Ok(());
        }
        if self.call(op, api.get_opt(name)).await?.is_some() {
            return Err(ExecError::Conflict(format!(
                "{} was created by someone else since it was planned; nothing was changed",
                op.what
            )));
        }
        Ok(())
    }

    fn desired_route(&self, expose: &Expose<'_>, resource_version: Option<&str>) -> HttpRoute {
        HttpRoute::new(
            self.desired_meta(expose.namespace, &expose.route_name, resource_version),
            HttpRouteSpec {
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
        )
    }

    fn desired_certificate(
        &self,
        expose: &Expose<'_>,
        resource_version: Option<&str>,
    ) -> Certificate {
        Certificate::new(
            self.desired_meta(expose.namespace, &expose.cert_name, resource_version),
            CertificateSpec {
                secret_name: expose.secret_name.clone(),
                dns_names: vec![expose.hostname.to_string()],
                issuer_ref: IssuerRef {
                    name: self.cfg.cluster_issuer.clone(),
                    kind: Some("ClusterIssuer".to_string()),
                    group: Some("cert-manager.io".to_string()),
                },
            },
        )
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

    // --- plumbing ----------------------------------------------------------------------

    /// Merge-patch parameters (field manager from config).
    fn patch_params(&self, dry_run: bool) -> PatchParams {
        PatchParams {
            dry_run,
            field_manager: Some(self.cfg.field_manager.clone()),
            ..PatchParams::default()
        }
    }

    /// Server-side apply parameters: our field manager, never forced.
    fn apply_params(&self, dry_run: bool) -> PatchParams {
        let params = PatchParams::apply(&self.cfg.field_manager);
        if dry_run { params.dry_run() } else { params }
    }

    /// Runs one API call within the configured timeout, mapping its errors.
    async fn call<T>(
        &self,
        op: Op<'_>,
        fut: impl Future<Output = Result<T, ::kube::Error>>,
    ) -> Result<T, ExecError> {
        match tokio::time::timeout(self.cfg.timeout, fut).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => {
                let err = map_kube_error(err, op);
                tracing::debug!(verb = op.verb, what = op.what, error = %err, "kubernetes call failed");
                Err(err)
            }
            Err(_) => Err(ExecError::Unavailable(format!(
                "the Kubernetes API did not answer `{} {}` within {}s",
                op.verb,
                op.what,
                self.cfg.timeout.as_secs_f64()
            ))),
        }
    }
}

fn op<'a>(verb: &'a str, resource: &'a str, what: &'a str) -> Op<'a> {
    Op {
        verb,
        resource,
        what,
    }
}

/// A namespaced object named by the parameters.
struct Named<'a> {
    namespace: &'a str,
    name: &'a str,
    what: String,
}

impl<'a> Named<'a> {
    fn from_params(
        params: &'a Map<String, Value>,
        key: &str,
        kind: &str,
    ) -> Result<Self, ExecError> {
        let namespace = namespace_param(params)?;
        let name = str_param(params, key)?;
        Ok(Named {
            namespace,
            name,
            what: format!("{kind} {namespace}/{name}"),
        })
    }

    fn op<'b>(&'b self, verb: &'b str, resource: &'b str) -> Op<'b> {
        op(verb, resource, &self.what)
    }

    fn qualified(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// The parameters of `k8s.expose_service` and the names derived from them.
struct Expose<'a> {
    namespace: &'a str,
    service: &'a str,
    hostname: &'a str,
    port: i32,
    route_name: String,
    cert_name: String,
    secret_name: String,
}

impl<'a> Expose<'a> {
    fn from_params(params: &'a Map<String, Value>) -> Result<Self, ExecError> {
        let namespace = namespace_param(params)?;
        let service = str_param(params, "service")?;
        let hostname = str_param(params, "hostname")?;
        let port = match params.get("port") {
            None | Some(Value::Null) => 80,
            Some(v) => v
                .as_i64()
                .and_then(|p| i32::try_from(p).ok())
                .filter(|p| (1..=65535).contains(p))
                .ok_or_else(|| {
                    ExecError::InvalidParams(format!("port must be an integer 1..=65535, got {v}"))
                })?,
        };
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

fn namespace_param(params: &Map<String, Value>) -> Result<&str, ExecError> {
    match params.get("namespace") {
        None | Some(Value::Null) => Ok("default"),
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(other) => Err(ExecError::InvalidParams(format!(
            "namespace must be a non-empty string, got {other}"
        ))),
    }
}

fn str_param<'a>(params: &'a Map<String, Value>, key: &str) -> Result<&'a str, ExecError> {
    params
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ExecError::InvalidParams(format!("missing string parameter `{key}`")))
}

fn replicas_param(params: &Map<String, Value>) -> Result<i32, ExecError> {
    params
        .get("replicas")
        .and_then(Value::as_i64)
        .and_then(|r| i32::try_from(r).ok())
        .filter(|r| *r >= 0)
        .ok_or_else(|| {
            ExecError::InvalidParams("`replicas` must be a non-negative integer".to_string())
        })
}

/// `{"resourceVersion": …, "uid": …}` of an object.
fn preconditions_of(meta: &ObjectMeta) -> Value {
    json!({ "resourceVersion": meta.resource_version, "uid": meta.uid })
}

/// `{"name": …, "resourceVersion": … or null, "uid": … or null}` of an object that may
/// not exist yet.
fn object_preconditions(name: &str, meta: Option<&ObjectMeta>) -> Value {
    json!({
        "name": name,
        "resourceVersion": meta.and_then(|m| m.resource_version.clone()),
        "uid": meta.and_then(|m| m.uid.clone()),
    })
}

fn precondition<'a>(plan: &'a KubePlan, key: &str) -> Result<&'a str, ExecError> {
    plan.preconditions
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ExecError::InvalidParams(format!(
                "the plan has no `{key}` precondition: plan the action again"
            ))
        })
}

/// The planned resourceVersion of one applied object (`None`: it did not exist).
fn planned_rv<'a>(plan: &'a KubePlan, key: &str, name: &str) -> Result<Option<&'a str>, ExecError> {
    let entry = plan
        .preconditions
        .get(key)
        .filter(|e| e.get("name").and_then(Value::as_str) == Some(name))
        .ok_or_else(|| {
            ExecError::InvalidParams(format!(
                "the plan has no precondition for {key} {name}: plan the action again"
            ))
        })?;
    Ok(entry.get("resourceVersion").and_then(Value::as_str))
}

fn delete_preconditions(preconditions: &Value) -> Preconditions {
    Preconditions {
        resource_version: preconditions
            .get("resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string),
        uid: preconditions
            .get("uid")
            .and_then(Value::as_str)
            .map(str::to_string),
    }
}

fn change_plan(lines: Vec<String>, preconditions: Value) -> KubePlan {
    KubePlan {
        changes: !lines.is_empty(),
        diff: if lines.is_empty() {
            NO_CHANGES.to_string()
        } else {
            lines.join("\n")
        },
        preconditions,
    }
}

/// The restart annotation's value: RFC 3339 in UTC, whole seconds (as kubectl writes it).
fn restart_time() -> String {
    let now = Timestamp::now();
    Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string()
}

fn restart_patch(at: &str, resource_version: Option<&str>) -> Value {
    let mut patch = json!({
        "spec": { "template": { "metadata": { "annotations": { RESTARTED_AT_ANNOTATION: at } } } }
    });
    if let Some(rv) = resource_version {
        patch["metadata"] = json!({ "resourceVersion": rv });
    }
    patch
}

fn to_json<T: Serialize>(value: &T) -> Result<Value, ExecError> {
    serde_json::to_value(value).map_err(|e| ExecError::Failed {
        message: format!("cannot represent a Kubernetes object as JSON: {e}"),
        outcome: None,
    })
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

    #[test]
    fn restart_patch_shape() {
        let p = restart_patch("2025-01-01T00:00:00Z", Some("42"));
        assert_eq!(
            p,
            json!({"metadata": {"resourceVersion": "42"},
                   "spec": {"template": {"metadata": {"annotations":
                       {"kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"}}}}})
        );
        let t = restart_time();
        assert!(t.ends_with('Z') && !t.contains('.'), "{t}");
    }

    #[test]
    fn plans_without_changes_say_so() {
        let plan = change_plan(vec![], json!({}));
        assert!(!plan.changes);
        assert_eq!(plan.diff, NO_CHANGES);
    }

    #[test]
    fn params() {
        let p: Map<String, Value> =
            serde_json::from_value(json!({"name": "web", "replicas": 3})).expect("map");
        assert_eq!(namespace_param(&p).expect("ns"), "default");
        assert_eq!(replicas_param(&p).expect("replicas"), 3);
        let bad: Map<String, Value> = serde_json::from_value(json!({"replicas": -1})).expect("map");
        assert_eq!(
            replicas_param(&bad).expect_err("negative").code(),
            "invalid_params"
        );
        assert_eq!(
            str_param(&bad, "name").expect_err("missing").code(),
            "invalid_params"
        );
    }
}
