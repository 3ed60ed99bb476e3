use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::undo::{Inverse, InverseRule, VerifySpec, resolve};
use crate::{ActionId, CoreError, Intent, ParserKind, Target};

/// The shipped catalog, embedded so the daemon needs no files to start.
const EMBEDDED: &str = include_str!("../catalog/actions.json");

/// Custom schema keyword: how the server normalises a string before validating it.
const NORMALIZE_KEYWORD: &str = "x-aiops-normalize";

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    Read,
    Change,
    Destructive,
}

impl Risk {
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Read => "read",
            Risk::Change => "change",
            Risk::Destructive => "destructive",
        }
    }
}

/// Which executor runs an action. Only the executor crate acts on this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExecutorBinding {
    /// A fixed playbook for this action, or (with `playbook: None`) the playbook named by the
    /// `playbook` parameter, from the allow-listed directory.
    Ansible {
        #[serde(default)]
        playbook: Option<String>,
    },
    Dns,
    Kube,
    Retrieval,
}

impl ExecutorBinding {
    pub fn name(&self) -> &'static str {
        match self {
            ExecutorBinding::Ansible { .. } => "ansible",
            ExecutorBinding::Dns => "dns",
            ExecutorBinding::Kube => "kube",
            ExecutorBinding::Retrieval => "retrieval",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    DnsZone,
    K8sNamespace,
    Playbook,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    pub kind: TargetKind,
    #[serde(default)]
    pub param: Option<String>,
}

/// One catalog entry as shipped in `actions.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionSpec {
    pub name: ActionId,
    pub description: String,
    pub risk: Risk,
    pub executor: ExecutorBinding,
    pub target: TargetSpec,
    /// Secret paths the action's executor needs (read at the credentials stage only).
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Sentences and the exact parameters they mean (defaults filled in): documentation, the
    /// few-shot examples of model prompts, and test cases for every parser.
    #[serde(default)]
    pub examples: Vec<ActionExample>,
    pub schema: Value,
    /// How a change is read back from the world after it ran (every change action has one;
    /// read actions none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifySpec>,
    /// How a change is undone: rules, the first that applies wins (see `undo`). Every
    /// change action declares one, if only to refuse with a reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inverse: Vec<InverseRule>,
    /// Reached only as another action's inverse: parsers are not offered it, and an intent
    /// a parser proposes for it is refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub internal: bool,
}

/// One example of an action: a sentence and the parameters it means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionExample {
    pub nl: String,
    pub params: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    version: u32,
    actions: Vec<ActionSpec>,
}

struct CompiledAction {
    spec: ActionSpec,
    validator: jsonschema::Validator,
}

/// The fixed set of actions the daemon may run, with a compiled validator per action.
pub struct Catalog {
    actions: BTreeMap<ActionId, CompiledAction>,
    revision: String,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("actions", &self.actions.keys().collect::<Vec<_>>())
            .field("revision", &self.revision)
            .finish()
    }
}

impl Catalog {
    /// The catalog shipped in the binary.
    pub fn embedded() -> Result<Self, CoreError> {
        Self::from_json(EMBEDDED)
    }

    /// Parses and checks a catalog document: names unique, schemas compile, every schema is a
    /// closed object (unknown parameters must be rejected), defaults valid against the schema,
    /// target parameters exist.
    pub fn from_json(text: &str) -> Result<Self, CoreError> {
        let file: CatalogFile =
            serde_json::from_str(text).map_err(|e| CoreError::InvalidCatalog(e.to_string()))?;
        if file.version != 1 {
            return Err(CoreError::InvalidCatalog(format!(
                "unsupported catalog version {}",
                file.version
            )));
        }
        let mut actions = BTreeMap::new();
        for spec in file.actions {
            let compiled = compile(spec)?;
            let name = compiled.spec.name;
            if actions.insert(name, compiled).is_some() {
                return Err(CoreError::InvalidCatalog(format!(
                    "action `{name}` is defined twice"
                )));
            }
        }
        if actions.is_empty() {
            return Err(CoreError::InvalidCatalog("no actions".into()));
        }
        for compiled in actions.values() {
            let spec = &compiled.spec;
            for inverse in spec.inverse.iter().filter_map(|r| r.action) {
                if !actions.contains_key(&inverse) {
                    return Err(CoreError::InvalidCatalog(format!(
                        "action `{}`: its inverse `{inverse}` is not in the catalog",
                        spec.name
                    )));
                }
            }
        }
        let revision = crate::sha256_hex(text);
        Ok(Catalog { actions, revision })
    }

