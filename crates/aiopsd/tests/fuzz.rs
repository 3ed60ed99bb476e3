//! The router under arbitrary requests, in process: every route, Slack's signed endpoint
//! included, gets fuzzed methods, paths, query strings, headers (`Authorization` with valid,
//! forged, odd and raw-byte credentials; `Content-Type`, `Content-Length`, `Expect`, …) and
//! bodies. Whatever comes in: no panic, no 5xx, and every error answer is the JSON error
//! shape `{"error": {"code", "message"}}`. Afterwards nothing has executed and the audit
//! chain verifies.
//!
//! One app state (SQLite in a temporary directory, directory secrets) serves every case
//! through `tower::ServiceExt::oneshot`. Cases: `AIOPS_FUZZ_CASES` (default 10,000); seed:
//! `AIOPS_FUZZ_SEED` (64 hex digits; default fixed, so a CI run is reproducible). A failure
//! prints the shrunk request and the seed to re-run it with.
//!
//! Backends are down on purpose (DNS on the discard port, no Ansible, no Kubernetes, no
//! retrieval index), so a request that legitimately needs one answers 503. The generators
//! keep such requests out rather than accept a 5xx; each exception is named where it is made:
//! - `GET`/`HEAD /readyz` answers 503 while a backend is down: that is its job. Its only
//!   input is the method (headers are ignored), so it is fuzzed with every other method;
//! - `POST /api/v1/intent` runs the pipeline, and a sentence that parses into an action
//!   would plan against the missing backends. Its `nl` comes from generators that cannot
//!   form a request (arbitrary Unicode, random ASCII, control characters); realistic
//!   sentences with fuzzed slots go to `POST /api/v1/parse` (no backends), or to
//!   `/api/v1/intent` only with credentials that are refused before any stage runs;
//! - `POST /api/v1/documents` answers 503 when retrieval is off, once an admin sends a
//!   well-formed body: an admin's bodies here are ones the JSON extractor refuses.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use aiops_test_support::identities::{self, SLACK_SIGNING_SECRET};
use aiopsd::{App, AppState};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request, header};
use http_body_util::BodyExt;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::{Value, json};
use tower::ServiceExt;

const DEFAULT_CASES: u32 = 10_000;
/// A path segment that stands for the id of a request an earlier case stored.
const KNOWN: &str = "known-request-";
/// The default seed: fixed, so CI explores the same 10,000 requests every run.
const DEFAULT_SEED: [u8; 32] = *b"aiops-router-fuzz-seed-000000001";

// ---------------------------------------------------------------------------------------
// The model of a request
// ---------------------------------------------------------------------------------------

/// The routes of `aiopsd::api::router` (`crates/aiopsd/src/api/mod.rs`), and paths that are
/// none of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Route {
    Healthz,
    Readyz,
    Metrics,
    Intent,
    Parse,
    IntentGet,
    Rollback,
    Intents,
    AuditVerify,
    Catalog,
    OpenApi,
    Quarantine,
    Approvals,
    ApprovalShow,
    Approve,
    Reject,
    Slack,
    Documents,
    Elsewhere,
}

const ROUTES: [Route; 19] = [
    Route::Healthz,
    Route::Readyz,
    Route::Metrics,
    Route::Intent,
    Route::Parse,
    Route::IntentGet,
    Route::Rollback,
    Route::Intents,
    Route::AuditVerify,
    Route::Catalog,
    Route::OpenApi,
    Route::Quarantine,
    Route::Approvals,
    Route::ApprovalShow,
    Route::Approve,
    Route::Reject,
    Route::Slack,
    Route::Documents,
    Route::Elsewhere,
];

impl Route {
    fn method(self) -> Method {
        match self {
            Route::Intent
            | Route::Parse
            | Route::Approve
            | Route::Reject
            | Route::Rollback
            | Route::Slack
            | Route::Documents => Method::POST,
            _ => Method::GET,
        }
    }
}

