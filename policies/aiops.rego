# aiopsd decision policy (shipped default).
#
# Query:  data.aiops.decision
# Result: {"outcome": "allow" | "deny" | "require_approval",
#          "reasons": [string, ...],
#          "approvals_required": N}        # 0 unless require_approval
#
# Everything specific (which actions exist, which parameters name a DNS name, a
# namespace or a playbook, which zones/namespaces/playbooks are production, limits,
# approval counts) comes from policy data at data.aiops.config (policies/data.json).
# See policies/README.md for the data schema.
#
# Order of precedence: deny (always wins) > dry run (allow) > read (allow) >
# destructive (approval) > change on a production target (approval) > allow.
#
# `decision` is total: every input, including malformed ones, yields exactly one
# decision object. Missing or odd configuration fails closed (deny or approval).
package aiops

# ---------------------------------------------------------------------------
# Decision
# ---------------------------------------------------------------------------

default decision := {
	"outcome": "deny",
	"reasons": ["the policy reached no decision; failing closed"],
	"approvals_required": 0,
}

decision := {"outcome": "deny", "reasons": sort(deny), "approvals_required": 0} if {
	count(deny) > 0
} else := {"outcome": "allow", "reasons": array.concat([dry_run_reason], verdict_reasons), "approvals_required": 0} if {
	inp.dry_run == true
} else := {"outcome": "allow", "reasons": verdict_reasons, "approvals_required": 0} if {
	not needs_approval
} else := {"outcome": "require_approval", "reasons": verdict_reasons, "approvals_required": approvals_required}

needs_approval if eff_rank >= 2

needs_approval if {
	eff_rank == 1
	production
}

# A change a language model read waits for a human, wherever it lands: the model proposed
# it and grounding checked it against the sentence, but a person confirms what it understood.
needs_approval if {
	eff_rank >= 1
	model_parsed
}

# Only the deterministic rules parser, a rollback (the catalog's inverse of an earlier
# change, computed, not read) and an MCP tool call (typed arguments an authenticated caller
# sent, checked against the schema; no sentence is interpreted) count as not model-parsed;
# anything else (a missing or unknown parser) is treated as model-parsed: fail closed.
model_parsed if not inp.parser in {"rules", "rollback", "mcp"}

verdict_reasons := array.concat([verdict], sort(notes))

default verdict := "no verdict could be formed; failing closed"

verdict := sprintf("%s is a read action: allowed", [action]) if {
	eff_rank == 0
} else := sprintf("%s is destructive (targets: %s): approval required", [action, targets_text]) if {
	eff_rank >= 2
} else := sprintf("%s changes a production target (targets: %s): approval required", [action, targets_text]) if {
	production
} else := sprintf("%s was read from the sentence by a language model (confidence %v; targets: %s): approval required", [action, confidence, targets_text]) if {
	model_parsed
} else := sprintf("%s changes only non-production targets (targets: %s): allowed", [action, targets_text])

dry_run_reason := sprintf("dry run: nothing will be changed (a real run would be %s)", [real_run]) if {
	needs_approval
	real_run := sprintf("subject to approval by %d approver(s)", [approvals_required])
} else := "dry run: nothing will be changed (a real run would be allowed)"

# ---------------------------------------------------------------------------
# Configuration (policy data), with fail-closed fallbacks
# ---------------------------------------------------------------------------

default cfg := {}

cfg := data.aiops.config if is_object(data.aiops.config)

actions := obj(cfg, "actions")

zones := obj(obj(cfg, "dns"), "zones")

namespaces := obj(obj(cfg, "kubernetes"), "namespaces")

denied_namespaces := {ns |
	some ns in arr(obj(cfg, "kubernetes"), "denied_namespaces")
	is_string(ns)
}

playbooks := obj(obj(cfg, "ansible"), "playbooks")

approvals := obj(cfg, "approvals")

zone_list := concat(", ", sort(object.keys(zones)))

playbook_list := concat(", ", sort(object.keys(playbooks)))

# ---------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------

default inp := {}

inp := input if is_object(input)

