//! The rules parser as the request path's [`IntentParser`] stage.

use aiops_core::{IntentParser, ParseContext, ParserKind, Proposal};

/// The deterministic rules parser behind the `IntentParser` seam: precise, no I/O.
#[derive(Debug, Clone, Copy, Default)]
pub struct RulesParser;

impl RulesParser {
    /// The answer for `nl`, synchronously (for callers without a runtime).
    pub fn outcome(nl: &str) -> aiops_core::ParseOutcome {
        match crate::parse(nl) {
            crate::ParseOutcome::Intent(p) => aiops_core::ParseOutcome::proposed(
                ParserKind::Rules,
                Proposal {
                    action: p.action,
                    params: p.params,
                    confidence: p.confidence,
                },
            ),
            crate::ParseOutcome::Unrecognized { reason } => {
                aiops_core::ParseOutcome::unrecognized(ParserKind::Rules, reason)
            }
        }
    }
}

#[async_trait::async_trait]
impl IntentParser for RulesParser {
    fn name(&self) -> &'static str {
        "rules"
    }

    async fn parse(&self, nl: &str, _ctx: &ParseContext<'_>) -> aiops_core::ParseOutcome {
        Self::outcome(nl)
    }
}