/// What the `Authorization` header says.
#[derive(Debug, Clone)]
enum Auth {
    None,
    /// A valid token of a test identity (index into `identities::ALL`), scheme `Bearer`.
    Valid(usize),
    /// A valid token under another spelling of the scheme (`bearer`, `BEARER`, extra
    /// spaces): the scheme is case-insensitive (RFC 9110), whether or not this daemon says so.
    Spelled(usize, &'static str),
    /// A well-formed bearer token nobody has.
    Forged(String),
    /// Another scheme (`Basic`, `Digest`, …) with a value.
    Scheme(&'static str, String),
    /// Raw header bytes (visible ASCII, obs-text, tabs).
    Raw(Vec<u8>),
    /// Two `Authorization` headers: a valid token and a forged one, in either order.
    Twice(usize, bool),
}

impl Auth {
    /// Refused before any handler logic, whatever the daemon's anonymous policy is.
    fn refused(&self) -> bool {
        matches!(self, Auth::Forged(_) | Auth::Scheme(..))
    }
    fn admin(&self) -> bool {
        let admin = identities::ALL
            .iter()
            .position(|i| i.name == identities::ADMIN.name);
        match self {
            Auth::Valid(i) | Auth::Spelled(i, _) | Auth::Twice(i, _) => Some(*i) == admin,
            _ => false,
        }
    }
}

/// How a Slack request is signed.
#[derive(Debug, Clone)]
enum Signing {
    /// As Slack signs, now.
    Valid,
    /// Valid, hex in upper case.
    ValidUpper,
    /// With another secret.
    WrongSecret,
    /// Valid for a timestamp this far from now (seconds; outside the window when > 300).
    Skewed(i64),
    /// Valid signature, then the body changed.
    Tampered,
    /// These header values as given (timestamp, signature); `None` leaves a header out.
    Headers(Option<Vec<u8>>, Option<Vec<u8>>),
}

#[derive(Clone)]
struct Case {
    route: Route,
    method: Method,
    path: String,
    auth: Auth,
    /// `Content-Type`, when sent.
    content_type: Option<Vec<u8>>,
    /// Other headers, raw.
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    signing: Option<Signing>,
}

/// Bytes as text where they are text: a shrunk case must be readable.
struct Lossy<'a>(&'a [u8]);

impl std::fmt::Debug for Lossy<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = String::from_utf8_lossy(&self.0[..self.0.len().min(2000)]);
        write!(f, "{text:?} ({} bytes)", self.0.len())
    }
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case")
            .field("route", &self.route)
            .field("method", &self.method)
            .field("path", &self.path)
            .field("auth", &self.auth)
            .field("content_type", &self.content_type.as_deref().map(Lossy))
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(k, v)| (k, Lossy(v)))
                    .collect::<Vec<_>>(),
            )
            .field("body", &Lossy(&self.body))
            .field("signing", &self.signing)
            .finish()
    }
}

// ---------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------

/// Bytes a header value may hold (`HeaderValue::from_bytes`: no controls but tab).
fn header_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            4 => 0x20u8..0x7f,
            1 => 0x80u8..=0xff,
            1 => Just(b'\t'),
        ],
        0..max,
    )
}

fn identity() -> impl Strategy<Value = usize> {
    0..identities::ALL.len()
}

fn auth() -> impl Strategy<Value = Auth> {
    prop_oneof![
        3 => Just(Auth::None),
        8 => identity().prop_map(Auth::Valid),
        2 => (identity(), prop::sample::select(vec!["bearer", "BEARER", "Bearer  ", "bEaReR"]))
            .prop_map(|(i, s)| Auth::Spelled(i, s)),
        2 => "[A-Za-z0-9._~+/=-]{0,80}".prop_map(Auth::Forged),
        1 => (
            prop::sample::select(vec!["Basic", "Digest", "Token", "Negotiate", "AWS4-HMAC-SHA256", "Bearer:"]),
            "[ -~]{0,60}"
        )
            .prop_map(|(s, v)| Auth::Scheme(s, v)),
        2 => header_bytes(120).prop_map(Auth::Raw),
        1 => (identity(), any::<bool>()).prop_map(|(i, first)| Auth::Twice(i, first)),
    ]
}

/// A path segment: ids that exist in no store, odd encodings, traversal, arbitrary bytes
/// percent-encoded (so the URI always parses).
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[0-9A-HJKMNP-TV-Z]{26}",
        2 => "[A-Za-z0-9_.~-]{0,40}",
        1 => prop::sample::select(vec![
            "..", "%2e%2e", "..%2F..%2Fetc%2Fpasswd", "%00", "%FF", "%C0%AF", "%", "%zz",
            "%E2%80%AE", "a%20b", "%F0%9F%92%A5", "-1", "0", "null", "undefined", "%2F",
        ])
        .prop_map(str::to_string),
        2 => prop::collection::vec(any::<u8>(), 0..40).prop_map(|b| percent_encode(&b)),
        1 => (1usize..3000).prop_map(|n| "a".repeat(n)),
    ]
}