    pub fn revision(&self) -> &str {
        &self.revision
    }

    pub fn get(&self, action: ActionId) -> Option<&ActionSpec> {
        self.actions.get(&action).map(|a| &a.spec)
    }

    /// The action a parser named, if the catalog has it.
    pub fn get_named(&self, name: &str) -> Option<&ActionSpec> {
        name.parse::<ActionId>().ok().and_then(|id| self.get(id))
    }

    pub fn actions(&self) -> impl Iterator<Item = &ActionSpec> {
        self.actions.values().map(|a| &a.spec)
    }

    /// The actions a parser may propose: all but the internal ones.
    pub fn parseable(&self) -> impl Iterator<Item = &ActionSpec> {
        self.actions().filter(|a| !a.internal)
    }

    /// The intent that undoes a change of `action` with `params`, whose plan recorded
    /// `before`; or why there is none. The inverse is validated like any parsed intent.
    pub fn inverse(
        &self,
        action: ActionId,
        params: &Map<String, Value>,
        before: &Value,
    ) -> Result<Intent, String> {
        let spec = self
            .get(action)
            .ok_or_else(|| format!("`{action}` is not in the catalog"))?;
        match resolve(&spec.inverse, params, before) {
            Inverse::Refused(reason) => Err(reason),
            Inverse::Action { action, params } => self
                .validate(action.as_str(), &params, ParserKind::Rollback, 1.0)
                .map_err(|e| format!("the inverse is not a valid request: {e}")),
        }
    }

    /// Turns a parser's raw output into a typed [`Intent`]: normalises names, fills defaults,
    /// and validates against the action's schema (unknown parameters rejected).
    pub fn validate(
        &self,
        action: &str,
        params: &Map<String, Value>,
        parser: ParserKind,
        confidence: f64,
    ) -> Result<Intent, CoreError> {
        let compiled = action
            .parse::<ActionId>()
            .ok()
            .and_then(|id| self.actions.get(&id))
            .ok_or_else(|| CoreError::UnknownAction(action.to_string()))?;
        if compiled.spec.internal && parser != ParserKind::Rollback {
            return Err(CoreError::UnknownAction(format!(
                "{action} (reached only as a rollback)"
            )));
        }
        let mut params = params.clone();
        normalize(&compiled.spec.schema, &mut params);
        apply_defaults(&compiled.spec.schema, &mut params);
        let instance = Value::Object(params);
        let errors: Vec<String> = compiled
            .validator
            .iter_errors(&instance)
            .map(|e| {
                let path = e.instance_path().to_string();
                if path.is_empty() {
                    e.to_string()
                } else {
                    format!("{path}: {e}")
                }
            })
            .collect();
        if !errors.is_empty() {
            return Err(CoreError::InvalidParams {
                action: action.to_string(),
                errors,
            });
        }
        let Value::Object(params) = instance else {
            unreachable!("constructed as an object above")
        };
        Ok(Intent {
            action: compiled.spec.name,
            params,
            parser,
            confidence,
        })
    }

    /// What the intent is aimed at. `zones` are the managed DNS zones; a name outside all of
    /// them gets `zone: None` (policy denies it).
    pub fn target(&self, intent: &Intent, zones: &[String]) -> Target {
        let Some(spec) = self.get(intent.action) else {
            return Target::None;
        };
        let param = |p: &Option<String>| {
            p.as_ref()
                .and_then(|p| intent.params.get(p))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        match spec.target.kind {
            TargetKind::DnsZone => {
                let name = param(&spec.target.param);
                Target::DnsZone {
                    zone: zone_of(&name, zones).map(str::to_string),
                    name,
                }
            }
            TargetKind::K8sNamespace => Target::K8sNamespace {
                namespace: param(&spec.target.param),
            },
            TargetKind::Playbook => Target::Playbook {
                playbook: param(&spec.target.param),
            },
            TargetKind::None => Target::None,
        }
    }
}

/// The most specific managed zone that contains `name` (`name` equal to it or below it).
pub fn zone_of<'a>(name: &str, zones: &'a [String]) -> Option<&'a str> {
    zones
        .iter()
        .filter(|z| name == z.as_str() || name.ends_with(&format!(".{z}")))
        .max_by_key(|z| z.len())
        .map(String::as_str)
}