default params := {}

params := inp.params if is_object(inp.params)

action := inp.action if {
	is_string(inp.action)
	inp.action != ""
}

known_action if is_object(actions[action])

default spec := {}

spec := actions[action] if known_action

default param_specs := {}

param_specs := spec.params if is_object(spec.params)

risk_rank := {"read": 0, "change": 1, "destructive": 2}

risk_name := ["read", "change", "destructive"]

# The stricter of the risk the daemon sent and the risk the policy data records.
ranks contains risk_rank[inp.risk] if is_string(inp.risk)

ranks contains risk_rank[spec.risk] if is_string(spec.risk)

default eff_rank := 2

eff_rank := max(ranks) if count(ranks) > 0

# A parameter's effective value: as given, else its default from the data.
value_of(p) := v if {
	v := params[p]
	v != null
} else := v if {
	v := param_specs[p]["default"]
}

values_with_role(role) := {v |
	some p, ps in param_specs
	is_object(ps)
	ps.role == role
	v := value_of(p)
	is_string(v)
}

dns_names := {trim_suffix(lower(v), ".") | some v in values_with_role("dns_name")}

namespace_values := values_with_role("namespace")

playbook_values := values_with_role("playbook")

# Ansible host patterns (the `limit` of ansible.run_playbook).
host_patterns := values_with_role("host_pattern")

# IPv4 addresses a DNS record will point at (the `ip` of dns.create_a_record).
record_addresses := values_with_role("ipv4_address")

# The DNS record types the request is about (parameters with role record_type, e.g. the
# `type` of dns.delete_record); none for an action whose names are hosts (dns.create_a_record).
record_types := values_with_role("record_type")

# ---------------------------------------------------------------------------
# Deny: malformed input
# ---------------------------------------------------------------------------

deny contains "input must be a JSON object" if not is_object(input)

deny contains msg if {
	is_object(input)
	not action
	msg := sprintf("input.action must be a non-empty string (got %s)", [got(inp, "action")])
}

deny contains msg if {
	is_object(input)
	not valid_risk(inp.risk)
	msg := sprintf("input.risk must be one of read, change, destructive (got %s)", [got(inp, "risk")])
}

deny contains msg if {
	is_object(input)
	not is_object(inp.params)
	msg := sprintf("input.params must be an object (got %s)", [got(inp, "params")])
}

deny contains msg if {
	is_object(input)
	not is_boolean(inp.dry_run)
	msg := sprintf("input.dry_run must be a boolean (got %s)", [got(inp, "dry_run")])
}

deny contains msg if {
	is_object(input)
	"parser" in object.keys(inp)
	not inp.parser in {"rules", "llm", "rollback", "mcp"}
	msg := sprintf("input.parser must be rules, llm, rollback or mcp (got %s)", [got(inp, "parser")])
}

default confidence := "unknown"

confidence := inp.confidence if is_number(inp.confidence)

deny contains msg if {
	is_object(input)
	not inp.stage in {"decide", "execute"}
	msg := sprintf("input.stage must be decide or execute (got %s)", [got(inp, "stage")])
}

deny contains msg if {
	is_object(input)
	not valid_caller(inp.caller)
	msg := sprintf("input.caller must be an object with a string user and an array of string roles (got %s)", [got(inp, "caller")])
}

valid_risk(r) if {
	is_string(r)
	risk_rank[r] >= 0
}

valid_caller(c) if {
	is_object(c)
	is_string(c.user)
	is_array(c.roles)
	every r in c.roles {
		is_string(r)
	}
}

# ---------------------------------------------------------------------------
# Deny: actions and parameters
# ---------------------------------------------------------------------------

deny contains msg if {
	action
	not known_action
	msg := sprintf("action %s is not in the policy's action catalog", [action])
}

deny contains msg if {
	known_action
	is_object(inp.params)
	some p, ps in param_specs
	required(ps)
	not present(p)
	msg := sprintf("action %s requires parameter %s", [action, p])
}

