//! [`AutoParser`]: rules first, the model only where the rules are not confident.
//!
//! - Rules confident (a proposal at or above `min_rules_confidence`): the rules' answer.
//! - Rules unrecognized: the model's verified answer, else `Unrecognized` with the rules'
//!   reason.
//! - Rules below the threshold: the model must agree (same action, same validated
//!   parameters). Disagreement, or an answer the model cannot give that passes its checks,
//!   is `Unrecognized` ("ambiguous"), the disagreeing answer quarantined as `Disagrees`.
//! - Ollama down, slow or missing models: the rules' answer (or `Unrecognized`), never an
//!   error.
//!
//! `ParseOutcome.parser` says whose answer it is; `audit` keeps both views.

use std::sync::Arc;

use aiops_core::{
    IntentParser, ParseContext, ParseOutcome, ParseVerdict, ParserKind, Proposal, QuarantineReason,
    Quarantined,
};
use serde_json::{Value, json};

use crate::{AnswerStatus, LlmParser};

/// Rules first, then the model. `rules` is the deterministic parser (the daemon's
/// `RulesParser`), `llm` the model ladder.
pub struct AutoParser {
    pub rules: Arc<dyn IntentParser>,
    pub llm: Arc<LlmParser>,
}

impl std::fmt::Debug for AutoParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AutoParser")
            .field("rules", &self.rules.name())
            .field("llm", &self.llm)
            .finish()
    }
}

fn view(outcome: &ParseOutcome) -> Value {
    match &outcome.verdict {
        ParseVerdict::Proposed(p) => {
            json!({"action": p.action, "params": p.params, "confidence": p.confidence})
        }
        ParseVerdict::Unrecognized { reason } => json!({"unrecognized": reason}),
    }
}

impl AutoParser {
    pub fn new(rules: Arc<dyn IntentParser>, llm: Arc<LlmParser>) -> Self {
        AutoParser { rules, llm }
    }

    /// Same action and the same parameters once both are validated (normalised, defaults
    /// filled): two readings of one intent.
    fn agree(ctx: &ParseContext<'_>, rules: &Proposal, model: &Proposal) -> bool {
        let validate = |p: &Proposal| {
            ctx.catalog
                .validate(&p.action, &p.params, ParserKind::Llm, p.confidence)
                .ok()
                .map(|i| (i.action, i.params))
        };
        let r = validate(rules);
        r.is_some() && r == validate(model)
    }
}

#[async_trait::async_trait]
impl IntentParser for AutoParser {
    fn name(&self) -> &'static str {
        "auto"
    }

    async fn parse(&self, nl: &str, ctx: &ParseContext<'_>) -> ParseOutcome {
        let mut rules = self.rules.parse(nl, ctx).await;
        let threshold = self.llm.config().min_rules_confidence;
        let low = match &rules.verdict {
            ParseVerdict::Proposed(p) if p.confidence >= threshold => {
                rules.audit = json!({"parser": "auto", "rules": view(&rules), "llm": "not asked"});
                return rules;
            }
            ParseVerdict::Proposed(p) => Some(p.clone()),
            ParseVerdict::Unrecognized { .. } => None,
        };
        let answer = self.llm.answer(nl, ctx).await;
        let audit = json!({"parser": "auto", "rules": view(&rules), "llm": answer.outcome.audit,
                           "llm_status": answer.status});
        let mut quarantined = answer.outcome.quarantined.clone();
        let outcome = match (low, answer.status, &answer.accepted) {
            // The model is not there: the rules' answer, whatever it is.
            (_, AnswerStatus::Unavailable | AnswerStatus::Disabled, _) => rules,
            (None, AnswerStatus::Accepted, Some(_)) => answer.outcome,
            (None, _, _) => rules,
            (Some(r), AnswerStatus::Accepted, Some(a)) if Self::agree(ctx, &r, &a.proposal) => {
                rules
            }
            (Some(r), _, accepted) => {
                if let Some(a) = accepted {
                    quarantined.push(Quarantined {
                        parser: ParserKind::Llm,
                        model: a.model.clone(),
                        prompt_revision: a.prompt_revision.clone(),
                        raw_output: a.raw_output.clone(),
                        reason: QuarantineReason::Disagrees,
                        detail: format!(
                            "rules read {} {}, the model {} {}",
                            r.action,
                            Value::Object(r.params.clone()),
                            a.proposal.action,
                            Value::Object(a.proposal.params.clone())
                        ),
                    });
                }
                ParseOutcome::unrecognized(
                    ParserKind::Rules,
                    "ambiguous: the rules were not confident and the model did not confirm their reading",
                )
            }
        };
        ParseOutcome {
            audit,
            quarantined,
            ..outcome
        }
    }
}
