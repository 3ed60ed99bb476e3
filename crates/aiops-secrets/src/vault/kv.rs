//! KV v2 reads (a plain request, so the reply's `request_id` and `lease_duration` are kept)
//! and the cache of read values, whose entries live the configured max age capped by the
//! secret's lease.

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use tokio::time::Instant;
use zeroize::Zeroize;

use super::error::{Failure, unavailable};
use super::{Inner, ttl_of};
use crate::{Secret, SecretError, SecretMetadata};

/// Largest KV reply accepted.
const MAX_BODY_BYTES: usize = 1 << 20;

/// The cache of read values, keyed by secret path.
pub(super) type SecretCache = moka::sync::Cache<String, CacheEntry>;

/// A cache whose entries each expire after their own [`CacheEntry::lifetime`]; `None`
/// (no cache) when `max_age_secs` is 0.
pub(super) fn new_cache(max_age_secs: u64) -> Option<SecretCache> {
    (max_age_secs > 0).then(|| SecretCache::builder().expire_after(LeaseCapped).build())
}

#[derive(Clone)]
pub(super) struct CacheEntry {
    fields: BTreeMap<String, SecretString>,
    request_id: Option<String>,
    /// How long the entry may be served from its insertion: the max age capped by the
    /// lease, less the time the read took (both count from before the request).
    lifetime: Duration,
}

/// Expires each entry after its own lifetime, also when a path is read again and its entry
/// replaced; reads do not extend it.
struct LeaseCapped;

impl moka::Expiry<String, CacheEntry> for LeaseCapped {
    fn expire_after_create(
        &self,
        _path: &String,
        entry: &CacheEntry,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(entry.lifetime)
    }

    fn expire_after_update(
        &self,
        _path: &String,
        entry: &CacheEntry,
        _updated_at: std::time::Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.lifetime)
    }
}

// Replies of the plain requests. No `Debug`: they may hold values.
#[derive(Deserialize)]
struct KvReply {
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    lease_duration: Option<u64>,
    #[serde(default)]
    data: Option<KvData>,
}

#[derive(Deserialize)]
struct KvData {
    #[serde(default)]
    data: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `GET <mount>/metadata/<path>`: versions and times, never a value.
#[derive(Deserialize)]
struct MetadataReply {
    data: MetadataData,
}

#[derive(Deserialize)]
struct MetadataData {
    #[serde(default)]
    current_version: Option<u64>,
    #[serde(default)]
    created_time: Option<String>,
    #[serde(default)]
    versions: BTreeMap<String, VersionMetadata>,
}

#[derive(Deserialize)]
struct VersionMetadata {
    #[serde(default)]
    created_time: Option<String>,
}

/// The outcome of one KV read.
enum KvOutcome {
    Found {
        fields: BTreeMap<String, SecretString>,
        request_id: Option<String>,
        lease: Option<Duration>,
    },
    Forbidden,
}

impl Inner {
    pub(super) fn cache_get(&self, path: &str) -> Option<Secret> {
        let cache = self.cache.as_ref()?;
        match cache.get(path) {
            Some(entry) => Some(secret_of(path, entry.fields, entry.request_id)),
            None => {
                // An expired entry is never served; drop (and zeroize) it now rather than
                // at the cache's next housekeeping.
                cache.invalidate(path);
                None
            }
        }
    }

    fn cache_put(
        &self,
        path: &str,
        fields: &BTreeMap<String, SecretString>,
        request_id: &Option<String>,
        started: Instant,
        lease: Option<Duration>,
    ) {
        let Some(cache) = &self.cache else { return };
        let Some(age) = entry_max_age(self.cfg.cache_max_age_secs, lease) else {
            return;
        };
        let lifetime = age.saturating_sub(started.elapsed());
        if lifetime.is_zero() {
            return;
        }
        cache.insert(
            path.to_string(),
            CacheEntry {
                fields: fields.clone(),
                request_id: request_id.clone(),
                lifetime,
            },
        );
        // Evicts (and zeroizes) the other entries that expired, as the read path does.
        cache.run_pending_tasks();
    }

    pub(super) async fn fetch(&self, path: &str) -> Result<Secret, SecretError> {
        let started = Instant::now();
        let outcome = self
            .with_token_retry(|token| async move {
                match self.kv_get(&token, path).await? {
                    KvOutcome::Forbidden => Ok(None),
                    found => Ok(Some(found)),
                }
            })
            .await?;
        let Some(KvOutcome::Found {
            fields,
            request_id,
            lease,
        }) = outcome
        else {
            return Err(SecretError::Denied {
                path: path.to_string(),
            });
        };
        self.cache_put(path, &fields, &request_id, started, lease);
        Ok(secret_of(path, fields, request_id))
    }