deny contains msg if {
	known_action
	some p, _ in params
	not has_key(param_specs, p)
	msg := sprintf("parameter %s is not accepted by action %s", [p, action])
}

deny contains msg if {
	known_action
	some p, v in params
	ps := obj(param_specs, p)
	t := ps.type
	not type_ok(t, v)
	not null_ok(ps, v)
	msg := sprintf("parameter %s of %s must be of type %s (got %s)", [p, action, t, json.marshal(v)])
}

deny contains msg if {
	known_action
	some p, v in params
	ps := obj(param_specs, p)
	is_array(ps.enum)
	not v in ps.enum
	not null_ok(ps, v)
	msg := sprintf("parameter %s of %s must be one of %s (got %s)", [p, action, json.marshal(ps.enum), json.marshal(v)])
}

deny contains msg if {
	known_action
	some p, v in params
	is_number(v)
	ps := obj(param_specs, p)
	is_number(ps.max)
	v > ps.max
	msg := sprintf("parameter %s of %s is %v, above the maximum %v", [p, action, v, ps.max])
}

deny contains msg if {
	known_action
	some p, v in params
	is_number(v)
	ps := obj(param_specs, p)
	is_number(ps.min)
	v < ps.min
	msg := sprintf("parameter %s of %s is %v, below the minimum %v", [p, action, v, ps.min])
}

# A parameter with a target role must hold a string even when the data gives no type.
deny contains msg if {
	known_action
	some p, ps in param_specs
	is_string(ps.role)
	not ps.type
	v := value_of(p)
	not is_string(v)
	msg := sprintf("parameter %s of %s must be a string (got %s)", [p, action, json.marshal(v)])
}

# ---------------------------------------------------------------------------
# Deny: policy data errors for the requested action (fail closed, never skip a check)
# ---------------------------------------------------------------------------

target_roles := {"dns_name", "namespace", "playbook"}

# record_type qualifies the DNS names of the request (which name shapes are valid),
# host_pattern narrows a playbook run to hosts, ipv4_address is what a record points at;
# none of them is a target.
param_roles := target_roles | {"record_type", "host_pattern", "ipv4_address"}

deny contains msg if {
	known_action
	some p, ps in param_specs
	has_key(ps, "role")
	not ps.role in param_roles
	msg := sprintf("policy data error: parameter %s of %s has unknown role %s", [p, action, json.marshal(ps.role)])
}

deny contains msg if {
	known_action
	some p, ps in param_specs
	not is_object(ps)
	msg := sprintf("policy data error: the spec of parameter %s of %s is not an object", [p, action])
}

deny contains msg if {
	known_action
	has_key(spec, "params")
	not is_object(spec.params)
	msg := sprintf("policy data error: the params of %s are not an object", [action])
}

deny contains msg if {
	known_action
	not valid_risk(spec.risk)
	msg := sprintf("policy data error: action %s has no valid risk (got %s)", [action, got(spec, "risk")])
}

# A parameter is required unless the data marks it optional or gives a default.
required(ps) if {
	not ps.optional == true
	not has_key(ps, "default")
}

present(p) if {
	v := params[p]
	v != null
}

null_ok(ps, v) if {
	v == null
	not required(ps)
}

type_ok(t, v) if {
	t == "integer"
	is_number(v)
	floor(v) == v
}

type_ok(t, _) if t == "any"

type_ok(t, v) if {
	is_string(t)
	not t in {"integer", "any"}
	type_name(v) == t
}

# ---------------------------------------------------------------------------
# Deny: out-of-bounds targets
# ---------------------------------------------------------------------------

# The same shapes as the catalog's schemas for DNS names (crates/aiops-core/catalog/actions.json;
# a test in crates/aiops-policy/tests keeps the two in step). A host name is lower-case
# RFC 1123 labels.
host_name_pattern := `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`

# Owner names of service records may also have labels that start with an underscore
# (`_dmarc`, `_acme-challenge`, `_sip._tcp`; DNS-01 challenges live there), except the last.
underscore_name_pattern := `^((_[a-z0-9]([a-z0-9-]{0,60}[a-z0-9])?|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`