fn compile(spec: ActionSpec) -> Result<CompiledAction, CoreError> {
    let bad = |msg: String| CoreError::InvalidCatalog(format!("action `{}`: {msg}", spec.name));
    let schema = &spec.schema;
    match (spec.risk, &spec.verify, spec.inverse.is_empty()) {
        (Risk::Read, None, true) => {}
        (Risk::Read, _, _) => {
            return Err(bad(
                "a read action changes nothing: it has no verifier and no inverse".into(),
            ));
        }
        (_, Some(_), false) => {}
        _ => {
            return Err(bad(
                "a change action declares its verifier and its inverse (rules that may refuse)"
                    .into(),
            ));
        }
    }
    for rule in &spec.inverse {
        rule.check().map_err(bad)?;
    }
    if schema.get("type") != Some(&Value::String("object".into()))
        || schema.get("additionalProperties") != Some(&Value::Bool(false))
    {
        return Err(bad(
            "schema must be `type: object` with `additionalProperties: false`".into(),
        ));
    }
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| bad(format!("schema does not compile: {e}")))?;
    let properties = schema.get("properties").and_then(Value::as_object);
    if let Some(param) = &spec.target.param
        && !properties.is_some_and(|p| p.contains_key(param))
    {
        return Err(bad(format!(
            "target parameter `{param}` is not in the schema"
        )));
    }
    if let Some(props) = properties {
        for (key, prop) in props {
            if let Some(default) = prop.get("default") {
                let ok = jsonschema::options()
                    .should_validate_formats(true)
                    .build(prop)
                    .map(|v| v.is_valid(default))
                    .unwrap_or(false);
                if !ok {
                    return Err(bad(format!("default of `{key}` does not match its schema")));
                }
            }
        }
    }
    // Examples are complete (defaults filled in) and valid: parsers are tested against them.
    for example in &spec.examples {
        let mut filled = example.params.clone();
        apply_defaults(schema, &mut filled);
        if filled != example.params || !validator.is_valid(&Value::Object(filled)) {
            return Err(bad(format!(
                "example `{}` must carry every parameter, defaults included, and match the schema",
                example.nl
            )));
        }
    }
    Ok(CompiledAction { spec, validator })
}

fn normalize(schema: &Value, params: &mut Map<String, Value>) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (key, prop) in props {
        let Some(Value::String(s)) = params.get_mut(key) else {
            continue;
        };
        match prop.get(NORMALIZE_KEYWORD).and_then(Value::as_str) {
            // One trailing dot is the fully-qualified form of the same name; a second one
            // is an empty label, which the schema's pattern must see and refuse
            // (`k1.local..` is not `k1.local`).
            Some("dns_name") => {
                let name = s.trim();
                *s = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
            }
            // Playbooks are named without their extension: `ping`, not `ping.yml`.
            Some("playbook_name") => {
                let name = s.trim();
                let name = name
                    .strip_suffix(".yml")
                    .or_else(|| name.strip_suffix(".yaml"))
                    .unwrap_or(name);
                *s = name.to_string();
            }
            _ => {}
        }
    }
}

