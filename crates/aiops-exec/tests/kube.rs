//! The Kubernetes executor against a REAL kube-apiserver (v1.20, built from Debian's
//! source package) and etcd, started with `bootstrap/kube.sh start` on a free port and
//! stopped when the guard drops. Nothing is mocked. If the apiserver binary is missing the
//! run FAILS with the command that builds it (`bash bootstrap/kube.sh build`).
//!
//! A custom harness (`harness = false`): the server (`aiops_test_support::KubeApi`) is
//! started once for all scenarios and is always stopped at the end (a `static` in the
//! default harness would never be dropped). Each scenario runs in its own tokio task (a panic fails that scenario only)
//! and its own namespace. Arguments that do not start with `-` filter scenarios by
//! substring, like libtest; the last line is libtest's summary line.
//!
//! There is no controller-manager and no node: Deployments get no ReplicaSets, pods stay
//! Pending. Nothing here waits for a rollout.

// Tests start the servers through bootstrap/kube.sh (argv, no shell string); the harness
// is not compiled with cfg(test), so clippy's in-test allowances do not apply.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::{Duration, Instant};

use aiops_test_support::KubeApi;

use aiops_exec::{ExecError, KubeConfig, KubeExecutor, KubeObservation, KubeOutcome, KubePlan};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Map, Value, json};

const GATEWAY: &str = "edge";
const GATEWAY_NS: &str = "aiops-gateway";
const ISSUER: &str = "aiops-ca";

// ------------------------------------------------------------------------------------------
// Shared context of the scenarios.
// ------------------------------------------------------------------------------------------

#[derive(Clone)]
struct Ctx {
    admin_kubeconfig: PathBuf,
    restricted_kubeconfig: PathBuf,
}

impl Ctx {
    fn config(&self, kubeconfig: &Path) -> KubeConfig {
        KubeConfig {
            enabled: true,
            kubeconfig: Some(kubeconfig.to_path_buf()),
            context: None,
            gateway_name: GATEWAY.into(),
            gateway_namespace: GATEWAY_NS.into(),
            cluster_issuer: ISSUER.into(),
            field_manager: "aiopsd".into(),
            timeout_ms: 20_000,
        }
    }

    async fn executor(&self) -> KubeExecutor {
        KubeExecutor::connect(self.config(&self.admin_kubeconfig))
            .await
            .expect("connect (admin)")
    }

    async fn restricted_executor(&self) -> KubeExecutor {
        KubeExecutor::connect(self.config(&self.restricted_kubeconfig))
            .await
            .expect("connect (restricted)")
    }

    /// A plain kube client with admin rights, to set up and inspect the cluster.
    async fn client(&self) -> Client {
        aiops_test_support::client_for(&self.admin_kubeconfig).await
    }

    /// A fresh namespace for one scenario.
    async fn namespace(&self, name: &str) -> String {
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        Api::<Namespace>::all(self.client().await)
            .create(&PostParams::default(), &ns)
            .await
            .expect("create namespace");
        name.to_string()
    }

    async fn deployment(&self, ns: &str, name: &str, replicas: i32) -> Deployment {
        let d: Deployment = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}
                }
            }
        }))
        .unwrap();
        Api::<Deployment>::namespaced(self.client().await, ns)
            .create(&PostParams::default(), &d)
            .await
            .expect("create deployment")
    }

    async fn get_deployment(&self, ns: &str, name: &str) -> Deployment {
        Api::<Deployment>::namespaced(self.client().await, ns)
            .get(name)
            .await
            .expect("get deployment")
    }

    /// The deployment's resourceVersion: the same one later means nothing was written.
    async fn deployment_rv(&self, ns: &str, name: &str) -> Option<String> {
        self.get_deployment(ns, name)
            .await
            .metadata
            .resource_version
    }

    async fn pod(&self, ns: &str, name: &str, containers: usize) -> Pod {
        let containers: Vec<Value> = (0..containers)
            .map(|i| json!({"name": format!("c{i}"), "image": "busybox:1.36"}))
            .collect();
        let p: Pod = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"containers": containers}
        }))
        .unwrap();
        Api::<Pod>::namespaced(self.client().await, ns)
            .create(&PostParams::default(), &p)
            .await
            .expect("create pod")
    }
}

fn params(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("params must be an object, got {other}"),
    }
}

fn replicas(d: &Deployment) -> Option<i32> {
    d.spec.as_ref().and_then(|s| s.replicas)
}

fn restarted_at(d: &Deployment) -> Option<String> {
    d.spec
        .as_ref()?
        .template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(aiops_exec::RESTARTED_AT_ANNOTATION)
        .cloned()
}

async fn plan_ok(x: &KubeExecutor, action: &str, p: &Map<String, Value>) -> KubePlan {
    x.plan(action, p)
        .await
        .unwrap_or_else(|e| panic!("plan {action}: {e} ({})", e.code()))
}

async fn execute_ok(
    x: &KubeExecutor,
    action: &str,
    p: &Map<String, Value>,
    plan: &KubePlan,
) -> KubeOutcome {
    x.execute(action, p, plan)
        .await
        .unwrap_or_else(|e| panic!("execute {action}: {e} ({})", e.code()))
}

async fn plan_err(x: &KubeExecutor, action: &str, p: &Map<String, Value>) -> ExecError {
    match x.plan(action, p).await {
        Ok(plan) => panic!("plan {action} should fail, got {plan:?}"),
        Err(err) => err,
    }
}

/// Executing `plan` fails with error `code`; the error, for further checks.
async fn execute_err(
    x: &KubeExecutor,
    action: &str,
    p: &Map<String, Value>,
    plan: &KubePlan,
    code: &str,
) -> ExecError {
    match x.execute(action, p, plan).await {
        Ok(out) => panic!("execute {action} should fail, got {out:?}"),
        Err(err) => {
            assert_eq!(err.code(), code, "{err}");
            err
        }
    }
}

async fn observe_ok(
    x: &KubeExecutor,
    action: &str,
    p: &Map<String, Value>,
    plan: &KubePlan,
    executed: &Value,
) -> KubeObservation {
    x.observe(action, p, plan, executed)
        .await
        .unwrap_or_else(|e| panic!("observe {action}: {e} ({})", e.code()))
}

/// The evidence of an observation that matched; panics with the observation otherwise.
fn matched(o: KubeObservation) -> Value {
    match o {
        KubeObservation::Matches { evidence } => evidence,
        other => panic!("expected Matches, got {other:?}"),
    }
}

/// The diff lines of an observation that differed; panics with the observation otherwise.
fn differs(o: KubeObservation) -> Vec<String> {
    match o {
        KubeObservation::Differs { diff, evidence } => {
            assert_eq!(evidence["read"], json!("kube-apiserver"), "{evidence}");
            diff
        }
        other => panic!("expected Differs, got {other:?}"),
    }
}

/// Someone else's merge patch of object `name`, between a plan and its execution.
async fn edited_by_someone_else<K>(api: &Api<K>, name: &str, patch: Value)
where
    K: Clone + std::fmt::Debug + serde::de::DeserializeOwned,
{
    api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .expect("someone else's edit");
}

// ------------------------------------------------------------------------------------------
// Scenarios.
// ------------------------------------------------------------------------------------------

