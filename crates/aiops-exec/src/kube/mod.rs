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
//! - `k8s.unexpose_service` undoes it: deletes the Certificate, then the HTTPRoute, only if
//!   they carry this appliance's [`MANAGED_BY_LABEL`], each held to its planned `uid` and
//!   `resourceVersion`.
//! - A plan also records what the change replaces ([`KubePlan::before`]: the replicas a
//!   scale overwrites, whether expose's objects existed, the port of the route unexpose
//!   deletes), so the daemon can derive the change's inverse.
//! - [`KubeExecutor::observe`] reads the world back after a change (GETs only) and says
//!   whether it matches what was executed, differs, or is still settling (module `observe`).
//!
//! One module per action (`scale`, `restart`, `list_pods`, `delete_pod`,
//! `expose_service`, `unexpose_service`); `deployment` runs the patch that `scale` and
//! `restart` define; `client` builds the client and runs calls, `params` reads the actions'
//! parameters, `plan` holds what planning hands to execution.
//!
//! Errors: unreachable server or timeout → [`ExecError::Unavailable`]; RBAC 403 →
//! [`ExecError::Forbidden`] naming the verb and resource; 404 → [`ExecError::NotFound`];
//! 409 → [`ExecError::Conflict`]. No message holds a credential.

mod client;
mod delete_pod;
mod deployment;
mod diff;
mod error;
mod expose_service;
mod list_pods;
mod observe;
mod params;
mod plan;
mod resources;
mod restart;
mod scale;
mod unexpose_service;

pub use client::KubeConfig;
pub use expose_service::{MANAGED_BY_LABEL, expose_names, host_label};
pub use observe::KubeObservation;
pub use plan::{KubeOutcome, KubePlan, NO_CHANGES, READ_ONLY};
pub use resources::{
    Certificate, CertificateSpec, HttpBackendRef, HttpRoute, HttpRouteRule, HttpRouteSpec,
    IssuerRef, ParentReference,
};
pub use restart::{EXECUTION_TIME, RESTARTED_AT_ANNOTATION};

use ::kube::Client;
use serde_json::{Map, Value};

use crate::ExecError;

/// The Kubernetes executor.
#[derive(Clone)]
pub struct KubeExecutor {
    client: Client,
    cfg: KubeConfig,
}

impl KubeExecutor {
    /// Plans `action` with server-side dry run; changes nothing.
    #[tracing::instrument(skip_all, fields(action = %action))]
    pub async fn plan(
        &self,
        action: &str,
        params: &Map<String, Value>,
    ) -> Result<KubePlan, ExecError> {
        match action {
            "k8s.scale_deployment" => self.plan_deployment(params, scale::change).await,
            "k8s.restart_deployment" => self.plan_deployment(params, restart::change).await,
            "k8s.list_pods" => self.plan_list_pods(params).await,
            "k8s.delete_pod" => self.plan_delete_pod(params).await,
            "k8s.expose_service" => self.plan_expose(params).await,
            "k8s.unexpose_service" => self.plan_unexpose(params).await,
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
            "k8s.scale_deployment" => self.execute_deployment(params, scale::change, plan).await,
            "k8s.restart_deployment" => {
                self.execute_deployment(params, restart::change, plan).await
            }
            "k8s.list_pods" => self.execute_list_pods(params).await,
            "k8s.delete_pod" => self.execute_delete_pod(params, plan).await,
            "k8s.expose_service" => self.execute_expose(params, plan).await,
            "k8s.unexpose_service" => self.execute_unexpose(params, plan).await,
            other => Err(ExecError::UnknownAction(other.to_string())),
        }
    }
}
