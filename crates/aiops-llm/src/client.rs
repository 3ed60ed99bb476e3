//! The Ollama side: one chat call with a JSON Schema `format`, bounded by a timeout, and
//! the model list with digests. Errors are typed ([`LlmError`]) and never carry the prompt.

use std::collections::BTreeMap;
use std::time::Duration;

use ollama_rs::Ollama;
use ollama_rs::error::OllamaError;
use ollama_rs::generation::chat::ChatMessage;
use ollama_rs::generation::chat::request::ChatMessageRequest;
use ollama_rs::generation::parameters::{FormatType, KeepAlive};
use ollama_rs::models::ModelOptions;
use serde::Deserialize;
use serde_json::Value;

use crate::{LlmConfig, LlmError};

/// Limit of the model-list call: it is cheap, and separate from the model-call limit so
/// a short `timeout_ms` still lets the ladder see which models exist.
const TAGS_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest server error text kept in an error (server texts can echo request parts).
const MAX_ERROR_CHARS: usize = 200;

pub(crate) struct Client {
    ollama: Ollama,
    http: reqwest::Client,
    tags_url: String,
    timeout: Duration,
    options: ModelOptions,
    keep_alive: KeepAlive,
}

#[derive(Deserialize)]
struct Tags {
    models: Vec<Tag>,
}

#[derive(Deserialize)]
struct Tag {
    name: String,
    #[serde(default)]
    digest: String,
}

/// `name` as Ollama lists it: without a tag it means `:latest`.
pub(crate) fn full_name(name: &str) -> String {
    if name.contains(':') {
        name.to_string()
    } else {
        format!("{name}:latest")
    }
}

fn bounded(text: &str) -> String {
    text.chars().take(MAX_ERROR_CHARS).collect()
}

impl Client {
    pub(crate) fn new(config: &LlmConfig) -> Result<Self, LlmError> {
        config.validate()?;
        let ollama = Ollama::try_new(config.host.as_str())
            .map_err(|e| LlmError::Config(format!("host: {e}")))?;
        let mut options = ModelOptions::default()
            .temperature(0.0)
            .seed(config.seed)
            .num_predict(config.num_predict);
        if let Some(n) = config.num_thread {
            options = options.num_thread(n);
        }
        Ok(Client {
            tags_url: format!("{}api/tags", ollama.url_str()),
            ollama,
            http: reqwest::Client::new(),
            timeout: Duration::from_millis(config.timeout_ms),
            options,
            keep_alive: config.keep_alive_value()?,
        })
    }

    fn timeout_error(&self) -> LlmError {
        LlmError::Timeout {
            ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// One chat call; the answer's text. Dropping the call on timeout closes the
    /// connection, which makes Ollama stop generating.
    pub(crate) async fn chat(
        &self,
        model: &str,
        messages: Vec<ChatMessage>,
        format: &Value,
    ) -> Result<String, LlmError> {
        let format: FormatType = serde_json::from_value(format.clone())
            .map_err(|e| LlmError::Config(format!("format schema: {e}")))?;
        let request = ChatMessageRequest::new(model.to_string(), messages)
            .format(format)
            .options(self.options.clone())
            .keep_alive(self.keep_alive.clone());
        match tokio::time::timeout(self.timeout, self.ollama.send_chat_messages(request)).await {
            Err(_) => Err(self.timeout_error()),
            Ok(Err(e)) => Err(from_ollama(e)),
            Ok(Ok(r)) => Ok(r.message.content),
        }
    }

    /// Models Ollama holds, full name → digest.
    pub(crate) async fn tags(&self) -> Result<BTreeMap<String, String>, LlmError> {
        let call = async {
            let res = self.http.get(&self.tags_url).send().await?;
            let res = res.error_for_status()?;
            res.json::<Tags>().await
        };
        let tags = tokio::time::timeout(TAGS_TIMEOUT, call)
            .await
            .map_err(|_| LlmError::Timeout {
                ms: u64::try_from(TAGS_TIMEOUT.as_millis()).unwrap_or(u64::MAX),
            })?
            .map_err(|e| {
                if e.is_decode() {
                    LlmError::Server("the model list is not JSON of the expected shape".into())
                } else {
                    LlmError::Unavailable(bounded(&e.to_string()))
                }
            })?;
        Ok(tags
            .models
            .into_iter()
            .map(|t| (full_name(&t.name), t.digest))
            .collect())
    }
}

fn from_ollama(e: OllamaError) -> LlmError {
    match e {
        OllamaError::ReqwestError(e) if e.is_decode() => {
            LlmError::Server("the response is not JSON of the expected shape".into())
        }
        OllamaError::ReqwestError(e) => LlmError::Unavailable(bounded(&e.to_string())),
        OllamaError::JsonError(_) => {
            LlmError::Server("the response is not JSON of the expected shape".into())
        }
        OllamaError::Other(text) => {
            // Ollama's error bodies are `{"error": "..."}`.
            let msg = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or(text);
            if msg.contains("not found") {
                LlmError::ModelMissing(bounded(&msg))
            } else {
                LlmError::Server(bounded(&msg))
            }
        }
        other => LlmError::Server(bounded(&other.to_string())),
    }
}