async fn version_is_the_real_apiserver(ctx: Ctx) {
    let v = ctx.executor().await.version().await.expect("version");
    assert_eq!(v, "v1.20.2");
}

async fn scale_plan_is_a_dry_run_then_execute_applies(ctx: Ctx) {
    let ns = ctx.namespace("scale").await;
    let created = ctx.deployment(&ns, "web", 2).await;
    let x = ctx.executor().await;
    let p = params(json!({"namespace": ns, "name": "web", "replicas": 5}));

    let plan = plan_ok(&x, "k8s.scale_deployment", &p).await;
    assert!(plan.changes);
    assert_eq!(plan.diff, "spec.replicas: 2 -> 5");
    assert_eq!(
        plan.preconditions["resourceVersion"],
        json!(created.metadata.resource_version)
    );
    assert_eq!(plan.preconditions["uid"], json!(created.metadata.uid));
    // The dry run stored nothing.
    let after_plan = ctx.get_deployment(&ns, "web").await;
    assert_eq!(replicas(&after_plan), Some(2));
    assert_eq!(
        after_plan.metadata.resource_version,
        created.metadata.resource_version
    );
    // The same request planned again gives the same plan (the hash binds to it).
    assert_eq!(plan_ok(&x, "k8s.scale_deployment", &p).await, plan);

    let out = execute_ok(&x, "k8s.scale_deployment", &p, &plan).await;
    assert!(out.changed);
    assert_eq!(
        out.result,
        json!({"deployment": format!("{ns}/web"), "replicas": 5})
    );
    let scaled = ctx.get_deployment(&ns, "web").await;
    assert_eq!(replicas(&scaled), Some(5));
    // Field manager of the write is aiopsd.
    let managers: Vec<String> = scaled
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.clone())
        .collect();
    assert!(
        managers.iter().any(|m| m == "aiopsd"),
        "managers: {managers:?}"
    );

    // Already at 5: nothing to do, and executing changes nothing.
    let again = plan_ok(&x, "k8s.scale_deployment", &p).await;
    assert!(!again.changes);
    assert_eq!(again.diff, aiops_exec::NO_CHANGES);
    let out = execute_ok(&x, "k8s.scale_deployment", &p, &again).await;
    assert!(!out.changed);
    assert_eq!(
        ctx.deployment_rv(&ns, "web").await,
        scaled.metadata.resource_version
    );
}

async fn restart_sets_the_annotation_with_a_clock_free_plan(ctx: Ctx) {
    let ns = ctx.namespace("restart").await;
    ctx.deployment(&ns, "api", 1).await;
    let x = ctx.executor().await;
    let p = params(json!({"namespace": ns, "name": "api"}));

    let plan = plan_ok(&x, "k8s.restart_deployment", &p).await;
    assert!(plan.changes);
    assert_eq!(
        plan.diff,
        "spec.template.metadata.annotations.kubectl.kubernetes.io/restartedAt: <none> -> <time of execution>"
    );
    assert_eq!(restarted_at(&ctx.get_deployment(&ns, "api").await), None);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        plan_ok(&x, "k8s.restart_deployment", &p).await,
        plan,
        "plan must not depend on the clock"
    );

    let out = execute_ok(&x, "k8s.restart_deployment", &p, &plan).await;
    assert!(out.changed);
    let at = restarted_at(&ctx.get_deployment(&ns, "api").await).expect("annotation set");
    assert_eq!(out.result["restartedAt"], json!(at));
    assert_eq!(out.result["deployment"], json!(format!("{ns}/api")));
    let parsed: k8s_openapi::jiff::Timestamp = at.parse().expect("RFC 3339");
    let age = k8s_openapi::jiff::Timestamp::now().as_second() - parsed.as_second();
    assert!((0..120).contains(&age), "restartedAt {at} is not now");

    // A second restart shows the previous value.
    let plan2 = plan_ok(&x, "k8s.restart_deployment", &p).await;
    assert_eq!(
        plan2.diff,
        format!(
            "spec.template.metadata.annotations.kubectl.kubernetes.io/restartedAt: {at} -> <time of execution>"
        )
    );
}

async fn changed_between_plan_and_execute_is_a_conflict(ctx: Ctx) {
    let ns = ctx.namespace("conflict").await;
    ctx.deployment(&ns, "web", 2).await;
    let x = ctx.executor().await;
    let client = ctx.client().await;
    let deployments: Api<Deployment> = Api::namespaced(client, &ns);

    // Scale: another writer scales to 7 after the plan; the planned scale to 4 must fail
    // and leave the other writer's 7.
    let p = params(json!({"namespace": ns, "name": "web", "replicas": 4}));
    let plan = plan_ok(&x, "k8s.scale_deployment", &p).await;
    edited_by_someone_else(&deployments, "web", json!({"spec": {"replicas": 7}})).await;
    let err = execute_err(&x, "k8s.scale_deployment", &p, &plan, "conflict").await;
    assert!(matches!(err, ExecError::Conflict(_)));
    assert!(
        err.to_string().contains(&format!("deployment {ns}/web")),
        "{err}"
    );
    assert_eq!(replicas(&ctx.get_deployment(&ns, "web").await), Some(7));

    // Restart: a label change by someone else after the plan makes it a conflict too.
    let p = params(json!({"namespace": ns, "name": "web"}));
    let plan = plan_ok(&x, "k8s.restart_deployment", &p).await;
    let label = json!({"metadata": {"labels": {"touched": "yes"}}});
    edited_by_someone_else(&deployments, "web", label).await;
    execute_err(&x, "k8s.restart_deployment", &p, &plan, "conflict").await;
    assert_eq!(restarted_at(&ctx.get_deployment(&ns, "web").await), None);
}

async fn delete_pod_plans_then_deletes(ctx: Ctx) {
    let ns = ctx.namespace("delete").await;
    let pod = ctx.pod(&ns, "worker-1", 1).await;
    let x = ctx.executor().await;
    let pods: Api<Pod> = Api::namespaced(ctx.client().await, &ns);
    let p = params(json!({"namespace": ns, "name": "worker-1"}));

    let plan = plan_ok(&x, "k8s.delete_pod", &p).await;
    assert!(plan.changes);
    let uid = pod.metadata.uid.clone().unwrap();
    assert_eq!(
        plan.diff,
        format!("pod {ns}/worker-1: present (uid {uid}) -> deleted")
    );
    assert_eq!(plan.preconditions["uid"], json!(uid));
    // Dry run: still there, untouched.
    let still = pods
        .get("worker-1")
        .await
        .expect("pod survives the dry run");
    assert!(still.metadata.deletion_timestamp.is_none());

    let out = execute_ok(&x, "k8s.delete_pod", &p, &plan).await;
    assert!(out.changed);
    assert_eq!(out.result["pod"], json!(format!("{ns}/worker-1")));
    assert_eq!(out.result["deleted"], json!(true));
    // An unscheduled pod goes at once (no kubelet to wait for).
    let gone = pods.get_opt("worker-1").await.expect("get");
    assert!(
        gone.is_none() || gone.unwrap().metadata.deletion_timestamp.is_some(),
        "pod still there"
    );

    // Deleting it again: not found.
    let err = plan_err(&x, "k8s.delete_pod", &p).await;
    assert_eq!(err.code(), "not_found", "{err}");
}

