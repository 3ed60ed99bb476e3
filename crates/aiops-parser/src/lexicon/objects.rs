//! Object and cue nouns: Kubernetes kinds, DNS words, record types, units of time,
//! and the words that introduce a slot.

/// Kinds that may be written `kind/name`.
pub(crate) const SLASH_KINDS: &[&str] = &[
    "deployment", "deployments", "deploy", "deployment.apps", "pod", "pods", "po", "service",
    "services", "svc",
];

pub(crate) const POD_WORDS: &[&str] = &["pod", "pods", "po"];

pub(crate) const DEPLOY_WORDS: &[&str] = &[
    "deployment", "deployments", "deploy", "deployment.apps",
];

pub(crate) const SERVICE_WORDS: &[&str] = &["service", "services", "svc"];

pub(crate) const PLAYBOOK_WORDS: &[&str] = &["playbook", "playbooks"];

pub(crate) const DNS_WORDS: &[&str] = &[
    "dns", "record", "records", "rr", "cname", "txt", "aaaa", "a-record", "mx", "srv", "ptr", "soa",
    "caa", "spf", "nameserver",
];

pub(crate) const REPLICA_WORDS: &[&str] = &["replica", "replicas"];

pub(crate) const NS_WORDS: &[&str] = &["namespace", "namespaces", "ns"];

/// Other Kubernetes or infrastructure objects: never ours.
pub(crate) const OTHER_KINDS: &[&str] = &[
    "statefulset", "statefulsets", "sts", "daemonset", "daemonsets", "ds", "job", "jobs", "cronjob",
    "cronjobs", "node", "nodes", "pvc", "pvcs", "configmap", "configmaps", "secret", "secrets",
    "replicaset", "replicasets", "container", "containers", "cluster", "clusters", "vm", "vms",
    "volume", "volumes", "image", "images", "label", "labels", "selector", "context", "environment",
    "env", "region", "hpa", "autoscaler", "table", "user", "users", "password", "token", "key",
    "keys", "certificate", "cert", "file", "files", "directory", "folder", "disk", "firewall",
    "rule", "rules", "zone", "zones", "domain", "subdomain", "server", "servers", "ingressroute",
    "httproute", "gateway", "helm", "chart", "release", "stack",
];

/// Nouns after a record type ("A record", "NS entries").
pub(crate) const RECORD_NOUNS: &[&str] = &["record", "records", "entry", "entries", "rr"];

/// Record type words (the types no action takes are refused when named).
pub(crate) const UNSUPPORTED_TYPES: &[&str] = &[
    "mx", "ns", "srv", "ptr", "soa", "caa", "spf", "naptr", "sshfp", "tlsa", "svcb", "dnskey", "ds",
    "any", "https", "loc", "hinfo",
];

/// Units of time (leftover ones mean an unsupported schedule or duration).
pub(crate) const TIME_WORDS: &[&str] = &[
    "s", "sec", "secs", "second", "seconds", "m", "min", "mins", "minute", "minutes", "h", "hr",
    "hrs", "hour", "hours", "d", "day", "days", "week", "weeks", "am", "pm", "midnight", "noon",
    "o'clock", "today", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
    "sunday", "soon",
];

/// Slot cue words: a leftover one means a slot we did not understand.
pub(crate) const CUE_WORDS: &[&str] = &[
    "ttl", "port", "ports", "limit", "limited", "hostname", "ip", "ips", "address", "addresses",
    "host", "hosts", "group", "groups", "type",
];

/// States a pod or deployment is in ("delete the stuck pod X"): never a name.
pub(crate) const STATE_WORDS: &[&str] = &[
    "stuck", "crashing", "crashed", "crashlooping", "failing", "failed", "broken", "hung",
    "hanging", "dead", "unhealthy", "frozen", "zombie", "misbehaving", "faulty", "evicted",
    "pending", "orphaned", "erroring", "errored", "wedged", "old", "bad",
];

/// Words that name an Ansible host group.
pub(crate) const GROUPISH: &[&str] = &["host", "hosts", "group", "groups"];