fn percent_encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(b) {
                (*b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A query string for `route` (leading `?` included), or none.
fn query(route: Route) -> BoxedStrategy<String> {
    let key = match route {
        Route::Approvals => "state",
        Route::Quarantine => "limit",
        // Opaque tokens: the values below and arbitrary segments must all be 4xx, not 5xx.
        Route::Intents => "cursor",
        _ => "x",
    };
    let value: BoxedStrategy<String> = prop_oneof![
        prop::sample::select(vec![
            "pending",
            "approved",
            "rejected",
            "expired",
            "executing",
            "succeeded",
            "failed",
            "void",
            "PENDING",
            "",
            "0",
            "-1",
            "501",
            "500",
            "1",
            "4294967296",
            "1e3",
            "%FF",
            "%00",
            "a%20b",
            "9223372036854775808",
            // List cursors: of requests ("r1:01"), of approvals ("a1:x"), a bare tag.
            "cjE6MDE",
            "YTE6eA",
            "cjE6",
        ])
        .prop_map(str::to_string),
        segment(),
    ]
    .boxed();
    prop_oneof![
        3 => Just(String::new()),
        4 => (Just(key), value.clone()).prop_map(|(k, v)| format!("?{k}={v}")),
        1 => (value.clone(), value).prop_map(|(a, b)| format!("?before={a}&limit={b}&state={a}")),
        1 => segment().prop_map(|s| format!("?{s}")),
        1 => Just("?".to_string()),
        1 => Just("?state=pending&state=approved".to_string()),
    ]
    .boxed()
}

fn path_for(route: Route) -> BoxedStrategy<String> {
    let fixed = |p: &'static str| Just(p.to_string()).boxed();
    let base = match route {
        Route::Healthz => fixed("/healthz"),
        Route::Readyz => fixed("/readyz"),
        Route::Metrics => fixed("/metrics"),
        Route::Intent => fixed("/api/v1/intent"),
        Route::Parse => fixed("/api/v1/parse"),
        Route::AuditVerify => fixed("/api/v1/audit/verify"),
        Route::Catalog => fixed("/api/v1/catalog"),
        Route::OpenApi => fixed("/api/v1/openapi.json"),
        Route::Quarantine => fixed("/api/v1/quarantine"),
        Route::Approvals => fixed("/api/v1/approvals"),
        Route::Intents => fixed("/api/v1/intents"),
        Route::Slack => fixed("/api/v1/slack/interactions"),
        Route::Documents => fixed("/api/v1/documents"),
        Route::IntentGet => prop_oneof![
            segment(),
            // A request stored by an earlier case (see `Case::request`).
            any::<prop::sample::Index>().prop_map(|i| format!("{KNOWN}{}", i.index(1 << 16))),
        ]
        .prop_map(|s| format!("/api/v1/intents/{s}"))
        .boxed(),
        // A stored request here never ran (backends are down): a rollback of it is refused
        // as not reversible, of anything else not found.
        Route::Rollback => prop_oneof![
            segment(),
            any::<prop::sample::Index>().prop_map(|i| format!("{KNOWN}{}", i.index(1 << 16))),
        ]
        .prop_map(|s| format!("/api/v1/intents/{s}/rollback"))
        .boxed(),
        Route::ApprovalShow => segment()
            .prop_map(|s| format!("/api/v1/approvals/{s}"))
            .boxed(),
        Route::Approve => segment()
            .prop_map(|s| format!("/api/v1/approvals/{s}/approve"))
            .boxed(),
        Route::Reject => segment()
            .prop_map(|s| format!("/api/v1/approvals/{s}/reject"))
            .boxed(),
        Route::Elsewhere => prop_oneof![
            prop::collection::vec(segment(), 0..6).prop_map(|s| format!("/{}", s.join("/"))),
            prop::sample::select(vec![
                "/",
                "//",
                "/api",
                "/api/v1",
                "/api/v1/",
                "/api/v1/intent/",
                "/API/V1/INTENT",
                "/api/v2/intent",
                "/api/v1//intent",
                "/api/v1/./intent",
                "/api/v1/../v1/intent",
                "/api/v1/intents",
                "/api/v1/intents/",
                "/api/v1/approvals/",
                "/api/v1/approvals/x/approve/extra",
                "/api/v1/approvals//approve",
                "/api/v1/slack",
                "/api/v1/slack/interactions/",
                "/healthz/",
                "/metrics.json",
                "/%2e%2e/%2e%2e/etc/passwd",
                "/api/v1/intent%00",
                "/api/v1/intent;x=1",
            ])
            .prop_map(str::to_string),
        ]
        .boxed(),
    };
    (base, query(route))
        .prop_map(|(p, q)| format!("{p}{q}"))
        .boxed()
}

fn method_for(route: Route) -> BoxedStrategy<Method> {
    let mut others = vec![
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::TRACE,
        Method::CONNECT,
        Method::from_bytes(b"PROPFIND").unwrap(),
        Method::from_bytes(b"get").unwrap(),
    ];
    if route == Route::Readyz {
        // GET (and HEAD, answered by the GET handler) reports the down backends: 503.
        others.retain(|m| *m != Method::GET);
        return prop::sample::select(others).boxed();
    }
    others.push(Method::HEAD);
    prop_oneof![
        6 => Just(route.method()),
        1 => prop::sample::select(others),
    ]
    .boxed()
}

/// The content type: mostly the one the route reads (JSON, or a form for Slack), so most
/// cases reach the handlers, and otherwise anything.
fn content_type(route: Route) -> impl Strategy<Value = Option<Vec<u8>>> {
    let right: &'static [u8] = match route {
        Route::Slack => b"application/x-www-form-urlencoded",
        _ => b"application/json",
    };
    prop_oneof![
        7 => Just(Some(right.to_vec())),
        3 => any_content_type(),
    ]
}

fn any_content_type() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        2 => Just(None),
        6 => prop::sample::select(vec![
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/json;charset=latin1",
            "application/vnd.api+json",
            "application/x-www-form-urlencoded",
            "text/plain",
            "text/json",
            "multipart/form-data; boundary=x",
            "application/json, text/plain",
            "application/",
            "*/*",
            "",
            ";",
        ])
        .prop_map(|s| Some(s.as_bytes().to_vec())),
        1 => header_bytes(80).prop_map(Some),
    ]
}