async fn delete_of_a_recreated_pod_is_a_conflict(ctx: Ctx) {
    let ns = ctx.namespace("recreate").await;
    ctx.pod(&ns, "worker-2", 1).await;
    let x = ctx.executor().await;
    let pods: Api<Pod> = Api::namespaced(ctx.client().await, &ns);
    let p = params(json!({"namespace": ns, "name": "worker-2"}));
    let plan = plan_ok(&x, "k8s.delete_pod", &p).await;

    // Someone deletes and recreates it: same name, new uid.
    pods.delete("worker-2", &DeleteParams::default().grace_period(0))
        .await
        .expect("delete");
    let deadline = Instant::now() + Duration::from_secs(20);
    while pods.get_opt("worker-2").await.expect("get").is_some() {
        assert!(Instant::now() < deadline, "pod not gone");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recreated = ctx.pod(&ns, "worker-2", 1).await;
    assert_ne!(json!(recreated.metadata.uid), plan.preconditions["uid"]);

    execute_err(&x, "k8s.delete_pod", &p, &plan, "conflict").await;
    let survivor = pods.get("worker-2").await.expect("new pod untouched");
    assert_eq!(survivor.metadata.uid, recreated.metadata.uid);
    assert!(survivor.metadata.deletion_timestamp.is_none());
}

async fn list_pods_returns_structured_entries(ctx: Ctx) {
    let ns = ctx.namespace("list").await;
    ctx.pod(&ns, "b-two", 2).await;
    ctx.pod(&ns, "a-one", 1).await;
    let x = ctx.executor().await;
    let p = params(json!({"namespace": ns}));

    let plan = plan_ok(&x, "k8s.list_pods", &p).await;
    assert!(!plan.changes);
    assert_eq!(plan.diff, aiops_exec::READ_ONLY);

    let out = execute_ok(&x, "k8s.list_pods", &p, &plan).await;
    assert!(!out.changed);
    assert_eq!(out.result["namespace"], json!(ns));
    assert_eq!(out.result["count"], json!(2));
    let pods = out.result["pods"].as_array().expect("pods array");
    let names: Vec<&str> = pods.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a-one", "b-two"]);
    for (pod, total) in pods.iter().zip([1, 2]) {
        assert_eq!(pod["phase"], json!("Pending"), "{pod}");
        assert_eq!(pod["ready"], json!(format!("0/{total}")), "{pod}");
        assert_eq!(pod["restarts"], json!(0), "{pod}");
        assert_eq!(pod["node"], Value::Null, "{pod}");
        let age = pod["age_seconds"].as_i64().expect("age_seconds");
        assert!((0..300).contains(&age), "{pod}");
        assert!(pod["age"].as_str().expect("age").ends_with('s'), "{pod}");
    }

    // An empty namespace lists nothing.
    let empty = ctx.namespace("list-empty").await;
    let p = params(json!({"namespace": empty}));
    let out = execute_ok(&x, "k8s.list_pods", &p, &plan).await;
    assert_eq!(out.result["pods"], json!([]));
}

async fn expose_applies_route_and_certificate_once(ctx: Ctx) {
    let ns = ctx.namespace("expose").await;
    let x = ctx.executor().await;
    let client = ctx.client().await;
    let p = params(
        json!({"namespace": ns, "service": "shop", "hostname": "shop.example.com", "port": 8080}),
    );
    let routes: Api<aiops_exec::HttpRoute> = Api::namespaced(client.clone(), &ns);
    let certs: Api<aiops_exec::Certificate> = Api::namespaced(client.clone(), &ns);

    let plan = plan_ok(&x, "k8s.expose_service", &p).await;
    assert!(plan.changes);
    let route = format!("HTTPRoute {ns}/shop-shop-example-com");
    let cert = format!("Certificate {ns}/shop-example-com");
    let expected = [
        format!("{route}: metadata.labels.app.kubernetes.io/managed-by: <none> -> aiopsd"),
        format!("{route}: spec.hostnames: <none> -> [\"shop.example.com\"]"),
        format!(
            "{route}: spec.parentRefs: <none> -> [{{\"group\":\"gateway.networking.k8s.io\",\"kind\":\"Gateway\",\"name\":\"{GATEWAY}\",\"namespace\":\"{GATEWAY_NS}\"}}]"
        ),
        format!(
            "{route}: spec.rules: <none> -> [{{\"backendRefs\":[{{\"name\":\"shop\",\"port\":8080}}]}}]"
        ),
        format!("{cert}: metadata.labels.app.kubernetes.io/managed-by: <none> -> aiopsd"),
        format!("{cert}: spec.dnsNames: <none> -> [\"shop.example.com\"]"),
        format!("{cert}: spec.issuerRef.group: <none> -> cert-manager.io"),
        format!("{cert}: spec.issuerRef.kind: <none> -> ClusterIssuer"),
        format!("{cert}: spec.issuerRef.name: <none> -> {ISSUER}"),
        format!("{cert}: spec.secretName: <none> -> shop-example-com-tls"),
    ];
    assert_eq!(plan.diff, expected.join("\n"));
    // The dry run created nothing.
    assert!(
        routes
            .get_opt("shop-shop-example-com")
            .await
            .unwrap()
            .is_none()
    );
    assert!(certs.get_opt("shop-example-com").await.unwrap().is_none());

    let out = execute_ok(&x, "k8s.expose_service", &p, &plan).await;
    assert!(out.changed);
    assert_eq!(
        out.result["httproute"],
        json!(format!("{ns}/shop-shop-example-com"))
    );
    assert_eq!(
        out.result["certificate"],
        json!(format!("{ns}/shop-example-com"))
    );
    assert_eq!(out.result["secretName"], json!("shop-example-com-tls"));

    // Read back raw JSON: the fields the server stored.
    let route_obj =
        serde_json::to_value(routes.get("shop-shop-example-com").await.unwrap()).unwrap();
    assert_eq!(
        route_obj["apiVersion"],
        json!("gateway.networking.k8s.io/v1")
    );
    assert_eq!(
        route_obj["spec"],
        json!({
            "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                            "name": GATEWAY, "namespace": GATEWAY_NS}],
            "hostnames": ["shop.example.com"],
            "rules": [{"backendRefs": [{"name": "shop", "port": 8080}]}]
        })
    );
    let cert_obj = certs.get("shop-example-com").await.unwrap();
    assert_eq!(cert_obj.spec.dns_names, ["shop.example.com"]);
    assert_eq!(cert_obj.spec.secret_name, "shop-example-com-tls");
    assert_eq!(cert_obj.spec.issuer_ref.name, ISSUER);
    assert_eq!(
        cert_obj.spec.issuer_ref.kind.as_deref(),
        Some("ClusterIssuer")
    );
    let fields = cert_obj.metadata.managed_fields.clone().unwrap_or_default();
    assert!(
        fields
            .iter()
            .any(|m| m.manager.as_deref() == Some("aiopsd")
                && m.operation.as_deref() == Some("Apply")),
        "server-side apply by aiopsd: {fields:?}"
    );
    let route_rv = route_obj["metadata"]["resourceVersion"].clone();
    let cert_rv = cert_obj.metadata.resource_version.clone();

    // Re-running: nothing to do, nothing done.
    let again = plan_ok(&x, "k8s.expose_service", &p).await;
    assert!(!again.changes, "{}", again.diff);
    assert_eq!(again.diff, aiops_exec::NO_CHANGES);
    let out = execute_ok(&x, "k8s.expose_service", &p, &again).await;
    assert!(!out.changed);
    let route_after =
        serde_json::to_value(routes.get("shop-shop-example-com").await.unwrap()).unwrap();
    assert_eq!(route_after["metadata"]["resourceVersion"], route_rv);
    assert_eq!(
        certs
            .get("shop-example-com")
            .await
            .unwrap()
            .metadata
            .resource_version,
        cert_rv
    );

    // A changed port is an update of the route only.
    let p2 = params(
        json!({"namespace": ns, "service": "shop", "hostname": "shop.example.com", "port": 9090}),
    );
    let plan2 = plan_ok(&x, "k8s.expose_service", &p2).await;
    assert_eq!(
        plan2.diff,
        format!(
            "{route}: spec.rules: [{{\"backendRefs\":[{{\"name\":\"shop\",\"port\":8080}}]}}] -> [{{\"backendRefs\":[{{\"name\":\"shop\",\"port\":9090}}]}}]"
        )
    );
    // …and someone editing the route after that plan makes it a conflict.
    let label = json!({"metadata": {"labels": {"edited": "by-hand"}}});
    edited_by_someone_else(&routes, "shop-shop-example-com", label).await;
    execute_err(&x, "k8s.expose_service", &p2, &plan2, "conflict").await;
    let route_now = routes.get("shop-shop-example-com").await.unwrap();
    assert_eq!(route_now.spec.rules[0].backend_refs[0].port, Some(8080));
}

async fn scale_is_observed_against_the_world(ctx: Ctx) {
    let ns = ctx.namespace("observe-scale").await;
    ctx.deployment(&ns, "web", 2).await;
    let x = ctx.executor().await;
    let deployments: Api<Deployment> = Api::namespaced(ctx.client().await, &ns);
    let p = params(json!({"namespace": ns, "name": "web", "replicas": 5}));

    let plan = plan_ok(&x, "k8s.scale_deployment", &p).await;
    assert_eq!(plan.before, json!({"replicas": 2}));
    let out = execute_ok(&x, "k8s.scale_deployment", &p, &plan).await;

    // No controller-manager here: the spec is all there is to check, and the evidence
    // says so.
    let evidence = matched(observe_ok(&x, "k8s.scale_deployment", &p, &plan, &out.result).await);
    assert_eq!(evidence["read"], json!("kube-apiserver"));
    assert_eq!(
        evidence["rollout"],
        json!("no controller reports status; spec only")
    );
    let object = &evidence["objects"][0];
    assert_eq!(object["kind"], json!("Deployment"));
    assert_eq!(object["name"], json!(format!("{ns}/web")));
    assert_eq!(object["found"], json!({"spec.replicas": 5}));
    assert_eq!(
        object["resourceVersion"],
        json!(ctx.deployment_rv(&ns, "web").await)
    );

    // Someone scales it back behind the executor's back.
    edited_by_someone_else(&deployments, "web", json!({"spec": {"replicas": 3}})).await;
    let diff = differs(observe_ok(&x, "k8s.scale_deployment", &p, &plan, &out.result).await);
    assert_eq!(diff, ["spec.replicas: 5 -> 3"]);

    // A controller that reports a rollout still in progress (status written the way the
    // deployment controller writes it: through the status subresource).
    ctx.deployment(&ns, "api", 1).await;
    let p = params(json!({"namespace": ns, "name": "api", "replicas": 5}));
    let plan = plan_ok(&x, "k8s.scale_deployment", &p).await;
    assert_eq!(plan.before, json!({"replicas": 1}));
    let out = execute_ok(&x, "k8s.scale_deployment", &p, &plan).await;
    let generation = ctx.get_deployment(&ns, "api").await.metadata.generation;
    let status = |observed: Option<i64>, available: i32| {
        json!({"status": {"observedGeneration": observed, "replicas": 5, "updatedReplicas": 5,
                          "readyReplicas": 5, "availableReplicas": available}})
    };
    let pp = PatchParams::default();
    deployments
        .patch_status("api", &pp, &Patch::Merge(status(generation, 2)))
        .await
        .expect("status patch");
    match observe_ok(&x, "k8s.scale_deployment", &p, &plan, &out.result).await {
        KubeObservation::Settling { why, evidence } => {
            assert_eq!(
                why,
                "rollout in progress: 2 of 5 replicas available (5 updated, 5 ready)"
            );
            assert_eq!(evidence["rollout"]["availableReplicas"], json!(2));
            assert_eq!(evidence["rollout"]["observedGeneration"], json!(generation));
        }
        other => panic!("expected Settling, got {other:?}"),
    }
    // The controller has not seen the latest generation yet: settling too.
    let older = generation.map(|g| g - 1);
    deployments
        .patch_status("api", &pp, &Patch::Merge(status(older, 5)))
        .await
        .expect("status patch");
    match observe_ok(&x, "k8s.scale_deployment", &p, &plan, &out.result).await {
        KubeObservation::Settling { why, .. } => {
            assert!(why.contains("has not yet seen generation"), "{why}");
        }
        other => panic!("expected Settling, got {other:?}"),
    }
    // Rolled out: matches, with the rollout as evidence.
    deployments
        .patch_status("api", &pp, &Patch::Merge(status(generation, 5)))
        .await
        .expect("status patch");
    let evidence = matched(observe_ok(&x, "k8s.scale_deployment", &p, &plan, &out.result).await);
    assert_eq!(evidence["rollout"]["availableReplicas"], json!(5));
    assert_eq!(evidence["rollout"]["desiredReplicas"], json!(5));

    // Deleted since: a difference, not a failure to read.
    deployments
        .delete("api", &DeleteParams::default())
        .await
        .expect("delete deployment");
    let diff = differs(observe_ok(&x, "k8s.scale_deployment", &p, &plan, &out.result).await);
    assert_eq!(diff, [format!("deployment {ns}/api: present -> missing")]);
}

async fn restart_is_observed_against_the_world(ctx: Ctx) {
    let ns = ctx.namespace("observe-restart").await;
    ctx.deployment(&ns, "api", 2).await;
    let x = ctx.executor().await;
    let deployments: Api<Deployment> = Api::namespaced(ctx.client().await, &ns);
    let p = params(json!({"namespace": ns, "name": "api"}));

    let plan = plan_ok(&x, "k8s.restart_deployment", &p).await;
    assert_eq!(plan.before, Value::Null);
    let out = execute_ok(&x, "k8s.restart_deployment", &p, &plan).await;
    let at = out.result["restartedAt"].as_str().unwrap().to_string();
    let evidence = matched(observe_ok(&x, "k8s.restart_deployment", &p, &plan, &out.result).await);
    let key = format!(
        "spec.template.metadata.annotations.{}",
        aiops_exec::RESTARTED_AT_ANNOTATION
    );
    assert_eq!(evidence["objects"][0]["found"], json!({ key.as_str(): at }));

    // Someone restarts it again (another time) behind the executor's back.
    let other = "2000-01-01T00:00:00Z";
    let patch = json!({"spec": {"template": {"metadata": {"annotations":
        {aiops_exec::RESTARTED_AT_ANNOTATION: other}}}}});
    edited_by_someone_else(&deployments, "api", patch).await;
    let diff = differs(observe_ok(&x, "k8s.restart_deployment", &p, &plan, &out.result).await);
    assert_eq!(diff, [format!("{key}: {at} -> {other}")]);

    // Without the execution's result there is nothing to compare with.
    let err = x
        .observe("k8s.restart_deployment", &p, &plan, &json!({}))
        .await
        .expect_err("no restartedAt");
    assert_eq!(err.code(), "invalid_params", "{err}");
}

async fn expose_is_observed_and_records_what_it_replaces(ctx: Ctx) {
    let ns = ctx.namespace("observe-expose").await;
    let x = ctx.executor().await;
    let client = ctx.client().await;
    let routes: Api<aiops_exec::HttpRoute> = Api::namespaced(client.clone(), &ns);
    let certs: Api<aiops_exec::Certificate> = Api::namespaced(client, &ns);
    let p = params(
        json!({"namespace": ns, "service": "shop", "hostname": "shop.example.com", "port": 8080}),
    );
    let route = format!("HTTPRoute {ns}/shop-shop-example-com");
    let cert = format!("Certificate {ns}/shop-example-com");

    let plan = plan_ok(&x, "k8s.expose_service", &p).await;
    assert_eq!(
        plan.before,
        json!({"httproute": false, "certificate": false})
    );
    let out = execute_ok(&x, "k8s.expose_service", &p, &plan).await;
    let evidence = matched(observe_ok(&x, "k8s.expose_service", &p, &plan, &out.result).await);
    let objects = evidence["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 2, "{evidence}");
    assert_eq!(objects[0]["kind"], json!("HTTPRoute"));
    assert_eq!(
        objects[0]["found"]["spec"]["hostnames"],
        json!(["shop.example.com"])
    );
    assert!(objects[0]["resourceVersion"].is_string(), "{evidence}");
    assert_eq!(objects[1]["kind"], json!("Certificate"));
    assert_eq!(
        objects[1]["found"]["spec"]["secretName"],
        json!("shop-example-com-tls")
    );

    // Planned again once they exist: the plan records that they were there.
    let again = plan_ok(&x, "k8s.expose_service", &p).await;
    assert_eq!(
        again.before,
        json!({"httproute": true, "certificate": true})
    );

    // Someone retargets the route: the field that differs is named.
    let patch = json!({"spec": {"hostnames": ["other.example.com"]}});
    edited_by_someone_else(&routes, "shop-shop-example-com", patch).await;
    let diff = differs(observe_ok(&x, "k8s.expose_service", &p, &plan, &out.result).await);
    assert_eq!(
        diff,
        [format!(
            "{route}: spec.hostnames: [\"shop.example.com\"] -> [\"other.example.com\"]"
        )]
    );

    // Someone deletes the certificate.
    certs
        .delete("shop-example-com", &DeleteParams::default())
        .await
        .expect("delete certificate");
    let diff = differs(observe_ok(&x, "k8s.expose_service", &p, &plan, &out.result).await);
    assert!(
        diff.contains(&format!("{cert}: present -> missing")),
        "{diff:?}"
    );
}

async fn unexpose_deletes_what_expose_created(ctx: Ctx) {
    let ns = ctx.namespace("unexpose").await;
    let x = ctx.executor().await;
    let client = ctx.client().await;
    let routes: Api<aiops_exec::HttpRoute> = Api::namespaced(client.clone(), &ns);
    let certs: Api<aiops_exec::Certificate> = Api::namespaced(client, &ns);
    let expose = params(
        json!({"namespace": ns, "service": "shop", "hostname": "shop.example.com", "port": 8080}),
    );
    let plan = plan_ok(&x, "k8s.expose_service", &expose).await;
    execute_ok(&x, "k8s.expose_service", &expose, &plan).await;
    let route_obj = routes.get("shop-shop-example-com").await.unwrap();
    let cert_obj = certs.get("shop-example-com").await.unwrap();

    let p = params(json!({"namespace": ns, "service": "shop", "hostname": "shop.example.com"}));
    let plan = plan_ok(&x, "k8s.unexpose_service", &p).await;
    assert!(plan.changes);
    assert_eq!(
        plan.diff,
        format!(
            "Certificate {ns}/shop-example-com: deleted\nHTTPRoute {ns}/shop-shop-example-com: deleted"
        )
    );
    assert_eq!(plan.before, json!({"port": 8080}));
    assert_eq!(
        plan.preconditions,
        json!({
            "httproute": {"name": "shop-shop-example-com",
                          "resourceVersion": route_obj.metadata.resource_version,
                          "uid": route_obj.metadata.uid},
            "certificate": {"name": "shop-example-com",
                            "resourceVersion": cert_obj.metadata.resource_version,
                            "uid": cert_obj.metadata.uid},
        })
    );
    // The dry runs deleted nothing.
    assert!(
        routes
            .get_opt("shop-shop-example-com")
            .await
            .unwrap()
            .is_some()
    );
    assert!(certs.get_opt("shop-example-com").await.unwrap().is_some());
    // Not done yet: observing says what is still there.
    let diff = differs(observe_ok(&x, "k8s.unexpose_service", &p, &plan, &json!({})).await);
    assert_eq!(
        diff,
        [
            format!("Certificate {ns}/shop-example-com: deleted -> present"),
            format!("HTTPRoute {ns}/shop-shop-example-com: deleted -> present"),
        ]
    );

    let out = execute_ok(&x, "k8s.unexpose_service", &p, &plan).await;
    assert!(out.changed);
    assert_eq!(
        out.result,
        json!({
            "httproute": format!("{ns}/shop-shop-example-com"),
            "certificate": format!("{ns}/shop-example-com"),
            "deleted": [format!("certificate {ns}/shop-example-com"),
                        format!("httproute {ns}/shop-shop-example-com")],
        })
    );
    assert!(
        routes
            .get_opt("shop-shop-example-com")
            .await
            .unwrap()
            .is_none()
    );
    assert!(certs.get_opt("shop-example-com").await.unwrap().is_none());
    let evidence = matched(observe_ok(&x, "k8s.unexpose_service", &p, &plan, &out.result).await);
    let found: Vec<&Value> = evidence["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["found"])
        .collect();
    assert_eq!(found, [&Value::Null, &Value::Null], "{evidence}");

    // Nothing left: nothing to do, nothing done.
    let again = plan_ok(&x, "k8s.unexpose_service", &p).await;
    assert!(!again.changes);
    assert_eq!(again.diff, aiops_exec::NO_CHANGES);
    assert_eq!(again.before, json!({"port": null}));
    let out = execute_ok(&x, "k8s.unexpose_service", &p, &again).await;
    assert!(!out.changed);
    assert_eq!(out.result["deleted"], json!([]));
}

async fn unexpose_refuses_what_is_not_ours_or_changed(ctx: Ctx) {
    let ns = ctx.namespace("unexpose-guard").await;
    let x = ctx.executor().await;
    let client = ctx.client().await;
    let routes: Api<aiops_exec::HttpRoute> = Api::namespaced(client.clone(), &ns);
    let certs: Api<aiops_exec::Certificate> = Api::namespaced(client, &ns);

    // Never exposed: nothing to delete.
    let p = params(json!({"namespace": ns, "service": "none", "hostname": "none.example.com"}));
    let plan = plan_ok(&x, "k8s.unexpose_service", &p).await;
    assert!(!plan.changes);
    assert_eq!(plan.diff, aiops_exec::NO_CHANGES);
    assert!(
        !execute_ok(&x, "k8s.unexpose_service", &p, &plan)
            .await
            .changed
    );

    // A route under the derived name that someone else made (no managed-by label).
    let (route_name, _, _) = aiops_exec::expose_names("hand", "hand.example.com");
    let theirs = aiops_exec::HttpRoute::new(
        &route_name,
        aiops_exec::HttpRouteSpec {
            hostnames: vec!["hand.example.com".into()],
            ..Default::default()
        },
    );
    routes
        .create(&PostParams::default(), &theirs)
        .await
        .expect("someone else's route");
    let p = params(json!({"namespace": ns, "service": "hand", "hostname": "hand.example.com"}));
    let err = plan_err(&x, "k8s.unexpose_service", &p).await;
    assert_eq!(err.code(), "conflict", "{err}");
    assert!(
        err.to_string().contains(&format!(
            "HTTPRoute {ns}/{route_name} is not managed by this appliance"
        )),
        "{err}"
    );
    assert!(routes.get_opt(&route_name).await.unwrap().is_some());

    // Ours, but the route changes after the plan: nothing is deleted, not even the
    // certificate (which comes first in deletion order).
    let expose = params(
        json!({"namespace": ns, "service": "shop", "hostname": "shop.example.com", "port": 80}),
    );
    let plan = plan_ok(&x, "k8s.expose_service", &expose).await;
    execute_ok(&x, "k8s.expose_service", &expose, &plan).await;
    let p = params(json!({"namespace": ns, "service": "shop", "hostname": "shop.example.com"}));
    let plan = plan_ok(&x, "k8s.unexpose_service", &p).await;
    assert_eq!(plan.before, json!({"port": 80}));
    let label = json!({"metadata": {"labels": {"edited": "by-hand"}}});
    edited_by_someone_else(&routes, "shop-shop-example-com", label).await;
    let err = execute_err(&x, "k8s.unexpose_service", &p, &plan, "conflict").await;
    assert!(
        err.to_string()
            .contains(&format!("HTTPRoute {ns}/shop-shop-example-com changed")),
        "{err}"
    );
    assert!(certs.get_opt("shop-example-com").await.unwrap().is_some());
    assert!(
        routes
            .get_opt("shop-shop-example-com")
            .await
            .unwrap()
            .is_some()
    );

    // The certificate re-created under its name since planning (same spec, same label,
    // another uid): a conflict too. Re-created by hand rather than by exposing again,
    // which would re-apply the route as well and, a second later, bump its
    // resourceVersion (the apply's managedFields time).
    let plan = plan_ok(&x, "k8s.unexpose_service", &p).await;
    let mut copy = certs.get("shop-example-com").await.unwrap();
    certs
        .delete("shop-example-com", &DeleteParams::default())
        .await
        .expect("delete certificate");
    copy.metadata = kube::api::ObjectMeta {
        name: copy.metadata.name,
        labels: copy.metadata.labels,
        ..Default::default()
    };
    certs
        .create(&PostParams::default(), &copy)
        .await
        .expect("re-create certificate");
    let err = execute_err(&x, "k8s.unexpose_service", &p, &plan, "conflict").await;
    assert!(err.to_string().contains("re-created"), "{err}");
    assert!(certs.get_opt("shop-example-com").await.unwrap().is_some());
    assert!(
        routes
            .get_opt("shop-shop-example-com")
            .await
            .unwrap()
            .is_some()
    );
}

async fn delete_pod_is_observed_gone(ctx: Ctx) {
    let ns = ctx.namespace("observe-delete").await;
    let pod = ctx.pod(&ns, "worker-3", 1).await;
    let x = ctx.executor().await;
    let p = params(json!({"namespace": ns, "name": "worker-3"}));
    let plan = plan_ok(&x, "k8s.delete_pod", &p).await;
    assert_eq!(plan.before, Value::Null);

    // Before the delete the pod is still there, and observing says so.
    let uid = pod.metadata.uid.clone().unwrap();
    let diff = differs(observe_ok(&x, "k8s.delete_pod", &p, &plan, &json!({})).await);
    assert_eq!(
        diff,
        [format!(
            "pod {ns}/worker-3: deleted -> still present (uid {uid})"
        )]
    );

    let out = execute_ok(&x, "k8s.delete_pod", &p, &plan).await;
    let evidence = matched(observe_ok(&x, "k8s.delete_pod", &p, &plan, &out.result).await);
    let object = &evidence["objects"][0];
    assert_eq!(object["kind"], json!("Pod"));
    assert_eq!(object["name"], json!(format!("{ns}/worker-3")));
    // Gone at once, or marked for deletion (no kubelet to finish it).
    assert!(
        object["found"].is_null() || object["found"]["deletionTimestamp"].is_string(),
        "{evidence}"
    );
}

async fn rbac_without_patch_is_forbidden(ctx: Ctx) {
    let ns = ctx.namespace("rbac").await;
    let before = ctx.deployment(&ns, "web", 2).await;
    let client = ctx.client().await;
    // The restricted user may read Deployments here, nothing more.
    let role: Role = serde_json::from_value(json!({
        "metadata": {"name": "deployments-read"},
        "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]}]
    }))
    .unwrap();
    Api::<Role>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &role)
        .await
        .expect("role");
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "deployments-read"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployments-read"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "aiops-restricted"}]
    }))
    .unwrap();
    Api::<RoleBinding>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &binding)
        .await
        .expect("rolebinding");

    let x = ctx.restricted_executor().await;
    let p = params(json!({"namespace": ns, "name": "web", "replicas": 5}));
    // RBAC changes reach the authorizer's cache quickly but not synchronously.
    let deadline = Instant::now() + Duration::from_secs(20);
    let err = loop {
        let err = plan_err(&x, "k8s.scale_deployment", &p).await;
        let get_refused = matches!(&err, ExecError::Forbidden { verb, .. } if verb == "get");
        if !get_refused || Instant::now() > deadline {
            break err;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(err.code(), "forbidden", "{err}");
    match &err {
        ExecError::Forbidden {
            verb,
            resource,
            message,
        } => {
            assert_eq!(verb, "patch");
            assert_eq!(resource, "deployments");
            assert!(message.contains("aiops-restricted"), "{message}");
        }
        other => panic!("expected Forbidden, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("cannot patch deployments"), "{text}");
    let token = std::fs::read_to_string(
        ctx.restricted_kubeconfig
            .parent()
            .unwrap()
            .join("restricted.token"),
    )
    .unwrap();
    assert!(!text.contains(token.trim()), "token leaked into the error");
    assert_eq!(
        ctx.deployment_rv(&ns, "web").await,
        before.metadata.resource_version
    );

    // Without any grant in a namespace, even the read is refused, and says so.
    let other = ctx.namespace("rbac-none").await;
    ctx.deployment(&other, "web", 1).await;
    let p = params(json!({"namespace": other, "name": "web", "replicas": 5}));
    let err = plan_err(&x, "k8s.scale_deployment", &p).await;
    assert!(
        matches!(&err, ExecError::Forbidden { verb, resource, .. } if verb == "get" && resource == "deployments"),
        "{err:?}"
    );
}

async fn unknown_objects_and_actions(ctx: Ctx) {
    let ns = ctx.namespace("missing").await;
    let x = ctx.executor().await;
    let p = params(json!({"namespace": ns, "name": "nope", "replicas": 3}));
    let err = plan_err(&x, "k8s.scale_deployment", &p).await;
    assert_eq!(err.code(), "not_found", "{err}");
    assert!(
        matches!(&err, ExecError::NotFound { what } if what == &format!("deployment {ns}/nope"))
    );
    let err = plan_err(&x, "k8s.restart_deployment", &p).await;
    assert_eq!(err.code(), "not_found", "{err}");

    let err = plan_err(&x, "k8s.drain_node", &p).await;
    assert_eq!(err.code(), "unknown_action");
    let plan = KubePlan {
        diff: String::new(),
        changes: false,
        preconditions: json!({}),
        before: Value::Null,
    };
    execute_err(&x, "dns.create_a_record", &p, &plan, "unknown_action").await;
    // A read-only action changed nothing: there is nothing to observe.
    for action in ["k8s.list_pods", "k8s.drain_node"] {
        let err = x
            .observe(action, &p, &plan, &json!({}))
            .await
            .expect_err("nothing to observe");
        assert_eq!(err.code(), "unknown_action", "{action}: {err}");
    }
    // A plan without its preconditions is refused before anything is sent.
    execute_err(&x, "k8s.scale_deployment", &p, &plan, "invalid_params").await;
}

/// deploy/k8s/base/rbac.yaml, applied to the real server, is exactly what the executor needs:
/// every action works with the ServiceAccount's token, anything else is refused.
async fn deployed_rbac_allows_the_actions_and_nothing_more(ctx: Ctx) {
    let client = ctx.client().await;
    let text =
        std::fs::read_to_string(aiops_test_support::repo_root().join("deploy/k8s/base/rbac.yaml"))
            .unwrap();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("rbac.yaml parses");
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["ServiceAccount", "ClusterRole", "ClusterRoleBinding"]
    );

    // Exactly these rules, nothing more.
    let mut rules: Vec<String> = docs[1]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            let group = r["apiGroups"][0].as_str().unwrap().to_string();
            let resource = r["resources"][0].as_str().unwrap().to_string();
            assert_eq!(r["apiGroups"].as_array().unwrap().len(), 1, "{r}");
            assert_eq!(r["resources"].as_array().unwrap().len(), 1, "{r}");
            r["verbs"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |v| format!("{group}/{resource}:{}", v.as_str().unwrap()))
                .collect::<Vec<_>>()
        })
        .collect();
    rules.sort();
    assert_eq!(
        rules,
        [
            "/pods:delete",
            "/pods:get",
            "/pods:list",
            "apps/deployments:get",
            "apps/deployments:list",
            "apps/deployments:patch",
            "cert-manager.io/certificates:create",
            "cert-manager.io/certificates:delete",
            "cert-manager.io/certificates:get",
            "cert-manager.io/certificates:list",
            "cert-manager.io/certificates:patch",
            "gateway.networking.k8s.io/httproutes:create",
            "gateway.networking.k8s.io/httproutes:delete",
            "gateway.networking.k8s.io/httproutes:get",
            "gateway.networking.k8s.io/httproutes:list",
            "gateway.networking.k8s.io/httproutes:patch",
        ]
    );

    ctx.namespace("aiops").await;
    let pp = PostParams::default();
    let sa: ServiceAccount = serde_json::from_value(docs[0].clone()).unwrap();
    Api::<ServiceAccount>::namespaced(client.clone(), "aiops")
        .create(&pp, &sa)
        .await
        .expect("service account");
    let role: ClusterRole = serde_json::from_value(docs[1].clone()).unwrap();
    Api::<ClusterRole>::all(client.clone())
        .create(&pp, &role)
        .await
        .expect("cluster role");
    let binding: ClusterRoleBinding = serde_json::from_value(docs[2].clone()).unwrap();
    Api::<ClusterRoleBinding>::all(client.clone())
        .create(&pp, &binding)
        .await
        .expect("cluster role binding");

    // A token of the ServiceAccount (TokenRequest: no controller needed), in a kubeconfig
    // like the admin's.
    let request: TokenRequest = serde_json::from_value(json!({
        "spec": {"audiences": [], "expirationSeconds": 3600}
    }))
    .unwrap();
    let token = Api::<ServiceAccount>::namespaced(client.clone(), "aiops")
        .create_token_request("aiopsd", &pp, &request)
        .await
        .expect("token request")
        .status
        .expect("token status")
        .token;
    let dir = ctx.admin_kubeconfig.parent().unwrap();
    let admin_token = std::fs::read_to_string(dir.join("admin.token")).unwrap();
    let kubeconfig = std::fs::read_to_string(&ctx.admin_kubeconfig)
        .unwrap()
        .replace(admin_token.trim(), &token);
    let sa_kubeconfig = dir.join("aiopsd-sa.kubeconfig");
    std::fs::write(&sa_kubeconfig, kubeconfig).unwrap();
    let x = KubeExecutor::connect(ctx.config(&sa_kubeconfig))
        .await
        .expect("connect as the service account");

    let ns = ctx.namespace("sa-rights").await;
    ctx.deployment(&ns, "web", 1).await;
    ctx.pod(&ns, "web-pod", 1).await;
    let runs = [
        (
            "k8s.scale_deployment",
            json!({"namespace": ns, "name": "web", "replicas": 3}),
        ),
        (
            "k8s.restart_deployment",
            json!({"namespace": ns, "name": "web"}),
        ),
        ("k8s.list_pods", json!({"namespace": ns})),
        (
            "k8s.delete_pod",
            json!({"namespace": ns, "name": "web-pod"}),
        ),
        (
            "k8s.expose_service",
            json!({"namespace": ns, "service": "web", "hostname": "web.example.com", "port": 80}),
        ),
        (
            "k8s.unexpose_service",
            json!({"namespace": ns, "service": "web", "hostname": "web.example.com"}),
        ),
    ];
    for (action, p) in runs {
        let p = params(p);
        let plan = x
            .plan(action, &p)
            .await
            .unwrap_or_else(|e| panic!("{action} plan as aiopsd: {e}"));
        let out = x
            .execute(action, &p, &plan)
            .await
            .unwrap_or_else(|e| panic!("{action} execute as aiopsd: {e}"));
        // Verifying needs no right beyond the ones granted (it only reads).
        if action != "k8s.list_pods" {
            let seen = x
                .observe(action, &p, &plan, &out.result)
                .await
                .unwrap_or_else(|e| panic!("{action} observe as aiopsd: {e}"));
            assert!(
                matches!(seen, KubeObservation::Matches { .. }),
                "{action}: {seen:?}"
            );
        }
    }
    assert_eq!(replicas(&ctx.get_deployment(&ns, "web").await), Some(3));
    // Unexpose deleted what expose created.
    let routes: Api<aiops_exec::HttpRoute> = Api::namespaced(client.clone(), &ns);
    let certs: Api<aiops_exec::Certificate> = Api::namespaced(client.clone(), &ns);
    assert!(
        routes
            .get_opt("web-web-example-com")
            .await
            .unwrap()
            .is_none()
    );
    assert!(certs.get_opt("web-example-com").await.unwrap().is_none());

    // Nothing beyond: no creating Deployments, no reading Secrets, no deleting Deployments.
    let sa_client = aiops_test_support::client_for(&sa_kubeconfig).await;
    let d = ctx.get_deployment(&ns, "web").await;
    let mut copy: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web2"}, "spec": d.spec
    }))
    .unwrap();
    copy.metadata.namespace = None;
    let forbidden =
        |r: Result<_, kube::Error>| matches!(r, Err(kube::Error::Api(s)) if s.code == 403);
    let deployments: Api<Deployment> = Api::namespaced(sa_client.clone(), &ns);
    assert!(forbidden(deployments.create(&pp, &copy).await.map(|_| ())));
    assert!(forbidden(
        deployments
            .delete("web", &DeleteParams::default())
            .await
            .map(|_| ())
    ));
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(sa_client.clone(), &ns);
    assert!(forbidden(
        secrets.list(&Default::default()).await.map(|_| ())
    ));
    let pods: Api<Pod> = Api::namespaced(sa_client, &ns);
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}
    }))
    .unwrap();
    assert!(forbidden(pods.create(&pp, &pod).await.map(|_| ())));
}

