//! Verbs: the ones that select an action frame, and every other operation verb (a
//! leftover verb means the sentence asks for something else as well).

pub(crate) const V_CREATE: &[&str] = &[
    "add", "create", "point", "register", "insert", "map", "new", "set", "make", "put",
];

pub(crate) const V_DELETE: &[&str] = &[
    "delete", "remove", "drop", "purge", "erase", "destroy", "del", "rm", "unregister",
    "deregister", "kill", "evict", "terminate", "nuke",
];

/// Delete verbs that only make sense for pods.
pub(crate) const V_POD_ONLY_DELETE: &[&str] = &["kill", "evict", "terminate", "nuke"];

pub(crate) const V_LOOKUP_STRONG: &[&str] = &["lookup", "resolve", "query", "dig", "nslookup"];

pub(crate) const V_LOOKUP_WEAK: &[&str] = &[
    "check", "find", "fetch", "show", "get", "display", "view", "list",
];

pub(crate) const V_SCALE: &[&str] = &["scale", "resize"];

pub(crate) const V_SET_REPLICAS: &[&str] = &["set", "change", "update", "adjust", "modify"];

pub(crate) const V_RESTART: &[&str] = &[
    "restart", "bounce", "redeploy", "recycle", "cycle", "roll",
];

/// Verbs that change a replica count relative to now: a scale request only with an
/// absolute target ("increase web to 5 replicas"); "by N" is refused.
pub(crate) const V_SCALE_TO: &[&str] = &["increase", "decrease", "raise", "reduce", "lower", "bump"];

/// Stated wishes that stand for a verb: "I want X to resolve to Y", "I need 7 pods
/// for the X deployment". Replaced by the pseudo-verb "want".
pub(crate) const DESIRE_PREFIXES: &[&[&str]] = &[
    &["i", "want"], &["we", "want"], &["i", "need"], &["we", "need"], &["i'd", "like"],
    &["we'd", "like"], &["i", "would", "like"], &["we", "would", "like"],
];

/// Words that make X's name resolve somewhere ("make X resolve to Y").
pub(crate) const RESOLVE_WORDS: &[&str] = &["resolve", "resolves", "point", "points"];

/// Nouns for an HTTP route to a service ("create an HTTPRoute for service X").
pub(crate) const ROUTE_NOUNS: &[&str] = &["httproute", "ingress", "route"];

pub(crate) const V_LIST: &[&str] = &[
    "list", "ls", "show", "get", "display", "view", "enumerate", "see",
];

pub(crate) const V_EXPOSE: &[&str] = &["expose", "publish", "route"];

pub(crate) const V_RUN: &[&str] = &[
    "run", "execute", "exec", "apply", "launch", "trigger", "start", "play",
];

/// Operation verbs (and verb forms) that select no frame of ours.
pub(crate) const OTHER_VERBS: &[&str] = &[
    "adding", "creating", "pointing", "points", "deleting", "removing", "resolves", "resolving",
    "scaling", "restarting", "reload", "rollout", "running", "stop", "reboot", "shutdown",
    "install", "uninstall", "upgrade", "patch", "edit", "replace", "rename", "move", "copy", "wipe",
    "format", "describe", "drain", "cordon", "uncordon", "taint", "ssh", "login", "open", "close",
    "enable", "disable", "approve", "deny", "grant", "revoke", "rotate", "backup", "restore",
    "migrate", "attach", "detach", "mount", "unmount", "flush", "clear", "reset", "renew", "issue",
    "sync", "build", "push", "pull", "tag", "upload", "download", "send", "email", "notify",
    "write", "read", "print", "echo", "cat", "curl", "wget", "ping", "give", "tell", "explain",
    "help",
];