/// Headers around the body that servers trip on: lengths that lie, `Expect`, encodings.
fn extra_headers() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    fn named(name: &'static str, values: &[&'static str]) -> BoxedStrategy<(String, Vec<u8>)> {
        prop::sample::select(values.to_vec())
            .prop_map(move |v| (name.to_string(), v.as_bytes().to_vec()))
            .boxed()
    }
    fn raw(name: &'static str, max: usize) -> BoxedStrategy<(String, Vec<u8>)> {
        header_bytes(max)
            .prop_map(move |v| (name.to_string(), v))
            .boxed()
    }
    let one = prop_oneof![
        named(
            "content-length",
            &[
                "0",
                "1",
                "-1",
                "10485760",
                "18446744073709551616",
                "abc",
                "5, 5",
                ""
            ]
        ),
        named("expect", &["100-continue", "200-ok", ""]),
        named(
            "transfer-encoding",
            &["chunked", "gzip, chunked", "identity", "x"]
        ),
        named("content-encoding", &["gzip", "br", "deflate", "x"]),
        named("accept", &["application/json", "text/html", "*/*", ""]),
        raw("x-forwarded-for", 60),
        raw("host", 60),
        raw("x-slack-signature", 80),
        raw("cookie", 200),
        ("x-[a-z0-9-]{1,20}", header_bytes(200)),
    ];
    prop::collection::vec(one, 0..4)
}

/// Arbitrary JSON, nested a little.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{0,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Bytes that are not JSON, or JSON no decoder should take kindly to.
fn hostile_json() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        prop::sample::select(vec![
            "".to_string(),
            "{".into(),
            "{\"nl\": ".into(),
            "{\"nl\": \"x\"".into(),
            "{\"nl\": \"x\"}}".into(),
            "{\"nl\": \"x\"} {\"nl\": \"y\"}".into(),
            "\u{feff}{\"nl\": \"x\"}".into(),
            "{\"nl\": \"\\ud800\"}".into(),
            "{\"nl\": \"\\u0000\"}".into(),
            "{\"nl\": \"a\", \"nl\": \"b\"}".into(),
            "{\"nl\": 1e999}".into(),
            "{\"nl\": \"x\", \"dry_run\": \"yes\"}".into(),
            "{\"nl\": \"x\", \"dry_run\": 1}".into(),
            "{\"NL\": \"x\"}".into(),
            "null".into(),
            "[]".into(),
            "\"nl\"".into(),
            "123456789012345678901234567890".into(),
            "[".repeat(100_000),
            format!("{}1{}", "[".repeat(200), "]".repeat(200)),
            format!("{{\"nl\": \"{}\"}}", "\\u0041".repeat(20_000)),
        ])
        .prop_map(String::into_bytes),
        // Valid JSON with a byte that breaks UTF-8 inside a string.
        (any::<String>(), 0x80u8..=0xff).prop_map(|(s, b)| {
            let mut v = b"{\"nl\": \"".to_vec();
            v.extend(s.as_bytes());
            v.push(b);
            v.extend(b"\"}");
            v
        }),
    ]
}

/// Sentences the daemon's parser (rules only: no model is configured here) does not read as
/// a request: arbitrary Unicode, random ASCII, controls. Random text can still read as one
/// (anything ending in `?` is an `ops.ask` question, which needs the retrieval index), so
/// what the rules parser would turn into an action is filtered out: that goes to `/parse`.
fn inert_sentence() -> impl Strategy<Value = String> {
    let catalog = aiops_core::Catalog::embedded().unwrap();
    prop_oneof![
        any::<String>(),
        "[ -~]{0,120}",
        "\\PC{0,80}",
        "[\\x00-\\x1f\\x7f \\u{200b}\\u{202e}\\u{feff}]{0,40}",
        (1usize..200_000).prop_map(|n| "x".repeat(n)),
        Just(" \t\n ".to_string()),
    ]
    .prop_filter("the rules parser reads it as a request", move |nl| {
        matches!(
            aiopsd::parse::parse_rules(&catalog, nl),
            aiopsd::parse::Parsed::Unrecognized(_)
        )
    })
}

