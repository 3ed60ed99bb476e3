//! The wire types against the daemon's real answers. Each sample in `tests/samples/` is a
//! body aiopsd sent (captured from a run against BIND and Ansible); it must decode into
//! its type, encode back to the very same JSON (keys, nulls, absent members), and be
//! valid against the type's published schema. A shape change on either side fails here.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use aiops_api::*;
use aiops_core::{ApprovalState, Channel, RequestStatus, Risk, Verdict};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use utoipa::OpenApi;

macro_rules! sample {
    ($file:literal) => {
        include_str!(concat!("samples/", $file, ".json"))
    };
}

/// The schema of `#/components/schemas/{name}`, as a standalone JSON Schema (2020-12)
/// whose `$ref`s resolve inside it.
fn schema_of(name: &str) -> Value {
    let doc = serde_json::to_value(ApiSchemas::openapi()).expect("the document encodes");
    assert!(
        doc["components"]["schemas"][name].is_object(),
        "no schema {name} in ApiSchemas"
    );
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{name}"),
        "components": doc["components"],
    })
}

/// Schema violations of `instance` against the component `name` (empty when valid).
fn violations(name: &str, instance: &Value) -> Vec<String> {
    let validator = jsonschema::draft202012::new(&schema_of(name)).expect("the schema compiles");
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Decodes `sample` as `T`, checks it encodes back unchanged and that the schema `name`
/// accepts it; returns the decoded value for further assertions.
fn round_trip<T: Serialize + DeserializeOwned>(name: &str, sample: &str) -> T {
    let expected: Value = serde_json::from_str(sample).expect("the sample is JSON");
    let typed: T = serde_json::from_value(expected.clone())
        .unwrap_or_else(|e| panic!("{name} does not decode its sample: {e}"));
    let again = serde_json::to_value(&typed).expect("encodes");
    assert_eq!(again, expected, "{name} does not encode back to its sample");
    let errors = violations(name, &expected);
    assert!(
        errors.is_empty(),
        "{name} schema refuses its sample: {errors:?}"
    );
    typed
}

#[test]
fn the_document_is_openapi_3_1_and_lists_every_type() {
    let doc = serde_json::to_value(ApiSchemas::openapi()).expect("encodes");
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    for name in [
        "IntentRequest",
        "IntentResponse",
        "PlanView",
        "ApprovalSummary",
        "ParseRequest",
        "ParseResponse",
        "ParseStatus",
        "IntentRecord",
        "IntentList",
        "IntentSummary",
        "TimelineEntry",
        "ApprovalDetail",
        "ApprovalList",
        "ApprovalRecordView",
        "DecisionRecordView",
        "DecisionBody",
        "DecisionResponse",
        "ApprovalConflict",
        "ChainReportView",
        "CatalogView",
        "ActionView",
        "ErrorBody",
        "ErrorResponse",
        "Intent",
        "Target",
        "Plan",
        "Risk",
        "RequestStatus",
        "ApprovalState",
        "Verdict",
        "Channel",
        "ParserKind",
        "Decision",
        "Outcome",
    ] {
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "missing {name}"
        );
    }
}

#[test]
fn schemas_refuse_what_the_types_refuse() {
    // A status nobody handles, a missing required member, a wrong type: each is caught.
    assert!(!violations("ErrorResponse", &json!({"error": {"code": "x"}})).is_empty());
    assert!(!violations("ApprovalState", &json!("maybe")).is_empty());
    assert!(
        !violations(
            "ChainReportView",
            &json!({"ok": "yes", "events": 1, "head": "h", "first_bad_seq": null, "reason": null})
        )
        .is_empty()
    );
    assert!(!violations("Target", &json!({"kind": "dns_zone"})).is_empty());
    assert!(
        violations(
            "Target",
            &json!({"kind": "dns_zone", "zone": null, "name": "x.local"})
        )
        .is_empty()
    );
    // Members the daemon always sends, even as null, are required.
    let mut v: Value = serde_json::from_str(sample!("intent_denied")).unwrap();
    assert!(violations("IntentResponse", &v).is_empty());
    v.as_object_mut().unwrap().remove("approval");
    assert!(!violations("IntentResponse", &v).is_empty());
    let mut v: Value = serde_json::from_str(sample!("approval_show")).unwrap();
    v.as_object_mut().unwrap().remove("params");
    assert!(!violations("ApprovalDetail", &v).is_empty());
}

