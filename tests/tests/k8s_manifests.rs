//! The Kubernetes manifests of `deploy/k8s` against a real API server: every overlay renders
//! with `kubectl kustomize` (the kubectl `bootstrap/test-env.sh` installs, `AIOPS_KUBECTL`),
//! renders exactly the kinds it is meant to, keeps the hardening the base promises, and every
//! object it renders is accepted by `kubectl apply --dry-run=server` on the kube-apiserver of
//! `bootstrap/kube.sh`, with the project's CRDs installed by `bootstrap/kube.sh crds` and the
//! rendered namespaces created first. A broken object makes the same apply fail (the last
//! part shows it does).
//!
//! The API server is v1.20 (the one Debian's source package builds). Two consequences,
//! both handled here and nowhere else:
//! - It serves `policy/v1beta1` only (`policy/v1` came with v1.21), so the rendered
//!   `PodDisruptionBudget`s are validated as `policy/v1beta1`, whose spec has the same
//!   fields the manifests use (`minAvailable`, `selector`).
//! - There are no controllers and no admission webhooks: a server-side dry run checks the
//!   schemas (built-in kinds and the CRDs'), defaults and names, not what a controller
//!   would do with the objects.

// kubectl is run directly: it is the tool under test alongside the manifests.
#![allow(clippy::disallowed_methods)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use aiops_e2e::{KubeApi, repo_root};
use serde_json::{Value, json};

/// The namespace every namespaced object of the manifests lives in.
const NAMESPACE: &str = "aiops";

/// Kinds that are not namespaced.
const CLUSTER_SCOPED: [&str; 4] = [
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "ClusterIssuer",
];

/// What the base renders, in each overlay.
const BASE_KINDS: [(&str, usize); 13] = [
    ("Certificate", 1),
    ("ClusterIssuer", 1),
    ("ClusterRole", 1),
    ("ClusterRoleBinding", 1),
    // aiopsd's config, and OpenBao's (both overlays run OpenBao).
    ("ConfigMap", 2),
    ("Deployment", 1),
    ("Gateway", 1),
    ("HTTPRoute", 1),
    ("Namespace", 1),
    ("NetworkPolicy", 1),
    ("PodDisruptionBudget", 1),
    ("Service", 1),
    // aiopsd's, and OpenBao's.
    ("ServiceAccount", 2),
];

/// The components each overlay adds: each brings a StatefulSet, a Service and a
/// NetworkPolicy.
const OVERLAYS: [(&str, &[&str]); 2] = [
    ("k3s", &["postgres", "openbao", "qdrant", "ollama"]),
    ("kind", &["postgres", "openbao"]),
];

fn kubectl() -> PathBuf {
    aiops_test_support::kubectl().unwrap_or_else(|e| panic!("{e}"))
}

/// Runs kubectl with `args`; returns (success, stdout, stderr).
fn run(kubeconfig: Option<&Path>, args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(kubectl());
    if let Some(k) = kubeconfig {
        cmd.arg("--kubeconfig").arg(k);
    }
    let out = cmd
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("kubectl runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `kubectl kustomize deploy/k8s/overlays/<overlay>`, as parsed documents.
fn render(overlay: &str) -> Vec<Value> {
    let dir = format!("deploy/k8s/overlays/{overlay}");
    let (ok, stdout, stderr) = run(None, &["kustomize", &dir]);
    assert!(ok, "kubectl kustomize {dir} failed:\n{stderr}");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&stdout)
        .unwrap_or_else(|e| panic!("{dir} rendered YAML that does not parse: {e}"));
    docs.into_iter().filter(|d| !d.is_null()).collect()
}

fn kind(doc: &Value) -> &str {
    doc["kind"].as_str().unwrap_or_default()
}

fn name(doc: &Value) -> &str {
    doc["metadata"]["name"].as_str().unwrap_or_default()
}

fn expected_kinds(components: &[&str]) -> BTreeMap<String, usize> {
    let mut kinds: BTreeMap<String, usize> = BASE_KINDS
        .iter()
        .map(|(k, n)| (k.to_string(), *n))
        .collect();
    for _ in components {
        for k in ["StatefulSet", "Service", "NetworkPolicy"] {
            *kinds.entry(k.into()).or_default() += 1;
        }
    }
    kinds
}

/// The hardening of every workload the manifests run: non-root, no privilege escalation, no
/// capabilities, the runtime's seccomp profile, resource requests and limits, and probes.
fn assert_hardened(overlay: &str, doc: &Value) {
    let pod = &doc["spec"]["template"]["spec"];
    let what = format!("{overlay}: {} {}", kind(doc), name(doc));
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{what}");
    assert!(
        pod["securityContext"]["runAsUser"].as_i64().unwrap_or(0) > 0,
        "{what}"
    );
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
        "{what}"
    );
    let containers = pod["containers"].as_array().expect("containers");
    assert!(!containers.is_empty(), "{what}");
    for c in containers {
        let sc = &c["securityContext"];
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{what}");
        assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]), "{what}");
        assert_eq!(sc["runAsNonRoot"], true, "{what}");
        for r in ["requests", "limits"] {
            for q in ["cpu", "memory"] {
                assert!(
                    c["resources"][r][q].is_string(),
                    "{what}: resources.{r}.{q}"
                );
            }
        }
        assert!(c["livenessProbe"].is_object(), "{what}: livenessProbe");
        assert!(c["readinessProbe"].is_object(), "{what}: readinessProbe");
    }
}

