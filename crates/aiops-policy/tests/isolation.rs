//! No state leaks between evaluations: one `PolicyEngine`, asked about many different inputs
//! and rules in sequence, in reverse, and interleaved across threads, answers every one of
//! them exactly as a fresh regorus engine does that was built for that input alone (with
//! regorus's own `regex.*` builtins, so the engine's compiled-pattern cache is checked
//! against them too). Every input is asked more than once, so the answers remembered by
//! the engine's memo are checked the same way.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aiops_policy::{
    ACCESS_RULE, APPROVER_RULE, AccessInput, ApproverInput, AuthMethod, Caller, DECISION_RULE,
    OWNERS_RULE, Operation, OwnersInput, ParserKind, PolicyEngine, PolicyInput, Stage,
};
use serde_json::{Value, json};

fn policies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

const SOURCES: [&str; 3] = ["aiops.rego", "approvals.rego", "access.rego"];

/// One question to the engine: a rule and its input.
#[derive(Clone)]
enum Ask {
    Decision(PolicyInput),
    Access(AccessInput),
    Approver(ApproverInput),
    Owners(OwnersInput),
}

impl Ask {
    fn rule(&self) -> &'static str {
        match self {
            Ask::Decision(_) => DECISION_RULE,
            Ask::Access(_) => ACCESS_RULE,
            Ask::Approver(_) => APPROVER_RULE,
            Ask::Owners(_) => OWNERS_RULE,
        }
    }

    fn input(&self) -> Value {
        match self {
            Ask::Decision(i) => serde_json::to_value(i),
            Ask::Access(i) => serde_json::to_value(i),
            Ask::Approver(i) => serde_json::to_value(i),
            Ask::Owners(i) => serde_json::to_value(i),
        }
        .unwrap()
    }

    /// The shared engine's answer, as the JSON the rule's value has.
    fn answer(&self, engine: &PolicyEngine) -> Value {
        match self {
            Ask::Decision(i) => {
                let d = engine.evaluate(i).unwrap();
                assert_eq!(d.policy_revision, engine.revision());
                json!({
                    "outcome": d.outcome.as_str(),
                    "reasons": d.reasons,
                    "approvals_required": d.approvals_required,
                })
            }
            Ask::Access(i) => serde_json::to_value(engine.evaluate_access(i).unwrap()).unwrap(),
            Ask::Approver(i) => serde_json::to_value(engine.evaluate_approver(i).unwrap()).unwrap(),
            Ask::Owners(i) => serde_json::to_value(engine.approval_owners(i).unwrap()).unwrap(),
        }
    }

    /// The answer of a regorus engine built from the sources for this one evaluation.
    fn fresh_answer(&self) -> Value {
        let dir = policies_dir();
        let mut engine = regorus::Engine::new();
        for name in SOURCES {
            engine.add_policy_from_file(dir.join(name)).unwrap();
        }
        engine
            .add_data(regorus::Value::from_json_file(dir.join("data.json")).unwrap())
            .unwrap();
        engine.set_input(serde_json::from_value(self.input()).unwrap());
        let value = engine.eval_rule(self.rule().to_string()).unwrap();
        assert_ne!(value, regorus::Value::Undefined, "{}", self.rule());
        serde_json::to_value(&value).unwrap()
    }
}

fn caller(user: &str, roles: &[&str]) -> Caller {
    Caller::new(
        user,
        roles.iter().map(|r| r.to_string()).collect(),
        AuthMethod::Bearer,
    )
}

fn decision(action: &str, risk: &str, params: Value) -> PolicyInput {
    PolicyInput {
        action: action.parse().unwrap(),
        risk: serde_json::from_value(json!(risk)).unwrap(),
        params,
        dry_run: false,
        stage: Stage::Decide,
        caller: caller("alice", &["operator"]),
        parser: ParserKind::Rules,
        confidence: 0.95,
    }
}

