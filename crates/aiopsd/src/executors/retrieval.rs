//! `ops.ask`: answered from the ingested runbooks, with citations. The best passages are the
//! answer; with a model configured, a generated answer is offered first, but only one whose
//! citations are all among the retrieved passages (otherwise the passages are returned).
//! "No runbook covers this" when nothing scores above the retriever's threshold.

use std::sync::Arc;

use aiops_core::{
    ActionSpec, AnswerWriter, ContextChunk, Intent, Plan, Retrieval, Retriever, Target,
};
use serde_json::{Value, json};

use super::{Executor, ExecutorKind, PlanOutput, ReadyCheck, str_param};
use crate::credentials::Lease;
use crate::failure::Failure;

/// What `ops.ask` says when no passage scores above the threshold.
pub const NO_RUNBOOK: &str = "No runbook covers this.";

pub struct RunbookAnswers {
    retriever: Arc<dyn Retriever>,
    writer: Option<Arc<dyn AnswerWriter>>,
}

impl RunbookAnswers {
    pub fn new(retriever: Arc<dyn Retriever>, writer: Option<Arc<dyn AnswerWriter>>) -> Self {
        RunbookAnswers { retriever, writer }
    }
}

/// The passages themselves as the answer: each with where it comes from.
fn passages_answer(passages: &[ContextChunk]) -> String {
    passages
        .iter()
        .map(|p| {
            format!(
                "[{}] {} — {}\n{}",
                p.chunk_id,
                p.doc,
                p.heading,
                p.text.trim()
            )
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn citation(p: &ContextChunk) -> Value {
    json!({"doc": p.doc, "heading": p.heading, "chunk_id": p.chunk_id, "score": p.score})
}

#[async_trait::async_trait]
impl Executor for RunbookAnswers {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Retrieval
    }

    async fn plan(
        &self,
        _spec: &ActionSpec,
        _intent: &Intent,
        _target: &Target,
    ) -> Result<PlanOutput, Failure> {
        Ok(PlanOutput {
            diff: format!("read-only: search the runbooks ({})", self.retriever.name()),
            changes: false,
            state: None,
            before: None,
        })
    }

    async fn execute(
        &self,
        _spec: &ActionSpec,
        intent: &Intent,
        _plan: &Plan,
        _lease: &Lease,
    ) -> Result<Value, Failure> {
        let question = str_param(intent, "question");
        let passages = match self.retriever.retrieve(&question).await? {
            Retrieval::Found { chunks } => chunks,
            Retrieval::Skipped { .. } => Vec::new(),
        };
        if passages.is_empty() {
            return Ok(json!({"executor": "retrieval", "changed": false,
                             "answer": NO_RUNBOOK, "citations": [], "generated": false}));
        }
        // The product decides: a written answer is kept only when it cites the passages.
        let written = match &self.writer {
            Some(w) => w
                .write(&question, &passages)
                .await
                .filter(|a| a.cites_only(&passages)),
            None => None,
        };
        Ok(match written {
            Some(a) => {
                let cited: Vec<Value> = passages
                    .iter()
                    .filter(|p| a.citations.contains(&p.chunk_id))
                    .map(citation)
                    .collect();
                json!({"executor": "retrieval", "changed": false, "answer": a.text,
                       "citations": cited, "generated": true, "writer": a.writer})
            }
            None => json!({"executor": "retrieval", "changed": false,
                           "answer": passages_answer(&passages),
                           "citations": passages.iter().map(citation).collect::<Vec<_>>(),
                           "generated": false}),
        })
    }

    async fn ready(&self) -> Vec<ReadyCheck> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(id: &str) -> ContextChunk {
        ContextChunk {
            doc: "dns-records.md".into(),
            heading: "TSIG key rotation".into(),
            chunk_id: id.into(),
            content_hash: format!("h{id}"),
            source: "runbooks".into(),
            score: 0.8,
            title: None,
            text: format!("text of {id}"),
        }
    }

    #[test]
    fn passages_carry_their_citations() {
        let text = passages_answer(&[chunk("c1"), chunk("c2")]);
        assert!(text.contains("[c1] dns-records.md — TSIG key rotation"));
        assert!(text.contains("text of c2"));
    }
}
