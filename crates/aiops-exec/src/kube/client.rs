//! Building the kube client from the configuration, the readiness probe, and the plumbing
//! every action shares: one API call within the timeout with its errors mapped, and the
//! patch parameters (field manager from config).

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use ::kube::api::{Api, Patch, PatchParams};
use ::kube::config::{KubeConfigOptions, Kubeconfig};
use ::kube::{Client, Config};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::KubeExecutor;
use super::error::{Op, map_kube_error};
use super::params::Named;
use crate::ExecError;

/// Upper bound of the TCP/TLS connect phase (the whole call is bounded by `timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How to reach the cluster, and where `k8s.expose_service` attaches routes: the `[kube]`
/// section of the daemon's configuration (field names are the configuration keys; unknown
/// keys are rejected, missing ones take the defaults).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KubeConfig {
    /// Whether the daemon builds this executor at all (`k8s.*` actions fail as
    /// unavailable otherwise). [`KubeExecutor::connect`] does not look at it.
    pub enabled: bool,
    /// A kubeconfig file (development); `None`: the in-cluster service account.
    pub kubeconfig: Option<PathBuf>,
    /// Context of the kubeconfig to use (default: its current context).
    pub context: Option<String>,
    /// The appliance's Gateway that HTTPRoutes attach to.
    pub gateway_name: String,
    /// Namespace of that Gateway.
    pub gateway_namespace: String,
    /// cert-manager ClusterIssuer that signs the Certificates (e.g. a DNS-01 issuer).
    pub cluster_issuer: String,
    /// Field manager of patches and server-side applies.
    pub field_manager: String,
    /// Limit of each call to the API server, in milliseconds.
    pub timeout_ms: u64,
}

impl Default for KubeConfig {
    fn default() -> Self {
        KubeConfig {
            enabled: false,
            kubeconfig: None,
            context: None,
            gateway_name: "appliance".into(),
            gateway_namespace: "aiops".into(),
            cluster_issuer: "dns01".into(),
            field_manager: "aiopsd".into(),
            timeout_ms: 10_000,
        }
    }
}

impl KubeConfig {
    /// The limit of each call to the API server.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
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
        config.connect_timeout = Some(cfg.timeout().min(CONNECT_TIMEOUT));
        config.read_timeout = Some(cfg.timeout());
        config.reset_reader_on_write = true;
        config.write_timeout = Some(cfg.timeout());
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
        let op = Op::new("get", "version", "the API server version");
        let info = self.call(op, self.client.apiserver_version()).await?;
        Ok(info.git_version)
    }

    /// The API of a namespaced resource type.
    pub(super) fn api<K>(&self, namespace: &str) -> Api<K>
    where
        K: ::kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// The object `target` names (it must exist), with the API that reached it.
    pub(super) async fn get<K>(&self, target: &Named<'_>) -> Result<(Api<K>, K), ExecError>
    where
        K: ::kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + fmt::Debug
            + DeserializeOwned,
    {
        let api = self.api::<K>(target.namespace);
        let plural = K::plural(&());
        let current = self
            .call(target.op("get", &plural), api.get(target.name))
            .await?;
        Ok((api, current))
    }

    /// A merge patch of `target` (a dry run when `dry_run`), field manager from config.
    pub(super) async fn merge_patch<K>(
        &self,
        api: &Api<K>,
        target: &Named<'_>,
        resource: &str,
        patch: &Value,
        dry_run: bool,
    ) -> Result<K, ExecError>
    where
        K: Clone + fmt::Debug + DeserializeOwned,
    {
        let params = PatchParams {
            dry_run,
            field_manager: Some(self.cfg.field_manager.clone()),
            ..PatchParams::default()
        };
        self.call(
            target.op("patch", resource),
            api.patch(target.name, &params, &Patch::Merge(patch)),
        )
        .await
    }

    /// Runs one API call within the configured timeout, mapping its errors.
    pub(super) async fn call<T>(
        &self,
        op: Op<'_>,
        fut: impl Future<Output = Result<T, ::kube::Error>>,
    ) -> Result<T, ExecError> {
        match tokio::time::timeout(self.cfg.timeout(), fut).await {
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
                self.cfg.timeout().as_secs_f64()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_keys_defaults_and_unknown_keys() {
        let expected = KubeConfig {
            enabled: true,
            kubeconfig: Some("dev/kubeconfig".into()),
            timeout_ms: 1500,
            ..KubeConfig::default()
        };
        let cfg = crate::config_check::config_keys(
            json!({"enabled": true, "kubeconfig": "dev/kubeconfig", "timeout_ms": 1500}),
            &expected,
            json!({"enabled": false, "kubeconfig": null, "context": null,
                   "gateway_name": "appliance", "gateway_namespace": "aiops",
                   "cluster_issuer": "dns01", "field_manager": "aiopsd", "timeout_ms": 10000}),
            &[json!({"timeout": 5})],
        );
        assert_eq!(cfg.timeout(), Duration::from_millis(1500));
    }
}
