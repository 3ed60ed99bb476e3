//! [`LlmParser`]: the escalation ladder over the configured models, with per-model circuit
//! breakers and an answer cache. Every answer is verified ([`crate::verify`]); refused
//! answers are quarantined, and errors of any kind end in `Unrecognized`, never a failure.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use aiops_core::{
    Catalog, IntentParser, ParseContext, ParseOutcome, ParseVerdict, ParserKind, Proposal,
    Quarantined,
};
use serde::Serialize;
use serde_json::{Value, json};

use crate::client::{Client, full_name};
use crate::prompt::{PromptSet, Templates};
use crate::verify::{self, Refusal};
use crate::{Calls, LlmConfig, LlmError, breaker::Breakers};

/// Largest raw model output kept in a quarantine record.
pub const MAX_RAW_BYTES: usize = 4096;

/// How long a model list (names and digests) is reused by the parse path.
const TAGS_FRESH: Duration = Duration::from_secs(30);

/// A model answer that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// Name and digest, as in quarantine records.
    pub model: String,
    pub prompt_revision: String,
    pub raw_output: String,
    pub proposal: Proposal,
}

/// How the ladder ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerStatus {
    /// A model's answer passed.
    Accepted,
    /// At least one model answered, and every answer was refused.
    Refused,
    /// No model answered (Ollama down, timeouts, models missing, breakers open).
    Unavailable,
    /// `enabled = false`.
    Disabled,
}

/// The ladder's result: the outcome for the parse stage plus what the caller needs to
/// compose it with another parser.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmAnswer {
    pub outcome: ParseOutcome,
    pub status: AnswerStatus,
    pub accepted: Option<Accepted>,
}

/// One model's view for readiness and `check-config`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelHealth {
    pub name: String,
    /// Ollama lists the model.
    pub present: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    pub breaker_open: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// The LLM parser's health. Never a readiness failure: at worst `degraded`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LlmHealth {
    pub enabled: bool,
    pub host: String,
    /// Ollama answered the model list.
    pub reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub models: Vec<ModelHealth>,
}

impl LlmHealth {
    /// Enabled, and Ollama or some configured model is not usable.
    pub fn degraded(&self) -> bool {
        self.enabled
            && (!self.reachable || self.models.iter().any(|m| !m.present || m.breaker_open))
    }
}

/// What one model did with one sentence (cached when it answered).
#[derive(Debug, Clone)]
enum Judged {
    Accepted(Accepted),
    Refused(Quarantined),
}

/// Intent parsing through Ollama. Cheap to share (`Arc`); all state is internal.
pub struct LlmParser {
    config: LlmConfig,
    pub(crate) client: Client,
    templates: Templates,
    prompts: RwLock<Option<Arc<PromptSet>>>,
    pub(crate) breakers: Breakers,
    cache: Option<moka::sync::Cache<String, Judged>>,
    tags: tokio::sync::Mutex<Option<(Instant, BTreeMap<String, String>)>>,
}

impl std::fmt::Debug for LlmParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmParser")
            .field("host", &self.config.host)
            .field("models", &self.config.models)
            .finish_non_exhaustive()
    }
}

fn bounded(raw: &str) -> String {
    if raw.len() <= MAX_RAW_BYTES {
        return raw.to_string();
    }
    let mut end = MAX_RAW_BYTES;
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    raw[..end].to_string()
}

