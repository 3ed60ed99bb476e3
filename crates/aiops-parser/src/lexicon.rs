//! Word lists. Every list is lower-case; lookups are exact.

/// Words that make up a whole "sentence" of courtesy ("Thanks!", "Hi.").
pub(crate) const COURTESY: &[&str] = &[
    "thanks", "thank", "you", "thx", "ty", "please", "pls", "plz", "cheers", "ok", "okay", "hi", "hello", "hey", "there", "asap", "team",
    "folks", "all", "good", "morning", "afternoon", "evening",
];

/// Greetings dropped from the start of a sentence.
pub(crate) const GREETINGS: &[&str] = &["hi", "hey", "hello", "yo", "ok", "okay", "so", "hmm", "alright", "right"];

/// Request prefixes dropped from the start ("could you", "please", "I need to").
pub(crate) const POLITE_PREFIXES: &[&[&str]] = &[
    &["can", "you"],
    &["could", "you"],
    &["would", "you"],
    &["will", "you"],
    &["can", "u"],
    &["could", "u"],
    &["please"],
    &["pls"],
    &["plz"],
    &["kindly"],
    &["just"],
    &["quickly"],
    &["go", "ahead", "and"],
    &["i", "want", "to"],
    &["i", "wanna"],
    &["i'd", "like", "to"],
    &["i", "would", "like", "to"],
    &["i", "need", "to"],
    &["i", "need", "you", "to"],
    &["we", "need", "to"],
    &["need", "to"],
    &["let's"],
    &["lets"],
    &["let", "us"],
];

/// Courtesy dropped from the end ("..., please", "... now", "... thanks").
pub(crate) const POLITE_SUFFIXES: &[&[&str]] = &[
    &["please"],
    &["pls"],
    &["plz"],
    &["thanks"],
    &["thx"],
    &["ty"],
    &["cheers"],
    &["now"],
    &["right", "now"],
    &["asap"],
    &["immediately"],
    &["for", "me"],
];

/// Sentence openers that make it an information question.
pub(crate) const STRONG_QUESTION: &[&str] = &[
    "how", "why", "what", "what's", "whats", "when", "when's", "where", "where's", "which", "who", "who's", "whom", "whose", "explain",
    "describe",
];

/// Auxiliary verbs that open a yes/no question ("is the vault sealed?").
pub(crate) const AUX_QUESTION: &[&str] = &[
    "is", "are", "am", "was", "were", "does", "do", "did", "can", "could", "should", "would", "will", "shall", "may", "might", "has", "have",
    "had",
];

/// Subjects that may follow an auxiliary in a question ("do I", "is the").
pub(crate) const SUBJECTS: &[&str] =
    &["i", "we", "you", "they", "it", "he", "she", "the", "my", "our", "your", "this", "that", "these", "those", "there"];

/// Negation: any of these in a command refuses it.
pub(crate) const NEGATIONS: &[&str] = &[
    "not", "no", "never", "dont", "doesnt", "didnt", "cannot", "cant", "wont", "shouldnt", "mustnt", "isnt", "arent", "without", "avoid",
    "nor", "neither", "nope", "stop", "cancel",
];

/// Words that make a command conditional, relative, scheduled, compound or bulk.
/// Any of these in a command refuses it ("all" is handled separately).
pub(crate) const REFUSE_WORDS: &[&str] = &[
    "if", "unless", "except", "excluding", "but", "instead", "or", "either", "then", "also", "plus", "after", "afterwards", "afterward",
    "before", "until", "till", "while", "when", "whenever", "later", "tomorrow", "tonight", "yesterday", "schedule", "scheduled", "cron",
    "every", "each", "everything", "everywhere", "entire", "whole", "any", "anything", "both", "others", "other", "rest", "remaining",
    "more", "fewer", "less", "extra", "additional", "another", "by", "increase", "decrease", "double", "triple", "half", "halve", "maybe",
    "perhaps", "possibly", "try", "attempt", "&", "&&", "|", "||", "simulate", "dry-run", "dryrun", "twice", "undo", "revert", "rollback",
    "sudo", "force", "--force", "recursively", "-rf", "multiple", "several", "many", "some", "first", "last", "oldest", "newest", "random",
    "randomly",
];

/// After "and", only these may follow (a further slot of the same request).
pub(crate) const AND_OK: &[&str] = &["ttl", "port", "limit", "namespace", "with", "in", "on", "a", "the"];

/// Kinds that may be written `kind/name`.
pub(crate) const SLASH_KINDS: &[&str] =
    &["deployment", "deployments", "deploy", "deployment.apps", "pod", "pods", "po", "service", "services", "svc"];

// ---- verbs -------------------------------------------------------------------

pub(crate) const V_CREATE: &[&str] = &["add", "create", "point", "register", "insert", "map", "new", "set", "make", "put"];
pub(crate) const V_DELETE: &[&str] =
    &["delete", "remove", "drop", "purge", "erase", "destroy", "del", "rm", "unregister", "deregister", "kill", "evict", "terminate", "nuke"];
