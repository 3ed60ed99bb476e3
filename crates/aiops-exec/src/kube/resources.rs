//! Typed custom resources the executor writes: the Gateway API `HTTPRoute`
//! (`gateway.networking.k8s.io/v1`) and the cert-manager `Certificate`
//! (`cert-manager.io/v1`), derived with kube's `CustomResource` from their specs. Only the
//! fields this executor sets are modelled; fields the server or a controller adds are
//! ignored on reading, and `status` is kept as JSON. Schema generation is disabled: on a
//! cluster the CRDs are upstream's (installed with Gateway API and cert-manager), and a
//! schema of this subset would be wrong there; the local API server of the dev stack and
//! the tests gets the project's own subset CRDs (`deploy/k8s/crds`, `bootstrap/kube.sh crds`).

use ::kube::CustomResource;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `HTTPRoute.spec` (the subset this executor sets). Derives [`HttpRoute`], a Gateway API
/// `HTTPRoute`; its `status` is written by the Gateway controller and never applied.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "gateway.networking.k8s.io",
    version = "v1",
    kind = "HTTPRoute",
    root = "HttpRoute",
    doc = "A Gateway API `HTTPRoute` (the fields this executor sets).",
    plural = "httproutes",
    namespaced,
    status = "Value",
    derive = "PartialEq",
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteSpec {
    /// The Gateways the route attaches to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parent_refs: Vec<ParentReference>,
    /// Host names the route answers for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
    /// Routing rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<HttpRouteRule>,
}

/// A reference from a route to a Gateway.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParentReference {
    /// API group of the parent (`gateway.networking.k8s.io`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Kind of the parent (`Gateway`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Namespace of the parent (default: the route's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name of the parent.
    pub name: String,
}

/// One routing rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteRule {
    /// Where matching requests go.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backend_refs: Vec<HttpBackendRef>,
}

/// A backend of a rule: a Service and port.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpBackendRef {
    /// Name of the Service.
    pub name: String,
    /// Port of the Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
}

/// `Certificate.spec` (the subset this executor sets). Derives [`Certificate`], a
/// cert-manager `Certificate`; its `status` is written by cert-manager and never applied.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "Certificate",
    root = "Certificate",
    doc = "A cert-manager `Certificate` (the fields this executor sets).",
    plural = "certificates",
    namespaced,
    status = "Value",
    derive = "PartialEq",
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSpec {
    /// The Secret cert-manager writes the key pair to.
    pub secret_name: String,
    /// DNS names of the certificate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_names: Vec<String>,
    /// The issuer that signs it.
    pub issuer_ref: IssuerRef,
}

/// A reference to a cert-manager issuer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuerRef {
    /// Name of the issuer.
    pub name: String,
    /// `Issuer` or `ClusterIssuer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// API group of the issuer (`cert-manager.io`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::kube::Resource;
    use serde_json::json;

    #[test]
    fn resource_metadata() {
        assert_eq!(HttpRoute::api_version(&()), "gateway.networking.k8s.io/v1");
        assert_eq!(HttpRoute::kind(&()), "HTTPRoute");
        assert_eq!(Certificate::api_version(&()), "cert-manager.io/v1");
        assert_eq!(Certificate::kind(&()), "Certificate");
        assert_eq!(
            HttpRoute::url_path(&(), Some("shop")),
            "/apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes"
        );
        assert_eq!(
            Certificate::url_path(&(), Some("shop")),
            "/apis/cert-manager.io/v1/namespaces/shop/certificates"
        );
    }

    #[test]
    fn serialises_like_the_crd_and_reads_server_extras() {
        let route = HttpRoute::new(
            "r",
            HttpRouteSpec {
                parent_refs: vec![ParentReference {
                    name: "gw".into(),
                    ..ParentReference::default()
                }],
                hostnames: vec!["a.example.com".into()],
                rules: vec![HttpRouteRule {
                    backend_refs: vec![HttpBackendRef {
                        name: "web".into(),
                        port: Some(80),
                    }],
                }],
            },
        );
        let v = serde_json::to_value(&route).expect("serialise");
        assert_eq!(
            v,
            json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                   "metadata": {"name": "r"},
                   "spec": {"parentRefs": [{"name": "gw"}], "hostnames": ["a.example.com"],
                            "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]}})
        );
        let mut server = v.clone();
        server["spec"]["rules"][0]["matches"] = json!([{"path": {"type": "PathPrefix"}}]);
        server["status"] = json!({"parents": []});
        let back: HttpRoute = serde_json::from_value(server).expect("deserialise");
        assert_eq!(back.spec, route.spec);
        assert_eq!(back.status, Some(json!({"parents": []})));
    }
}
