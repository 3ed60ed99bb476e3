//! How long the Kubernetes executor takes against a REAL kube-apiserver + etcd, started
//! with `bootstrap/kube.sh` exactly as the `kube` test does (`aiops_test_support::KubeApi`):
//! a server-side dry-run plan of `k8s.scale_deployment`, a `k8s.list_pods` plan, and how
//! fast the executor reports a stopped server as unavailable (a refused connection must
//! fail fast; that is measured here, never asserted with a clock in a test).
//!
//! `cargo bench -p aiops-exec --bench kube`. When the apiserver cannot be started (not
//! built: `bash bootstrap/kube.sh build`), it says why and measures nothing.

use aiops_exec::{KubeConfig, KubeExecutor};
use aiops_test_support::{KubeApi, client_for};
use criterion::Criterion;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};
use serde_json::{Map, Value, json};

const NS: &str = "bench";

fn config(kubeconfig: &std::path::Path) -> KubeConfig {
    KubeConfig {
        enabled: true,
        kubeconfig: Some(kubeconfig.to_path_buf()),
        timeout_ms: 20_000,
        ..KubeConfig::default()
    }
}

fn params(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("params must be an object, got {other}"),
    }
}

/// A namespace with one Deployment `web` (2 replicas) to plan against.
async fn seed(server: &KubeApi) {
    let client = client_for(&server.kubeconfig).await;
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": NS}})).expect("namespace");
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}
    }))
    .expect("deployment");
    Api::<Deployment>::namespaced(client, NS)
        .create(&PostParams::default(), &d)
        .await
        .expect("create deployment");
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let server = match KubeApi::start() {
        Ok(server) => server,
        Err(err) => {
            eprintln!("kube bench skipped: the kube-apiserver could not be started:\n{err}");
            return;
        }
    };
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(seed(&server));
    let x = rt
        .block_on(KubeExecutor::connect(config(&server.kubeconfig)))
        .expect("connect");
    let scale = params(json!({"namespace": NS, "name": "web", "replicas": 3}));
    let list = params(json!({"namespace": NS}));

    let mut up = c.benchmark_group("kube_apiserver_up");
    up.bench_function("plan k8s.scale_deployment (server-side dry run)", |b| {
        b.to_async(&rt)
            .iter(|| async { x.plan("k8s.scale_deployment", &scale).await.expect("plan") })
    });
    up.bench_function("plan k8s.list_pods", |b| {
        b.to_async(&rt)
            .iter(|| async { x.plan("k8s.list_pods", &list).await.expect("plan") })
    });
    up.finish();

    server.stop();
    let mut down = c.benchmark_group("kube_apiserver_stopped");
    down.bench_function("plan k8s.scale_deployment is unavailable", |b| {
        b.to_async(&rt).iter(|| async {
            let err = x
                .plan("k8s.scale_deployment", &scale)
                .await
                .expect_err("the server is stopped");
            assert_eq!(err.code(), "executor_unavailable", "{err}");
        })
    });
    down.finish();
    c.final_summary();
}
