//! The crate's one error type. Parsing never fails a request (a parser answers
//! `Unrecognized`), so these errors surface only from construction (bad config, unreadable
//! prompt templates) and inside the ladder, where they are recorded per model.

/// What went wrong talking to Ollama or setting the parser up. `code()` is stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    #[error("invalid LLM configuration: {0}")]
    Config(String),
    #[error("prompt template {file}: {message}")]
    Prompt { file: String, message: String },
    #[error("Ollama is unreachable: {0}")]
    Unavailable(String),
    #[error("the model call took longer than {ms} ms")]
    Timeout { ms: u64 },
    #[error("model `{0}` is not present in Ollama")]
    ModelMissing(String),
    #[error("Ollama answered with an error: {0}")]
    Server(String),
}

impl LlmError {
    pub fn code(&self) -> &'static str {
        match self {
            LlmError::Config(_) => "llm_config",
            LlmError::Prompt { .. } => "llm_prompt",
            LlmError::Unavailable(_) => "llm_unavailable",
            LlmError::Timeout { .. } => "llm_timeout",
            LlmError::ModelMissing(_) => "llm_model_missing",
            LlmError::Server(_) => "llm_server_error",
        }
    }
}