// ------------------------------------------------------------------------------------------
// Harness.
// ------------------------------------------------------------------------------------------

type Scenario = fn(Ctx) -> Pin<Box<dyn Future<Output = ()> + Send>>;

macro_rules! scenarios {
    ($($f:ident),* $(,)?) => {
        vec![$((stringify!($f), (|ctx| Box::pin($f(ctx))) as Scenario)),*]
    };
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let exact = args.iter().any(|a| a == "--exact");
    let all = scenarios![
        version_is_the_real_apiserver,
        scale_plan_is_a_dry_run_then_execute_applies,
        restart_sets_the_annotation_with_a_clock_free_plan,
        changed_between_plan_and_execute_is_a_conflict,
        delete_pod_plans_then_deletes,
        delete_of_a_recreated_pod_is_a_conflict,
        list_pods_returns_structured_entries,
        expose_applies_route_and_certificate_once,
        scale_is_observed_against_the_world,
        restart_is_observed_against_the_world,
        expose_is_observed_and_records_what_it_replaces,
        unexpose_deletes_what_expose_created,
        unexpose_refuses_what_is_not_ours_or_changed,
        delete_pod_is_observed_gone,
        rbac_without_patch_is_forbidden,
        unknown_objects_and_actions,
        deployed_rbac_allows_the_actions_and_nothing_more,
        api_server_stopped_is_unavailable,
    ];
    if args.iter().any(|a| a == "--list") {
        for (name, _) in &all {
            println!("{name}: test");
        }
        return;
    }
    let total = all.len();
    let selected: Vec<(&str, Scenario)> = all
        .into_iter()
        .filter(|(name, _)| {
            filters.is_empty()
                || filters.iter().any(|f| {
                    if exact {
                        name == f
                    } else {
                        name.contains(f.as_str())
                    }
                })
        })
        .collect();
    let filtered_out = total - selected.len();
    if selected.is_empty() {
        println!(
            "\nrunning 0 tests\n\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; {filtered_out} filtered out\n"
        );
        return;
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!("\nrunning {} tests", selected.len());
    let server = match KubeApi::start() {
        Ok(server) => server,
        Err(message) => {
            println!("test kube_apiserver_start ... FAILED\n\n{message}");
            println!(
                "\ntest result: FAILED. 0 passed; {} failed; 0 ignored; 0 measured; {filtered_out} filtered out\n",
                selected.len(),
            );
            std::process::exit(101);
        }
    };
    eprintln!("kube-apiserver at {}", server.api);
    let ctx = Ctx {
        admin_kubeconfig: server.kubeconfig.clone(),
        restricted_kubeconfig: server.restricted_kubeconfig.clone(),
    };
    // The project's own CRDs (deploy/k8s/crds), as the dev stack installs them.
    if let Err(err) = server.install_crds() {
        drop(server);
        println!("test install_crds ... FAILED\n\n{err}");
        std::process::exit(101);
    }

    let mut failed = Vec::new();
    let mut passed = 0;
    for (name, scenario) in selected {
        if name == "api_server_stopped_is_unavailable" {
            // Runs last (it is last in the list): it stops the shared server.
            server.stop();
        }
        let result = runtime.block_on(async {
            tokio::time::timeout(
                Duration::from_secs(180),
                tokio::spawn(scenario(ctx.clone())),
            )
            .await
        });
        let outcome = match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(join)) if join.is_panic() => Err("panicked (message above)".to_string()),
            Ok(Err(join)) => Err(format!("task failed: {join}")),
            Err(_) => Err("timed out after 180s".to_string()),
        };
        match outcome {
            Ok(()) => {
                passed += 1;
                println!("test {name} ... ok");
            }
            Err(why) => {
                println!("test {name} ... FAILED: {why}");
                failed.push(name);
            }
        }
    }
    if !failed.is_empty() {
        println!("\n{}", server.log_tail(40));
    }
    drop(server);
    let status = if failed.is_empty() { "ok" } else { "FAILED" };
    if !failed.is_empty() {
        println!("\nfailures:");
        for name in &failed {
            println!("    {name}");
        }
    }
    println!(
        "\ntest result: {status}. {passed} passed; {} failed; 0 ignored; 0 measured; {filtered_out} filtered out\n",
        failed.len(),
    );
    if !failed.is_empty() {
        std::process::exit(101);
    }
}

