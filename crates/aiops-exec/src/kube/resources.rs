//! Typed custom resources the executor writes: the Gateway API `HTTPRoute`
//! (`gateway.networking.k8s.io/v1`) and the cert-manager `Certificate`
//! (`cert-manager.io/v1`). Hand-written structs implementing [`kube::Resource`] (no derive
//! macro, no schema generation): only the fields this executor sets are modelled; fields
//! the server or a controller adds are ignored on reading, and `status` is kept as JSON.

use std::borrow::Cow;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Implements [`kube::Resource`] for a namespaced custom resource with a static type.
macro_rules! custom_resource {
    ($ty:ty, group = $group:literal, version = $version:literal, kind = $kind:literal, plural = $plural:literal) => {
        impl $ty {
            /// `group/version` of this resource.
            pub const API_VERSION: &'static str = concat!($group, "/", $version);
            /// Kind of this resource.
            pub const KIND: &'static str = $kind;
            /// Plural resource name (the one RBAC rules name).
            pub const PLURAL: &'static str = $plural;
        }

        impl ::kube::Resource for $ty {
            type DynamicType = ();
            type Scope = NamespaceResourceScope;

            fn kind(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($kind)
            }
            fn group(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($group)
            }
            fn version(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($version)
            }
            fn api_version(_: &()) -> Cow<'_, str> {
                Cow::Borrowed(concat!($group, "/", $version))
            }
            fn plural(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($plural)
            }
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

/// A Gateway API `HTTPRoute`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpRoute {
    /// Always [`HttpRoute::API_VERSION`] (server-side apply needs it in the body).
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// Always [`HttpRoute::KIND`].
    pub kind: String,
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// What the route matches and where it sends traffic.
    pub spec: HttpRouteSpec,
    /// Written by the Gateway controller; never applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

custom_resource!(
    HttpRoute,
    group = "gateway.networking.k8s.io",
    version = "v1",
    kind = "HTTPRoute",
    plural = "httproutes"
);

impl HttpRoute {
    /// A route with this metadata and spec.
    pub fn new(metadata: ObjectMeta, spec: HttpRouteSpec) -> Self {
        HttpRoute {
            api_version: Self::API_VERSION.to_string(),
            kind: Self::KIND.to_string(),
            metadata,
            spec,
            status: None,
        }
    }
}

/// `HTTPRoute.spec` (the subset this executor sets).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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

/// A cert-manager `Certificate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Certificate {
    /// Always [`Certificate::API_VERSION`].
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// Always [`Certificate::KIND`].
    pub kind: String,
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// What to issue and where to store it.
    pub spec: CertificateSpec,
    /// Written by cert-manager; never applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

custom_resource!(
    Certificate,
    group = "cert-manager.io",
    version = "v1",
    kind = "Certificate",
    plural = "certificates"
);

impl Certificate {
    /// A certificate with this metadata and spec.
    pub fn new(metadata: ObjectMeta, spec: CertificateSpec) -> Self {
        Certificate {
            api_version: Self::API_VERSION.to_string(),
            kind: Self::KIND.to_string(),
            metadata,
            spec,
            status: None,
        }
    }
}

/// `Certificate.spec` (the subset this executor sets).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
            ObjectMeta {
                name: Some("r".into()),
                ..ObjectMeta::default()
            },
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
    }
}
