//! BM25 sparse vectors. Documents get saturated term frequencies (BM25's `k1`, `b` and an
//! average length fixed at ingest time); queries get one weight per distinct term. The IDF
//! factor is left to the index (`modifier: idf`), which knows the collection's statistics, so
//! adding a document never rewrites the others' vectors.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use aiops_vector::SparseVector;

/// Words too common in runbook questions and prose to tell documents apart.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "has",
    "have", "how", "i", "if", "in", "is", "it", "its", "my", "of", "on", "or", "should", "that",
    "the", "this", "to", "was", "what", "when", "which", "why", "will", "with", "you",
];

/// Lower-cased alphanumeric runs, without stopwords. Identifiers are also split at
/// lower-to-upper case changes (`KubePodCrashLooping` → `kubepodcrashlooping`, `kube`, `pod`,
/// `crash`, `looping`), so alert names match the words of a question.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let parts = camel_parts(word);
        let lower = word.to_lowercase();
        if parts.len() > 1 {
            out.extend(
                parts
                    .into_iter()
                    .map(|p| p.to_lowercase())
                    .filter(|p| keep(p)),
            );
        }
        if keep(&lower) {
            out.push(lower);
        }
    }
    out
}

fn keep(token: &str) -> bool {
    !STOPWORDS.contains(&token)
}

/// Splits `KubePodCrashLooping` / `etcdHighFsyncDurations` / `CPUThrottlingHigh` at case
/// changes; a run of capitals stays together (`CPU`).
fn camel_parts(word: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = word.char_indices().collect();
    let mut parts = Vec::new();
    let mut start = 0;
    for i in 1..chars.len() {
        let (at, c) = chars[i];
        let prev = chars[i - 1].1;
        let next_lower = chars.get(i + 1).is_some_and(|(_, n)| n.is_lowercase());
        let boundary = (prev.is_lowercase() && c.is_uppercase())
            || (prev.is_uppercase() && c.is_uppercase() && next_lower)
            || (prev.is_alphabetic() && c.is_numeric())
            || (prev.is_numeric() && c.is_alphabetic());
        if boundary {
            parts.push(&word[start..at]);
            start = at;
        }
    }
    parts.push(&word[start..]);
    parts
}

/// A token's index: the first four bytes of its SHA-256, so indices are the same on every
/// machine and release (a collision only merges two terms' statistics).
pub fn token_index(token: &str) -> u32 {
    let digest = Sha256::digest(token.as_bytes());
    u32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// BM25 parameters of a collection's document vectors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bm25 {
    pub k1: f32,
    pub b: f32,
    /// The average document (chunk) length in tokens the saturation is relative to. Fixed,
    /// not measured, so vectors written earlier stay valid as the corpus grows.
    pub avg_len: f32,
}

impl Default for Bm25 {
    fn default() -> Self {
        Bm25 {
            k1: 1.2,
            b: 0.75,
            avg_len: 100.0,
        }
    }
}

impl Bm25 {
    /// Names the encoding; stored with every point so a changed encoding is detected like a
    /// changed model.
    pub fn signature(&self) -> String {
        format!("bm25-v1:k1={},b={},avgdl={}", self.k1, self.b, self.avg_len)
    }

    /// A document's vector: BM25-saturated term frequencies.
    pub fn document(&self, text: &str) -> SparseVector {
        let tokens = tokenize(text);
        let len = tokens.len() as f32;
        let norm = self.k1 * (1.0 - self.b + self.b * len / self.avg_len);
        let tf = term_counts(&tokens);
        let mut v = SparseVector::default();
        for (index, count) in tf {
            let count = count as f32;
            v.indices.push(index);
            v.values.push(count * (self.k1 + 1.0) / (count + norm));
        }
        v
    }

    /// A query's vector: weight 1 per distinct term (the index multiplies in the IDF).
    pub fn query(&self, text: &str) -> SparseVector {
        let tf = term_counts(&tokenize(text));
        SparseVector {
            indices: tf.keys().copied().collect(),
            values: vec![1.0; tf.len()],
        }
    }
}

/// Counts per token index, sorted by index (indices of a sparse vector are unique).
fn term_counts(tokens: &[String]) -> BTreeMap<u32, u32> {
    let mut tf = BTreeMap::new();
    for t in tokens {
        *tf.entry(token_index(t)).or_insert(0) += 1;
    }
    tf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_lowercase_alphanumeric_runs_without_stopwords() {
        assert_eq!(
            tokenize("What is the etcd_db size? It's 2GB!"),
            ["etcd", "db", "size", "s", "2", "gb", "2gb"]
        );
    }

    #[test]
    fn identifiers_are_split_at_case_changes_and_kept_whole() {
        assert_eq!(
            tokenize("KubePodCrashLooping CPUThrottlingHigh"),
            [
                "kube",
                "pod",
                "crash",
                "looping",
                "kubepodcrashlooping",
                "cpu",
                "throttling",
                "high",
                "cputhrottlinghigh"
            ]
        );
    }

    #[test]
    fn token_indices_are_stable() {
        // Pinned (first four bytes of SHA-256, little-endian): a change here silently breaks
        // every stored sparse vector.
        assert_eq!(token_index("pod"), 3_985_202_242);
        assert_eq!(token_index("etcd"), 2_461_895_875);
    }

    #[test]
    fn document_weights_saturate_and_shrink_with_length() {
        let bm = Bm25::default();
        let once = bm.document("disk");
        let many = bm.document("disk disk disk disk disk disk disk disk");
        assert_eq!(once.indices, many.indices);
        assert!(many.values[0] > once.values[0]);
        assert!(many.values[0] < bm.k1 + 1.0, "bounded by k1 + 1");
        let long = bm.document(&format!("disk {}", "word ".repeat(300)));
        let i = long
            .indices
            .iter()
            .position(|&i| i == once.indices[0])
            .unwrap();
        assert!(
            long.values[i] < once.values[0],
            "longer documents weigh a term less"
        );
    }

    #[test]
    fn query_vectors_weigh_each_distinct_term_once() {
        let q = Bm25::default().query("disk full disk");
        assert_eq!(q.indices.len(), 2);
        assert_eq!(q.values, [1.0, 1.0]);
        let mut sorted = q.indices.clone();
        sorted.sort_unstable();
        assert_eq!(q.indices, sorted);
    }
}