fn apply_defaults(schema: &Value, params: &mut Map<String, Value>) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (key, prop) in props {
        if let Some(default) = prop.get("default")
            && !params.contains_key(key)
        {
            params.insert(key.clone(), default.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    /// `validate` of `action` with these parameters, as the rules parser asks it.
    fn check(c: &Catalog, action: &str, params: Value) -> Result<Intent, CoreError> {
        c.validate(action, &obj(params), ParserKind::Rules, 1.0)
    }

    #[test]
    fn embedded_catalog_has_the_contract_actions() {
        let c = Catalog::embedded().unwrap();
        let names: Vec<ActionId> = c.actions().map(|a| a.name).collect();
        // Every action the code knows is in the shipped catalog, and nothing else.
        assert_eq!(
            names.len(),
            <ActionId as strum::VariantArray>::VARIANTS.len()
        );
        for required in <ActionId as strum::VariantArray>::VARIANTS {
            assert!(names.contains(required), "missing {required}");
        }
        assert_eq!(
            c.get(ActionId::DnsDeleteRecord).unwrap().risk,
            Risk::Destructive
        );
        assert_eq!(c.get_named("dns.lookup").unwrap().risk, Risk::Read);
        assert!(c.get_named("shell.exec").is_none());
    }

    #[test]
    fn defaults_are_filled_and_names_normalised() {
        let c = Catalog::embedded().unwrap();
        let i = check(
            &c,
            "dns.create_a_record",
            json!({"name": "Test.LOCAL.", "ip": "192.168.1.100"}),
        )
        .unwrap();
        assert_eq!(
            Value::Object(i.params),
            json!({"name": "test.local", "ip": "192.168.1.100", "ttl": 3600})
        );
        let i = check(&c, "ansible.run_playbook", json!({"playbook": "ping.yml"})).unwrap();
        assert_eq!(Value::Object(i.params), json!({"playbook": "ping"}));
        let i = check(&c, "k8s.list_pods", json!({})).unwrap();
        assert_eq!(Value::Object(i.params), json!({"namespace": "default"}));
    }

    /// A limit is Ansible's host-pattern grammar: `!`/`&` only as element prefixes (issue 11:
    /// `web01&&reboot` validated and reached `ansible-playbook --limit`).
    #[test]
    fn limits_follow_the_host_pattern_grammar() {
        let c = Catalog::embedded().unwrap();
        let limit = |l: &str| {
            check(
                &c,
                "ansible.run_playbook",
                json!({"playbook": "ping", "limit": l}),
            )
        };
        for ok in [
            "web01",
            "web01,web02",
            "web*:&prod",
            "web*:!db1",
            "!db1:web*",
        ] {
            assert!(limit(ok).is_ok(), "{ok}");
        }
        for bad in [
            "web01&&reboot",
            "web01!x",
            "web01,",
            ":web01",
            "-e",
            "web01:-e",
            "@hosts",
            "web01 db",
        ] {
            assert!(limit(bad).is_err(), "{bad}");
        }
    }

    /// Only one trailing dot is the FQDN form; more are empty labels, refused (issue 11:
    /// `k1.local..` was taken as `k1.local`).
    #[test]
    fn a_name_with_empty_labels_is_not_normalised_into_a_valid_one() {
        let c = Catalog::embedded().unwrap();
        for name in ["k1.local..", "k1.local...", "k1..local", ".k1.local", "."] {
            for (action, extra) in [
                ("dns.create_a_record", json!({"ip": "10.0.0.1"})),
                ("dns.delete_record", json!({})),
                ("dns.lookup", json!({})),
            ] {
                let mut params = extra.as_object().unwrap().clone();
                params.insert("name".into(), json!(name));
                assert!(
                    check(&c, action, Value::Object(params)).is_err(),
                    "{action} {name}"
                );
            }
        }
        let i = check(&c, "dns.lookup", json!({"name": "k1.local."})).unwrap();
        assert_eq!(i.params["name"], "k1.local");
    }

    #[test]
    fn unknown_parameters_and_bad_values_are_rejected() {
        let c = Catalog::embedded().unwrap();
        let cases = [
            (
                "dns.create_a_record",
                json!({"name": "a.local", "ip": "1.2.3.4", "cmd": "rm -rf /"}),
            ),
            (
                "dns.create_a_record",
                json!({"name": "a.local", "ip": "999.1.1.1"}),
            ),
            (
                "dns.create_a_record",
                json!({"name": "a.local", "ip": "1.2.3.4", "ttl": 0}),
            ),
            (
                "dns.create_a_record",
                json!({"name": "a;rm.local", "ip": "1.2.3.4"}),
            ),
            ("dns.create_a_record", json!({"ip": "1.2.3.4"})),
            (
                "dns.delete_record",
                json!({"name": "a.local", "type": "MX"}),
            ),
            (
                "k8s.scale_deployment",
                json!({"name": "web", "replicas": 101}),
            ),
            (
                "k8s.scale_deployment",
                json!({"name": "web", "replicas": -1}),
            ),
            (
                "k8s.scale_deployment",
                json!({"name": "web", "replicas": "5"}),
            ),
            (
                "k8s.scale_deployment",
                json!({"name": "Web_1", "replicas": 1}),
            ),
            (
                "k8s.expose_service",
                json!({"service": "s", "hostname": "h.local", "port": 70000}),
            ),
            ("ansible.run_playbook", json!({"playbook": "../etc/passwd"})),
            ("ansible.run_playbook", json!({"playbook": "a..b"})),
            (
                "ansible.run_playbook",
                json!({"playbook": "ok", "limit": "a b; rm"}),
            ),
        ];
        for (action, params) in cases {
            let err = check(&c, action, params.clone())
                .expect_err(&format!("{action} {params} should be rejected"));
            assert_eq!(err.code(), "invalid_params", "{err}");
        }
        assert_eq!(
            check(&c, "shell.exec", json!({})).unwrap_err().code(),
            "unknown_action"
        );
    }

    /// `validate` of a DNS action with this name and type: the normalised name, or the
    /// error's code.
    fn dns_params(c: &Catalog, action: &str, name: &str, rtype: &str) -> Result<Value, String> {
        check(c, action, json!({"name": name, "type": rtype}))
            .map(|i| i.params["name"].clone())
            .map_err(|e| e.code().to_string())
    }

    #[test]
    fn every_contract_record_type_is_accepted_and_no_other() {
        let c = Catalog::embedded().unwrap();
        let lookup = [
            "A", "AAAA", "CNAME", "TXT", "MX", "NS", "SOA", "SRV", "PTR", "CAA",
        ];
        let delete = ["A", "AAAA", "CNAME", "TXT", "SRV"];
        for (action, accepted) in [("dns.lookup", &lookup[..]), ("dns.delete_record", &delete)] {
            for t in accepted {
                assert_eq!(
                    dns_params(&c, action, "host.corp.example.com", t),
                    Ok(json!("host.corp.example.com")),
                    "{action} {t}"
                );
            }
            for t in lookup
                .iter()
                .chain(&["ANY", "AXFR", "HINFO", "NAPTR", "a", "", "SPF"])
            {
                if accepted.contains(t) {
                    continue;
                }
                assert_eq!(
                    dns_params(&c, action, "host.corp.example.com", t),
                    Err("invalid_params".into()),
                    "{action} {t:?} must be refused"
                );
            }
        }
    }

    #[test]
    fn underscore_labels_only_for_txt_srv_and_cname() {
        let c = Catalog::embedded().unwrap();
        let names = [
            "_dmarc.corp.example.com",
            "_acme-challenge.www.corp.example.com",
            "_sip._tcp.corp.example.com",
            "selector1._domainkey.corp.example.com",
            "_25._tcp.mail.local",
        ];
        for action in ["dns.lookup", "dns.delete_record"] {
            for name in names {
                for t in ["TXT", "SRV", "CNAME"] {
                    assert_eq!(
                        dns_params(&c, action, name, t),
                        Ok(json!(name)),
                        "{action} {name} {t}"
                    );
                }
                // Normalised before validation, like any DNS name.
                assert_eq!(
                    dns_params(&c, action, &format!("{}.", name.to_uppercase()), "TXT"),
                    Ok(json!(name)),
                    "{action} {name}"
                );
                for t in ["A", "AAAA"] {
                    assert_eq!(
                        dns_params(&c, action, name, t),
                        Err("invalid_params".into()),
                        "{action} {name} {t} must be refused"
                    );
                }
            }
        }
        for t in ["MX", "NS", "SOA", "PTR", "CAA"] {
            assert_eq!(
                dns_params(&c, "dns.lookup", "_dmarc.corp.example.com", t),
                Err("invalid_params".into()),
                "{t}"
            );
        }
        // The type's default (A) is a host type: an underscore name needs its type named.
        let err = check(
            &c,
            "dns.delete_record",
            json!({"name": "_dmarc.corp.example.com"}),
        )
        .unwrap_err();
        assert_eq!(err.code(), "invalid_params");
        // A records never have underscore labels.
        for name in ["_dmarc.corp.example.com", "_sip._tcp.local", "www._x.local"] {
            let err = check(
                &c,
                "dns.create_a_record",
                json!({"name": name, "ip": "10.0.0.1"}),
            )
            .expect_err(name);
            assert_eq!(err.code(), "invalid_params", "{name}");
        }
        // Underscores only open a label, never end or fill one, nor the last label; a label
        // stays at most 63 characters, the underscore included.
        let long = format!("_{}.local", "a".repeat(62));
        assert_eq!(dns_params(&c, "dns.lookup", &long, "TXT"), Ok(json!(long)));
        for bad in [
            "_.local",
            "__x.local",
            "_-x.local",
            "_x-.local",
            "a_b.local",
            "x_.local",
            "host._local",
            "_local",
            "_x..local",
            "*.local",
            &format!("_{}.local", "a".repeat(63)),
        ] {
            assert_eq!(
                dns_params(&c, "dns.lookup", bad, "TXT"),
                Err("invalid_params".into()),
                "{bad}"
            );
        }
    }

    #[test]
    fn open_schemas_and_bad_defaults_are_refused_at_load() {
        let open = r#"{"version":1,"actions":[{"name":"dns.lookup","description":"d","risk":"read",
            "executor":{"kind":"dns"},"target":{"kind":"none"},
            "schema":{"type":"object","properties":{}}}]}"#;
        assert!(Catalog::from_json(open).is_err());
        let bad_default = r#"{"version":1,"actions":[{"name":"dns.lookup","description":"d","risk":"read",
            "executor":{"kind":"dns"},"target":{"kind":"none"},
            "schema":{"type":"object","additionalProperties":false,
              "properties":{"n":{"type":"integer","default":"x"}}}}]}"#;
        assert!(Catalog::from_json(bad_default).is_err());
        let dup = r#"{"version":1,"actions":[
            {"name":"dns.lookup","description":"d","risk":"read","executor":{"kind":"dns"},"target":{"kind":"none"},"schema":{"type":"object","additionalProperties":false}},
            {"name":"dns.lookup","description":"d","risk":"read","executor":{"kind":"dns"},"target":{"kind":"none"},"schema":{"type":"object","additionalProperties":false}}]}"#;
        assert!(Catalog::from_json(dup).is_err());
        // Names come from `ActionId`: a catalog cannot smuggle in an action no code binds.
        let unknown = r#"{"version":1,"actions":[{"name":"shell.exec","description":"d","risk":"read",
            "executor":{"kind":"dns"},"target":{"kind":"none"},
            "schema":{"type":"object","additionalProperties":false}}]}"#;
        let err = Catalog::from_json(unknown).unwrap_err().to_string();
        assert!(err.contains("shell.exec"), "{err}");
        let ok = r#"{"version":1,"actions":[{"name":"dns.lookup","description":"d","risk":"read",
            "executor":{"kind":"dns"},"target":{"kind":"none"},
            "schema":{"type":"object","additionalProperties":false}}]}"#;
        assert!(Catalog::from_json(ok).is_ok());
    }

    #[test]
    fn target_picks_the_most_specific_zone() {
        let c = Catalog::embedded().unwrap();
        let zones = vec![
            "local".to_string(),
            "corp.example.com".to_string(),
            "example.com".to_string(),
        ];
        for (name, zone) in [
            ("db.corp.example.com", Some("corp.example.com")),
            ("evil.org", None),
        ] {
            let i = check(&c, "dns.lookup", json!({ "name": name })).unwrap();
            assert_eq!(
                c.target(&i, &zones),
                Target::DnsZone {
                    zone: zone.map(str::to_string),
                    name: name.into()
                }
            );
        }
        // "notlocal" must not match zone "local"
        assert_eq!(zone_of("notlocal", &zones), None);
    }
}
