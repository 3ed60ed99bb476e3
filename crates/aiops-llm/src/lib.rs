//! Intent parsing through a local Ollama model, grounded and never trusted.
//!
//! - [`LlmParser`] asks the configured models in order (the escalation ladder) for an
//!   action and its parameters, with Ollama's `format` set to a JSON Schema generated from
//!   the catalog, temperature 0, a fixed seed, a token cap and a timeout per call.
//! - The model proposes; the product decides ([`verify`]): an answer is proposed only if
//!   it validates against the action's schema, every value is stated in the sentence (and
//!   every stated value is carried), the sentence has a verb the rules lexicon ties to
//!   the action, and every word of the sentence is accounted for ([`account`]). Anything else is quarantined with the raw output, the model (name and
//!   digest), the prompt revision and the reason.
//! - [`AutoParser`] runs the rules parser first and the model only where the rules are
//!   not confident; where both answer they must agree.
//! - Resilience: per-model circuit breakers, an answer cache, and fallback to the rules
//!   (or `Unrecognized`) whenever Ollama is down, slow or lacks a model; [`LlmParser::health`]
//!   reports it for readiness (degraded, never failing) and `check-config`.
//!
//! Prompt templates live in `models/prompts/` (embedded; `prompt_dir` overrides them).

#![forbid(unsafe_code)]

pub mod account;
mod answer;
mod auto;
mod breaker;
mod client;
mod config;
mod error;
pub mod ground;
mod parser;
pub mod prompt;
pub mod verify;

pub use auto::AutoParser;
pub use config::{Calls, LlmConfig};
pub use error::LlmError;
pub use parser::{
    Accepted, AnswerStatus, LlmAnswer, LlmHealth, LlmParser, MAX_RAW_BYTES, ModelHealth,
};
