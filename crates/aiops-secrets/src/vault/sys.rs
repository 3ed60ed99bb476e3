//! `sys/capabilities-self` (can the token read these paths, without reading them) and
//! `sys/health` (reachable, initialised, unsealed).

use std::collections::HashMap;

use secrecy::SecretString;
use serde::Deserialize;

use super::Inner;
use super::error::{Failure, plain_transport, unavailable};
use crate::SecretError;

#[derive(Deserialize)]
struct HealthReply {
    #[serde(default)]
    initialized: Option<bool>,
    #[serde(default)]
    sealed: Option<bool>,
}

impl Inner {
    pub(super) async fn check(&self, paths: &[String]) -> Result<(), SecretError> {
        let full: Vec<String> = paths
            .iter()
            .map(|p| format!("{}/data/{}", self.cfg.kv_mount, p))
            .collect();
        let caps = self
            .with_token_retry(|token| {
                let full = full.clone();
                async move { self.capabilities(&token, &full).await }
            })
            .await?
            .ok_or_else(|| {
                SecretError::Unavailable(
                    "the vault token may not call sys/capabilities-self (HTTP 403): add it to \
                     the policy"
                        .to_string(),
                )
            })?;
        let missing: Vec<String> = paths
            .iter()
            .zip(&full)
            .filter(|(_, f)| !can_read(caps.get(f.as_str())))
            .map(|(p, _)| p.clone())
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(SecretError::NotReadable { paths: missing })
        }
    }

    /// `POST sys/capabilities-self`; `Ok(None)` on 403.
    async fn capabilities(
        &self,
        token: &SecretString,
        full_paths: &[String],
    ) -> Result<Option<HashMap<String, Vec<String>>>, SecretError> {
        let what = "the capabilities check";
        let body = serde_json::json!({ "paths": full_paths }).to_string();
        let (status, bytes) = self
            .send(
                what,
                http::Method::POST,
                "sys/capabilities-self",
                token,
                Some(body),
            )
            .await?;
        match status {
            200 => {}
            403 => return Ok(None),
            s => return Err(unavailable(&self.addr, what, &Failure::status(s, &bytes))),
        }
        let reply: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| {
            SecretError::Unavailable("vault gave an unusable capabilities reply".to_string())
        })?;
        // Paths are keys of `data` (and, in older servers, of the top level).
        let source = reply
            .get("data")
            .filter(|d| d.is_object())
            .unwrap_or(&reply);
        let mut caps = HashMap::new();
        for p in full_paths {
            let list = source
                .get(p)
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|c| c.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            caps.insert(p.clone(), list);
        }
        Ok(Some(caps))
    }

    pub(super) async fn health(&self) -> Result<(), SecretError> {
        let what = "the health check";
        let url = format!(
            "{}/v1/sys/health?standbyok=true&perfstandbyok=true",
            self.addr
        );
        let resp = self
            .http()
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| unavailable(&self.addr, what, &plain_transport(&e, e.is_timeout())))?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap_or_default();
        let reply = serde_json::from_slice::<HealthReply>(&bytes).ok();
        let sealed = reply.as_ref().and_then(|r| r.sealed) == Some(true);
        let uninit = reply.as_ref().and_then(|r| r.initialized) == Some(false);
        match status {
            200 | 429 | 473 if !sealed => Ok(()),
            _ if status == 501 || uninit => Err(SecretError::Unavailable(
                "vault is not initialised".to_string(),
            )),
            _ if sealed => Err(SecretError::Unavailable("vault is sealed".to_string())),
            503 => Err(SecretError::Unavailable("vault is sealed".to_string())),
            472 => Err(SecretError::Unavailable(
                "vault is a disaster-recovery secondary".to_string(),
            )),
            s => Err(SecretError::Unavailable(format!(
                "vault health answered HTTP {s}"
            ))),
        }
    }
}

/// A capability list allows reading: `read` (or `root`) and no `deny`.
pub(super) fn can_read(caps: Option<&Vec<String>>) -> bool {
    let Some(caps) = caps else { return false };
    let has = |c: &str| caps.iter().any(|x| x == c);
    !has("deny") && (has("read") || has("root"))
}
