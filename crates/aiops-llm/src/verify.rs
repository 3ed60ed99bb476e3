//! The model proposes; the product decides. A model's answer becomes a proposal only if it
//! validates against the action's schema, is grounded in the sentence, and the sentence
//! carries a verb the lexicon ties to the action. Pure: no I/O.

use aiops_core::{Catalog, ParserKind, Proposal, QuarantineReason};
use serde_json::{Map, Value};

use crate::prompt::NONE_ACTION;
use crate::{account, ground};

/// The confidence of a model answer that passed every check. Models give no calibrated
/// confidence; this ranks any verified model answer below every rules answer (≥ 0.80).
pub const MODEL_CONFIDENCE: f64 = 0.70;

/// Why an answer was refused, and what exactly failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub reason: QuarantineReason,
    pub detail: String,
}

fn refuse(reason: QuarantineReason, detail: impl Into<String>) -> Refusal {
    Refusal {
        reason,
        detail: detail.into(),
    }
}

/// The actions a question may be answered with: a runbook answer, or a read-only look.
const QUESTION_ACTIONS: &[&str] = &["ops.ask", "dns.lookup", "k8s.list_pods"];

/// A question ("…?") asks for no change; and `ops.ask` (a runbook answer) fits only a
/// sentence that asks for nothing else: no verb of another action, no DNS name or
/// address, no Kubernetes object. Otherwise a model answering `ops.ask` has read a
/// request ("where does cdn.x point?") as small talk.
fn question_fits(nl: &str, action: &str, evidence: &[&str]) -> Result<(), Refusal> {
    if nl.contains('?') && !QUESTION_ACTIONS.contains(&action) {
        return Err(refuse(
            QuarantineReason::NoVerbEvidence,
            format!("the request is a question; {action} changes something"),
        ));
    }
    if action != "ops.ask" {
        return Ok(());
    }
    if let Some(other) = evidence.iter().find(|a| **a != "ops.ask") {
        return Err(refuse(
            QuarantineReason::NoVerbEvidence,
            format!("the request has wording for {other}, so it is not only a question"),
        ));
    }
    let cue = aiops_parser::tokens(nl).into_iter().find(|w| {
        aiops_parser::is_k8s_object_word(w)
            || (w.trim_matches('.').contains('.') && !w.ends_with(".yml") && !w.ends_with(".yaml"))
    });
    match cue {
        Some(w) => Err(refuse(
            QuarantineReason::NoVerbEvidence,
            format!("the request names `{w}`, an object an action works on, not a question"),
        )),
        None => Ok(()),
    }
}

/// A model's raw text as `{"action", "params"}`; `params` may be absent (no parameters).
pub fn read_answer(raw: &str) -> Result<(String, Map<String, Value>), Refusal> {
    let value: Value = serde_json::from_str(raw.trim())
        .map_err(|e| refuse(QuarantineReason::Malformed, format!("not JSON: {e}")))?;
    let action = value
        .get("action")
        .and_then(Value::as_str)
        .ok_or_else(|| refuse(QuarantineReason::Malformed, "no `action` string"))?;
    let params = match value.get("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p.clone(),
        Some(_) => {
            return Err(refuse(
                QuarantineReason::Malformed,
                "`params` is not an object",
            ));
        }
    };
    Ok((action.to_string(), params))
}

/// A bare parameter object (the fill call's answer).
pub fn read_params(raw: &str) -> Result<Map<String, Value>, Refusal> {
    match serde_json::from_str::<Value>(raw.trim()) {
        Ok(Value::Object(p)) => Ok(p),
        Ok(_) => Err(refuse(QuarantineReason::Malformed, "not a JSON object")),
        Err(e) => Err(refuse(
            QuarantineReason::Malformed,
            format!("not JSON: {e}"),
        )),
    }
}