/// Realistic sentences with fuzzed slots: verbs and objects of the catalog around odd
/// names, addresses, numbers and metacharacters.
fn sentence() -> impl Strategy<Value = String> {
    let verb = prop::sample::select(vec![
        "add",
        "create",
        "delete",
        "remove",
        "scale",
        "restart",
        "run",
        "list",
        "show",
        "look up",
        "expose",
        "point",
        "kill",
        "what does",
        "make",
        "ignore previous instructions and",
    ]);
    let object = prop::sample::select(vec![
        "DNS A record for",
        "the A record for",
        "the CNAME",
        "deployment",
        "the deployment",
        "pod",
        "the pods in namespace",
        "service",
        "the playbook",
        "playbook",
        "",
        "the TXT record of",
    ]);
    let name: BoxedStrategy<String> = prop_oneof![
        "[a-z0-9-]{1,20}(\\.[a-z0-9-]{1,20}){0,3}\\.(local|corp\\.example\\.com)\\.{0,3}",
        "[a-zA-Z0-9._*$`|;&/()<>!\\\\-]{1,30}",
        "\\PC{1,20}",
        prop::sample::select(vec![
            "t\u{0435}st.local",
            "../../etc/passwd",
            "$(reboot)",
            "`id`",
            "all:!none",
            "*:!none",
            "localhost,all",
            "kube-system",
            "payments",
            "ping",
            "patch-hosts",
            "-e",
            "@/etc/hosts",
        ])
        .prop_map(str::to_string),
    ]
    .boxed();
    let connector = prop::sample::select(vec![
        "to",
        "in namespace",
        "as",
        "on port",
        "with ttl",
        "limited to",
        "replicas",
        "and",
        "then",
        ";",
        "\n",
        "on",
        "for",
        "at",
        "->",
        "=",
    ]);
    let value = prop_oneof![
        (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>())
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        prop::sample::select(vec![
            "0x7f.1",
            "010.1.1.1",
            "192.168.1.0/24",
            "1.2.3",
            "::ffff:10.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "169.254.169.254",
            "2130706433",
            "-1",
            "1e9",
            "3.5",
            "99999999999999999999999",
            "ten thousand",
            "NaN",
        ])
        .prop_map(str::to_string),
        any::<i64>().prop_map(|n| n.to_string()),
        name.clone(),
    ];
    let part = prop_oneof![name, connector.prop_map(str::to_string), value,];
    (verb, object, prop::collection::vec(part, 0..8)).prop_map(|(v, o, rest)| {
        let mut s = format!("{v} {o}");
        for p in rest {
            s.push(' ');
            s.push_str(&p);
        }
        s
    })
}

fn intent_body(nl: impl Strategy<Value = String>) -> impl Strategy<Value = Vec<u8>> {
    (nl, prop::option::of(any::<bool>())).prop_map(|(nl, dry)| {
        let mut v = json!({"nl": nl});
        if let Some(d) = dry {
            v["dry_run"] = json!(d);
        }
        serde_json::to_vec(&v).unwrap()
    })
}

fn decision_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        (
            prop::option::of(prop_oneof![
                "\\PC{0,40}",
                (990usize..1100).prop_map(|n| "r".repeat(n))
            ]),
            prop::option::of(prop_oneof![
                prop::sample::select(vec!["rest", "cli", "slack", "REST", ""])
                    .prop_map(str::to_string),
                "\\PC{0,10}",
            ]),
        )
            .prop_map(|(reason, channel)| {
                let mut v = json!({});
                if let Some(r) = reason {
                    v["reason"] = json!(r);
                }
                if let Some(c) = channel {
                    v["channel"] = json!(c);
                }
                serde_json::to_vec(&v).unwrap()
            }),
        json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        hostile_json(),
    ]
}

/// Bodies `POST /api/v1/documents` decodes (an `IngestRequest`).
fn ingest_body() -> impl Strategy<Value = Vec<u8>> {
    let doc = (
        prop_oneof![
            "[a-z0-9/._-]{0,40}\\.(md|txt|markdown|exe)",
            prop::sample::select(vec![
                "../../etc/passwd.md",
                "/abs.md",
                "a/../../b.md",
                "",
                ".md",
                "a\\b.md"
            ])
            .prop_map(str::to_string),
            "\\PC{0,30}",
        ],
        prop_oneof!["\\PC{0,200}", "[ -~\n#]{0,400}"],
    )
        .prop_map(|(path, text)| json!({"path": path, "text": text}));
    (
        prop::option::of("\\PC{0,20}"),
        prop::collection::vec(doc, 0..3),
        prop::option::of(prop::collection::vec("\\PC{0,20}", 0..3)),
    )
        .prop_map(|(source, documents, keep)| {
            let mut v = json!({"documents": documents});
            if let Some(s) = source {
                v["source"] = json!(s);
            }
            if let Some(k) = keep {
                v["keep"] = json!(k);
            }
            serde_json::to_vec(&v).unwrap()
        })
}