/// What the base promises of the daemon itself.
fn assert_daemon(overlay: &str, docs: &[Value]) {
    let d = docs
        .iter()
        .find(|d| kind(d) == "Deployment" && name(d) == "aiopsd")
        .expect("Deployment aiopsd");
    assert_eq!(d["spec"]["replicas"], 2, "{overlay}");
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "aiopsd", "{overlay}");
    let c = &pod["containers"][0];
    assert_eq!(
        c["securityContext"]["readOnlyRootFilesystem"], true,
        "{overlay}"
    );
    assert_eq!(
        c["livenessProbe"]["httpGet"]["path"], "/healthz",
        "{overlay}"
    );
    assert_eq!(
        c["readinessProbe"]["httpGet"]["path"], "/readyz",
        "{overlay}"
    );
    let env: BTreeMap<&str, &Value> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e))
        .collect();
    assert_eq!(env["AIOPS_CONFIG"]["value"], "/etc/aiops/aiopsd.toml");
    assert_eq!(
        env["AIOPS_STORE_URL"]["valueFrom"]["secretKeyRef"],
        json!({"name": "aiopsd-store", "key": "url"})
    );
    // The config file is the generated ConfigMap (its name carries the content hash).
    let config_map = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "config")
        .expect("config volume")["configMap"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(config_map.starts_with("aiopsd-config-"), "{config_map}");
    let cm = docs
        .iter()
        .find(|d| kind(d) == "ConfigMap" && name(d) == config_map)
        .expect("the ConfigMap the Deployment mounts is rendered");
    assert_config(
        overlay,
        cm["data"]["aiopsd.toml"].as_str().expect("aiopsd.toml"),
    );

    let pdb = docs
        .iter()
        .find(|d| kind(d) == "PodDisruptionBudget")
        .unwrap();
    assert_eq!(pdb["apiVersion"], "policy/v1", "{overlay}");
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        d["spec"]["selector"]["matchLabels"]
    );
}

/// The shipped aiopsd.toml is a configuration the daemon accepts (unknown keys are errors),
/// with the in-cluster settings: the PostgreSQL store, its URL from the environment (what
/// the Deployment sets from the Secret), never from the file.
fn assert_config(overlay: &str, text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("aiopsd.toml");
    std::fs::write(&file, text).unwrap();
    let c = aiopsd::Config::load_with_store_url(
        Some(&file),
        Some("postgres://aiops:secret@postgres.aiops.svc:5432/aiops".into()),
    )
    .unwrap_or_else(|e| panic!("{overlay}: {e}"));
    assert_eq!(
        c.store.backend,
        aiopsd::config::StoreBackend::Postgres,
        "{overlay}"
    );
    assert!(
        !text.contains("postgres://"),
        "{overlay}: a URL in the config file"
    );
    assert_eq!(c.listen.to_string(), "0.0.0.0:8080");
    assert!(c.api.allow_plain_http);
    assert!(c.kube.enabled && c.kube.kubeconfig.is_none(), "in-cluster");
    assert_eq!(
        (
            c.kube.gateway_name.as_str(),
            c.kube.gateway_namespace.as_str(),
            c.kube.cluster_issuer.as_str()
        ),
        ("appliance", NAMESPACE, "dns01")
    );
    assert_eq!(c.secrets.provider, "vault");
    let auth = serde_json::to_value(&c.secrets.vault.as_ref().unwrap().auth).unwrap();
    assert_eq!(auth["method"], "kubernetes");
    assert_eq!(auth["role"], "aiopsd");
}

/// `kubectl apply --dry-run=server -o name` of `docs` (as a v1 List); returns (success,
/// stdout: one `<resource>[.<group>]/<name>` line per accepted object, stderr).
fn dry_run(kubeconfig: &Path, docs: &[Value]) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("objects.json");
    let list = json!({"apiVersion": "v1", "kind": "List", "items": docs});
    std::fs::write(&file, serde_json::to_vec(&list).unwrap()).unwrap();
    let (ok, stdout, stderr) = run(
        Some(kubeconfig),
        &[
            "apply",
            "--dry-run=server",
            "-o",
            "name",
            "-f",
            file.to_str().unwrap(),
        ],
    );
    (ok, stdout, stderr)
}

