//! Per-frame filler words: harmless in a request for that action (and only there).

pub(crate) const DNS_FILL: &[&str] = &[
    "dns", "record", "records", "entry", "entries", "rr", "host", "hostname", "server", "machine",
    "ip", "ipv4", "address", "type", "pointing", "points", "point", "resolving", "resolves",
    "resolve", "that", "which", "name",
];

pub(crate) const CREATE_FILL: &[&str] = &["new", "named", "called"];

pub(crate) const LOOKUP_FILL: &[&str] = &["current", "currently", "me", "us"];

pub(crate) const LOOKUP_Q_FILL: &[&str] = &[
    "what", "what's", "whats", "which", "where", "where's", "is", "are", "does", "do", "did",
    "tell", "has", "have", "right", "now", "answer", "value", "it", "its", "resolved", "resolution",
    "ips", "addresses", "returns", "return", "current", "currently", "me", "us", "'s",
    // "does X have a DNS entry?", "is there any record for X?", "does X exist in DNS?"
    "there", "any", "exist", "exists", "we",
];

pub(crate) const SCALE_FILL: &[&str] = &[
    "replicas", "replica", "count", "instances", "copies", "number", "up", "down", "out", "total",
];

pub(crate) const RESTART_FILL: &[&str] = &["rolling", "of"];

pub(crate) const LIST_FILL: &[&str] = &[
    "pods", "po", "pod", "all", "running", "current", "k8s", "kubernetes", "me", "there",
];

pub(crate) const PODS_Q_FILL: &[&str] = &[
    "what", "what's", "whats", "which", "are", "is", "exist", "exists", "currently", "deployed", "up", "have", "we",
    "do", "does", "running", "there",
];

pub(crate) const DELETE_POD_FILL: &[&str] = &["pod", "po"];

pub(crate) const EXPOSE_FILL: &[&str] = &[
    "traffic", "publicly", "public", "externally", "internet", "available", "reachable",
    "accessible", "https", "tls", "http", "hostname", "host", "domain", "url", "under", "make",
    "with", "certificate", "cert", "ssl", "outside", "world",
    // "create an HTTPRoute for the X service at HOST"
    "httproute", "ingress", "route",
];

pub(crate) const RUN_FILL: &[&str] = &[
    "ansible", "playbook", "hosts", "host", "group", "groups", "against", "limited", "limit",
    "inventory", "only",
];