/// Bodies the documents route's JSON extractor refuses (unknown fields, wrong types,
/// not JSON): what an admin sends here (see the module comment).
fn refused_ingest_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        hostile_json().prop_filter("not an IngestRequest", |b| {
            serde_json::from_slice::<aiops_api::IngestRequest>(b).is_err()
        }),
        json_value().prop_filter_map("not an IngestRequest", |v| {
            serde_json::from_value::<aiops_api::IngestRequest>(v.clone())
                .is_err()
                .then(|| serde_json::to_vec(&v).unwrap())
        }),
        Just(b"{\"documents\": {}}".to_vec()),
        Just(b"{\"sources\": \"runbooks\"}".to_vec()),
    ]
}

/// A Slack interaction payload: our buttons, other block actions, other types, odd JSON.
fn slack_payload() -> impl Strategy<Value = String> {
    let action = (
        prop::sample::select(vec!["aiops_approve", "aiops_reject", "other", ""]),
        prop_oneof!["[0-9A-Z]{26}", "\\PC{0,30}"],
    )
        .prop_map(|(a, v)| json!({"action_id": a, "value": v, "type": "button"}));
    prop_oneof![
        (
            prop_oneof![
                Just(identities::APPROVER_SLACK_ID.to_string()),
                "U[A-Z0-9]{0,12}",
                "\\PC{0,20}",
            ],
            prop::collection::vec(action, 0..4),
        )
            .prop_map(|(user, actions)| {
                json!({"type": "block_actions", "user": {"id": user}, "actions": actions})
                    .to_string()
            }),
        json_value().prop_map(|v| v.to_string()),
        Just(json!({"type": "block_actions", "user": {}, "actions": "x"}).to_string()),
        Just(json!({"type": "view_submission"}).to_string()),
        "\\PC{0,100}",
    ]
}

fn slack_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => slack_payload().prop_map(|p| {
            form_urlencoded::Serializer::new(String::new())
                .append_pair("payload", &p)
                .finish()
                .into_bytes()
        }),
        1 => (slack_payload(), slack_payload()).prop_map(|(a, b)| {
            form_urlencoded::Serializer::new(String::new())
                .append_pair("payload", &a)
                .append_pair("payload", &b)
                .finish()
                .into_bytes()
        }),
        1 => prop::collection::vec(any::<u8>(), 0..200),
        1 => Just(b"payload=%ZZ%7B".to_vec()),
        1 => Just(b"payload".to_vec()),
    ]
}

fn signing() -> impl Strategy<Value = Signing> {
    prop_oneof![
        6 => Just(Signing::Valid),
        1 => Just(Signing::ValidUpper),
        1 => Just(Signing::WrongSecret),
        1 => prop_oneof![-2000i64..2000, Just(i64::MIN / 2), Just(i64::MAX / 2)].prop_map(Signing::Skewed),
        1 => Just(Signing::Tampered),
        1 => (prop::option::of(header_bytes(30)), prop::option::of(header_bytes(90)))
            .prop_map(|(t, s)| Signing::Headers(t, s)),
    ]
}

fn json_of(v: Value) -> Vec<u8> {
    serde_json::to_vec(&v).unwrap()
}

fn body_for(route: Route, auth: &Auth) -> BoxedStrategy<Vec<u8>> {
    match route {
        Route::Intent if auth.refused() => prop_oneof![
            intent_body(sentence()),
            intent_body(inert_sentence()),
            hostile_json(),
        ]
        .boxed(),
        Route::Intent => prop_oneof![
            4 => intent_body(inert_sentence()),
            2 => hostile_json(),
            1 => json_value().prop_map(json_of),
        ]
        .boxed(),
        // `ParseRequest` takes `nl` alone (no `dry_run`: unknown fields are refused).
        Route::Parse => prop_oneof![
            5 => sentence().prop_map(|nl| json_of(json!({"nl": nl}))),
            2 => inert_sentence().prop_map(|nl| json_of(json!({"nl": nl}))),
            1 => intent_body(sentence()),
            2 => hostile_json(),
            1 => json_value().prop_map(json_of),
        ]
        .boxed(),
        Route::Approve | Route::Reject => decision_body().boxed(),
        Route::Rollback => prop_oneof![
            3 => Just(Vec::new()),
            2 => any::<bool>().prop_map(|d| json_of(json!({"dry_run": d}))),
            1 => hostile_json(),
            1 => json_value().prop_map(json_of),
        ]
        .boxed(),
        Route::Slack => slack_body().boxed(),
        Route::Documents if auth.admin() => refused_ingest_body().boxed(),
        Route::Documents => prop_oneof![ingest_body(), refused_ingest_body()].boxed(),
        _ => prop_oneof![
            4 => Just(Vec::new()),
            1 => hostile_json(),
            1 => json_value().prop_map(json_of),
        ]
        .boxed(),
    }
}

