//! The parse stage: the configured [`IntentParser`] proposes, then the catalog validates.
//! Validation is its own step after any parser, because it is the safety boundary: whatever
//! a parser says, only a catalog action with schema-valid parameters comes out of here.

use aiops_core::{Catalog, Intent, IntentParser, ParseOutcome, ParseVerdict};
use std::sync::Arc;

use aiops_llm::{AutoParser, LlmParser};
use serde_json::{Value, json};

use crate::config::ConfigError;

pub use aiops_parser::RulesParser;

/// The rules parser's answer; synchronous for callers that have no runtime.
pub fn rules(nl: &str) -> ParseOutcome {
    RulesParser::outcome(nl)
}

/// Which parser to run (`aiopsd eval --parser`; the daemon uses `Auto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ParserChoice {
    /// The deterministic rules parser only.
    Rules,
    /// The language model for every sentence (fails when no model is configured).
    Llm,
    /// Rules first; the model when rules are not confident (rules only without `[llm]`).
    Auto,
}

/// The configured model parser, when `[llm] enabled`.
pub fn model(config: &crate::Config) -> Result<Option<Arc<LlmParser>>, ConfigError> {
    if !config.llm.enabled {
        return Ok(None);
    }
    LlmParser::new(config.llm.clone())
        .map(|p| Some(Arc::new(p)))
        .map_err(|e| ConfigError(format!("llm: {e}")))
}

/// What the daemon parses with: rules first and, with a model, the model when rules are not
/// confident.
pub fn auto(llm: Option<Arc<LlmParser>>) -> Arc<dyn IntentParser> {
    match llm {
        Some(llm) => Arc::new(AutoParser::new(Arc::new(RulesParser), llm)),
        None => Arc::new(RulesParser),
    }
}

/// The parser `choice` names, built from config.
pub fn build(
    config: &crate::Config,
    choice: ParserChoice,
) -> Result<Arc<dyn IntentParser>, ConfigError> {
    let llm = model(config)?;
    Ok(match (choice, llm) {
        (ParserChoice::Rules, _) => Arc::new(RulesParser),
        (ParserChoice::Auto, llm) => auto(llm),
        (ParserChoice::Llm, Some(llm)) => llm,
        (ParserChoice::Llm, None) => {
            return Err(ConfigError(
                "--parser llm needs a model: set [llm] enabled = true and its models".into(),
            ));
        }
    })
}

/// The result of the parse stage: an intent, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Intent(Intent),
    Unrecognized(String),
}

/// The safety boundary: a proposal becomes an intent only as a catalog action whose
/// parameters validate (normalised, defaults filled, unknown parameters refused).
/// Returns the result and what the audit log records of it.
pub fn validate(catalog: &Catalog, outcome: &ParseOutcome) -> (Parsed, Value) {
    let parser = outcome.parser;
    let (parsed, refused) = checked(catalog, outcome);
    let data = match (&parsed, refused) {
        (Parsed::Intent(intent), _) => {
            json!({"action": intent.action, "params": intent.params,
                   "parser": intent.parser, "confidence": intent.confidence})
        }
        (Parsed::Unrecognized(reason), Some(proposal)) => {
            json!({"parser": parser, "reason": reason, "proposal": proposal})
        }
        (Parsed::Unrecognized(reason), None) => json!({"parser": parser, "reason": reason}),
    };
    (parsed, with_audit(data, outcome))
}

/// [`validate`] without the audit record, for callers that keep none (`POST /parse`).
pub fn validate_only(catalog: &Catalog, outcome: &ParseOutcome) -> Parsed {
    checked(catalog, outcome).0
}

/// The validation itself; with the action of a proposal the schema refused.
fn checked<'a>(catalog: &Catalog, outcome: &'a ParseOutcome) -> (Parsed, Option<&'a str>) {
    match &outcome.verdict {
        ParseVerdict::Unrecognized { reason } => (Parsed::Unrecognized(reason.clone()), None),
        ParseVerdict::Proposed(proposal) => match catalog.validate(
            &proposal.action,
            &proposal.params,
            outcome.parser,
            proposal.confidence,
        ) {
            Ok(intent) => (Parsed::Intent(intent), None),
            // The parser filled something the schema refuses: not confident, so nothing runs.
            Err(e) => (
                Parsed::Unrecognized(e.to_string()),
                Some(proposal.action.as_str()),
            ),
        },
    }
}

/// Adds what the parser reported about itself (models, prompt revision) to the audit data.
fn with_audit(mut data: Value, outcome: &ParseOutcome) -> Value {
    if !outcome.audit.is_null() {
        data["parser_audit"] = outcome.audit.clone();
    }
    if !outcome.quarantined.is_empty() {
        data["quarantined"] = json!(outcome.quarantined.len());
    }
    data
}

/// Parses with the rules parser and validates: pure, for `/parse` and `eval`.
pub fn parse_rules(catalog: &Catalog, nl: &str) -> Parsed {
    validate_only(catalog, &rules(nl))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The catalog's examples are the contract every parser is held to; the rules parser
    /// reads each of them exactly.
    #[test]
    fn the_rules_parser_reads_every_catalog_example() {
        let catalog = Catalog::embedded().expect("the shipped catalog loads");
        let mut checked = 0;
        // Internal actions (reached only as rollbacks) have no sentences.
        for spec in catalog.parseable() {
            assert!(!spec.examples.is_empty(), "{} has no examples", spec.name);
            for ex in &spec.examples {
                match parse_rules(&catalog, &ex.nl) {
                    Parsed::Intent(intent) => {
                        assert_eq!(intent.action, spec.name, "{}", ex.nl);
                        assert_eq!(intent.params, ex.params, "{}", ex.nl);
                    }
                    Parsed::Unrecognized(reason) => panic!("{}: unrecognized: {reason}", ex.nl),
                }
                checked += 1;
            }
        }
        assert!(checked >= 20, "{checked} examples");
    }
}
