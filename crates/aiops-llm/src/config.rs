//! `[llm]` configuration: where Ollama is, which models form the escalation ladder, and the
//! sampling, timeout, breaker and cache settings. The daemon embeds it as `[llm]`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::LlmError;

/// How a sentence is put to a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Calls {
    /// One call: the action and its parameters in one schema-constrained answer.
    #[default]
    One,
    /// Two calls: classify (the action enum), then fill that action's parameters.
    Two,
}

/// The LLM parser's settings. Every field has a default; unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// Off by default: the appliance needs no model (the rules parser answers alone).
    pub enabled: bool,
    /// Ollama's base URL. Keep it on loopback or behind network policy: Ollama has no auth.
    pub host: String,
    /// The escalation ladder, tried in order until one answer passes every check.
    pub models: Vec<String>,
    /// Limit of one model call (both calls with `calls = "two"`), in milliseconds.
    pub timeout_ms: u64,
    /// How long Ollama keeps a model loaded after a call (`"30m"`, `"-1"` for ever).
    pub keep_alive: String,
    /// Sampling seed (temperature is always 0).
    pub seed: i32,
    /// Cap on generated tokens: an uncapped schema-constrained call can pad for minutes.
    pub num_predict: i32,
    /// Threads per call; unset leaves it to the model's parameters.
    pub num_thread: Option<u32>,
    /// Rules answers below this confidence go to the model, which must then agree.
    pub min_rules_confidence: f64,
    /// Consecutive failures (errors, timeouts; not refusals) that open a model's breaker.
    pub breaker_failures: u32,
    /// How long an open breaker skips its model.
    pub breaker_cooldown_secs: u64,
    /// Entries of the in-memory answer cache (0 disables it).
    pub cache_entries: u64,
    /// A directory with `system.txt`, `fill.txt`, `request.txt` overriding the embedded ones.
    pub prompt_dir: Option<PathBuf>,
    /// One call or two (classify, then fill).
    pub calls: Calls,
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            enabled: false,
            host: "http://127.0.0.1:11434".into(),
            models: vec!["aiops-smollm2:135m".into(), "aiops-gemma3:270m".into()],
            timeout_ms: 20_000,
            keep_alive: "30m".into(),
            seed: 42,
            num_predict: 160,
            num_thread: None,
            min_rules_confidence: 0.80,
            breaker_failures: 3,
            breaker_cooldown_secs: 30,
            cache_entries: 1024,
            prompt_dir: None,
            calls: Calls::One,
        }
    }
}

impl LlmConfig {
    /// Checks what serde cannot: a usable URL, a keep-alive Ollama understands, limits > 0.
    pub fn validate(&self) -> Result<(), LlmError> {
        let bad = |m: String| Err(LlmError::Config(m));
        match reqwest::Url::parse(&self.host) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => return bad(format!("host `{}` is not an http(s) URL", self.host)),
        }
        if self.enabled && self.models.is_empty() {
            return bad("enabled with no models".into());
        }
        if self.models.iter().any(|m| m.trim().is_empty()) {
            return bad("an empty model name".into());
        }
        if self.timeout_ms == 0 || self.num_predict <= 0 {
            return bad("timeout_ms and num_predict must be positive".into());
        }
        if !(0.0..=1.0).contains(&self.min_rules_confidence) {
            return bad("min_rules_confidence must be within [0, 1]".into());
        }
        if self.breaker_failures == 0 {
            return bad("breaker_failures must be at least 1".into());
        }
        self.keep_alive_value().map(|_| ())
    }

    pub(crate) fn keep_alive_value(
        &self,
    ) -> Result<ollama_rs::generation::parameters::KeepAlive, LlmError> {
        serde_json::from_value(serde_json::Value::String(self.keep_alive.clone())).map_err(|_| {
            LlmError::Config(format!(
                "keep_alive `{}` is not `-1`, `0` or a number with s, m or h",
                self.keep_alive
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_unknown_fields_are_refused() {
        LlmConfig::default().validate().expect("defaults are valid");
        let c: LlmConfig = serde_json::from_str(r#"{"enabled": true, "models": ["m"]}"#).unwrap();
        assert_eq!(c.timeout_ms, LlmConfig::default().timeout_ms);
        assert!(serde_json::from_str::<LlmConfig>(r#"{"modle": "x"}"#).is_err());
        for bad in [
            r#"{"host": "ftp://x"}"#,
            r#"{"keep_alive": "5 minutes"}"#,
            r#"{"enabled": true, "models": []}"#,
            r#"{"timeout_ms": 0}"#,
            r#"{"breaker_failures": 0}"#,
        ] {
            let c: LlmConfig = serde_json::from_str(bad).unwrap();
            assert_eq!(c.validate().unwrap_err().code(), "llm_config", "{bad}");
        }
    }
}
