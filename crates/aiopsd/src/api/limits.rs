//! Request limits: a rate limit per caller, a cap on requests in flight, and a body limit
//! that refuses a declared oversized body before reading any of it. The limits below HTTP
//! (header size, header-read and idle timeouts, connection count) are the accept loop's
//! (`crate::serve`).
//!
//! Saturation is answered, not queued: beyond `api.max_concurrent_requests` a request gets
//! 503 with `Retry-After` at once. A queue would hold sockets and memory for requests
//! that mostly time out behind long executions (an Ansible run takes seconds to minutes),
//! and would hide the overload from clients that can back off.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aiops_core::{Caller, ErrorCode};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};
use tokio::sync::Semaphore;

use super::ApiError;
use crate::config::ApiConfig;
use crate::tls::ClientIdentity;

/// Whom a request counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RateKey {
    /// An authenticated user (the `Caller` the auth middleware put in the extensions).
    User(String),
    /// A verified client certificate not (yet) mapped to a user.
    Certificate(String),
    /// The peer address; IPv6 by its /64, which one host usually has whole.
    Peer(IpAddr),
}

impl RateKey {
    /// The most specific key of a request: the user, else the client certificate, else the
    /// peer address. `None` for requests that did not come over a socket (in-process tests).
    pub fn of(req: &Request) -> Option<RateKey> {
        let ext = req.extensions();
        if let Some(caller) = ext.get::<Caller>()
            && !caller.is_anonymous()
        {
            return Some(RateKey::User(caller.user.clone()));
        }
        if let Some(name) = ext.get::<ClientIdentity>().and_then(|i| i.primary_name()) {
            return Some(RateKey::Certificate(name.to_string()));
        }
        ext.get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| RateKey::peer(addr.ip()))
    }

    pub fn peer(ip: IpAddr) -> RateKey {
        match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => RateKey::Peer(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    RateKey::Peer(IpAddr::V6(prefix.into()))
                }
            },
            v4 => RateKey::Peer(v4),
        }
    }
}

/// The per-caller rate limit (GCRA: `rate_limit_per_minute`, bursts of `rate_limit_burst`).
pub struct RateLimiter {
    limiter: DefaultKeyedRateLimiter<RateKey>,
    checks: AtomicU64,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("keys", &self.limiter.len())
            .finish()
    }
}

impl RateLimiter {
    /// How many checks between two sweeps of keys that are back to a full burst.
    const SWEEP_EVERY: u64 = 4096;

    pub fn new(api: &ApiConfig) -> RateLimiter {
        // Validated as non-zero; 1 keeps this total anyway.
        let per_minute = NonZeroU32::new(api.rate_limit_per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(api.rate_limit_burst).unwrap_or(NonZeroU32::MIN);
        RateLimiter {
            limiter: DefaultKeyedRateLimiter::keyed(
                Quota::per_minute(per_minute).allow_burst(burst),
            ),
            checks: AtomicU64::new(0),
        }
    }

    /// Counts one request against `key`; when over the limit, the whole seconds until the
    /// next one is allowed (at least 1).
    pub fn check(&self, key: &RateKey) -> Result<(), u64> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % Self::SWEEP_EVERY == Self::SWEEP_EVERY - 1
        {
            // Keys at a full burst carry no state worth keeping: the map stays as small as
            // the set of recent callers.
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.limiter.clock().now());
            // Rounded up: a client that waits this long is let through.
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }
}

fn with_retry_after(error: ApiError, secs: u64) -> Response {
    let mut resp = error.into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    resp
}

/// Middleware of the public routes: the rate limit ([`admit`]), per certificate or address.
pub async fn rate_limit(
    State(limiter): State<Arc<RateLimiter>>,
    req: Request,
    next: Next,
) -> Response {
    match admit(&limiter, &req) {
        Ok(()) => next.run(req).await,
        Err(refused) => refused.into_response(),
    }
}

/// A request over its rate limit: 429 with `Retry-After` and the JSON error shape as a
/// response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    pub retry_after_secs: u64,
}

impl IntoResponse for RateLimited {
    fn into_response(self) -> Response {
        let secs = self.retry_after_secs;
        with_retry_after(
            ApiError::new(
                ErrorCode::RateLimited,
                format!("too many requests; retry in {secs} s"),
            ),
            secs,
        )
    }
}

/// More requests in flight than `api.max_concurrent_requests`: 503 with `Retry-After` as a
/// response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overloaded;

