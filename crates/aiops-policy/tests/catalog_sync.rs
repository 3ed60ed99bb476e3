//! The shipped policy kept in step with the catalog (`aiops-core`'s `actions.json`): the
//! policy data lists the same actions, parameters, risks, enums and defaults, and the Rego
//! DNS-name checks accept exactly the names the catalog's schemas accept, per record type.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use aiops_core::{Catalog, ParserKind};
use aiops_policy::{Caller, PolicyEngine, PolicyInput, Stage, embedded};
use serde_json::{Map, Value, json};

fn engine() -> PolicyEngine {
    embedded().expect("the embedded policy loads")
}

#[test]
fn policy_data_lists_the_catalog_actions_parameters_and_enums() {
    let catalog = Catalog::embedded().unwrap();
    let engine = engine();
    let actions = engine
        .data()
        .pointer("/aiops/config/actions")
        .and_then(Value::as_object)
        .expect("policy data has actions");
    assert_eq!(actions.len(), catalog.actions().count());
    for spec in catalog.actions() {
        let name = spec.name.as_str();
        let data = &actions[name];
        assert_eq!(data["risk"], json!(spec.risk.as_str()), "{name}: risk");
        let props = spec.schema["properties"].as_object().unwrap();
        let params = data["params"].as_object().unwrap();
        let mut catalog_keys: Vec<_> = props.keys().collect();
        let mut policy_keys: Vec<_> = params.keys().collect();
        catalog_keys.sort();
        policy_keys.sort();
        assert_eq!(catalog_keys, policy_keys, "{name}: parameters");
        for (key, prop) in props {
            for field in ["enum", "default"] {
                assert_eq!(
                    prop.get(field),
                    params[key].get(field),
                    "{name}.{key}: {field}"
                );
            }
        }
    }
}

/// Whether the policy calls one of `params`' DNS names invalid (whatever else it says).
fn policy_refuses_name(engine: &PolicyEngine, action: &str, params: &Value) -> bool {
    let input = PolicyInput {
        action: action.parse().unwrap(),
        risk: Catalog::embedded().unwrap().get_named(action).unwrap().risk,
        params: params.clone(),
        dry_run: false,
        stage: Stage::Decide,
        caller: Caller::anonymous(),
        parser: aiops_policy::ParserKind::Rules,
        confidence: 0.95,
    };
    let decision = engine.evaluate(&input).unwrap();
    decision
        .reasons
        .iter()
        .any(|r| r.contains("is not a valid DNS name"))
}

#[test]
fn policy_and_catalog_accept_the_same_dns_names_per_record_type() {
    let catalog = Catalog::embedded().unwrap();
    let engine = engine();
    let a62 = "a".repeat(62);
    let long = vec!["a".repeat(63); 4].join(".");
    let names = [
        "www.local".to_string(),
        "WWW.Corp.Example.com.".into(),
        "local".into(),
        "_dmarc.corp.example.com".into(),
        "_DMARC.corp.example.com".into(),
        "_acme-challenge.www.local".into(),
        "_sip._tcp.local".into(),
        "selector1._domainkey.local".into(),
        "_25._tcp.mail.local".into(),
        format!("_{a62}.local"),
        format!("_{a62}a.local"),
        format!("{a62}a.local"),
        format!("{a62}aa.local"),
        format!("{long}.local"),
        "_.local".into(),
        "__x.local".into(),
        "_-x.local".into(),
        "_x-.local".into(),
        "a_b.local".into(),
        "x_.local".into(),
        "host._local".into(),
        "_local".into(),
        "_x..local".into(),
        "*.local".into(),
        "-a.local".into(),
        "a-.local".into(),
        "bad name.local".into(),
        "".into(),
    ];
    // The DNS record actions. (`k8s.expose_service` is left out: its catalog schema also
    // wants at least two labels, which the policy does not check.)
    let mut cases: Vec<(&str, Value)> = Vec::new();
    for name in &names {
        cases.push((
            "dns.create_a_record",
            json!({"name": name, "ip": "10.0.0.1", "ttl": 60}),
        ));
        for t in ["A", "AAAA", "CNAME", "TXT", "SRV"] {
            cases.push(("dns.delete_record", json!({"name": name, "type": t})));
        }
        cases.push(("dns.delete_record", json!({"name": name})));
    }
    let (mut accepted, mut refused) = (0, 0);
    for (action, params) in &cases {
        let Value::Object(map) = params else {
            unreachable!("built as objects")
        };
        let catalog_ok = catalog
            .validate(action, map, ParserKind::Rules, 1.0)
            .is_ok();
        // The policy sees what the catalog passes on: normalised names, defaults filled.
        let normalised = match catalog.validate(action, map, ParserKind::Rules, 1.0) {
            Ok(intent) => Value::Object(intent.params),
            Err(_) => params.clone(),
        };
        let policy_ok = !policy_refuses_name(&engine, action, &normalised);
        assert_eq!(
            catalog_ok, policy_ok,
            "{action} {params}: the catalog says {catalog_ok}, the policy {policy_ok}"
        );
        if catalog_ok {
            accepted += 1;
        } else {
            refused += 1;
        }
    }
    // Both sides of the rule were exercised, underscores included.
    assert!(accepted > 30 && refused > 100, "{accepted} {refused}");
    let underscore = |t: &str| {
        let mut m = Map::new();
        m.insert("name".into(), json!("_dmarc.corp.example.com"));
        m.insert("type".into(), json!(t));
        catalog
            .validate("dns.delete_record", &m, ParserKind::Rules, 1.0)
            .is_ok()
    };
    assert!(underscore("TXT") && !underscore("A"));
}