/// Runs after the shared server was stopped (the harness stops it first).
async fn api_server_stopped_is_unavailable(ctx: Ctx) {
    // connect() does not need the server.
    // How fast it fails is measured by the `kube` bench, not asserted here.
    let x = ctx.executor().await;
    let err = x.version().await.expect_err("server is down");
    assert_eq!(err.code(), "executor_unavailable", "{err}");
    let p = params(json!({"namespace": "default", "name": "web", "replicas": 3}));
    for action in [
        "k8s.scale_deployment",
        "k8s.list_pods",
        "k8s.expose_service",
    ] {
        let p = if action == "k8s.expose_service" {
            params(
                json!({"namespace": "default", "service": "s", "hostname": "a.example.com", "port": 80}),
            )
        } else {
            p.clone()
        };
        let err = plan_err(&x, action, &p).await;
        assert_eq!(err.code(), "executor_unavailable", "{action}: {err}");
        assert!(matches!(err, ExecError::Unavailable(_)));
    }
    let plan = KubePlan {
        diff: "spec.replicas: 2 -> 3".into(),
        changes: true,
        preconditions: json!({"resourceVersion": "1", "uid": "u"}),
        before: json!({"replicas": 2}),
    };
    let err = execute_err(
        &x,
        "k8s.scale_deployment",
        &p,
        &plan,
        "executor_unavailable",
    )
    .await;
    let token = std::fs::read_to_string(ctx.admin_kubeconfig.parent().unwrap().join("admin.token"))
        .unwrap();
    assert!(!err.to_string().contains(token.trim()));
    // Reading the world back fails the same way: the caller reports it unverified.
    let err = x
        .observe("k8s.scale_deployment", &p, &plan, &json!({}))
        .await
        .expect_err("server is down");
    assert!(matches!(err, ExecError::Unavailable(_)), "{err:?}");
    assert!(!err.to_string().contains(token.trim()));
}
