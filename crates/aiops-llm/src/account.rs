//! Completeness: every word of the sentence must be accounted for by the answered action
//! (its verbs and fillers, or a word of the grammar, per `aiops_parser::accounts_for`) or
//! be used by a parameter value. A leftover word means the model may have dropped
//! something ("show the pods of pipeline" answered with the default namespace) or
//! ignored something that changes the request ("not", "every", "tomorrow", a second
//! verb). Pure.

use serde_json::{Map, Value};

use crate::ground::Ungrounded;

/// The first word of `nl` that neither `action` nor a parameter value accounts for.
pub fn check(nl: &str, action: &str, params: &Map<String, Value>) -> Result<(), Ungrounded> {
    let used: Vec<String> = params
        .values()
        .filter_map(Value::as_str)
        .flat_map(aiops_parser::tokens)
        .collect();
    for word in aiops_parser::tokens(nl) {
        // The catalog names playbooks without the extension: `ping.yml` is `ping`.
        let bare = [".yml", ".yaml"]
            .iter()
            .find_map(|ext| word.strip_suffix(ext))
            .unwrap_or(&word);
        if used.iter().any(|u| *u == word || u == bare) || aiops_parser::accounts_for(action, &word)
        {
            continue;
        }
        return Err(Ungrounded {
            detail: format!("unaccounted word `{word}`"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check_json(nl: &str, action: &str, params: Value) -> Result<(), Ungrounded> {
        check(nl, action, params.as_object().unwrap())
    }

    #[test]
    fn complete_readings_pass() {
        let ok: &[(&str, &str, Value)] = &[
            (
                "kubectl scale deployment/mailer --replicas=1 --namespace comms",
                "k8s.scale_deployment",
                json!({"name": "mailer", "replicas": 1, "namespace": "comms"}),
            ),
            (
                "please restart the web deployment in namespace shop",
                "k8s.restart_deployment",
                json!({"name": "web", "namespace": "shop"}),
            ),
            (
                "show me the MX record for corp.example.com",
                "dns.lookup",
                json!({"name": "corp.example.com", "type": "MX"}),
            ),
            (
                "execute ping.yml",
                "ansible.run_playbook",
                json!({"playbook": "ping"}),
            ),
            (
                "what is running in the ops namespace?",
                "k8s.list_pods",
                json!({"namespace": "ops"}),
            ),
            (
                "how do I rotate the TSIG key?",
                "ops.ask",
                json!({"question": "how do I rotate the TSIG key?"}),
            ),
        ];
        for (nl, action, params) in ok {
            assert_eq!(check_json(nl, action, params.clone()), Ok(()), "{nl}");
        }
    }

    #[test]
    fn dropped_or_ignored_words_are_named() {
        // One refused answer per line, with the word it leaves unaccounted for.
        let refused: Vec<Value> = include_str!("../tests/cases/unaccounted.jsonl")
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON case"))
            .collect();
        assert!(refused.len() >= 11, "{} cases", refused.len());
        for case in &refused {
            let nl = case["nl"].as_str().expect("nl");
            let action = case["action"].as_str().expect("action");
            let err = check_json(nl, action, case["params"].clone()).expect_err(nl);
            assert_eq!(
                err.detail,
                format!(
                    "unaccounted word `{}`",
                    case["word"].as_str().expect("word")
                ),
                "{nl}"
            );
        }
    }
}
