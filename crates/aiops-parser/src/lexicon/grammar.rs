//! Function words: fillers, articles, prepositions, and the words that may stand
//! next to a slot value.

/// After "and", only these may follow (a further slot of the same request).
pub(crate) const AND_OK: &[&str] = &[
    "ttl", "port", "limit", "namespace", "with", "in", "on", "a", "the",
];

/// Function words harmless anywhere in a command.
pub(crate) const FILLER: &[&str] = &[
    "the", "a", "an", "my", "our", "your", "this", "that", "me", "us", "for", "to", "at", "in",
    "on", "of", "from", "with", "as", "into", "onto", "please", "now", "named", "called", "it",
    "its", "is", "be", "so", "just", "via", "using", "->", "and", "kindly", "quickly", "again",
    "here", "thanks",
];

/// Words directly before a name that sits before its kind ("the web deployment").
pub(crate) const PRE_NAME: &[&str] = &[
    "the", "my", "our", "your", "this", "that", "a", "an", "of", "for", "on", "at", "to",
];

/// Words that may directly follow a slot value.
pub(crate) const BOUNDARY: &[&str] = &[
    "to", "in", "on", "at", "as", "with", "for", "from", "and", "namespace", "ns", "port", "ttl",
    "limit", "limited", "replicas", "replica", "pointing", "please", "now", "->", "down", "up",
    "using", "via", "deployment", "deploy", "pod", "service", "svc", "playbook", "into", "under",
    "against", "so", "thanks", "within", "inside", "available", "reachable", "accessible",
    "publicly", "externally", "pods",
];

/// Location cue words for a namespace ("in shop", "from batch").
pub(crate) const NS_CUES: &[&str] = &["in", "from", "within", "inside"];

/// Prepositions whose object carries meaning; an unknown word there is refused.
pub(crate) const PREPOSITIONS: &[&str] = &[
    "of", "in", "on", "at", "to", "from", "for", "into", "onto", "within", "inside", "under", "via",
    "using", "against", "with",
];

/// Articles and determiners skipped between a cue and its value.
pub(crate) const ARTICLES: &[&str] = &["the", "a", "an", "my", "our", "this", "that", "your"];