# The record types whose names may have underscore labels (the catalog's rule).
underscore_label_types := {"CNAME", "SRV", "TXT"}

# Underscore labels are valid when the request names record types and all of them allow
# them; without a record type (A records of dns.create_a_record) names are host names.
underscore_names_allowed if {
	count(record_types) > 0
	every t in record_types {
		t in underscore_label_types
	}
}

deny contains msg if {
	some n in dns_names
	not valid_dns_name(n)
	not underscore_shaped(n)
	msg := sprintf("%s is not a valid DNS name", [json.marshal(n)])
}

deny contains msg if {
	some n in dns_names
	not valid_dns_name(n)
	underscore_shaped(n)
	msg := sprintf("%s is not a valid DNS name for this record type: only %s records may have underscore labels", [json.marshal(n), concat(", ", sort(underscore_label_types))])
}

deny contains msg if {
	some n in dns_names
	valid_dns_name(n)
	count(zones_of(n)) == 0
	msg := sprintf("dns name %s is outside the managed zones [%s]", [n, zone_list])
}

deny contains msg if {
	spec.protect_zone_apex == true
	some n in dns_names
	has_key(zones, n)
	msg := sprintf("dns name %s is the apex of the managed zone %s; %s may not be applied to a zone apex", [n, n, action])
}

deny contains msg if {
	some ns in namespace_values
	ns in denied_namespaces
	msg := sprintf("namespace %s is on the deny list", [ns])
}

deny contains msg if {
	some pb in playbook_values
	not is_object(playbooks[pb])
	msg := sprintf("playbook %s is not in the allow-list [%s]", [pb, playbook_list])
}

# A host limit narrows a run; one that still selects every host is a bulk run in disguise.
# Ansible reads a pattern as elements separated by `,` or `:`, each optionally prefixed with
# `!` (exclude) or `&` (intersect): `all:!none`, `*:!none`, `all:&all` and `localhost,all`
# all contain an element that matches every host. Any such element is refused, wherever it
# stands (an excluded `!all` is no use either), and so is every element whose wildcard has
# no literal prefix (`*`, `*.local`, `-*`) or that is a regular expression (`~…`); a
# wildcard after a literal prefix (`web*`) narrows and is kept.
deny contains msg if {
	some l in host_patterns
	some e in host_pattern_elements(l)
	bulk_host_element(e)
	msg := sprintf("limit %s selects every host (element %s): name the hosts or groups to run on", [json.marshal(l), json.marshal(e)])
}

host_pattern_elements(l) := {trim_left(e, "!&") | some e in regex.split(`[,:]`, l)}

# Ansible's pattern grammar, conservatively (the catalog's schema says the same): elements
# separated by `,` or `:`, each a host, group or wildcard, optionally prefixed with one `!`
# or `&`. Anything else (`web01&&reboot`, `web01,`, `-e`, `@file`) is not a host pattern.
host_element_pattern := `^[!&]?[A-Za-z0-9_.*][A-Za-z0-9_.*-]*$`

deny contains msg if {
	some l in host_patterns
	some e in regex.split(`[,:]`, l)
	not regex.match(host_element_pattern, e)
	msg := sprintf("limit %s is not a host pattern (element %s): hosts, groups or wildcards separated by , or :, each optionally prefixed with ! or &", [json.marshal(l), json.marshal(e)])
}

bulk_host_element(e) if lower(e) == "all"

bulk_host_element(e) if regex.match(`^[^A-Za-z0-9]*[*?\[]`, e)

bulk_host_element(e) if startswith(e, "~")

# The address of an A record: one dotted-quad IPv4 address (no leading zeros, hex, octal,
# short forms or prefix lengths; the catalog's `ipv4` format says the same), outside the
# ranges the data refuses.
ipv4_pattern := `^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}$`

deny contains msg if {
	some a in record_addresses
	not regex.match(ipv4_pattern, a)
	msg := sprintf("%s is not an IPv4 address in dotted-quad form", [json.marshal(a)])
}