    pub(super) async fn metadata(&self, path: &str) -> Result<SecretMetadata, SecretError> {
        let what = format!("the metadata of secret `{path}`");
        let what = &what;
        let api_path = format!("{}/metadata/{path}", self.cfg.kv_mount);
        let api_path = &api_path;
        let reply = self
            .with_token_retry(|token| async move {
                let (status, body) = self
                    .send(what, http::Method::GET, api_path, &token, None)
                    .await?;
                match status {
                    200 => Ok(Some(body)),
                    403 => Ok(None),
                    404 => Err(SecretError::NotFound(path.to_string())),
                    s if s == 429 || s >= 500 => {
                        Err(unavailable(&self.addr, what, &Failure::status(s, &body)))
                    }
                    s => Err(SecretError::Unreadable {
                        path: path.to_string(),
                        reason: format!("vault answered HTTP {s}"),
                    }),
                }
            })
            .await?
            .ok_or_else(|| SecretError::Denied {
                path: path.to_string(),
            })?;
        // Metadata holds no value; the parse error is still dropped (it may quote input).
        let reply: MetadataReply =
            serde_json::from_slice(&reply).map_err(|_| SecretError::Unreadable {
                path: path.to_string(),
                reason: "the reply is not KV v2 metadata".to_string(),
            })?;
        let data = reply.data;
        let current = data
            .current_version
            .and_then(|v| data.versions.get(&v.to_string()));
        Ok(SecretMetadata {
            path: path.to_string(),
            source: "vault",
            version: data.current_version,
            versions: Some(data.versions.len() as u64),
            last_rotated: current.and_then(|v| v.created_time.clone()),
            created: data.created_time,
        })
    }

    async fn kv_get(&self, token: &SecretString, path: &str) -> Result<KvOutcome, SecretError> {
        let what = format!("the read of secret `{path}`");
        let api_path = format!("{}/data/{path}", self.cfg.kv_mount);
        let (status, mut body) = self
            .send(&what, http::Method::GET, &api_path, token, None)
            .await?;
        let result = self.kv_outcome(status, &body, path, &what);
        body.zeroize();
        result
    }

    fn kv_outcome(
        &self,
        status: u16,
        body: &[u8],
        path: &str,
        what: &str,
    ) -> Result<KvOutcome, SecretError> {
        let unreadable = |reason: String| SecretError::Unreadable {
            path: path.to_string(),
            reason,
        };
        match status {
            200 => {}
            403 => return Ok(KvOutcome::Forbidden),
            404 => return Err(SecretError::NotFound(path.to_string())),
            s if s == 429 || s >= 500 => {
                return Err(unavailable(&self.addr, what, &Failure::status(s, body)));
            }
            s => return Err(unreadable(format!("vault answered HTTP {s}"))),
        }
        if body.len() > MAX_BODY_BYTES {
            return Err(unreadable("the reply is too large".to_string()));
        }
        // The parse error is dropped on purpose: serde_json may quote the input.
        let reply: KvReply = serde_json::from_slice(body)
            .map_err(|_| unreadable("the reply is not a KV v2 secret".to_string()))?;
        // A deleted or destroyed latest version reads as 200 with no data on some servers.
        let Some(map) = reply.data.and_then(|d| d.data) else {
            return Err(SecretError::NotFound(path.to_string()));
        };
        let mut fields = BTreeMap::new();
        for (name, value) in map {
            match value {
                serde_json::Value::String(s) => {
                    fields.insert(name, SecretString::from(s));
                }
                _ => return Err(unreadable(format!("field `{name}` is not a string"))),
            }
        }
        if fields.is_empty() {
            return Err(unreadable("secret has no fields".to_string()));
        }
        Ok(KvOutcome::Found {
            fields,
            request_id: reply.request_id.filter(|id| !id.is_empty()),
            lease: reply.lease_duration.and_then(ttl_of),
        })
    }
}

fn secret_of(
    path: &str,
    fields: BTreeMap<String, SecretString>,
    request_id: Option<String>,
) -> Secret {
    let secret = Secret::new(path, fields);
    match request_id {
        Some(id) => secret.with_request_id(id),
        None => secret,
    }
}

/// How long a freshly read value may be cached: the configured max age, capped by the
/// secret's lease. `None`: do not cache.
pub(super) fn entry_max_age(max_age_secs: u64, lease: Option<Duration>) -> Option<Duration> {
    if max_age_secs == 0 {
        return None;
    }
    let age = Duration::from_secs(max_age_secs);
    Some(match lease {
        Some(l) => age.min(l),
        None => age,
    })
}
