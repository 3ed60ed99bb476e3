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

/// A kube-apiserver with the test namespaces and deployments (`setup`), a BIND, and a
/// daemon config that executes on both.
struct World {
    api: KubeApi,
    client: kube::Client,
    _bind: Bind,
    data: tempfile::TempDir,
    cfg: aiopsd::Config,
}

impl World {
    async fn start() -> World {
        let api = KubeApi::start().expect("kube-apiserver starts");
        let client = api.client().await;
        setup(&client).await;
        let bind = Bind::start().unwrap();
        let data = tempfile::tempdir().unwrap();
        let mut cfg = with_identities(config_for(&bind, data.path()));
        cfg.kube.enabled = true;
        cfg.kube.kubeconfig = Some(api.kubeconfig.clone());
        World {
            api,
            client,
            _bind: bind,
            data,
            cfg,
        }
    }
}

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
    let World {
        api,
        client,
        _bind,
        data: _data,
        cfg,
    } = World::start().await;
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

/// `k8s.expose_service` on an API server with the project's CRDs, installed by
/// `bootstrap/kube.sh crds` as `AIOPS_K8S=local bootstrap/dev-up.sh` does: the sentence
/// becomes a Gateway API `HTTPRoute` on the appliance Gateway and a cert-manager
/// `Certificate` from the DNS-01 ClusterIssuer, read back from the server as it stored them
/// (the CRDs' defaults applied).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expose_service_creates_the_route_and_the_certificate() {
    use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
    let World {
        api,
        client,
        _bind,
        data: _data,
        cfg,
    } = World::start().await;
    api.install_crds().unwrap_or_else(|e| panic!("{e}"));
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "bar1"}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let d = Daemon::start(cfg).await.unwrap();

    // corp.example.com is a production zone and bar1 a namespace the policy data does not
    // list (treated as production): a human approves.
    let nl = "expose service web in bar1 as web-bar1.corp.example.com on port 8080";
    let body = needs_approval(&d, nl).await;
    assert_eq!(body["intent"]["action"], "k8s.expose_service");
    assert_eq!(
        body["intent"]["params"],
        json!({"namespace": "bar1", "service": "web",
               "hostname": "web-bar1.corp.example.com", "port": 8080})
    );
    let diff = body["plan"]["diff"].as_str().unwrap();
    assert!(
        diff.contains("HTTPRoute bar1/web-web-bar1-corp-example-com: spec.hostnames: <none> -> [\"web-bar1.corp.example.com\"]"),
        "{diff}"
    );
    assert!(
        diff.contains("Certificate bar1/web-bar1-corp-example-com: spec.secretName: <none> -> web-bar1-corp-example-com-tls"),
        "{diff}"
    );
    let aid = body["approval"]["id"].as_str().unwrap();
    let (code, _) = d.decide_as(APPROVER_TOKEN, aid, "approve", json!({})).await;
    assert_eq!(code, 200);
    let rec = d
        .wait_status(body["id"].as_str().unwrap(), &["success", "failed"], 30)
        .await;
    assert_eq!(rec["status"], "success", "{rec:#}");
    assert_eq!(
        rec["execution"]["result"]["httproute"],
        "bar1/web-web-bar1-corp-example-com"
    );

    let get = |group: &str, kind: &str, name: &str| {
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, "v1", kind));
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "bar1", &resource);
        let name = name.to_string();
        async move { api.get(&name).await.unwrap().data["spec"].clone() }
    };
    let route = get(
        "gateway.networking.k8s.io",
        "HTTPRoute",
        "web-web-bar1-corp-example-com",
    )
    .await;
    let gateway = aiopsd::Config::default().kube;
    assert_eq!(
        route,
        json!({
            "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                            "name": gateway.gateway_name,
                            "namespace": gateway.gateway_namespace}],
            "hostnames": ["web-bar1.corp.example.com"],
            // The backend's kind and weight, and the match, are the CRD's defaults.
            "rules": [{"backendRefs": [{"kind": "Service", "name": "web",
                                        "port": 8080, "weight": 1}],
                       "matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}]
        }),
        "{route:#}"
    );
    let cert = get(
        "cert-manager.io",
        "Certificate",
        "web-bar1-corp-example-com",
    )
    .await;
    assert_eq!(
        cert,
        json!({
            "secretName": "web-bar1-corp-example-com-tls",
            "dnsNames": ["web-bar1.corp.example.com"],
            "issuerRef": {"name": gateway.cluster_issuer, "kind": "ClusterIssuer",
                          "group": "cert-manager.io"}
        }),
        "{cert:#}"
    );
    // Read back through the API server after the apply.
    assert_eq!(rec["verification"]["outcome"], "verified", "{rec:#}");
    assert_eq!(rec["verification"]["evidence"]["read"], "kube-apiserver");

    // Rolled back: the inverse deletes what the change created (the Certificate, then the
    // HTTPRoute), a destructive request that waits for a human like any other.
    let id = rec["id"].as_str().unwrap();
    let (code, undo) = d
        .post(&format!("/api/v1/intents/{id}/rollback"), json!({}))
        .await;
    assert_eq!(
        (code, undo["status"].as_str()),
        (202, Some("pending_approval")),
        "{undo:#}"
    );
    assert_eq!(undo["intent"]["action"], "k8s.unexpose_service");
    assert_eq!(
        undo["plan"]["diff"],
        "Certificate bar1/web-bar1-corp-example-com: deleted\nHTTPRoute bar1/web-web-bar1-corp-example-com: deleted"
    );
    let aid = undo["approval"]["id"].as_str().unwrap();
    let (code, _) = d.decide_as(APPROVER_TOKEN, aid, "approve", json!({})).await;
    assert_eq!(code, 200);
    let done = d
        .wait_status(undo["id"].as_str().unwrap(), &["success", "failed"], 30)
        .await;
    assert_eq!(done["status"], "success", "{done:#}");
    assert_eq!(done["verification"]["outcome"], "verified");
    let exists = |group: &str, kind: &str, name: &str| {
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, "v1", kind));
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "bar1", &resource);
        let name = name.to_string();
        async move { api.get_opt(&name).await.unwrap().is_some() }
    };
    assert!(
        !exists(
            "gateway.networking.k8s.io",
            "HTTPRoute",
            "web-web-bar1-corp-example-com"
        )
        .await
    );
    assert!(
        !exists(
            "cert-manager.io",
            "Certificate",
            "web-bar1-corp-example-com"
        )
        .await
    );
    assert_eq!(d.record(id).await["rollbacks"], json!([undo["id"]]));
    assert!(d.audit_ok().await);
}