#[test]
fn intent_answers() {
    let r: IntentResponse = round_trip("IntentResponse", sample!("intent_success"));
    assert_eq!(r.status, RequestStatus::Success);
    assert!(r.plan.is_some() && r.error.is_none() && r.reason.is_none());
    let v = r.verification.expect("a change carries its verification");
    assert_eq!(v.outcome, aiops_core::VerificationOutcome::Verified);
    assert_eq!(v.evidence["found"][0], "10.1.1.3");
    assert!(r.plan.unwrap().before.is_some());
    let r: IntentResponse = round_trip("IntentResponse", sample!("intent_dry_run"));
    assert_eq!(r.status, RequestStatus::DryRun);
    assert_eq!(r.execution.unwrap()["would_change"], true);
    let r: IntentResponse = round_trip("IntentResponse", sample!("intent_pending"));
    assert_eq!(r.status, RequestStatus::PendingApproval);
    let approval = r.approval.unwrap();
    assert_eq!(
        (approval.state, approval.approvals_required),
        (ApprovalState::Pending, 1)
    );
    let r: IntentResponse = round_trip("IntentResponse", sample!("intent_denied"));
    assert_eq!(r.status, RequestStatus::Denied);
    assert!(r.plan.is_none());
    let r: IntentResponse = round_trip("IntentResponse", sample!("intent_failed"));
    assert_eq!(r.error.unwrap().code, "executor_unavailable");
    let r: IntentResponse = round_trip("IntentResponse", sample!("intent_unrecognized"));
    assert_eq!(r.status, RequestStatus::Unrecognized);
    assert!(r.intent.is_none() && r.reason.is_some());
    let r: IntentResponse = round_trip("IntentResponse", sample!("intent_lookup"));
    assert_eq!(r.execution.unwrap()["result"]["records"][0], "10.1.1.3");
}

#[test]
fn a_fresh_response_encodes_like_the_daemon_starts_one() {
    let v = serde_json::to_value(IntentResponse::received("01J")).unwrap();
    assert_eq!(
        v,
        json!({"id": "01J", "status": "received", "intent": null, "decision": null,
               "approval": null, "execution": null, "context": []})
    );
}

