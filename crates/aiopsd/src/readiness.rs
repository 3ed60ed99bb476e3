//! `/readyz`: each configured backend, checked live.

use serde::Serialize;
use serde_json::{Value, json};

use crate::AppState;

#[derive(Debug, Serialize)]
pub struct Readiness {
    pub ready: bool,
    pub checks: serde_json::Map<String, Value>,
}

pub async fn check(state: &AppState) -> Readiness {
    let mut checks = serde_json::Map::new();
    let mut ready = true;
    let mut put = |name: &str, ok: bool, detail: Value| {
        ready &= ok;
        checks.insert(name.to_string(), json!({"ok": ok, "detail": detail}));
    };

    let (store, secrets, ansible, dns, kube) = tokio::join!(
        state.store.ping(),
        async {
            let paths = state.executors.all_secret_paths(&state.catalog);
            let result = match state.secrets.health().await {
                Ok(()) => state.secrets.check(&paths).await,
                Err(e) => Err(e),
            };
            (result, paths)
        },
        state.executors.ansible().version(),
        async {
            let zone = state.zones.first().cloned().unwrap_or_default();
            state.executors.dns_ready(&zone).await
        },
        async {
            match state.executors.kube() {
                Some(k) => Some(k.version().await),
                None => None,
            }
        },
    );
    put(
        "store",
        store.is_ok(),
        json!({"kind": state.store.kind(), "error": store.err().map(|e| e.code())}),
    );
    let (secrets, paths) = secrets;
    put(
        "secrets",
        secrets.is_ok(),
        json!({"kind": state.secrets.kind(), "paths": paths, "error": secrets.err().map(|e| e.to_string())}),
    );
    put(
        "ansible",
        ansible.is_ok(),
        match ansible {
            Ok(v) => json!({"version": v}),
            Err(e) => json!({"error": e.to_string()}),
        },
    );
    put(
        "dns",
        dns.is_ok(),
        json!({"server": state.config.dns.server.to_string(), "error": dns.err().map(|e| e.message)}),
    );
    // The Kubernetes API only counts when the executor is configured.
    if let Some(kube) = kube {
        put(
            "kubernetes",
            kube.is_ok(),
            match kube {
                Ok(v) => json!({"version": v}),
                Err(e) => json!({"error": e.to_string()}),
            },
        );
    }
    Readiness { ready, checks }
}