fn case() -> impl Strategy<Value = Case> {
    (prop::sample::select(ROUTES.to_vec()), auth())
        .prop_flat_map(|(route, auth)| {
            (
                Just(route),
                method_for(route),
                path_for(route),
                Just(auth.clone()),
                content_type(route),
                extra_headers(),
                body_for(route, &auth),
                signing(),
            )
        })
        .prop_map(
            |(route, method, path, auth, content_type, headers, body, signing)| Case {
                route,
                method,
                path,
                auth,
                content_type,
                headers,
                body,
                signing: (route == Route::Slack).then_some(signing),
            },
        )
}

// ---------------------------------------------------------------------------------------
// Running a case
// ---------------------------------------------------------------------------------------

fn now_secs() -> i64 {
    aiops_store::now_ms() / 1000
}

impl Case {
    /// The HTTP request, or `None` when the generated parts do not make one (a header value
    /// `http` refuses to build cannot be sent either).
    fn request(&self, known: &[String]) -> Option<Request<Body>> {
        let path = match self.path.split_once(KNOWN) {
            Some((head, rest)) if !known.is_empty() => {
                let digits =
                    rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
                let n: usize = rest[..digits].parse().ok()?;
                format!("{head}{}{}", known[n % known.len()], &rest[digits..])
            }
            _ => self.path.clone(),
        };
        let mut b = Request::builder()
            .method(self.method.clone())
            .uri(path.as_str());
        let bearer = |i: usize| identities::ALL[i].token;
        match &self.auth {
            Auth::None => {}
            Auth::Valid(i) => b = b.header(header::AUTHORIZATION, format!("Bearer {}", bearer(*i))),
            Auth::Spelled(i, s) => {
                b = b.header(header::AUTHORIZATION, format!("{s} {}", bearer(*i)))
            }
            Auth::Forged(t) => b = b.header(header::AUTHORIZATION, format!("Bearer {t}x")),
            Auth::Scheme(s, v) => b = b.header(header::AUTHORIZATION, format!("{s} {v}")),
            Auth::Raw(bytes) => {
                b = b.header(header::AUTHORIZATION, HeaderValue::from_bytes(bytes).ok()?)
            }
            Auth::Twice(i, first) => {
                let (good, bad) = (
                    format!("Bearer {}", bearer(*i)),
                    "Bearer forged".to_string(),
                );
                let (x, y) = if *first { (good, bad) } else { (bad, good) };
                b = b
                    .header(header::AUTHORIZATION, x)
                    .header(header::AUTHORIZATION, y);
            }
        }
        if let Some(ct) = &self.content_type {
            b = b.header(header::CONTENT_TYPE, HeaderValue::from_bytes(ct).ok()?);
        }
        for (k, v) in &self.headers {
            b = b.header(
                HeaderName::from_bytes(k.as_bytes()).ok()?,
                HeaderValue::from_bytes(v).ok()?,
            );
        }
        let mut body = self.body.clone();
        if let Some(signing) = &self.signing {
            let now = now_secs();
            let sign = |secret: &[u8], ts: i64, body: &[u8]| {
                let ts = ts.to_string();
                let sig = aiopsd::slack::sign(secret, &ts, body);
                (ts.into_bytes(), sig.into_bytes())
            };
            let secret = SLACK_SIGNING_SECRET.as_bytes();
            let (ts, sig) = match signing {
                Signing::Valid => {
                    let (t, s) = sign(secret, now, &body);
                    (Some(t), Some(s))
                }
                Signing::ValidUpper => {
                    let (t, s) = sign(secret, now, &body);
                    let s = format!(
                        "v0={}",
                        String::from_utf8(s[3..].to_vec()).ok()?.to_uppercase()
                    );
                    (Some(t), Some(s.into_bytes()))
                }
                Signing::WrongSecret => {
                    let (t, s) = sign(b"another-signing-secret", now, &body);
                    (Some(t), Some(s))
                }
                Signing::Skewed(d) => {
                    let (t, s) = sign(secret, now.saturating_add(*d), &body);
                    (Some(t), Some(s))
                }
                Signing::Tampered => {
                    let (t, s) = sign(secret, now, &body);
                    body.push(b'x');
                    (Some(t), Some(s))
                }
                Signing::Headers(t, s) => (t.clone(), s.clone()),
            };
            if let Some(ts) = ts {
                b = b.header(
                    "x-slack-request-timestamp",
                    HeaderValue::from_bytes(&ts).ok()?,
                );
            }
            if let Some(sig) = sig {
                b = b.header("x-slack-signature", HeaderValue::from_bytes(&sig).ok()?);
            }
        }
        b.body(Body::from(body)).ok()
    }
}

/// Every answer is counted here, by route and status: the summary printed at the end and
/// the coverage check.
#[derive(Default)]
struct Tally {
    by_route: BTreeMap<(Route, u16), u64>,
    unsendable: u64,
}

struct Fixture {
    _dir: tempfile::TempDir,
    state: AppState,
    router: Router,
    tally: Mutex<Tally>,
    /// Ids of the requests cases have stored.
    known: Mutex<Vec<String>>,
}

