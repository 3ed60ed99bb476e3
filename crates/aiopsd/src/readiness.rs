//! `/readyz`: each configured backend, checked live.

use serde::Serialize;
use serde_json::{Value, json};

use crate::AppState;

#[derive(Debug, Serialize)]
pub struct Readiness {
    pub ready: bool,
    /// An optional backend (the language model, the runbook index) does not answer; the
    /// daemon still serves.
    pub degraded: bool,
    pub checks: serde_json::Map<String, Value>,
}

pub async fn check(state: &AppState) -> Readiness {
    let mut checks = serde_json::Map::new();
    let mut ready = true;
    let mut put = |name: &str, ok: bool, detail: Value| {
        ready &= ok;
        checks.insert(name.to_string(), json!({"ok": ok, "detail": detail}));
    };

    let (store, secrets, executors) = tokio::join!(
        state.store.ping(),
        async {
            let paths = state.executors.all_secret_paths(&state.catalog);
            let result = match state.secrets.health().await {
                Ok(()) => state.secrets.check(&paths).await,
                Err(e) => Err(e),
            };
            (result, paths)
        },
        state.executors.ready(),
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
    // Each executor reports its own backends (Ansible, the DNS server, the Kubernetes API
    // when configured).
    for check in executors {
        put(check.name, check.ok, check.detail);
    }
    // The model is optional: without it parsing falls back to the rules parser, so it can
    // make the daemon degraded but never not ready.
    let mut degraded = false;
    if let Some(llm) = &state.llm {
        let health = llm.health().await;
        degraded = health.degraded();
        checks.insert(
            "llm".into(),
            json!({"ok": !degraded, "degraded": degraded, "required": false, "detail": health}),
        );
    }
    // Retrieval is context, not a gate: with the index down requests go on without it
    // (and `ops.ask` answers 503), so it degrades the daemon but never makes it unready.
    if let Some(runbooks) = &state.runbooks {
        let check = runbooks.ready().await;
        degraded |= !check.ok;
        checks.insert(
            check.name.into(),
            json!({"ok": check.ok, "degraded": !check.ok, "required": false, "detail": check.detail}),
        );
    }
    Readiness {
        ready,
        degraded,
        checks,
    }
}