/// The v1.20 server has no `policy/v1` (see the module doc).
fn for_v1_20(mut doc: Value) -> Value {
    if kind(&doc) == "PodDisruptionBudget" && doc["apiVersion"] == "policy/v1" {
        doc["apiVersion"] = json!("policy/v1beta1");
    }
    doc
}

#[test]
fn every_overlay_renders_and_the_api_server_accepts_every_object() {
    let api = KubeApi::start().unwrap_or_else(|e| panic!("{e}"));
    api.install_crds().unwrap_or_else(|e| panic!("{e}"));
    let kubeconfig = api.kubeconfig.clone();

    let mut k3s = Vec::new();
    for (overlay, components) in OVERLAYS {
        let docs = render(overlay);

        let mut kinds = BTreeMap::<String, usize>::new();
        for d in &docs {
            *kinds.entry(kind(d).to_string()).or_default() += 1;
        }
        assert_eq!(
            kinds,
            expected_kinds(components),
            "{overlay}: kinds rendered"
        );
        for component in components {
            assert!(
                docs.iter()
                    .any(|d| kind(d) == "StatefulSet" && name(d) == *component),
                "{overlay}: no StatefulSet {component}"
            );
        }
        for d in &docs {
            let ns = d["metadata"]["namespace"].as_str();
            if CLUSTER_SCOPED.contains(&kind(d)) {
                assert_eq!(ns, None, "{overlay}: {} {}", kind(d), name(d));
            } else {
                assert_eq!(ns, Some(NAMESPACE), "{overlay}: {} {}", kind(d), name(d));
            }
            if matches!(kind(d), "Deployment" | "StatefulSet") {
                assert_hardened(overlay, d);
            }
        }
        assert_daemon(overlay, &docs);

        // The namespaces first, for real: a dry run creates nothing, and the objects in them
        // would be refused by the NamespaceLifecycle admission.
        let namespaces: Vec<Value> = docs
            .iter()
            .filter(|d| kind(d) == "Namespace")
            .cloned()
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("namespaces.json");
        let list = json!({"apiVersion": "v1", "kind": "List", "items": namespaces});
        std::fs::write(&file, serde_json::to_vec(&list).unwrap()).unwrap();
        let (ok, _, stderr) = run(Some(&kubeconfig), &["apply", "-f", file.to_str().unwrap()]);
        assert!(ok, "{overlay}: creating the namespaces failed:\n{stderr}");

        let objects: Vec<Value> = docs.iter().cloned().map(for_v1_20).collect();
        let (ok, out, err) = dry_run(&kubeconfig, &objects);
        assert!(ok, "{overlay}: the API server refused objects:\n{err}");
        // One accepted line per object, none missing.
        let mut accepted: Vec<(String, String)> = out
            .lines()
            .map(|l| {
                let (resource, name) = l.split_once('/').unwrap_or_else(|| panic!("{l}"));
                let kind = resource.split('.').next().unwrap_or_default();
                (kind.to_string(), name.to_string())
            })
            .collect();
        let mut rendered: Vec<(String, String)> = objects
            .iter()
            .map(|d| (kind(d).to_ascii_lowercase(), name(d).to_string()))
            .collect();
        accepted.sort();
        rendered.sort();
        assert_eq!(accepted, rendered, "{overlay}: accepted vs rendered\n{err}");
        if overlay == "k3s" {
            k3s = objects;
        }
    }

    // The same apply fails when an object breaks a schema: a route to port 70000 (the CRD's
    // range), a certificate without its secret (required), a container field misspelt (the
    // built-in schema).
    let mut broken = k3s.clone();
    for d in &mut broken {
        match kind(d) {
            "HTTPRoute" => d["spec"]["rules"][0]["backendRefs"][0]["port"] = json!(70000),
            "Certificate" => {
                d["spec"].as_object_mut().unwrap().remove("secretName");
            }
            _ => {}
        }
    }
    let (ok, _, err) = dry_run(&kubeconfig, &broken);
    assert!(!ok, "a broken route and certificate were accepted");
    assert!(err.contains("backendRefs.port"), "{err}");
    assert!(err.contains("spec.secretName: Required value"), "{err}");
    let mut misspelt = k3s;
    for d in &mut misspelt {
        if kind(d) == "Deployment" {
            d["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesytem"] =
                json!(true);
        }
    }
    let (ok, _, err) = dry_run(&kubeconfig, &misspelt);
    assert!(!ok, "a misspelt field was accepted");
    assert!(err.contains("readOnlyRootFilesytem"), "{err}");
}
