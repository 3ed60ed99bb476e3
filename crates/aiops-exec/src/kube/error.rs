//! Turning kube client errors into [`ExecError`]s with stable codes. Messages come from
//! the API server's `Status` (which never echoes credentials) or from the transport; the
//! bearer token is never part of either.

use std::sync::LazyLock;

use regex::Regex;

use crate::ExecError;

/// What a failed call was doing, for messages: `patch` `deployments` `deployment shop/web`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Op<'a> {
    pub verb: &'a str,
    pub resource: &'a str,
    pub what: &'a str,
}

impl<'a> Op<'a> {
    pub(crate) const fn new(verb: &'a str, resource: &'a str, what: &'a str) -> Self {
        Op {
            verb,
            resource,
            what,
        }
    }
}

/// `User "x" cannot patch resource "deployments" in API group "apps" …`
static FORBIDDEN_RE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"cannot ([a-z]+) resource "([^"]+)""#).ok());

pub(crate) fn map_kube_error(err: ::kube::Error, op: Op<'_>) -> ExecError {
    match err {
        ::kube::Error::Api(status) => {
            let message = status.message.clone();
            match status.code {
                403 => {
                    // The authorizer names the verb it checked (an apply that creates is
                    // checked as `create`): prefer its words over ours.
                    let (verb, resource) = FORBIDDEN_RE
                        .as_ref()
                        .and_then(|re| re.captures(&message))
                        .map(|c| (c[1].to_string(), c[2].to_string()))
                        .unwrap_or_else(|| (op.verb.to_string(), op.resource.to_string()));
                    ExecError::Forbidden {
                        verb,
                        resource,
                        message,
                    }
                }
                404 => {
                    let object_named = status.details.as_ref().is_some_and(|d| !d.name.is_empty());
                    if object_named {
                        ExecError::NotFound {
                            what: op.what.to_string(),
                        }
                    } else {
                        ExecError::NotFound {
                            what: format!(
                                "{} (the API server does not serve `{}`; is its CRD installed?)",
                                op.what, op.resource
                            ),
                        }
                    }
                }
                409 => ExecError::Conflict(format!(
                    "{} changed since it was planned; nothing was changed ({message})",
                    op.what
                )),
                401 => ExecError::Unavailable(
                    "the Kubernetes API rejected the executor's credentials (401 Unauthorized)"
                        .to_string(),
                ),
                429 | 500 | 502 | 503 | 504 => ExecError::Unavailable(format!(
                    "the Kubernetes API answered {} to {} {}: {message}",
                    status.code, op.verb, op.what
                )),
                code => ExecError::Failed {
                    message: format!("{} {} failed ({code}): {message}", op.verb, op.what),
                    outcome: None,
                },
            }
        }
        ::kube::Error::SerdeError(e) => ExecError::Failed {
            message: format!(
                "{} {}: unexpected answer from the Kubernetes API: {e}",
                op.verb, op.what
            ),
            outcome: None,
        },
        ::kube::Error::BuildRequest(e) => ExecError::InvalidParams(format!(
            "{} {}: cannot build the request: {e}",
            op.verb, op.what
        )),
        // Transport, TLS, auth-provider and every other client-side failure: the API
        // server cannot be used right now.
        other => ExecError::Unavailable(format!("cannot reach the Kubernetes API: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::kube::core::Status;

    fn api(code: u16, message: &str, name: &str) -> ::kube::Error {
        let mut status = Status::failure(message, "");
        status.code = code;
        if !name.is_empty() {
            status.details =
                Some(serde_json::from_value(serde_json::json!({ "name": name })).expect("details"));
        }
        ::kube::Error::Api(Box::new(status))
    }

    const OP: Op<'static> = Op {
        verb: "patch",
        resource: "deployments",
        what: "deployment shop/web",
    };

    #[test]
    fn forbidden_names_verb_and_resource() {
        let err = map_kube_error(
            api(
                403,
                r#"deployments.apps "web" is forbidden: User "u" cannot patch resource "deployments" in API group "apps" in the namespace "shop""#,
                "web",
            ),
            OP,
        );
        assert_eq!(err.code(), "forbidden");
        match &err {
            ExecError::Forbidden { verb, resource, .. } => {
                assert_eq!((verb.as_str(), resource.as_str()), ("patch", "deployments"));
            }
            other => panic!("{other:?}"),
        }
        assert!(
            err.to_string().contains("cannot patch deployments"),
            "{err}"
        );
    }

    #[test]
    fn codes() {
        assert_eq!(
            map_kube_error(api(404, "nope", "web"), OP).code(),
            "not_found"
        );
        assert!(
            map_kube_error(api(404, "nope", ""), OP)
                .to_string()
                .contains("CRD")
        );
        assert_eq!(map_kube_error(api(409, "c", "web"), OP).code(), "conflict");
        assert_eq!(
            map_kube_error(api(503, "busy", ""), OP).code(),
            "executor_unavailable"
        );
        assert_eq!(
            map_kube_error(api(422, "bad", ""), OP).code(),
            "executor_failed"
        );
    }
}
