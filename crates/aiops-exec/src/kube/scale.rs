//! `k8s.scale_deployment`: a merge patch of `spec.replicas`, planned as a dry run (see
//! `deployment`).

use serde_json::{Map, Value, json};

use super::deployment::Change;
use super::params;
use crate::ExecError;

/// The change of `k8s.scale_deployment`: its `replicas`.
pub(super) fn change(params: &Map<String, Value>) -> Result<Change, ExecError> {
    Ok(Change::Scale {
        replicas: params::replicas(params)?,
    })
}

pub(super) fn replicas_patch(replicas: i32) -> Value {
    json!({ "spec": { "replicas": replicas } })
}
