//! Table tests through the public API: `PolicyEngine::{load, from_sources, evaluate,
//! revision}` and `embedded()`.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aiops_policy::{
    Caller, Decision, Outcome, PolicyEngine, PolicyError, PolicyInput, Risk, Stage, embedded,
};
use serde_json::{Value, json};

fn policies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

fn shipped() -> PolicyEngine {
    PolicyEngine::load(&policies_dir()).expect("shipped policies load")
}

fn input(action: &str, risk: &str, params: Value) -> PolicyInput {
    PolicyInput {
        action: action.parse().expect("a catalog action"),
        risk: serde_json::from_value(json!(risk)).expect("a risk class"),
        params,
        dry_run: false,
        stage: Stage::Decide,
        caller: Caller::anonymous(),
        parser: aiops_policy::ParserKind::Rules,
        confidence: 0.95,
    }
}

fn dry(mut i: PolicyInput) -> PolicyInput {
    i.dry_run = true;
    i
}

fn shipped_data() -> Value {
    serde_json::from_str(&std::fs::read_to_string(policies_dir().join("data.json")).unwrap())
        .unwrap()
}

fn shipped_policy() -> Vec<(String, String)> {
    ["aiops.rego", "approvals.rego", "access.rego"]
        .iter()
        .map(|f| {
            (
                f.to_string(),
                std::fs::read_to_string(policies_dir().join(f)).unwrap(),
            )
        })
        .collect()
}

