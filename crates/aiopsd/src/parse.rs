//! The parse stage: the configured [`IntentParser`] proposes, then the catalog validates.
//! Validation is its own step after any parser, because it is the safety boundary: whatever
//! a parser says, only a catalog action with schema-valid parameters comes out of here.

use aiops_core::{Catalog, Intent, IntentParser, ParseContext, ParseOutcome, ParserKind, Proposal};
use serde_json::{Value, json};

/// The deterministic rules parser (`aiops-parser`): precise, no I/O.
#[derive(Debug, Clone, Copy, Default)]
pub struct RulesParser;

#[async_trait::async_trait]
impl IntentParser for RulesParser {
    fn name(&self) -> &'static str {
        "rules"
    }

    async fn parse(&self, nl: &str, _ctx: &ParseContext<'_>) -> ParseOutcome {
        rules(nl)
    }
}

/// The rules parser's answer; synchronous for callers that have no runtime (`eval`).
pub fn rules(nl: &str) -> ParseOutcome {
    match aiops_parser::parse(nl) {
        aiops_parser::ParseOutcome::Intent(p) => ParseOutcome::Proposed {
            parser: ParserKind::Rules,
            proposal: Proposal {
                action: p.action,
                params: p.params,
                confidence: p.confidence,
            },
            audit: Value::Null,
        },
        aiops_parser::ParseOutcome::Unrecognized { reason } => ParseOutcome::Unrecognized {
            parser: ParserKind::Rules,
            reason,
            audit: Value::Null,
        },
    }
}

/// The result of the parse stage: an intent, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Intent(Intent),
    Unrecognized(String),
}

/// The safety boundary: a proposal becomes an intent only as a catalog action whose
/// parameters validate (normalised, defaults filled, unknown parameters refused).
pub fn validate(catalog: &Catalog, outcome: ParseOutcome) -> (Parsed, Value) {
    match outcome {
        ParseOutcome::Unrecognized {
            parser,
            reason,
            audit,
        } => {
            let data = json!({"parser": parser, "reason": reason, "parser_audit": audit});
            (Parsed::Unrecognized(reason), data)
        }
        ParseOutcome::Proposed {
            parser,
            proposal,
            audit,
        } => match catalog.validate(
            &proposal.action,
            &proposal.params,
            parser,
            proposal.confidence,
        ) {
            Ok(intent) => {
                let data = json!({"action": intent.action, "params": intent.params,
                                  "parser": intent.parser, "confidence": intent.confidence,
                                  "parser_audit": audit});
                (Parsed::Intent(intent), data)
            }
            // The parser filled something the schema refuses: not confident, so nothing runs.
            Err(e) => {
                let reason = e.to_string();
                let data = json!({"parser": parser, "reason": reason, "proposal": proposal.action,
                                  "parser_audit": audit});
                (Parsed::Unrecognized(reason), data)
            }
        },
    }
}

/// Parses with the rules parser and validates: pure, for `/parse` and `eval`.
pub fn parse_rules(catalog: &Catalog, nl: &str) -> Parsed {
    validate(catalog, rules(nl)).0
}