impl IntoResponse for Overloaded {
    fn into_response(self) -> Response {
        with_retry_after(
            ApiError::new(
                ErrorCode::Overloaded,
                "the daemon is serving as many requests as it may; retry shortly",
            ),
            OVERLOADED_RETRY_AFTER_SECS,
        )
    }
}

/// The rate limit: whether `req` may pass now. On guarded routes it runs right
/// after authentication (`access::gate`), so that it sees the `Caller` and counts
/// per user; before that, per certificate or address. `/healthz` is exempt, as from load
/// shedding: a liveness probe from a busy address must not read as a dead daemon.
pub fn admit(limiter: &RateLimiter, req: &Request) -> Result<(), RateLimited> {
    if req.uri().path() == "/healthz" {
        return Ok(());
    }
    if let Some(key) = RateKey::of(req)
        && let Err(retry_after) = limiter.check(&key)
    {
        tracing::debug!(?key, retry_after, "rate limited");
        return Err(RateLimited {
            retry_after_secs: retry_after,
        });
    }
    Ok(())
}

/// The cap on requests in flight.
#[derive(Debug, Clone)]
pub struct InFlight(Arc<Semaphore>);

/// What a saturated daemon suggests clients wait before retrying.
const OVERLOADED_RETRY_AFTER_SECS: u64 = 1;

/// A place among the requests in flight, held while the request is served (none for
/// `/healthz`).
pub type Place = Option<tokio::sync::OwnedSemaphorePermit>;

impl InFlight {
    pub fn new(max: usize) -> InFlight {
        InFlight(Arc::new(Semaphore::new(max)))
    }

    /// At most `api.max_concurrent_requests` in flight; beyond, 503 at once. `/healthz` is
    /// exempt (it takes no place): a busy daemon is alive, and restarting it for being busy
    /// would interrupt the executions it is running.
    pub fn enter(&self, req: &Request) -> Result<Place, Overloaded> {
        if req.uri().path() == "/healthz" {
            return Ok(None);
        }
        match self.0.clone().try_acquire_owned() {
            Ok(permit) => Ok(Some(permit)),
            Err(_) => Err(Overloaded),
        }
    }
}

/// Body limits by route (`MatchedPath`), with a default for every other route.
#[derive(Debug, Clone)]
pub struct BodyLimits {
    default: usize,
    by_route: Arc<HashMap<&'static str, usize>>,
}

impl BodyLimits {
    pub fn new(default: usize) -> BodyLimits {
        BodyLimits {
            default,
            by_route: Arc::default(),
        }
    }

    /// A limit of its own for `route` (as written in the router).
    pub fn with(mut self, route: &'static str, limit: usize) -> BodyLimits {
        Arc::make_mut(&mut self.by_route).insert(route, limit);
        self
    }

    fn limit_for(&self, req: &Request) -> usize {
        req.extensions()
            .get::<MatchedPath>()
            .and_then(|p| self.by_route.get(p.as_str()).copied())
            .unwrap_or(self.default)
    }

    /// A declared `Content-Length` over the route's limit is refused with 413 before
    /// anything reads the body, so the client never gets `100 Continue` and never sends it.
    /// Bodies without a length (chunked) are cut at the limit by `DefaultBodyLimit` as they
    /// are read.
    pub fn refuse_declared(&self, req: &Request) -> Option<Response> {
        let limit = self.limit_for(req);
        let len = declared_length(req.headers())?;
        (len > limit as u64).then(|| {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("the body is {len} bytes; this route takes at most {limit}"),
            )
            .into_response()
        })
    }
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_peers_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(RateKey::peer(a), RateKey::peer(b));
        assert_ne!(RateKey::peer(a), RateKey::peer(c));
        let mapped: IpAddr = "::ffff:10.0.0.7".parse().unwrap();
        assert_eq!(
            RateKey::peer(mapped),
            RateKey::Peer("10.0.0.7".parse().unwrap())
        );
    }

    #[test]
    fn a_burst_passes_then_the_caller_waits_and_others_do_not() {
        let api = ApiConfig {
            rate_limit_per_minute: 1,
            rate_limit_burst: 3,
            ..ApiConfig::default()
        };
        let limiter = RateLimiter::new(&api);
        let alice = RateKey::User("alice".into());
        for _ in 0..3 {
            assert_eq!(limiter.check(&alice), Ok(()));
        }
        let wait = limiter.check(&alice).unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        assert_eq!(limiter.check(&RateKey::User("bob".into())), Ok(()));
    }
}