impl Fixture {
    async fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let state = App::build(common::secured_config(dir.path()))
            .await
            .unwrap();
        let router = aiopsd::api::router(state.clone());
        Fixture {
            _dir: dir,
            state,
            router,
            tally: Mutex::new(Tally::default()),
            known: Mutex::new(Vec::new()),
        }
    }

    async fn check(&self, case: &Case) -> Result<(), TestCaseError> {
        let known = self.known.lock().unwrap().clone();
        let Some(req) = case.request(&known) else {
            self.tally.lock().unwrap().unsendable += 1;
            return Ok(());
        };
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let content_type = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(600)]).into_owned();
        if case.route == Route::Intent
            && let Ok(v) = serde_json::from_slice::<Value>(&bytes)
            && let Some(id) = v["id"].as_str()
        {
            self.known.lock().unwrap().push(id.to_string());
        }
        *self
            .tally
            .lock()
            .unwrap()
            .by_route
            .entry((case.route, status.as_u16()))
            .or_default() += 1;

        prop_assert!(
            !status.is_server_error(),
            "{} {} answered {status}: {text}",
            case.method,
            case.path
        );
        // HEAD answers carry no body; everything else is JSON when it is an error.
        if case.method == Method::HEAD {
            return Ok(());
        }
        if status.is_client_error() {
            prop_assert!(
                content_type.starts_with("application/json"),
                "{} {} answered {status} as {content_type:?}, not JSON: {text}",
                case.method,
                case.path
            );
            let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
                TestCaseError::fail(format!("{status} body is not JSON ({e}): {text}"))
            })?;
            let code = v["error"]["code"].as_str().unwrap_or_default();
            let message = v["error"]["message"].as_str().unwrap_or_default();
            prop_assert!(
                !code.is_empty() && !message.is_empty(),
                "{status} body is not the error shape: {text}"
            );
        } else if content_type.starts_with("application/json") {
            prop_assert!(
                serde_json::from_slice::<Value>(&bytes).is_ok(),
                "{status} JSON body does not parse: {text}"
            );
        }
        Ok(())
    }

    /// Executions started daemon-wide (`aiops_stage_duration_seconds_count` of
    /// `execute`/`started`).
    async fn executions_started(&self) -> u64 {
        let resp = self
            .router
            .clone()
            .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|l| {
                l.starts_with("aiops_stage_duration_seconds_count{")
                    && l.contains(r#"stage="execute""#)
                    && l.contains(r#"outcome="started""#)
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }
}

fn seed() -> [u8; 32] {
    match std::env::var("AIOPS_FUZZ_SEED") {
        Ok(hex) => hex::decode(hex.trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .expect("AIOPS_FUZZ_SEED is 64 hex digits"),
        Err(_) => DEFAULT_SEED,
    }
}

#[test]
fn the_router_answers_arbitrary_requests_without_5xx_and_with_json_errors() {
    let cases: u32 = std::env::var("AIOPS_FUZZ_CASES")
        .map(|n| n.parse().expect("AIOPS_FUZZ_CASES is a number"))
        .unwrap_or(DEFAULT_CASES);
    let seed = seed();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let fx = rt.block_on(Fixture::new());
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 1024,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
    let started = Instant::now();
    let result = runner.run(&case(), |case| rt.block_on(fx.check(&case)));
    let elapsed = started.elapsed();
    if let Err(e) = result {
        panic!(
            "{e}\n(seed AIOPS_FUZZ_SEED={}; shrunk case above)",
            hex::encode(seed)
        );
    }

    let tally = fx.tally.lock().unwrap();
    let total: u64 = tally.by_route.values().sum();
    let mut summary = String::new();
    for route in ROUTES {
        let statuses: Vec<String> = tally
            .by_route
            .iter()
            .filter(|((r, _), _)| *r == route)
            .map(|((_, s), n)| format!("{s}×{n}"))
            .collect();
        summary.push_str(&format!("  {route:?}: {}\n", statuses.join(" ")));
    }
    println!(
        "router fuzz: {total} requests answered ({} not sendable) in {:.1} s, seed {}\n{summary}",
        tally.unsendable,
        elapsed.as_secs_f64(),
        hex::encode(seed)
    );
    // Every route was reached, and often enough to mean something.
    for route in ROUTES {
        let n: u64 = tally
            .by_route
            .iter()
            .filter(|((r, _), _)| *r == route)
            .map(|(_, n)| n)
            .sum();
        assert!(
            n * (ROUTES.len() as u64) * 4 >= total,
            "{route:?} got only {n} of {total} requests"
        );
    }
    assert!(
        total + tally.unsendable >= u64::from(cases),
        "{total} requests for {cases} cases"
    );
    drop(tally);

    // Nothing that came in executed anything, and everything stored is on an intact chain.
    assert_eq!(rt.block_on(fx.executions_started()), 0);
    let chain = rt.block_on(fx.state.store.verify_chain()).unwrap();
    assert!(chain.ok, "{chain:?}");
}
