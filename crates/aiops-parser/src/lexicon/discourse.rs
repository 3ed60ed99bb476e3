//! Sentence-level words: courtesy, question openers, negation, words that make a
//! command conditional or compound, and phrases that try to steer a model.

/// Words that make up a whole "sentence" of courtesy ("Thanks!", "Hi.").
pub(crate) const COURTESY: &[&str] = &[
    "thanks", "thank", "you", "thx", "ty", "please", "pls", "plz", "cheers", "ok", "okay", "hi",
    "hello", "hey", "there", "asap", "team", "folks", "all", "good", "morning", "afternoon",
    "evening",
];

/// Greetings dropped from the start of a sentence.
pub(crate) const GREETINGS: &[&str] = &[
    "hi", "hey", "hello", "yo", "ok", "okay", "so", "hmm", "alright", "right",
];

/// Request prefixes dropped from the start ("could you", "please", "I need to").
pub(crate) const POLITE_PREFIXES: &[&[&str]] = &[
    &["can", "you"], &["could", "you"], &["would", "you"], &["will", "you"], &["can", "u"],
    &["could", "u"], &["please"], &["pls"], &["plz"], &["kindly"], &["just"], &["quickly"],
    &["go", "ahead", "and"], &["i", "want", "to"], &["i", "wanna"], &["i'd", "like", "to"],
    &["i", "would", "like", "to"], &["i", "need", "to"], &["i", "need", "you", "to"],
    &["we", "need", "to"], &["need", "to"], &["let's"], &["lets"], &["let", "us"],
];

/// Courtesy dropped from the end ("..., please", "... now", "... thanks").
pub(crate) const POLITE_SUFFIXES: &[&[&str]] = &[
    &["please"], &["pls"], &["plz"], &["thanks"], &["thx"], &["ty"], &["cheers"], &["now"],
    &["right", "now"], &["asap"], &["immediately"], &["for", "me"],
];

/// Sentence openers that make it an information question.
pub(crate) const STRONG_QUESTION: &[&str] = &[
    "how", "why", "what", "what's", "whats", "when", "when's", "where", "where's", "which", "who",
    "who's", "whom", "whose", "explain", "describe",
];

/// Auxiliary verbs that open a yes/no question ("is the vault sealed?").
pub(crate) const AUX_QUESTION: &[&str] = &[
    "is", "are", "am", "was", "were", "does", "do", "did", "can", "could", "should", "would",
    "will", "shall", "may", "might", "has", "have", "had",
];

/// Subjects that may follow an auxiliary in a question ("do I", "is the").
pub(crate) const SUBJECTS: &[&str] = &[
    "i", "we", "you", "they", "it", "he", "she", "the", "my", "our", "your", "this", "that",
    "these", "those", "there",
];

/// Negation: any of these in a command refuses it.
pub(crate) const NEGATIONS: &[&str] = &[
    "not", "no", "never", "dont", "doesnt", "didnt", "cannot", "cant", "wont", "shouldnt", "mustnt",
    "isnt", "arent", "without", "avoid", "nor", "neither", "nope", "stop", "cancel",
];

/// Words that make a command conditional, relative, scheduled, compound or bulk.
/// Any of these in a command refuses it ("all" is handled separately).
pub(crate) const REFUSE_WORDS: &[&str] = &[
    "if", "unless", "except", "excluding", "but", "instead", "or", "either", "then", "also", "plus",
    "after", "afterwards", "afterward", "before", "until", "till", "while", "when", "whenever",
    "later", "tomorrow", "tonight", "yesterday", "schedule", "scheduled", "cron", "every", "each",
    "everything", "everywhere", "entire", "whole", "any", "anything", "both", "others", "other",
    "rest", "remaining", "more", "fewer", "less", "extra", "additional", "another", "by",
    "increase", "decrease", "double", "triple", "half", "halve", "maybe", "perhaps", "possibly",
    "try", "attempt", "&", "&&", "|", "||", "simulate", "dry-run", "dryrun", "twice", "undo",
    "revert", "rollback", "sudo", "force", "--force", "recursively", "-rf", "multiple", "several",
    "many", "some", "first", "last", "oldest", "newest", "random", "randomly",
    // Approximate or bounded amounts: "about 5 replicas", "at least 3".
    "about", "around", "approximately", "roughly", "nearly", "almost", "least", "most",
];

/// Words that make a "what/which/where" question a DNS lookup candidate.
pub(crate) const LOOKUP_CUES: &[&str] = &[
    "resolve", "resolves", "resolving", "resolved", "ip", "ips", "ipv4", "address", "addresses",
    "point", "points", "pointing", "record", "records", "cname", "txt", "aaaa", "a-record", "dns",
    "mx", "srv", "ptr", "soa", "caa",
];

/// Destructive words: together with a bulk word, a question is refused.
pub(crate) const DESTRUCTIVE: &[&str] = &[
    "delete", "remove", "drop", "kill", "destroy", "purge", "erase", "wipe", "evict", "terminate",
    "nuke", "rm", "del", "format", "shutdown",
];

/// Bulk words ("all", "every", "*").
pub(crate) const BULK: &[&str] = &["all", "every", "everything", "each", "*", "entire", "whole"];

/// Phrases that look like attempts to steer a model rather than operate a system.
pub(crate) const INJECTION: &[&str] = &[
    "ignore previous", "ignore all", "ignore the above", "ignore above", "ignore prior",
    "ignore your", "ignore any", "ignore earlier", "ignore these", "ignore those",
    "ignore instructions", "ignore the instructions", "ignore the rules", "ignore the policy",
    "disregard", "forget your", "forget all", "forget previous", "forget everything",
    "forget the above", "system prompt", "you are now", "jailbreak", "developer mode", "act as",
    "pretend", "new instructions", "previous instructions", "prior instructions",
    "above instructions", "your instructions", "your rules", "override", "bypass",
    "prompt injection", "<|", "|>", "[inst]", "[/inst]", "<<sys>>", "sudo ", "as root", "roleplay",
    "role-play", "do anything now", "without approval", "skip approval", "no approval",
];