/// Delete verbs that only make sense for pods.
pub(crate) const V_POD_ONLY_DELETE: &[&str] = &["kill", "evict", "terminate", "nuke"];
pub(crate) const V_LOOKUP_STRONG: &[&str] = &["lookup", "resolve", "query", "dig", "nslookup"];
pub(crate) const V_LOOKUP_WEAK: &[&str] = &["check", "find", "fetch", "show", "get", "display", "view", "list"];
pub(crate) const V_SCALE: &[&str] = &["scale", "resize"];
pub(crate) const V_SET_REPLICAS: &[&str] = &["set", "change", "update", "adjust", "modify"];
pub(crate) const V_RESTART: &[&str] = &["restart", "bounce", "redeploy", "recycle", "cycle"];
pub(crate) const V_LIST: &[&str] = &["list", "ls", "show", "get", "display", "view", "enumerate", "see"];
pub(crate) const V_EXPOSE: &[&str] = &["expose", "publish", "route"];
pub(crate) const V_RUN: &[&str] = &["run", "execute", "exec", "apply", "launch", "trigger", "start", "play"];

/// Every verb that names some operation (ours or not). A leftover one of these
/// means the sentence asks for something else as well.
pub(crate) const ACTION_VERBS: &[&str] = &[
    "add", "adding", "create", "creating", "point", "pointing", "points", "register", "insert", "map", "new", "set", "make", "put", "delete",
    "deleting", "remove", "removing", "drop", "purge", "erase", "destroy", "del", "rm", "unregister", "deregister", "kill", "evict",
    "terminate", "nuke", "lookup", "resolve", "resolves", "resolving", "query", "dig", "nslookup", "check", "find", "fetch", "show", "get",
    "display", "view", "list", "ls", "enumerate", "see", "scale", "scaling", "resize", "change", "update", "adjust", "modify", "restart",
    "restarting", "bounce", "redeploy", "recycle", "cycle", "reload", "rollout", "roll", "expose", "publish", "route", "run", "running",
    "execute", "exec", "apply", "launch", "trigger", "start", "play", "stop", "reboot", "shutdown", "install", "uninstall", "upgrade",
    "patch", "edit", "replace", "rename", "move", "copy", "wipe", "format", "describe", "drain", "cordon", "uncordon", "taint", "ssh",
    "login", "open", "close", "enable", "disable", "approve", "deny", "grant", "revoke", "rotate", "backup", "restore", "migrate", "attach",
    "detach", "mount", "unmount", "flush", "clear", "reset", "renew", "issue", "sync", "build", "push", "pull", "tag", "upload", "download",
    "send", "email", "notify", "write", "read", "print", "echo", "cat", "curl", "wget", "ping", "give", "tell", "explain", "help",
];

// ---- nouns and cues ------------------------------------------------------------

pub(crate) const POD_WORDS: &[&str] = &["pod", "pods", "po"];
pub(crate) const DEPLOY_WORDS: &[&str] = &["deployment", "deployments", "deploy", "deployment.apps"];
pub(crate) const SERVICE_WORDS: &[&str] = &["service", "services", "svc"];
pub(crate) const PLAYBOOK_WORDS: &[&str] = &["playbook", "playbooks"];
pub(crate) const DNS_WORDS: &[&str] = &[
    "dns", "record", "records", "rr", "cname", "txt", "aaaa", "a-record", "mx", "srv", "ptr", "soa", "caa", "spf", "nameserver",
];
pub(crate) const REPLICA_WORDS: &[&str] = &["replica", "replicas"];
pub(crate) const NS_WORDS: &[&str] = &["namespace", "namespaces", "ns"];
/// Other Kubernetes or infrastructure objects: never ours.
pub(crate) const OTHER_KINDS: &[&str] = &[
    "statefulset", "statefulsets", "sts", "daemonset", "daemonsets", "ds", "job", "jobs", "cronjob", "cronjobs", "node", "nodes", "pvc",
    "pvcs", "configmap", "configmaps", "secret", "secrets", "replicaset", "replicasets", "container", "containers", "cluster", "clusters",
    "vm", "vms", "volume", "volumes", "image", "images", "label", "labels", "selector", "context", "environment", "env", "region", "hpa",
    "autoscaler", "table", "user", "users", "password", "token", "key", "keys", "certificate", "cert", "file", "files",
    "directory", "folder", "disk", "firewall", "rule", "rules", "zone", "zones", "domain", "subdomain", "server", "servers", "ingressroute",
    "httproute", "gateway", "helm", "chart", "release", "stack",
];
/// Record types it does not.
pub(crate) const UNSUPPORTED_TYPES: &[&str] =
    &["mx", "ns", "srv", "ptr", "soa", "caa", "spf", "naptr", "sshfp", "tlsa", "svcb", "dnskey", "ds", "any", "https", "loc", "hinfo"];