/// Scale 1 → 5 in production (a human approves), verified against the API server, then
/// rolled back to 1 through the same gate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scale_is_verified_and_rolled_back_through_an_approval() {
    let World {
        api: _api,
        client,
        _bind,
        data: _data,
        cfg,
    } = World::start().await;
    Api::<Deployment>::namespaced(client.clone(), "production")
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 1}})),
        )
        .await
        .unwrap();
    let d = Daemon::start(cfg).await.unwrap();
    let approve = |body: serde_json::Value| {
        let d = &d;
        async move {
            let aid = body["approval"]["id"].as_str().unwrap();
            let (code, _) = d.decide_as(APPROVER_TOKEN, aid, "approve", json!({})).await;
            assert_eq!(code, 200);
            d.wait_status(body["id"].as_str().unwrap(), &["success", "failed"], 30)
                .await
        }
    };

    let up = needs_approval(
        &d,
        "scale deployment web in namespace production to 5 replicas",
    )
    .await;
    assert_eq!(up["plan"]["before"], json!({"replicas": 1}));
    let up = approve(up).await;
    assert_eq!(up["status"], "success", "{up:#}");
    assert_eq!(replicas(&client, "production").await, 5);
    let v = &up["verification"];
    assert_eq!(v["outcome"], "verified", "{up:#}");
    // No controller-manager runs here: the spec is what can be checked.
    assert!(
        v["evidence"]
            .to_string()
            .contains("no controller reports status"),
        "{v:#}"
    );

    let id = up["id"].as_str().unwrap();
    let (code, back) = d
        .post(&format!("/api/v1/intents/{id}/rollback"), json!({}))
        .await;
    assert_eq!(
        (code, back["status"].as_str()),
        (202, Some("pending_approval")),
        "{back:#}"
    );
    assert_eq!(
        back["intent"]["params"],
        json!({"namespace": "production", "name": "web", "replicas": 1})
    );
    assert_eq!(back["plan"]["diff"], "spec.replicas: 5 -> 1");
    assert_eq!(
        replicas(&client, "production").await,
        5,
        "nothing before approval"
    );
    let back = approve(back).await;
    assert_eq!(back["status"], "success", "{back:#}");
    assert_eq!(back["verification"]["outcome"], "verified");
    assert_eq!(back["rollback_of"], id);
    assert_eq!(replicas(&client, "production").await, 1);
    assert!(d.audit_ok().await);
}

