//! The Kubernetes path end to end: sentences become server-side dry-run plans and exact
//! applies on a real kube-apiserver (+ etcd) built from Debian's source package and started
//! by `bootstrap/kube.sh`; destructive changes wait for approval; a change between approval
//! and execution voids it.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use aiops_e2e::{
    APPROVER_TOKEN, Bind, Daemon, KubeApi, REQUESTER_TOKEN, config_for, with_identities,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

async fn setup(client: &kube::Client) {
    for ns in ["shop", "production"] {
        let n: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &n)
            .await
            .unwrap();
        let d: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": ns},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}
        }))
        .unwrap();
        Api::<Deployment>::namespaced(client.clone(), ns)
            .create(&PostParams::default(), &d)
            .await
            .unwrap();
    }
    let p: Pod = serde_json::from_value(json!({
        "metadata": {"name": "web-7d9f8-abcde", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx"}]}
    }))
    .unwrap();
    Api::<Pod>::namespaced(client.clone(), "shop")
        .create(&PostParams::default(), &p)
        .await
        .unwrap();
}

/// Asks for `nl` as the requester; it must wait for approval.
async fn needs_approval(d: &Daemon, nl: &str) -> serde_json::Value {
    let (code, body) = d.intent_as(REQUESTER_TOKEN, nl).await;
    assert_eq!(
        (code, &body["status"]),
        (202, &json!("pending_approval")),
        "{body:#}"
    );
    body
}

async fn pod_exists(client: &kube::Client, ns: &str, name: &str) -> bool {
    Api::<Pod>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .unwrap()
        .is_some()
}

async fn replicas(client: &kube::Client, ns: &str) -> i32 {
    let d = Api::<Deployment>::namespaced(client.clone(), ns)
        .get("web")
        .await
        .unwrap();
    d.spec.unwrap().replicas.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentences_to_kubernetes_changes() {
    let api = KubeApi::start().expect("kube-apiserver starts");
    let client = api.client().await;
    setup(&client).await;
    let bind = Bind::start().unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut cfg = with_identities(config_for(&bind, data.path()));
    cfg.kube.enabled = true;
    cfg.kube.kubeconfig = Some(api.kubeconfig.clone());
    let d = Daemon::start(cfg).await.unwrap();

    let checks = d.ready_expect(200).await;
    assert_eq!(checks["kubernetes"]["detail"]["version"], "v1.20.2");

    // A dry run plans with the API server's own dry run and changes nothing.
    let scale_shop = "scale deployment web in namespace shop to 5 replicas";
    let dry = d.dry_run(scale_shop).await;
    assert_eq!(dry["plan"]["diff"], "spec.replicas: 2 -> 5");
    assert_eq!(replicas(&client, "shop").await, 2);

    // The sentence from the issue: shop is a non-production namespace, so it just runs.
    let body = d.intent_expect(scale_shop, 200, "success").await;
    assert_eq!(body["execution"]["executor"], "kube");
    assert_eq!(body["execution"]["changed"], true);
    assert_eq!(replicas(&client, "shop").await, 5);

    // Reads return structured results.
    let pods = d.intent_expect("list pods in shop", 200, "success").await;
    assert_eq!(
        pods["execution"]["result"]["pods"][0]["name"],
        "web-7d9f8-abcde"
    );
    assert_eq!(pods["execution"]["result"]["pods"][0]["phase"], "Pending");

    // Out of bounds: denied by policy, nothing sent to the API server.
    d.intent_expect(
        "restart the coredns deployment in kube-system",
        200,
        "denied",
    )
    .await;

    // Not found is a clear result.
    let (code, missing) = d
        .intent(
            "scale deployment ghost in namespace shop to 1 replicas",
            false,
        )
        .await;
    assert_eq!(code, 404, "{missing:#}");
    assert_eq!(missing["error"]["code"], "not_found");

    // Destructive: waits for a human, then deletes exactly that pod.
    let del = needs_approval(&d, "delete pod web-7d9f8-abcde in namespace shop").await;
    let aid = del["approval"]["id"].as_str().unwrap();
    assert!(pod_exists(&client, "shop", "web-7d9f8-abcde").await);
    let (code, _) = d.decide_as(APPROVER_TOKEN, aid, "approve", json!({})).await;
    assert_eq!(code, 200);
    let rec = d
        .wait_status(del["id"].as_str().unwrap(), &["success", "failed"], 30)
        .await;
    assert_eq!(rec["status"], "success", "{rec:#}");
    assert!(!pod_exists(&client, "shop", "web-7d9f8-abcde").await);

    // Production: approval required; the Deployment changes before the approval lands, so
    // the approved plan no longer matches and nothing runs.
    let nl = "scale deployment web in namespace production to 4 replicas";
    let prod = needs_approval(&d, nl).await;
    assert_eq!(prod["plan"]["diff"], "spec.replicas: 2 -> 4");
    Api::<Deployment>::namespaced(client.clone(), "production")
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    let aid = prod["approval"]["id"].as_str().unwrap();
    d.decide_as(APPROVER_TOKEN, aid, "approve", json!({})).await;
    let rec = d
        .wait_status(prod["id"].as_str().unwrap(), &["success", "failed"], 30)
        .await;
    assert_eq!(rec["error"]["code"], "approval_void", "{rec:#}");
    assert_eq!(
        replicas(&client, "production").await,
        3,
        "a void approval changes nothing"
    );

    // API server down: not ready, and a clear 503.
    api.stop();
    assert_eq!(d.ready_expect(503).await["kubernetes"]["ok"], false);
    let nl = "scale deployment web in namespace shop to 1 replicas";
    d.fails_closed(nl, "executor_unavailable").await;
    assert!(d.audit_ok().await);
}