#[test]
fn decisions_table() {
    use Outcome::*;
    let engine = shipped();
    // (input, expected outcome, expected approvals, a substring one reason must contain)
    let cases: Vec<(PolicyInput, Outcome, u32, &str)> = vec![
        (
            input(
                "dns.lookup",
                "read",
                json!({"name": "evil.com", "type": "A"}),
            ),
            Allow,
            0,
            "read action",
        ),
        (
            input(
                "dns.create_a_record",
                "change",
                json!({"name": "test.local", "ip": "192.168.1.100", "ttl": 3600}),
            ),
            Allow,
            0,
            "non-production",
        ),
        (
            input(
                "dns.create_a_record",
                "change",
                json!({"name": "app.corp.example.com", "ip": "10.0.0.1", "ttl": 3600}),
            ),
            RequireApproval,
            1,
            "dns zone corp.example.com [production]",
        ),
        (
            input(
                "dns.delete_record",
                "destructive",
                json!({"name": "old.local", "type": "A"}),
            ),
            RequireApproval,
            1,
            "destructive",
        ),
        (
            input(
                "dns.create_a_record",
                "change",
                json!({"name": "evil.com", "ip": "1.2.3.4", "ttl": 60}),
            ),
            Deny,
            0,
            "dns name evil.com is outside the managed zones [corp.example.com, local]",
        ),
        (
            input(
                "dns.delete_record",
                "destructive",
                json!({"name": "corp.example.com", "type": "A"}),
            ),
            Deny,
            0,
            "apex",
        ),
        (
            input(
                "k8s.delete_pod",
                "destructive",
                json!({"namespace": "kube-system", "name": "coredns"}),
            ),
            Deny,
            0,
            "namespace kube-system is on the deny list",
        ),
        (
            input("k8s.list_pods", "read", json!({"namespace": "kube-system"})),
            Deny,
            0,
            "deny list",
        ),
        (
            input(
                "k8s.scale_deployment",
                "change",
                json!({"namespace": "default", "name": "web", "replicas": 101}),
            ),
            Deny,
            0,
            "above the maximum 100",
        ),
        (
            input(
                "k8s.scale_deployment",
                "change",
                json!({"namespace": "somewhere", "name": "web", "replicas": 3}),
            ),
            RequireApproval,
            1,
            "treated as production",
        ),
        (
            input(
                "k8s.restart_deployment",
                "change",
                json!({"namespace": "staging", "name": "web"}),
            ),
            Allow,
            0,
            "namespace staging [non-production]",
        ),
        (
            input(
                "ansible.run_playbook",
                "change",
                json!({"playbook": "evil"}),
            ),
            Deny,
            0,
            "playbook evil is not in the allow-list",
        ),
        (
            input(
                "ansible.run_playbook",
                "change",
                json!({"playbook": "patch-hosts"}),
            ),
            RequireApproval,
            1,
            "playbook patch-hosts [production]",
        ),
        (
            input(
                "ansible.run_playbook",
                "change",
                json!({"playbook": "ping"}),
            ),
            Allow,
            0,
            "non-production",
        ),
        (
            dry(input(
                "k8s.delete_pod",
                "destructive",
                json!({"namespace": "production", "name": "web-1"}),
            )),
            Allow,
            0,
            "dry run",
        ),
        (
            dry(input(
                "dns.create_a_record",
                "change",
                json!({"name": "evil.com", "ip": "1.2.3.4", "ttl": 60}),
            )),
            Deny,
            0,
            "outside the managed zones",
        ),
        (
            input(
                "dns.create_a_record",
                "change",
                json!({"name": "test.local"}),
            ),
            Deny,
            0,
            "requires parameter ip",
        ),
        (
            input("dns.create_a_record", "change", json!(null)),
            Deny,
            0,
            "input.params must be an object",
        ),
        (
            input(
                "k8s.scale_deployment",
                "change",
                json!({"namespace": "default", "name": "web", "replicas": "3"}),
            ),
            Deny,
            0,
            "must be of type integer",
        ),
    ];
    let mut failures = Vec::new();
    for (i, (inp, outcome, approvals, reason)) in cases.iter().enumerate() {
        let d = engine.evaluate(inp).expect("evaluates");
        assert_eq!(d.policy_revision, engine.revision());
        if d.outcome != *outcome
            || d.approvals_required != *approvals
            || !d.reasons.iter().any(|r| r.contains(reason))
        {
            failures.push(format!(
                "case {i} {} {}: expected {outcome:?}/{approvals} with reason containing {reason:?}, got {d:?}",
                inp.action, inp.params
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn execute_stage_evaluates_the_same_rules() {
    let engine = shipped();
    let mut i = input(
        "dns.create_a_record",
        "change",
        json!({"name": "app.corp.example.com", "ip": "10.0.0.1", "ttl": 3600}),
    );
    i.stage = Stage::Execute;
    assert_eq!(
        engine.evaluate(&i).unwrap().outcome,
        Outcome::RequireApproval
    );
}

#[test]
fn input_serialises_as_documented() {
    let i = input("dns.lookup", "read", json!({"name": "a.local"}));
    assert_eq!(
        serde_json::to_value(&i).unwrap(),
        json!({"action": "dns.lookup", "risk": "read", "params": {"name": "a.local"},
               "dry_run": false, "stage": "decide",
               "caller": {"user": "anonymous", "roles": [], "auth": "anonymous"},
               "parser": "rules", "confidence": 0.95})
    );
    let d = Decision {
        outcome: Outcome::RequireApproval,
        reasons: vec!["r".into()],
        policy_revision: "x".into(),
        approvals_required: 1,
    };
    assert_eq!(
        serde_json::to_value(&d).unwrap()["outcome"],
        json!("require_approval")
    );
}

#[test]
fn approvals_come_from_data() {
    let mut data = shipped_data();
    data["aiops"]["config"]["approvals"]["destructive_production"] = json!(2);
    let engine = PolicyEngine::from_sources(&shipped_policy(), data).unwrap();
    let prod = input(
        "k8s.delete_pod",
        "destructive",
        json!({"namespace": "production", "name": "web-1"}),
    );
    let dev = input(
        "k8s.delete_pod",
        "destructive",
        json!({"namespace": "dev", "name": "web-1"}),
    );
    assert_eq!(engine.evaluate(&prod).unwrap().approvals_required, 2);
    assert_eq!(engine.evaluate(&dev).unwrap().approvals_required, 1);
}

#[test]
fn revision_changes_when_data_changes() {
    let base = PolicyEngine::from_sources(&shipped_policy(), shipped_data()).unwrap();
    let same = PolicyEngine::from_sources(&shipped_policy(), shipped_data()).unwrap();
    assert_eq!(base.revision(), same.revision());
    assert_eq!(base.revision().len(), 64);
    assert!(base.revision().chars().all(|c| c.is_ascii_hexdigit()));

    let mut data = shipped_data();
    data["aiops"]["config"]["dns"]["zones"]["local"]["production"] = json!(true);
    let changed = PolicyEngine::from_sources(&shipped_policy(), data).unwrap();
    assert_ne!(base.revision(), changed.revision());

    // A data change also changes the decision, and the decision names the revision.
    let i = input(
        "dns.create_a_record",
        "change",
        json!({"name": "test.local", "ip": "10.0.0.1", "ttl": 60}),
    );
    assert_eq!(base.evaluate(&i).unwrap().outcome, Outcome::Allow);
    let d = changed.evaluate(&i).unwrap();
    assert_eq!(d.outcome, Outcome::RequireApproval);
    assert_eq!(d.policy_revision, changed.revision());
}

#[test]
fn revision_changes_when_policy_changes_or_is_renamed() {
    let base = PolicyEngine::from_sources(&shipped_policy(), shipped_data()).unwrap();
    let mut edited = shipped_policy();
    edited[0].1.push_str("\n# a comment\n");
    let edited = PolicyEngine::from_sources(&edited, shipped_data()).unwrap();
    assert_ne!(base.revision(), edited.revision());
    let mut renamed = shipped_policy();
    renamed[0].0 = "main.rego".to_string();
    let renamed = PolicyEngine::from_sources(&renamed, shipped_data()).unwrap();
    assert_ne!(base.revision(), renamed.revision());
}

#[test]
fn revision_ignores_source_order_and_key_order() {
    let extra = (
        "extra.rego".to_string(),
        "package extra\n\nx := 1\n".to_string(),
    );
    let mut a = shipped_policy();
    a.push(extra.clone());
    let mut b = vec![extra];
    b.extend(shipped_policy());
    let ea = PolicyEngine::from_sources(&a, json!({"p": 1, "q": {"r": 2, "s": 3}})).unwrap();
    let eb = PolicyEngine::from_sources(&b, json!({"q": {"s": 3, "r": 2}, "p": 1})).unwrap();
    assert_eq!(ea.revision(), eb.revision());
}

#[test]
fn embedded_matches_policies_dir() {
    let embedded = embedded().expect("embedded policies load");
    let loaded = shipped();
    assert_eq!(embedded.revision(), loaded.revision());
    assert_eq!(
        embedded.managed_zones(),
        vec!["corp.example.com".to_string(), "local".to_string()]
    );
}

#[test]
fn load_skips_test_files() {
    // The directory holds aiops_test.rego; load must equal the policy file alone.
    let direct = PolicyEngine::from_sources(&shipped_policy(), shipped_data()).unwrap();
    assert_eq!(shipped().revision(), direct.revision());
}

/// A policy directory holding only the shipped `aiops.rego`.
fn dir_with_shipped_policy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        policies_dir().join("aiops.rego"),
        dir.path().join("aiops.rego"),
    )
    .unwrap();
    dir
}

#[test]
fn malformed_policy_fails_load_with_clear_error() {
    let dir = dir_with_shipped_policy();
    std::fs::write(
        dir.path().join("broken.rego"),
        "package broken\n\nallow if {\n\tinput.x ==\n",
    )
    .unwrap();
    let err = PolicyEngine::load(dir.path()).unwrap_err();
    assert_eq!(err.code(), "policy_load_failed");
    assert!(matches!(err, PolicyError::Parse { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("broken.rego"), "{msg}");

    // A test file is not loaded, so a broken one does not matter to `load`.
    std::fs::remove_file(dir.path().join("broken.rego")).unwrap();
    std::fs::write(dir.path().join("x_test.rego"), "this is not rego").unwrap();
    PolicyEngine::load(dir.path()).expect("test files are skipped");
}

#[test]
fn malformed_data_fails_load() {
    let dir = dir_with_shipped_policy();
    std::fs::write(dir.path().join("data.json"), "{\"aiops\": ").unwrap();
    let err = PolicyEngine::load(dir.path()).unwrap_err();
    assert_eq!(err.code(), "policy_load_failed");
    assert!(err.to_string().contains("data.json"), "{err}");

    let err = PolicyEngine::from_sources(&shipped_policy(), json!([1])).unwrap_err();
    assert_eq!(err.code(), "policy_load_failed");
}

#[test]
fn missing_directory_or_decision_rule_fails_load() {
    let err = PolicyEngine::load(Path::new("/nonexistent/aiops/policies")).unwrap_err();
    assert_eq!(err.code(), "policy_load_failed");
    assert!(
        err.to_string().contains("/nonexistent/aiops/policies"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let err = PolicyEngine::load(dir.path()).unwrap_err();
    assert_eq!(err.code(), "policy_load_failed");

    let other = vec![(
        "other.rego".to_string(),
        "package other\n\nallow := true\n".to_string(),
    )];
    let err = PolicyEngine::from_sources(&other, json!({})).unwrap_err();
    assert_eq!(err.code(), "policy_load_failed");
    assert!(err.to_string().contains("data.aiops.decision"), "{err}");
}

#[test]
fn missing_data_fails_closed() {
    // Policies without data.json: every action is unknown, so everything is denied.
    let dir = dir_with_shipped_policy();
    let engine = PolicyEngine::load(dir.path()).unwrap();
    let d = engine
        .evaluate(&input("dns.lookup", "read", json!({"name": "a.local"})))
        .unwrap();
    assert_eq!(d.outcome, Outcome::Deny);
}

fn custom(rego: &str) -> PolicyEngine {
    PolicyEngine::from_sources(&[("aiops.rego".to_string(), rego.to_string())], json!({}))
        .expect("custom policy loads")
}

#[test]
fn odd_decisions_are_errors() {
    let i = input("dns.lookup", "read", json!({"name": "a.local"}));
    let cases = [
        // undefined
        "package aiops\n\ndecision := 1 if input.nope\n",
        // not an object
        "package aiops\n\ndecision := \"allow\"\n",
        // unknown outcome
        "package aiops\n\ndecision := {\"outcome\": \"yes\", \"reasons\": [], \"approvals_required\": 0}\n",
        // approval without approvers
        "package aiops\n\ndecision := {\"outcome\": \"require_approval\", \"reasons\": [\"x\"], \"approvals_required\": 0}\n",
        // missing reasons
        "package aiops\n\ndecision := {\"outcome\": \"allow\", \"approvals_required\": 0}\n",
    ];
    for rego in cases {
        let err = custom(rego).evaluate(&i).unwrap_err();
        assert_eq!(err.code(), "policy_decision_invalid", "{rego}: {err}");
    }
}

#[test]
fn evaluation_errors_are_errors() {
    let cases = [
        // regorus raises builtin errors (strict mode) instead of making them undefined.
        "package aiops\n\ndecision := {\"outcome\": \"allow\", \"reasons\": [r], \"approvals_required\": 0} if {\n\tr := sprintf(input.action, input.action)\n}\n",
        // Conflicting complete-rule values are an evaluation error too.
        "package aiops\n\ndecision := {\"outcome\": \"allow\", \"reasons\": [\"a\"], \"approvals_required\": 0} if input.dry_run == false\n\ndecision := {\"outcome\": \"deny\", \"reasons\": [\"b\"], \"approvals_required\": 0} if input.stage == \"decide\"\n",
    ];
    for rego in cases {
        let err = custom(rego)
            .evaluate(&input("dns.lookup", "read", json!({})))
            .unwrap_err();
        assert_eq!(err.code(), "policy_eval_failed", "{rego}: {err}");
    }
}

#[test]
fn shared_across_threads() {
    let engine = Arc::new(embedded().unwrap());
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let engine = Arc::clone(&engine);
            std::thread::spawn(move || {
                for n in 0..20 {
                    let replicas = (t * 20 + n) % 120;
                    let d = engine
                        .evaluate(&input(
                            "k8s.scale_deployment",
                            "change",
                            json!({"namespace": "default", "name": "web", "replicas": replicas}),
                        ))
                        .unwrap();
                    let expected = if replicas > 100 {
                        Outcome::Deny
                    } else {
                        Outcome::Allow
                    };
                    assert_eq!(d.outcome, expected, "replicas {replicas}");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn approver_decisions_come_from_policy() {
    use aiops_policy::ApproverInput;
    let engine = shipped();
    let input = |user: &str, roles: &[&str], requester: &str| ApproverInput {
        approver: Caller::new(
            user,
            roles.iter().map(|r| r.to_string()).collect(),
            aiops_policy::AuthMethod::Bearer,
        ),
        requester: requester.into(),
        action: aiops_policy::ActionId::DnsDeleteRecord,
        risk: Risk::Destructive,
        params: json!({"name": "x.local", "type": "A"}),
    };
    assert!(
        engine
            .evaluate_approver(&input("bob", &["approver", "netops"], "alice"))
            .unwrap()
            .allowed
    );
    let own = engine
        .evaluate_approver(&input("bob", &["approver", "netops"], "bob"))
        .unwrap();
    assert!(!own.allowed);
    assert!(
        own.reasons.iter().any(|r| r.contains("own request")),
        "{own:?}"
    );
    assert!(
        !engine
            .evaluate_approver(&input("anonymous", &["approver"], "alice"))
            .unwrap()
            .allowed
    );
    assert!(
        !engine
            .evaluate_approver(&input("carol", &["operator"], "alice"))
            .unwrap()
            .allowed
    );
}

#[test]
fn access_decisions_come_from_policy() {
    use aiops_policy::{AccessInput, Operation};
    let engine = shipped();
    let input = |user: &str, roles: &[&str], operation| AccessInput {
        caller: Caller::new(
            user,
            roles.iter().map(|r| r.to_string()).collect(),
            aiops_policy::AuthMethod::Bearer,
        ),
        operation,
    };
    let admin = engine
        .evaluate_access(&input("root", &["admin"], Operation::DocumentsIngest))
        .unwrap();
    assert!(admin.allowed, "{admin:?}");
    let operator = engine
        .evaluate_access(&input("alice", &["operator"], Operation::DocumentsIngest))
        .unwrap();
    assert!(!operator.allowed);
    assert!(
        operator
            .reasons
            .iter()
            .any(|r| r.contains("documents.ingest")),
        "{operator:?}"
    );
    let viewer = |op| {
        engine
            .evaluate_access(&input("vic", &["viewer"], op))
            .unwrap()
            .allowed
    };
    assert!(viewer(Operation::submit(Risk::Read)));
    assert!(!viewer(Operation::submit(Risk::Change)));
    assert!(!viewer(Operation::submit(Risk::Destructive)));
    let anonymous = |op| {
        engine
            .evaluate_access(&AccessInput {
                caller: Caller::anonymous(),
                operation: op,
            })
            .unwrap()
            .allowed
    };
    assert!(anonymous(Operation::IntentsRead));
    assert!(!anonymous(Operation::ApprovalsRead));
    assert!(!anonymous(Operation::submit(Risk::Change)));
}

#[test]
fn approval_owners_name_the_owning_groups() {
    use aiops_policy::OwnersInput;
    let engine = shipped();
    let owners = engine
        .approval_owners(&OwnersInput {
            action: aiops_policy::ActionId::K8sScaleDeployment,
            params: json!({"namespace": "payments", "name": "api", "replicas": 2}),
        })
        .unwrap();
    assert_eq!(owners, ["payments-team"]);
}