#[test]
fn intent_requests() {
    let r: IntentRequest = round_trip(
        "IntentRequest",
        r#"{"nl": "add dns record a.local to 10.0.0.1", "dry_run": true}"#,
    );
    assert!(r.dry_run);
    let r: IntentRequest = serde_json::from_str(r#"{"nl": "x"}"#).unwrap();
    assert!(!r.dry_run, "dry_run defaults to false");
    assert!(violations("IntentRequest", &json!({"nl": "x"})).is_empty());
    assert!(serde_json::from_str::<IntentRequest>(r#"{"nl": "x", "dryrun": true}"#).is_err());
    assert!(!violations("IntentRequest", &json!({"dry_run": true})).is_empty());
    let _: ParseRequest = round_trip("ParseRequest", r#"{"nl": "list pods in shop"}"#);
    assert!(serde_json::from_str::<ParseRequest>(r#"{"nl": "x", "dry_run": true}"#).is_err());
}

#[test]
fn parse_answers() {
    let r: ParseResponse = round_trip("ParseResponse", sample!("parse_parsed"));
    assert_eq!(
        (r.status, r.risk),
        (ParseStatus::Parsed, Some(Risk::Change))
    );
    let r: ParseResponse = round_trip("ParseResponse", sample!("parse_unrecognized"));
    assert_eq!(r.status, ParseStatus::Unrecognized);
    // The constructors build exactly those shapes.
    assert_eq!(
        serde_json::to_value(ParseResponse::unrecognized(r.reason.clone().unwrap())).unwrap(),
        serde_json::from_str::<Value>(sample!("parse_unrecognized")).unwrap()
    );
    let parsed: ParseResponse = serde_json::from_str(sample!("parse_parsed")).unwrap();
    assert_eq!(
        ParseResponse::parsed(parsed.intent.clone().unwrap(), Some(Risk::Change)),
        parsed
    );
}

#[test]
fn intent_records() {
    let r: IntentRecord = round_trip("IntentRecord", sample!("intent_record_success"));
    assert_eq!(r.status, RequestStatus::Success);
    assert!(r.approval.is_none() && r.error.is_none());
    assert_eq!(r.timeline.first().map(|e| e.stage.as_str()), Some("intake"));
    let r: IntentRecord = round_trip("IntentRecord", sample!("intent_record_pending"));
    assert_eq!(r.approval.unwrap().state, ApprovalState::Pending);
    let r: IntentRecord = round_trip("IntentRecord", sample!("intent_record_approved"));
    let approval = r.approval.unwrap();
    assert_eq!(approval.state, ApprovalState::Succeeded);
    assert_eq!(approval.decisions[0].channel, Channel::Cli);
    assert_eq!(r.plan_hash.as_deref(), Some(approval.plan_hash.as_str()));
    assert_eq!(r.plan.unwrap().hash, approval.plan_hash);
    // Pruned by payload retention: the payload is null, what it was and when it went stay.
    let r: IntentRecord = round_trip("IntentRecord", sample!("intent_record_pruned"));
    assert!(r.nl.is_none() && r.intent.is_none() && r.plan.is_none() && r.execution.is_none());
    assert_eq!(r.action, Some(aiops_core::ActionId::DnsCreateARecord));
    assert!(r.plan_hash.is_some() && r.pruned_at.is_some());
    // Members a daemon before retention did not send decode as absent.
    let mut v: Value = serde_json::from_str(sample!("intent_record_success")).unwrap();
    for member in ["action", "plan_hash"] {
        v.as_object_mut().unwrap().remove(member);
    }
    let old: IntentRecord = round_trip("IntentRecord", &v.to_string());
    assert_eq!((old.action, old.pruned_at), (None, None));
}

#[test]
fn intent_lists() {
    let list: IntentList = round_trip("IntentList", sample!("intents_list"));
    assert_eq!(list.intents.len(), 2);
    assert!(list.intents[0].id > list.intents[1].id, "newest first");
    assert!(list.next_cursor.is_some());
    // Members the daemon always sends, even as null, are required.
    let mut v: Value = serde_json::from_str(sample!("intents_list")).unwrap();
    v.as_object_mut().unwrap().remove("next_cursor");
    assert!(!violations("IntentList", &v).is_empty());
    let mut v: Value = serde_json::from_str(sample!("intents_list")).unwrap();
    v["intents"][0].as_object_mut().unwrap().remove("pruned_at");
    assert!(!violations("IntentList", &v).is_empty());
}

#[test]
fn approval_views() {
    let list: ApprovalList = round_trip("ApprovalList", sample!("approvals_list"));
    assert_eq!(list.approvals.len(), 1);
    assert_eq!(list.approvals[0].plan, None, "lists carry no plan");
    assert_eq!(list.next_cursor, None, "one page");
    // A daemon that answered every approval at once sent no cursor: still a list.
    let mut v: Value = serde_json::from_str(sample!("approvals_list")).unwrap();
    v.as_object_mut().unwrap().remove("next_cursor");
    let old: ApprovalList = serde_json::from_value(v).unwrap();
    assert_eq!(old.next_cursor, None);
    let show: ApprovalDetail = round_trip("ApprovalDetail", sample!("approval_show"));
    assert!(show.diff().is_some_and(|d| d.contains("c.local")));
    assert_eq!(show.tally(), "0/1");
    assert_eq!(show.request_status, Some(RequestStatus::PendingApproval));
    // `show` of a request without a stored plan says `"plan": null`, and keeps saying it.
    let mut v: Value = serde_json::from_str(sample!("approval_show")).unwrap();
    v["plan"] = Value::Null;
    let bare: ApprovalDetail = round_trip("ApprovalDetail", &v.to_string());
    assert_eq!((&bare.plan, bare.diff()), (&Some(None), None));
}

#[test]
fn decision_answers() {
    let r: DecisionResponse = round_trip("DecisionResponse", sample!("decision_approved"));
    assert!(r.changed && r.message.is_none());
    assert_eq!(r.approval.decisions[0].decision, Verdict::Approve);
    assert_eq!(r.approval.tally(), "1/1");
    let r: DecisionResponse = round_trip("DecisionResponse", sample!("decision_unchanged"));
    assert!(!r.changed);
    assert_eq!(
        r.message.as_deref(),
        Some("bob already recorded this decision")
    );
    let r: ApprovalConflict = round_trip("ApprovalConflict", sample!("decision_conflict"));
    assert_eq!(
        (r.error.code.as_str(), r.state),
        ("approval_closed", ApprovalState::Executing)
    );
}

#[test]
fn decision_bodies() {
    let b: DecisionBody = round_trip(
        "DecisionBody",
        r#"{"reason": "ticket OPS-1", "channel": "cli"}"#,
    );
    assert_eq!(b.http_channel(), Ok(Channel::Cli));
    let b: DecisionBody = serde_json::from_str("{}").unwrap();
    assert_eq!(b, DecisionBody::default());
    assert!(violations("DecisionBody", &json!({})).is_empty());
    assert!(serde_json::from_str::<DecisionBody>(r#"{"reason": "x", "by": "bob"}"#).is_err());
    assert!(serde_json::from_str::<DecisionBody>(r#"{"channel": "pigeon"}"#).is_err());
    assert!(!violations("DecisionBody", &json!({"channel": "pigeon"})).is_empty());
}

#[test]
fn errors_audit_and_catalog() {
    for file in [
        sample!("not_found"),
        sample!("decision_forbidden"),
        sample!("decision_bad_channel"),
    ] {
        let e: ErrorResponse = round_trip("ErrorResponse", file);
        assert!(!e.error.code.as_str().is_empty() && !e.error.message.is_empty());
    }
    let r: ChainReportView = round_trip("ChainReportView", sample!("audit_verify"));
    assert!(r.ok && r.first_bad_seq.is_none());
    let c: CatalogView = round_trip("CatalogView", sample!("catalog"));
    let delete = c
        .actions
        .iter()
        .find(|a| a.name == "dns.delete_record")
        .unwrap();
    assert_eq!(
        (delete.risk, delete.executor.as_str()),
        (Risk::Destructive, "ansible")
    );
    // The daemon's view of an action is built from the catalog's own spec.
    let catalog = aiops_core::Catalog::embedded().unwrap();
    let spec = catalog.get_named("dns.delete_record").unwrap();
    assert_eq!(&ActionView::from(spec), delete);
}