/// A dry run of `nl` as the requester; returns the stored request's id.
async fn planned(d: &Daemon, nl: &str) -> String {
    let (code, body) = d
        .post_as(
            REQUESTER_TOKEN,
            "/api/v1/intent",
            json!({"nl": nl, "dry_run": true}),
        )
        .await;
    assert_eq!(
        (code, &body["status"]),
        (200, &json!("dry_run")),
        "{body:#}"
    );
    body["id"].as_str().unwrap().to_string()
}

/// Recovery reconciles interrupted Kubernetes changes against the API server. A kube
/// action runs in-process (there is no child to pause at, as `crates/aiopsd/tests/crash.rs`
/// does for Ansible with `kill -9`), so the interruption is made in the store: a planned
/// request is marked `executing`, as the pipeline does right before the executor runs, and
/// the daemon is stopped before anything executes it. What the world then looks like
/// decides each outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_kubernetes_changes_are_reconciled_against_the_api_server() {
    use aiops_store::{AuditEvent, RequestStore, RequestUpdate, SqliteStore};
    let World {
        api: _api,
        client,
        _bind,
        data,
        cfg,
    } = World::start().await;
    let d = Daemon::start(cfg.clone()).await.unwrap();
    let applied = planned(&d, "scale deployment web in namespace shop to 5 replicas").await;
    let untouched = planned(
        &d,
        "scale deployment web in namespace production to 4 replicas",
    )
    .await;
    let deleted = planned(&d, "delete pod web-7d9f8-abcde in namespace shop").await;
    let moved = planned(&d, "restart deployment web in namespace production").await;
    d.stop().await;

    let store = SqliteStore::open(&data.path().join("aiops.db"))
        .await
        .unwrap();
    for id in [&applied, &untouched, &deleted, &moved] {
        store
            .update_request(
                id,
                RequestUpdate {
                    status: Some(aiops_core::RequestStatus::Executing),
                    ..Default::default()
                },
                AuditEvent::new(Some(id), "execute", "started", json!({})),
            )
            .await
            .unwrap();
    }
    drop(store);
    // The world while the daemon is down: the scale of shop and the pod delete happened;
    // production is untouched; the restart ran (a new restart time).
    let shop = Api::<Deployment>::namespaced(client.clone(), "shop");
    shop.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 5}})),
    )
    .await
    .unwrap();
    Api::<Pod>::namespaced(client.clone(), "shop")
        .delete("web-7d9f8-abcde", &Default::default())
        .await
        .unwrap();
    Api::<Deployment>::namespaced(client.clone(), "production")
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"template": {"metadata": {"annotations": {
                "kubectl.kubernetes.io/restartedAt": "2030-01-01T00:00:00Z"}}}}})),
        )
        .await
        .unwrap();

    let d = Daemon::start(cfg).await.unwrap();
    for (id, status, outcome) in [
        (&applied, "success", "verified_after_restart"),
        (&untouched, "failed", "nothing_applied"),
        (&deleted, "success", "verified_after_restart"),
        (&moved, "failed", "state_unknown"),
    ] {
        let rec = d.record(id).await;
        assert_eq!(rec["status"], status, "{rec:#}");
        assert_eq!(rec["execution"]["reconciliation"], outcome, "{rec:#}");
        let last = rec["timeline"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            (last["stage"].as_str(), last["outcome"].as_str()),
            (Some("recover"), Some(outcome))
        );
    }
    // Recovery only read the cluster.
    assert_eq!(replicas(&client, "production").await, 2);
    assert_eq!(replicas(&client, "shop").await, 5);
    assert!(d.audit_ok().await);
}
