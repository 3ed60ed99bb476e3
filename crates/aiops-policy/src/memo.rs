//! Answers the policies already gave, by rule and exact input.
//!
//! A regorus evaluation interprets every rule the answer depends on (tens to hundreds of
//! microseconds on the shipped policies), and the same questions come back all the time:
//! every API request asks [`ACCESS_RULE`](crate::ACCESS_RULE) for its caller and operation,
//! a handful of distinct inputs in a daemon's life. The loaded policies and data do not
//! change while an engine lives (a reload builds a new engine, with an empty memo), so for
//! policies whose rules are functions of their input, the answer to an input seen before is
//! the answer policy gave then.
//!
//! Only answers are kept, never errors (a failing evaluation fails closed each time), and
//! only for policies that call no builtin whose value can change between two calls with the
//! same arguments (the clock, randomness, the network): [`volatile_builtin`] looks for them
//! in the sources at load, and one such call turns the memo off for the engine.

use std::sync::Arc;

/// Builtins whose value is not a function of their arguments.
const VOLATILE_BUILTINS: &[&str] = &[
    "time.now_ns",
    "rand.",
    "uuid.",
    "http.send",
    "net.lookup_ip_addr",
    "opa.runtime",
];

/// The memo's budget: the bytes of the inputs it keys on (a decision input is a few hundred
/// bytes, so thousands of answers), evicted least-recently-used beyond it.
const MEMO_BYTES: u64 = 4 * 1024 * 1024;

/// The first volatile builtin `source` calls, if any. A textual scan: it may see one in a
/// comment or a string and turn the memo off needlessly, never the other way round.
pub fn volatile_builtin(source: &str) -> Option<&'static str> {
    VOLATILE_BUILTINS
        .iter()
        .copied()
        .find(|name| source.contains(name))
}

/// Answers by (rule, input as JSON text).
#[derive(Clone)]
pub(crate) struct Memo(Option<moka::sync::Cache<Key, regorus::Value>>);

type Key = (&'static str, Arc<str>);

impl Memo {
    /// A memo for policies with these sources: off if any calls a volatile builtin.
    pub(crate) fn for_sources<'a>(sources: impl IntoIterator<Item = &'a str>) -> Self {
        if let Some(builtin) = sources.into_iter().find_map(volatile_builtin) {
            tracing::info!(
                builtin,
                "the policies call a volatile builtin: every decision is evaluated"
            );
            return Memo(None);
        }
        let cache = moka::sync::Cache::builder()
            .max_capacity(MEMO_BYTES)
            .weigher(|(rule, input): &Key, _: &regorus::Value| {
                u32::try_from(rule.len() + input.len()).unwrap_or(u32::MAX)
            })
            .build();
        Memo(Some(cache))
    }

    /// Whether answers are remembered at all.
    pub(crate) fn enabled(&self) -> bool {
        self.0.is_some()
    }

    /// The answer for `rule` on `input` (the input's JSON text): remembered, or computed by
    /// `evaluate` (and then remembered when it is `Ok`).
    pub(crate) fn get_or_eval<E>(
        &self,
        rule: &'static str,
        input: String,
        evaluate: impl FnOnce(&str) -> Result<regorus::Value, E>,
    ) -> Result<regorus::Value, E> {
        let Some(cache) = &self.0 else {
            return evaluate(&input);
        };
        let key: Key = (rule, Arc::from(input));
        if let Some(known) = cache.get(&key) {
            return Ok(known);
        }
        let value = evaluate(&key.1)?;
        cache.insert(key, value.clone());
        Ok(value)
    }
}

/// Decoded answers by typed input, in front of [`Memo`] for a question asked on every
/// request: a hit costs hashing the input and cloning the answer, with no JSON in between.
/// On exactly when the engine's [`Memo`] is (the same reasoning holds), and like it keeps
/// only answers, never errors.
#[derive(Clone)]
pub(crate) struct Typed<K, V>(Option<moka::sync::Cache<K, V>>);

impl<K, V> Typed<K, V>
where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub(crate) fn new(enabled: bool, entries: u64) -> Self {
        Typed(enabled.then(|| moka::sync::Cache::new(entries)))
    }

    pub(crate) fn get_or_eval<E>(
        &self,
        key: &K,
        evaluate: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        let Some(cache) = &self.0 else {
            return evaluate();
        };
        if let Some(known) = cache.get(key) {
            return Ok(known);
        }
        let value = evaluate()?;
        cache.insert(key.clone(), value.clone());
        Ok(value)
    }
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            None => f.write_str("Memo(off)"),
            Some(cache) => write!(f, "Memo({} answers)", cache.entry_count()),
        }
    }
}