/// Checks one answer; the proposal carries the validated parameters (normalised, defaults
/// filled).
pub fn verify(
    nl: &str,
    catalog: &Catalog,
    action: &str,
    params: &Map<String, Value>,
) -> Result<Proposal, Refusal> {
    if action == NONE_ACTION {
        return Err(refuse(
            QuarantineReason::LowConfidence,
            "the model found no catalog action",
        ));
    }
    let spec = catalog.get_named(action).ok_or_else(|| {
        refuse(
            QuarantineReason::SchemaInvalid,
            format!("`{action}` is not a catalog action"),
        )
    })?;
    let intent = catalog
        .validate(action, params, ParserKind::Llm, MODEL_CONFIDENCE)
        .map_err(|e| refuse(QuarantineReason::SchemaInvalid, e.to_string()))?;
    let name = spec.name.to_string();
    ground::check(nl, &spec.schema, &intent.params)
        .map_err(|u| refuse(QuarantineReason::Ungrounded, u.detail))?;
    let evidence = aiops_parser::verb_evidence(nl);
    if !evidence.contains(&name.as_str()) {
        return Err(refuse(
            QuarantineReason::NoVerbEvidence,
            format!("no word of the request asks for {name}"),
        ));
    }
    question_fits(nl, &name, &evidence)?;
    account::check(nl, &name, &intent.params)
        .map_err(|u| refuse(QuarantineReason::Incomplete, u.detail))?;
    Ok(Proposal {
        action: name,
        params: intent.params,
        confidence: MODEL_CONFIDENCE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(nl: &str, answer: Value) -> Result<Proposal, Refusal> {
        let catalog = Catalog::embedded().unwrap();
        let (action, params) = read_answer(&answer.to_string())?;
        verify(nl, &catalog, &action, &params)
    }

    #[test]
    fn answers_that_pass_every_check_are_proposed_with_defaults_filled() {
        let p = check(
            "could you bounce web in shop",
            json!({"action": "k8s.restart_deployment", "params": {"name": "web", "namespace": "shop"}}),
        )
        .unwrap();
        assert_eq!(p.action, "k8s.restart_deployment");
        assert_eq!(
            Value::Object(p.params),
            json!({"name": "web", "namespace": "shop"})
        );
        let p = check(
            "pls get me pods",
            json!({"action": "k8s.list_pods", "params": {}}),
        )
        .unwrap();
        assert_eq!(Value::Object(p.params), json!({"namespace": "default"}));
    }

    #[test]
    fn runbook_questions_pass() {
        for nl in ["how do I rotate the TSIG key?", "Why is DNS failing?"] {
            let p = check(nl, json!({"action": "ops.ask", "params": {"question": nl}})).unwrap();
            assert_eq!(p.action, "ops.ask");
        }
    }

    #[test]
    fn refusals_table() {
        // One refused answer per line: the sentence, the raw model output (or empty: the
        // answer below, serialised), and the reason it must be refused with.
        let cases: Vec<(String, String, Value, QuarantineReason)> =
            include_str!("../tests/cases/refusals.jsonl")
                .lines()
                .map(|line| {
                    let v: Value = serde_json::from_str(line).expect("a JSON case");
                    (
                        v["nl"].as_str().expect("nl").to_string(),
                        v["raw"].as_str().expect("raw").to_string(),
                        v["answer"].clone(),
                        serde_json::from_value(v["reason"].clone()).expect("a reason"),
                    )
                })
                .collect();
        let catalog = Catalog::embedded().unwrap();
        assert!(cases.len() >= 25, "{} cases", cases.len());
        for (nl, raw, answer, reason) in &cases {
            let raw = if raw.is_empty() {
                answer.to_string()
            } else {
                raw.clone()
            };
            let got = read_answer(&raw).and_then(|(a, p)| verify(nl, &catalog, &a, &p));
            assert_eq!(got.map_err(|r| r.reason), Err(*reason), "{nl}: {raw}");
        }
    }
}