/// Inputs whose evaluations build very different state: denies with many reasons next to
/// allows with none, each outcome, every target kind, regular expressions that match and
/// that do not, and the four rules.
fn asks() -> Vec<Ask> {
    let mut dry = decision(
        "k8s.delete_pod",
        "destructive",
        json!({"namespace": "prod", "name": "web-1"}),
    );
    dry.dry_run = true;
    let mut model = decision(
        "k8s.scale_deployment",
        "change",
        json!({"namespace": "staging", "name": "api", "replicas": 2}),
    );
    model.parser = ParserKind::Llm;
    model.confidence = 0.81;
    model.stage = Stage::Execute;
    vec![
        Ask::Decision(decision(
            "k8s.scale_deployment",
            "change",
            json!({"namespace": "default", "name": "web", "replicas": 3}),
        )),
        // Many deny reasons at once: unknown parameter, out of range, wrong type.
        Ask::Decision(decision(
            "k8s.scale_deployment",
            "change",
            json!({"namespace": "kube-system", "name": "web", "replicas": 500, "force": true}),
        )),
        Ask::Decision(decision(
            "dns.create_a_record",
            "change",
            json!({"name": "app.corp.example.com", "ip": "10.1.2.3", "ttl": 3600}),
        )),
        Ask::Decision(decision(
            "dns.create_a_record",
            "change",
            json!({"name": "Bad_Name..local", "ip": "999.1.2.3", "ttl": 3600}),
        )),
        Ask::Decision(decision(
            "dns.delete_record",
            "destructive",
            json!({"name": "_dmarc.corp.example.com", "type": "TXT"}),
        )),
        Ask::Decision(decision(
            "dns.lookup",
            "read",
            json!({"name": "example.org", "type": "MX"}),
        )),
        Ask::Decision(decision(
            "ansible.run_playbook",
            "change",
            json!({"playbook": "ping", "limit": "web01,web02:&db"}),
        )),
        Ask::Decision(decision(
            "ansible.run_playbook",
            "change",
            json!({"playbook": "nope", "limit": "all:!none"}),
        )),
        Ask::Decision(decision(
            "k8s.expose_service",
            "change",
            json!({"namespace": "shop", "service": "web", "hostname": "web.local", "port": 8080}),
        )),
        Ask::Decision(decision(
            "ops.ask",
            "read",
            json!({"question": "how do I rotate the TSIG key?"}),
        )),
        Ask::Decision(dry),
        Ask::Decision(model),
        Ask::Access(AccessInput {
            caller: caller("alice", &["operator"]),
            operation: Operation::SubmitChange,
        }),
        Ask::Access(AccessInput {
            caller: caller("victor", &["viewer"]),
            operation: Operation::DocumentsIngest,
        }),
        Ask::Access(AccessInput {
            caller: Caller::anonymous(),
            operation: Operation::CatalogRead,
        }),
        Ask::Approver(ApproverInput {
            approver: caller("bob", &["approver"]),
            requester: "alice".to_string(),
            action: "dns.delete_record".parse().unwrap(),
            risk: aiops_policy::Risk::Destructive,
            params: json!({"name": "old.corp.example.com", "type": "A"}),
        }),
        Ask::Approver(ApproverInput {
            approver: caller("alice", &["approver"]),
            requester: "alice".to_string(),
            action: "k8s.delete_pod".parse().unwrap(),
            risk: aiops_policy::Risk::Destructive,
            params: json!({"namespace": "prod", "name": "web-1"}),
        }),
        Ask::Owners(OwnersInput {
            action: "k8s.delete_pod".parse().unwrap(),
            params: json!({"namespace": "prod", "name": "web-1"}),
        }),
        Ask::Owners(OwnersInput {
            action: "dns.lookup".parse().unwrap(),
            params: json!({"name": "a.local", "type": "A"}),
        }),
    ]
}

#[test]
fn evaluations_do_not_leak_state_into_each_other() {
    let asks = asks();
    let expected: Vec<Value> = asks.iter().map(Ask::fresh_answer).collect();
    // The table is only a proof if the answers differ: denies, allows and approvals.
    let outcomes: std::collections::BTreeSet<_> = expected
        .iter()
        .filter_map(|v| v.get("outcome").and_then(Value::as_str))
        .collect();
    assert_eq!(
        outcomes.into_iter().collect::<Vec<_>>(),
        ["allow", "deny", "require_approval"]
    );

    let engine = Arc::new(PolicyEngine::load(&policies_dir()).unwrap());
    assert!(
        engine.memoizes(),
        "the shipped policies call no volatile builtin"
    );
    let n = asks.len();
    // In order, then in reverse, then each one twice in a row: every neighbour differs.
    let order: Vec<usize> = (0..n)
        .chain((0..n).rev())
        .chain((0..n).flat_map(|i| [i, i]))
        .collect();
    for &i in &order {
        assert_eq!(asks[i].answer(&engine), expected[i], "ask {i} in sequence");
    }

    // Interleaved across threads, each starting elsewhere in the table and stepping by a
    // different stride, so that every pair of inputs runs concurrently at some point.
    let asks = Arc::new(asks);
    let expected = Arc::new(expected);
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let (engine, asks, expected) = (engine.clone(), asks.clone(), expected.clone());
            std::thread::spawn(move || {
                let stride = [1, 3, 5, 7][t];
                for k in 0..(3 * n) {
                    let i = (t * 5 + k * stride) % n;
                    assert_eq!(
                        asks[i].answer(&engine),
                        expected[i],
                        "ask {i} on thread {t}"
                    );
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}