/// Units of time (leftover ones mean an unsupported schedule or duration).
pub(crate) const TIME_WORDS: &[&str] = &[
    "s", "sec", "secs", "second", "seconds", "m", "min", "mins", "minute", "minutes", "h", "hr", "hrs", "hour", "hours", "d", "day", "days",
    "week", "weeks", "am", "pm", "midnight", "noon", "o'clock", "today", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
    "sunday", "soon",
];

/// Slot cue words: a leftover one means a slot we did not understand.
pub(crate) const CUE_WORDS: &[&str] =
    &["ttl", "port", "ports", "limit", "limited", "hostname", "ip", "ips", "address", "addresses", "host", "hosts", "group", "groups", "type"];

/// Function words harmless anywhere in a command.
pub(crate) const FILLER: &[&str] = &[
    "the", "a", "an", "my", "our", "your", "this", "that", "me", "us", "for", "to", "at", "in", "on", "of", "from", "with", "as", "into",
    "onto", "please", "now", "named", "called", "it", "its", "is", "be", "so", "just", "via", "using", "->", "and", "kindly", "quickly",
    "again", "here", "thanks",
];

/// Words directly before a name that sits before its kind ("the web deployment").
pub(crate) const PRE_NAME: &[&str] = &["the", "my", "our", "your", "this", "that", "a", "an", "of", "for", "on", "at", "to"];

/// Words that may directly follow a slot value.
pub(crate) const BOUNDARY: &[&str] = &[
    "to", "in", "on", "at", "as", "with", "for", "from", "and", "namespace", "ns", "port", "ttl", "limit", "limited", "replicas", "replica",
    "pointing", "please", "now", "->", "down", "up", "using", "via", "deployment", "deploy", "pod", "service", "svc", "playbook", "into",
    "under", "against", "so", "thanks", "within", "inside", "available", "reachable", "accessible", "publicly", "externally", "pods",
];

/// Location cue words for a namespace ("in shop", "from batch").
pub(crate) const NS_CUES: &[&str] = &["in", "from", "within", "inside"];

/// Phrases that look like attempts to steer a model rather than operate a system.
pub(crate) const INJECTION: &[&str] = &[
    "ignore previous",
    "ignore all",
    "ignore the above",
    "ignore above",
    "ignore prior",
    "ignore your",
    "ignore any",
    "ignore earlier",
    "ignore these",
    "ignore those",
    "ignore instructions",
    "ignore the instructions",
    "ignore the rules",
    "ignore the policy",
    "disregard",
    "forget your",
    "forget all",
    "forget previous",
    "forget everything",
    "forget the above",
    "system prompt",
    "you are now",
    "jailbreak",
    "developer mode",
    "act as",
    "pretend",
    "new instructions",
    "previous instructions",
    "prior instructions",
    "above instructions",
    "your instructions",
    "your rules",
    "override",
    "bypass",
    "prompt injection",
    "<|",
    "|>",
    "[inst]",
    "[/inst]",
    "<<sys>>",
    "sudo ",
    "as root",
    "roleplay",
    "role-play",
    "do anything now",
    "without approval",
    "skip approval",
    "no approval",
];

/// True if the (lower-cased) text contains an instruction-steering phrase.
pub(crate) fn looks_like_injection(lower: &str) -> bool {
    let collapsed = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    INJECTION.iter().any(|p| collapsed.contains(p))
}

pub(crate) fn is_in(set: &[&str], w: &str) -> bool {
    set.contains(&w)
}

/// Negation words, including any "n't" contraction.
pub(crate) fn is_negation(w: &str) -> bool {
    is_in(NEGATIONS, w) || w.ends_with("n't")
}

/// Words that can never be a name (deployment, namespace, pod, service, playbook).
pub(crate) fn is_reserved(w: &str) -> bool {
    [
        FILLER, ACTION_VERBS, POD_WORDS, DEPLOY_WORDS, SERVICE_WORDS, PLAYBOOK_WORDS, DNS_WORDS, REPLICA_WORDS, NS_WORDS, OTHER_KINDS,
        UNSUPPORTED_TYPES, TIME_WORDS, CUE_WORDS, REFUSE_WORDS, NEGATIONS, STRONG_QUESTION, AUX_QUESTION, SUBJECTS, PRE_NAME, BOUNDARY,
        GREETINGS, COURTESY, NS_CUES,
    ]
    .iter()
    .any(|set| is_in(set, w))
        || [
            "all", "ansible", "kubectl", "k8s", "kubernetes", "count", "instances", "copies", "up", "down", "out", "traffic", "available",
            "number", "entry", "entries", "value", "against", "targeting", "target", "restricted", "restrict", "rolling", "current",
            "currently", "which", "what", "name", "dry", "mode", "check",
        ]
        .contains(&w)
        || crate::values::is_number_word(w)
}