/// The cache's view of a sentence: surrounding and repeated whitespace do not matter.
fn normalized(nl: &str) -> String {
    nl.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl LlmParser {
    /// Checks the config and loads the prompt templates; talks to no server.
    pub fn new(config: LlmConfig) -> Result<Self, LlmError> {
        let client = Client::new(&config)?;
        let templates = Templates::load(config.prompt_dir.as_deref())?;
        let cache =
            (config.cache_entries > 0).then(|| moka::sync::Cache::new(config.cache_entries));
        Ok(LlmParser {
            breakers: Breakers::new(
                config.breaker_failures,
                Duration::from_secs(config.breaker_cooldown_secs),
            ),
            client,
            templates,
            prompts: RwLock::new(None),
            cache,
            tags: tokio::sync::Mutex::new(None),
            config,
        })
    }

    pub fn config(&self) -> &LlmConfig {
        &self.config
    }

    /// The prompt revision for `catalog` (recorded in every audit).
    pub fn prompt_revision(&self, catalog: &Catalog) -> String {
        self.prompts(catalog).revision.clone()
    }

    fn prompts(&self, catalog: &Catalog) -> Arc<PromptSet> {
        if let Some(p) = self
            .prompts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            && p.catalog_revision == catalog.revision()
        {
            return p.clone();
        }
        let built = Arc::new(PromptSet::build(self.templates.clone(), catalog));
        *self.prompts.write().unwrap_or_else(|p| p.into_inner()) = Some(built.clone());
        built
    }

    /// The model list, reused for a while on the parse path; `fresh` asks Ollama now.
    async fn tags(&self, fresh: bool) -> Result<BTreeMap<String, String>, LlmError> {
        let mut cached = self.tags.lock().await;
        if !fresh
            && let Some((at, tags)) = cached.as_ref()
            && at.elapsed() < TAGS_FRESH
        {
            return Ok(tags.clone());
        }
        let tags = self.client.tags().await;
        *cached = tags.as_ref().ok().map(|t| (Instant::now(), t.clone()));
        tags
    }

    /// Per model: is Ollama up, does it hold the model, is the breaker open, last error.
    pub async fn health(&self) -> LlmHealth {
        let tags = self.tags(true).await;
        let models = self
            .config
            .models
            .iter()
            .map(|m| {
                let digest = tags
                    .as_ref()
                    .ok()
                    .and_then(|t| t.get(&full_name(m)).cloned());
                ModelHealth {
                    name: m.clone(),
                    present: digest.is_some(),
                    digest,
                    breaker_open: self.breakers.is_open(m),
                    last_error: self.breakers.last_error(m),
                }
            })
            .collect();
        LlmHealth {
            enabled: self.config.enabled,
            host: self.config.host.clone(),
            reachable: tags.is_ok(),
            error: tags.err().map(|e| e.to_string()),
            models,
        }
    }

    /// Runs the ladder: the first model whose answer passes wins.
    pub async fn answer(&self, nl: &str, ctx: &ParseContext<'_>) -> LlmAnswer {
        let prompts = self.prompts(ctx.catalog);
        let mut audit = json!({"parser": "llm", "prompt_revision": prompts.revision,
                               "calls": self.config.calls, "models": []});
        if !self.config.enabled {
            return Self::unrecognized(
                audit,
                Vec::new(),
                "the language model is disabled",
                AnswerStatus::Disabled,
            );
        }
        let tags = self.tags(false).await;
        let mut quarantined = Vec::new();
        let mut steps = Vec::new();
        for model in &self.config.models {
            let started = Instant::now();
            let mut step = json!({"model": model});
            let judged = self
                .try_model(nl, ctx, &prompts, model, &tags, &mut step)
                .await;
            step["ms"] = json!(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
            steps.push(step);
            match judged {
                Some(Judged::Accepted(a)) => {
                    audit["models"] = Value::Array(steps);
                    audit["model"] = json!(a.model);
                    let outcome = ParseOutcome {
                        parser: ParserKind::Llm,
                        verdict: ParseVerdict::Proposed(a.proposal.clone()),
                        audit,
                        quarantined,
                    };
                    return LlmAnswer {
                        outcome,
                        status: AnswerStatus::Accepted,
                        accepted: Some(a),
                    };
                }
                Some(Judged::Refused(q)) => quarantined.push(q),
                None => {}
            }
        }
        audit["models"] = Value::Array(steps);
        let (reason, status) = match quarantined.last() {
            Some(q) => (
                format!(
                    "the model's answer was refused ({}: {})",
                    q.reason, q.detail
                ),
                AnswerStatus::Refused,
            ),
            None => (
                "the language model is unavailable".to_string(),
                AnswerStatus::Unavailable,
            ),
        };
        Self::unrecognized(audit, quarantined, &reason, status)
    }

    fn unrecognized(
        audit: Value,
        quarantined: Vec<Quarantined>,
        reason: &str,
        status: AnswerStatus,
    ) -> LlmAnswer {
        let mut outcome = ParseOutcome::unrecognized(ParserKind::Llm, reason);
        outcome.audit = audit;
        outcome.quarantined = quarantined;
        LlmAnswer {
            outcome,
            status,
            accepted: None,
        }
    }

    /// One rung: `None` when the model could not answer (skipped or failed).
    async fn try_model(
        &self,
        nl: &str,
        ctx: &ParseContext<'_>,
        prompts: &PromptSet,
        model: &str,
        tags: &Result<BTreeMap<String, String>, LlmError>,
        step: &mut Value,
    ) -> Option<Judged> {
        if self.breakers.is_open(model) {
            step["result"] = json!("skipped");
            step["error"] = json!("circuit breaker open");
            return None;
        }
        let digest = match tags {
            Err(e) => return self.failed(model, step, e.clone()),
            Ok(t) => match t.get(&full_name(model)) {
                Some(d) => d.clone(),
                None => return self.failed(model, step, LlmError::ModelMissing(model.into())),
            },
        };
        step["digest"] = json!(digest);
        let context_ids: Vec<&str> = ctx
            .context
            .iter()
            .map(|c| c.content_hash.as_str())
            .collect();
        let key = format!(
            "{model}\n{digest}\n{}\n{}\n{:?}\n{}\n{}",
            prompts.revision,
            ctx.catalog.revision(),
            self.config.calls,
            context_ids.join(","),
            normalized(nl)
        );
        if let Some(hit) = self.cache.as_ref().and_then(|c| c.get(&key)) {
            step["cached"] = json!(true);
            Self::record(step, &hit);
            return Some(hit);
        }
        let named = if digest.is_empty() {
            model.to_string()
        } else {
            format!("{model}@{digest}")
        };
        let judged = match self.ask(nl, ctx, prompts, model).await {
            Err(e) => return self.failed(model, step, e),
            Ok((raw, Ok(proposal))) => Judged::Accepted(Accepted {
                model: named,
                prompt_revision: prompts.revision.clone(),
                raw_output: bounded(&raw),
                proposal,
            }),
            Ok((raw, Err(r))) => Judged::Refused(Quarantined {
                parser: ParserKind::Llm,
                model: named,
                prompt_revision: prompts.revision.clone(),
                raw_output: bounded(&raw),
                reason: r.reason,
                detail: r.detail,
            }),
        };
        self.breakers.success(model);
        // Answers (accepted and refused) are cached: with temperature 0 and a fixed seed the
        // same model, prompt and sentence give the same answer, so asking again only costs
        // time. Errors and timeouts are never cached: they say nothing about the sentence.
        if let Some(c) = &self.cache {
            c.insert(key, judged.clone());
        }
        Self::record(step, &judged);
        Some(judged)
    }

    fn record(step: &mut Value, judged: &Judged) {
        match judged {
            Judged::Accepted(_) => step["result"] = json!("accepted"),
            Judged::Refused(q) => {
                step["result"] = json!("refused");
                step["reason"] = json!(q.reason);
                step["detail"] = json!(q.detail);
            }
        }
    }

    fn failed(&self, model: &str, step: &mut Value, e: LlmError) -> Option<Judged> {
        tracing::warn!(model, error = %e, code = e.code(), "LLM parser: model call failed");
        step["result"] = json!("error");
        step["error"] = json!(e.to_string());
        step["code"] = json!(e.code());
        self.breakers.failure(model, e.to_string());
        None
    }

    /// Asks one model: the raw text, and the verified proposal or the refusal.
    async fn ask(
        &self,
        nl: &str,
        ctx: &ParseContext<'_>,
        prompts: &PromptSet,
        model: &str,
    ) -> Result<(String, Result<Proposal, Refusal>), LlmError> {
        let catalog = ctx.catalog;
        let call = prompts.call(self.config.calls);
        let raw = self
            .client
            .chat(model, prompts.messages(call, nl, ctx.context), &call.format)
            .await?;
        if self.config.calls == Calls::One {
            let verdict = verify::read_answer(&raw)
                .and_then(|(action, params)| verify::verify(nl, catalog, &action, &params));
            return Ok((raw, verdict));
        }
        let action = match verify::read_answer(&raw) {
            Err(r) => return Ok((raw, Err(r))),
            Ok((action, _)) => action,
        };
        let Some(fill) = catalog
            .get_named(&action)
            .and_then(|a| prompts.fill.get(&a.name))
        else {
            // "none" or a name outside the catalog: verify says which.
            let verdict = verify::verify(nl, catalog, &action, &Default::default());
            return Ok((raw, verdict));
        };
        let filled = self
            .client
            .chat(model, prompts.messages(fill, nl, ctx.context), &fill.format)
            .await?;
        let both = format!("{}\n{}", raw.trim(), filled.trim());
        let verdict = verify::read_params(&filled)
            .and_then(|params| verify::verify(nl, catalog, &action, &params));
        Ok((both, verdict))
    }
}

#[async_trait::async_trait]
impl IntentParser for LlmParser {
    fn name(&self) -> &'static str {
        "llm"
    }

    async fn parse(&self, nl: &str, ctx: &ParseContext<'_>) -> ParseOutcome {
        self.answer(nl, ctx).await.outcome
    }
}