deny contains msg if {
	some a in record_addresses
	regex.match(ipv4_pattern, a)
	some cidr, why in obj(obj(cfg, "dns"), "denied_address_ranges")
	net.cidr_contains(cidr, a)
	msg := sprintf("an A record may not point at %s: it is in %s (%s)", [a, cidr, why])
}

valid_dns_name(n) if {
	count(n) <= 253
	regex.match(host_name_pattern, n)
}

valid_dns_name(n) if {
	underscore_names_allowed
	underscore_shaped(n)
}

underscore_shaped(n) if {
	count(n) <= 253
	regex.match(underscore_name_pattern, n)
}

in_zone(n, z) if n == z

in_zone(n, z) if endswith(n, concat("", [".", z]))

zones_of(n) := {z | some z, _ in zones; in_zone(n, z)}

# The most specific managed zone containing n.
zone_of(n) := z if {
	candidates := zones_of(n)
	some z in candidates
	every o in candidates {
		count(o) <= count(z)
	}
}

# ---------------------------------------------------------------------------
# Targets and production
# ---------------------------------------------------------------------------

param_targets contains {"kind": "dns zone", "name": z, "production": is_production(zones, z)} if {
	some n in dns_names
	z := zone_of(n)
}

param_targets contains {"kind": "namespace", "name": ns, "production": is_production(namespaces, ns)} if {
	some ns in namespace_values
}

param_targets contains {"kind": "playbook", "name": pb, "production": is_production(playbooks, pb)} if {
	some pb in playbook_values
}

# An action with no target in its parameters is its own target.
default targets := set()

targets := param_targets if count(param_targets) > 0

targets := {t} if {
	count(param_targets) == 0
	known_action
	t := {"kind": "action", "name": action, "production": is_production(actions, action)}
}

# Only an explicit `"production": false` makes something non-production.
is_production(coll, k) := false if {
	coll[k].production == false
} else := true

# Fail closed: production unless there are targets and none is production.
default production := true

production := false if {
	count(targets) > 0
	every t in targets {
		t.production == false
	}
}

targets_text := concat("; ", sort([describe(t) | some t in targets]))

describe(t) := sprintf("%s %s [production]", [t.kind, t.name]) if {
	t.production
} else := sprintf("%s %s [non-production]", [t.kind, t.name])

# Informational notes appended to allow/approval reasons.
notes contains msg if {
	some t in targets
	t.kind == "namespace"
	not is_object(namespaces[t.name])
	msg := sprintf("namespace %s is not listed in the policy data and is treated as production", [t.name])
}

notes contains msg if {
	is_string(spec.risk)
	valid_risk(spec.risk)
	valid_risk(inp.risk)
	risk_rank[spec.risk] > risk_rank[inp.risk]
	msg := sprintf("the policy data classifies %s as %s (the request said %s)", [action, spec.risk, inp.risk])
}

# ---------------------------------------------------------------------------
# Approvals
# ---------------------------------------------------------------------------

base_approvals_required := n if {
	eff_rank >= 2
	production
	n := positive_int(approvals.destructive_production)
} else := n if {
	n := positive_int(approvals["default"])
} else := 1

# A namespace may ask for more approvers than the defaults (data: namespaces[ns].approvals);
# the largest number asked for by any target wins.
namespace_approvals contains n if {
	some t in param_targets
	t.kind == "namespace"
	n := positive_int(object.get(obj(namespaces, t.name), "approvals", 0))
}

approvals_required := max(namespace_approvals | {base_approvals_required})

positive_int(x) := x if {
	is_number(x)
	floor(x) == x
	x >= 1
}

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

# o[k] when it is an object, else {}.
obj(o, k) := v if {
	v := o[k]
	is_object(v)
} else := {}

# o[k] when it is an array, else [].
arr(o, k) := v if {
	v := o[k]
	is_array(v)
} else := []

has_key(o, k) if {
	_ = o[k]
}

# A JSON rendering of o[k] for messages, or "nothing" when it is absent.
got(o, k) := s if {
	v := o[k]
	s := json.marshal(v)
} else := "nothing"
