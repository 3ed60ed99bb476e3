# Unit tests for policies/aiops.rego against the shipped data (policies/data.json).
# Run by `cargo test -p aiops-policy` (crates/aiops-policy/tests/rego_tests.rs), which
# evaluates every `test_*` rule here and fails on any that is not `true`.
# Also runnable with `opa test policies/`.
package aiops_test

base := {
	"action": "dns.create_a_record",
	"risk": "change",
	"params": {"name": "test.local", "ip": "192.168.1.100", "ttl": 3600},
	"dry_run": false,
	"stage": "decide",
	"caller": {"user": "anonymous", "roles": []},
	"parser": "rules",
	"confidence": 0.95,
}

# object.union merges recursively, so drop the fields being replaced first.
req(action, risk, params) := object.union(
	object.remove(base, ["action", "risk", "params"]),
	{"action": action, "risk": risk, "params": params},
)

dry(r) := object.union(r, {"dry_run": true})

decide(i) := d if {
	d := data.aiops.decision with input as i
}

allowed(i) if decide(i).outcome == "allow"

denied(i) if decide(i).outcome == "deny"

needs_approval(i) if decide(i).outcome == "require_approval"

# reason_has(i, s): some reason of the decision for input i contains s.
reason_has(i, s) if {
	some r in decide(i).reasons
	contains(r, s)
}

well_formed(d) if {
	d.outcome in {"allow", "deny", "require_approval"}
	is_array(d.reasons)
	count(d.reasons) > 0
	every r in d.reasons {
		is_string(r)
	}
	d.approvals_required >= 0
}

# --- read ------------------------------------------------------------------

test_read_lookup_allowed if {
	i := req("dns.lookup", "read", {"name": "test.local", "type": "A"})
	allowed(i)
	decide(i).approvals_required == 0
	reason_has(i, "read action")
}

test_read_lookup_outside_zones_allowed if {
	allowed(req("dns.lookup", "read", {"name": "www.example.org", "type": "A"}))
}

test_read_list_pods_production_namespace_allowed if {
	allowed(req("k8s.list_pods", "read", {"namespace": "production"}))
}

test_read_list_pods_denied_namespace_denied if {
	i := req("k8s.list_pods", "read", {"namespace": "kube-system"})
	denied(i)
	reason_has(i, "namespace kube-system is on the deny list")
}

test_read_ops_ask_allowed if {
	allowed(req("ops.ask", "read", {"question": "how do I rotate the TSIG key?"}))
}

# --- change ----------------------------------------------------------------

test_change_in_local_zone_allowed if {
	i := base
	allowed(i)
	decide(i).approvals_required == 0
	reason_has(i, "dns zone local [non-production]")
}

test_change_in_corp_zone_requires_approval if {
	i := req("dns.create_a_record", "change", {"name": "app.corp.example.com", "ip": "10.0.0.5", "ttl": 300})
	needs_approval(i)
	decide(i).approvals_required == 1
	reason_has(i, "dns zone corp.example.com [production]")
}

test_change_uses_most_specific_zone if {
	allowed(req("dns.create_a_record", "change", {"name": "a.b.local", "ip": "10.0.0.5", "ttl": 300}))
}

test_change_name_case_and_trailing_dot_normalised if {
	allowed(req("dns.create_a_record", "change", {"name": "Test.Local.", "ip": "10.0.0.5", "ttl": 300}))
}

test_change_nonproduction_namespace_allowed if {
	allowed(req("k8s.scale_deployment", "change", {"namespace": "default", "name": "web", "replicas": 3}))
}

test_change_production_namespace_requires_approval if {
	needs_approval(req("k8s.restart_deployment", "change", {"namespace": "production", "name": "web"}))
}

test_change_unknown_namespace_requires_approval if {
	i := req("k8s.scale_deployment", "change", {"namespace": "mystery", "name": "web", "replicas": 2})
	needs_approval(i)
	reason_has(i, "namespace mystery is not listed in the policy data and is treated as production")
}

test_change_namespace_default_used_when_missing if {
	allowed(req("k8s.restart_deployment", "change", {"name": "web"}))
}

test_expose_service_production_hostname_requires_approval if {
	needs_approval(req("k8s.expose_service", "change", {"namespace": "default", "service": "web", "hostname": "web.corp.example.com", "port": 80}))
}

test_expose_service_nonproduction_allowed if {
	allowed(req("k8s.expose_service", "change", {"namespace": "dev", "service": "web", "hostname": "web.local", "port": 8080}))
}

test_expose_service_hostname_outside_zones_denied if {
	i := req("k8s.expose_service", "change", {"namespace": "default", "service": "web", "hostname": "web.evil.com", "port": 80})
	denied(i)
	reason_has(i, "dns name web.evil.com is outside the managed zones [corp.example.com, local]")
}

test_change_risk_raised_by_data if {
	# The data says dns.delete_record is destructive; a request claiming "change" is not believed.
	i := req("dns.delete_record", "change", {"name": "old.local", "type": "A"})
	needs_approval(i)
	reason_has(i, "classifies dns.delete_record as destructive")
}

# --- destructive -----------------------------------------------------------

test_destructive_requires_approval_even_nonproduction if {
	i := req("dns.delete_record", "destructive", {"name": "old.local", "type": "A"})
	needs_approval(i)
	decide(i).approvals_required == 1
	reason_has(i, "is destructive")
}

test_destructive_pod_delete_requires_approval if {
	needs_approval(req("k8s.delete_pod", "destructive", {"namespace": "default", "name": "web-1"}))
}

test_destructive_production_approvals_configurable if {
	i := req("k8s.delete_pod", "destructive", {"namespace": "production", "name": "web-1"})
	d := data.aiops.decision with input as i with data.aiops.config.approvals.destructive_production as 2
	d.outcome == "require_approval"
	d.approvals_required == 2
	d2 := data.aiops.decision with input as req("k8s.delete_pod", "destructive", {"namespace": "dev", "name": "web-1"}) with data.aiops.config.approvals.destructive_production as 2
	d2.approvals_required == 1
}

# --- ansible ---------------------------------------------------------------

test_playbook_production_requires_approval if {
	needs_approval(req("ansible.run_playbook", "change", {"playbook": "patch-hosts"}))
}

test_playbook_nonproduction_allowed if {
	allowed(req("ansible.run_playbook", "change", {"playbook": "ping", "limit": "web*"}))
}

test_playbook_optional_limit_null_accepted if {
	allowed(req("ansible.run_playbook", "change", {"playbook": "ping", "limit": null}))
}

test_playbook_without_production_flag_requires_approval if {
	i := req("ansible.run_playbook", "change", {"playbook": "new"})
	d := data.aiops.decision with input as i with data.aiops.config.ansible.playbooks as {"new": {}}
	d.outcome == "require_approval"
}

# The bulk guard on host limits: a pattern with an element that matches every host is
# refused however it is dressed up (issue 11: `all:!none`, `*:!none`, `all:&all` and
# `localhost,all` used to run).
bulk_limits := [
	"all", "ALL", "*", "**", "all:!none", "*:!none", "all:&all", "localhost,all",
	"web01:!all", "web01,*", "*.local", "-*", "web01:~.*", "web01,&all", "?eb01",
]

test_playbook_bulk_limits_denied if {
	every l in bulk_limits {
		i := req("ansible.run_playbook", "change", {"playbook": "ping", "limit": l})
		denied(i)
		reason_has(i, "selects every host")
	}
}

test_playbook_limits_outside_the_pattern_grammar_denied if {
	every l in ["web01&&reboot", "web01;reboot", "web01 reboot", "-e", "@hosts", "web01,", ":web01", "web[1:3]", "$(id)", "web01!x", "!!web01", ""] {
		i := req("ansible.run_playbook", "change", {"playbook": "ping", "limit": l})
		denied(i)
		reason_has(i, "is not a host pattern")
	}
}

test_playbook_narrow_limits_allowed if {
	every l in ["web01", "web01,web02", "webservers", "web*", "web*:&prod", "web01:!db1", "db-*.local", "allhosts", "small"] {
		allowed(req("ansible.run_playbook", "change", {"playbook": "ping", "limit": l}))
	}
}

test_unknown_playbook_denied if {
	i := req("ansible.run_playbook", "change", {"playbook": "evil"})
	denied(i)
	reason_has(i, "playbook evil is not in the allow-list")
}

# --- out of bounds ---------------------------------------------------------

test_out_of_zone_denied if {
	i := req("dns.create_a_record", "change", {"name": "evil.com", "ip": "1.2.3.4", "ttl": 60})
	denied(i)
	decide(i).reasons == ["dns name evil.com is outside the managed zones [corp.example.com, local]"]
}

test_zone_suffix_without_dot_denied if {
	# "evillocal" ends with "local" but is not inside the zone "local".
	denied(req("dns.create_a_record", "change", {"name": "evillocal", "ip": "1.2.3.4", "ttl": 60}))
}

test_invalid_dns_name_denied if {
	i := req("dns.create_a_record", "change", {"name": "bad name.local", "ip": "1.2.3.4", "ttl": 60})
	denied(i)
	reason_has(i, "is not a valid DNS name")
	denied(req("dns.create_a_record", "change", {"name": "*.local", "ip": "1.2.3.4", "ttl": 60}))
	denied(req("dns.create_a_record", "change", {"name": "", "ip": "1.2.3.4", "ttl": 60}))
}

test_dns_name_with_empty_labels_denied if {
	# One trailing dot is the FQDN form; two are an empty label, never the same name.
	every n in ["k1.local..", "k1..local", ".local", "k1.local..."] {
		i := req("dns.create_a_record", "change", {"name": n, "ip": "10.0.0.5", "ttl": 300})
		denied(i)
		reason_has(i, "is not a valid DNS name")
	}
}

# --- A record addresses ----------------------------------------------------

test_a_record_reserved_addresses_denied if {
	every ip in [
		"0.0.0.0", "0.1.2.3", "255.255.255.255", "169.254.169.254", "169.254.0.1",
		"224.0.0.1", "239.255.255.250", "240.0.0.1", "127.0.0.1", "127.1.2.3",
	] {
		i := req("dns.create_a_record", "change", {"name": "x.local", "ip": ip, "ttl": 300})
		denied(i)
		reason_has(i, "an A record may not point at")
	}
}

test_a_record_odd_address_forms_denied if {
	every ip in ["0x7f.1", "010.1.1.1", "192.168.1.0/24", "1.2.3", "::ffff:10.0.0.1", "2130706433", "256.1.1.1", "10.0.0.1:80", " 10.0.0.1", ""] {
		i := req("dns.create_a_record", "change", {"name": "x.local", "ip": ip, "ttl": 300})
		denied(i)
		reason_has(i, "is not an IPv4 address in dotted-quad form")
	}
}

test_a_record_ordinary_addresses_allowed if {
	every ip in ["10.0.0.5", "192.168.1.100", "172.16.0.1", "100.64.0.1", "1.1.1.1", "169.253.255.255", "223.255.255.255", "126.255.255.255", "128.0.0.1"] {
		allowed(req("dns.create_a_record", "change", {"name": "x.local", "ip": ip, "ttl": 300}))
	}
}

test_a_record_address_ranges_come_from_the_data if {
	i := req("dns.create_a_record", "change", {"name": "x.local", "ip": "127.0.0.1", "ttl": 300})
	d := data.aiops.decision with input as i with data.aiops.config.dns.denied_address_ranges as {}
	d.outcome == "allow"
}

# --- underscore labels (_dmarc, _acme-challenge, _sip._tcp): TXT, SRV and CNAME only ---

underscore_names := [
	"_dmarc.corp.example.com",
	"_acme-challenge.www.corp.example.com",
	"_sip._tcp.local",
	"selector1._domainkey.local",
]

test_underscore_names_valid_for_txt_srv_cname_deletes if {
	every n in underscore_names {
		every t in ["TXT", "SRV", "CNAME"] {
			needs_approval(req("dns.delete_record", "destructive", {"name": n, "type": t}))
		}
	}
	# Lower-cased and without the trailing dot first, like every DNS name.
	needs_approval(req("dns.delete_record", "destructive", {"name": "_DMARC.Corp.Example.com.", "type": "TXT"}))
}

test_underscore_names_refused_for_other_types if {
	every n in underscore_names {
		every t in ["A", "AAAA"] {
			i := req("dns.delete_record", "destructive", {"name": n, "type": t})
			denied(i)
			reason_has(i, "only CNAME, SRV, TXT records may have underscore labels")
		}
	}
	# No type means the default, A.
	denied(req("dns.delete_record", "destructive", {"name": "_dmarc.corp.example.com"}))
}

test_underscore_names_refused_for_a_records if {
	i := req("dns.create_a_record", "change", {"name": "_acme-challenge.local", "ip": "10.0.0.1", "ttl": 60})
	denied(i)
	reason_has(i, "is not a valid DNS name for this record type")
	denied(req("dns.create_a_record", "change", {"name": "www._x.local", "ip": "10.0.0.1", "ttl": 60}))
	denied(req("k8s.expose_service", "change", {"namespace": "shop", "service": "web", "hostname": "_web.local", "port": 80}))
}

test_underscore_only_opens_a_label if {
	every n in ["_.local", "__x.local", "_-x.local", "_x-.local", "a_b.local", "x_.local", "host._local", "_x..local"] {
		i := req("dns.delete_record", "destructive", {"name": n, "type": "TXT"})
		denied(i)
		reason_has(i, "is not a valid DNS name")
	}
	# A label is at most 63 characters, the underscore included.
	needs_approval(req("dns.delete_record", "destructive", {"name": "_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.local", "type": "TXT"}))
	denied(req("dns.delete_record", "destructive", {"name": "_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.local", "type": "TXT"}))
}

test_underscore_names_need_the_record_type_role if {
	# Without a parameter that says the record type, names are host names (fail closed).
	i := req("dns.delete_record", "destructive", {"name": "_dmarc.local", "type": "TXT"})
	d := data.aiops.decision with input as i
		with data.aiops.config.actions["dns.delete_record"].params.type as {"type": "string", "enum": ["TXT"], "default": "TXT"}
	d.outcome == "deny"
}

test_apex_delete_denied if {
	i := req("dns.delete_record", "destructive", {"name": "corp.example.com", "type": "A"})
	denied(i)
	reason_has(i, "apex of the managed zone corp.example.com")
}

test_apex_create_not_apex_protected if {
	# Only actions marked protect_zone_apex refuse the apex.
	allowed(req("dns.create_a_record", "change", {"name": "local", "ip": "10.0.0.1", "ttl": 60}))
}

test_kube_system_denied if {
	i := req("k8s.delete_pod", "destructive", {"namespace": "kube-system", "name": "coredns-1"})
	denied(i)
	reason_has(i, "namespace kube-system is on the deny list")
}

test_kube_public_denied if {
	denied(req("k8s.scale_deployment", "change", {"namespace": "kube-public", "name": "x", "replicas": 1}))
}

test_replicas_101_denied if {
	i := req("k8s.scale_deployment", "change", {"namespace": "default", "name": "web", "replicas": 101})
	denied(i)
	reason_has(i, "parameter replicas of k8s.scale_deployment is 101, above the maximum 100")
}

test_replicas_100_allowed if {
	allowed(req("k8s.scale_deployment", "change", {"namespace": "default", "name": "web", "replicas": 100}))
}

test_replicas_negative_denied if {
	i := req("k8s.scale_deployment", "change", {"namespace": "default", "name": "web", "replicas": -1})
	denied(i)
	reason_has(i, "below the minimum 0")
}

test_replicas_fraction_denied if {
	i := req("k8s.scale_deployment", "change", {"namespace": "default", "name": "web", "replicas": 2.5})
	denied(i)
	reason_has(i, "must be of type integer")
}

test_replicas_max_from_data if {
	i := req("k8s.scale_deployment", "change", {"namespace": "default", "name": "web", "replicas": 20})
	d := data.aiops.decision with input as i with data.aiops.config.actions["k8s.scale_deployment"].params.replicas.max as 10
	d.outcome == "deny"
}

test_unknown_action_denied if {
	i := req("shell.exec", "read", {"cmd": "rm -rf /"})
	denied(i)
	reason_has(i, "action shell.exec is not in the policy's action catalog")
}

test_unknown_parameter_denied if {
	i := req("dns.lookup", "read", {"name": "test.local", "type": "A", "extra": 1})
	denied(i)
	reason_has(i, "parameter extra is not accepted by action dns.lookup")
}

test_enum_violation_denied if {
	i := req("dns.lookup", "read", {"name": "test.local", "type": "ANY"})
	denied(i)
	reason_has(i, "must be one of")
	denied(req("dns.lookup", "read", {"name": "test.local", "type": "mx"}))
	denied(req("dns.delete_record", "destructive", {"name": "x.local", "type": "MX"}))
}

test_every_lookup_type_allowed if {
	every t in ["A", "AAAA", "CNAME", "TXT", "MX", "NS", "SOA", "SRV", "PTR", "CAA"] {
		allowed(req("dns.lookup", "read", {"name": "corp.example.com", "type": t}))
	}
}

test_every_delete_type_needs_approval if {
	every t in ["A", "AAAA", "CNAME", "TXT", "SRV"] {
		needs_approval(req("dns.delete_record", "destructive", {"name": "x.local", "type": t}))
	}
}

test_deny_wins_over_read if {
	denied(req("k8s.list_pods", "read", {"namespace": "kube-node-lease"}))
}

test_all_deny_reasons_reported if {
	i := req("k8s.scale_deployment", "change", {"namespace": "kube-system", "name": "x", "replicas": 500})
	d := decide(i)
	d.outcome == "deny"
	count(d.reasons) == 2
}

# --- dry run ---------------------------------------------------------------

test_dry_run_allowed if {
	i := dry(req("dns.create_a_record", "change", {"name": "app.corp.example.com", "ip": "10.0.0.5", "ttl": 300}))
	allowed(i)
	reason_has(i, "dry run")
	reason_has(i, "subject to approval")
}

test_dry_run_destructive_allowed if {
	allowed(dry(req("k8s.delete_pod", "destructive", {"namespace": "production", "name": "web-1"})))
}

test_dry_run_of_denied_still_denied if {
	i := dry(req("dns.create_a_record", "change", {"name": "evil.com", "ip": "1.2.3.4", "ttl": 60}))
	denied(i)
	not reason_has(i, "dry run")
}

test_dry_run_unknown_action_denied if {
	denied(dry(req("shell.exec", "read", {})))
}

# --- malformed input -------------------------------------------------------

test_malformed_missing_params_denied if {
	i := object.remove(base, ["params"])
	denied(i)
	reason_has(i, "input.params must be an object (got nothing)")
}

test_malformed_missing_required_param_denied if {
	i := req("dns.create_a_record", "change", {"name": "test.local"})
	denied(i)
	reason_has(i, "action dns.create_a_record requires parameter ip")
}

test_malformed_wrong_param_type_denied if {
	i := req("dns.create_a_record", "change", {"name": "test.local", "ip": "10.0.0.1", "ttl": "3600"})
	denied(i)
	reason_has(i, "parameter ttl of dns.create_a_record must be of type integer")
}

test_malformed_name_not_string_denied if {
	i := req("dns.create_a_record", "change", {"name": 42, "ip": "10.0.0.1", "ttl": 60})
	denied(i)
	reason_has(i, "parameter name of dns.create_a_record must be of type string")
}

test_malformed_params_not_object_denied if {
	denied(req("dns.lookup", "read", ["test.local"]))
}

test_malformed_missing_action_denied if {
	i := object.remove(base, ["action"])
	denied(i)
	reason_has(i, "input.action must be a non-empty string")
}

test_malformed_action_not_string_denied if {
	denied(object.union(base, {"action": 7}))
}

test_malformed_bad_risk_denied if {
	i := object.union(base, {"risk": "harmless"})
	denied(i)
	reason_has(i, "input.risk must be one of read, change, destructive")
}

test_malformed_dry_run_not_boolean_denied if {
	denied(object.union(base, {"dry_run": "yes"}))
}

test_malformed_bad_stage_denied if {
	denied(object.union(base, {"stage": "later"}))
}

test_malformed_bad_caller_denied if {
	denied(object.union(base, {"caller": {"user": "x", "roles": "admin"}}))
}

test_malformed_input_not_object_denied if {
	d := data.aiops.decision with input as "dns.create_a_record"
	d.outcome == "deny"
	d.reasons == ["input must be a JSON object"]
}

test_malformed_empty_input_denied if {
	denied({})
}

# --- totality and configuration ---------------------------------------------

test_decisions_are_well_formed if {
	inputs := [
		base,
		dry(base),
		req("k8s.delete_pod", "destructive", {"namespace": "production", "name": "x"}),
		req("nope", "read", {}),
		{},
		[],
	]
	every i in inputs {
		well_formed(decide(i))
	}
}

test_execute_stage_same_rules if {
	i := object.union(req("dns.delete_record", "destructive", {"name": "old.local", "type": "A"}), {"stage": "execute"})
	needs_approval(i)
}

test_missing_config_fails_closed if {
	d := data.aiops.decision with input as base with data.aiops.config as {}
	d.outcome == "deny"
}

test_action_without_target_params_uses_action_flag if {
	# An action with no target parameters is production unless the data says otherwise.
	cfg := {"actions": {"x.change": {"risk": "change", "params": {}}}}
	d := data.aiops.decision with input as req("x.change", "change", {}) with data.aiops.config as cfg
	d.outcome == "require_approval"
	cfg2 := {"actions": {"x.change": {"risk": "change", "production": false, "params": {}}}}
	d2 := data.aiops.decision with input as req("x.change", "change", {}) with data.aiops.config as cfg2
	d2.outcome == "allow"
}

test_zone_without_production_flag_is_production if {
	i := req("dns.create_a_record", "change", {"name": "a.new.zone", "ip": "10.0.0.1", "ttl": 60})
	d := data.aiops.decision with input as i with data.aiops.config.dns.zones as {"new.zone": {}}
	d.outcome == "require_approval"
}

test_data_error_unknown_role_denied if {
	# A typo in a role must not silently skip the zone check.
	i := req("dns.create_a_record", "change", {"name": "evil.com", "ip": "1.2.3.4", "ttl": 60})
	d := data.aiops.decision with input as i with data.aiops.config.actions["dns.create_a_record"].params.name.role as "dns-name"
	d.outcome == "deny"
	some r in d.reasons
	contains(r, "unknown role")
}

test_data_error_bad_action_risk_denied if {
	i := req("dns.lookup", "read", {"name": "a.local"})
	d := data.aiops.decision with input as i with data.aiops.config.actions["dns.lookup"].risk as "harmless"
	d.outcome == "deny"
}

test_role_param_without_type_must_be_string if {
	i := req("dns.create_a_record", "change", {"name": 42, "ip": "1.2.3.4", "ttl": 60})
	d := data.aiops.decision with input as i with data.aiops.config.actions["dns.create_a_record"].params.name as {"role": "dns_name"}
	d.outcome == "deny"
	d.reasons == ["parameter name of dns.create_a_record must be a string (got 42)"]
}

test_namespace_can_ask_for_more_approvers if {
	d := decide(req("k8s.scale_deployment", "change", {"namespace": "payments", "name": "api", "replicas": 3}))
	d.outcome == "require_approval"
	d.approvals_required == 2
}

test_namespace_approvals_never_lower_the_default if {
	i := req("k8s.delete_pod", "destructive", {"namespace": "payments", "name": "api-1"})
	d := data.aiops.decision with input as i
		with data.aiops.config.kubernetes.namespaces.payments as {"production": true, "approvals": 1}
		with data.aiops.config.approvals.destructive_production as 3
	d.approvals_required == 3
}

# --- Model-parsed requests ---------------------------------------------------------------

llm(r) := object.union(object.remove(r, ["parser", "confidence"]), {"parser": "llm", "confidence": 0.8})

test_a_model_parsed_change_in_a_lab_zone_waits_for_a_human if {
	d := decide(llm(base))
	d.outcome == "require_approval"
	d.approvals_required >= 1
	contains(d.reasons[0], "language model")
}

test_the_same_change_read_by_rules_runs if {
	decide(base).outcome == "allow"
}

test_a_model_parsed_read_is_allowed if {
	i := llm(req("dns.lookup", "read", {"name": "test.local", "type": "A"}))
	decide(i).outcome == "allow"
}

test_a_missing_parser_is_treated_as_model_parsed if {
	decide(object.remove(base, ["parser"])).outcome == "require_approval"
}

test_an_unknown_parser_is_denied if {
	i := object.union(object.remove(base, ["parser"]), {"parser": "oracle"})
	decide(i).outcome == "deny"
	reason_has(i, "input.parser must be rules, llm, rollback or mcp")
}

test_a_model_parsed_dry_run_is_allowed_and_says_a_real_run_waits if {
	d := decide(dry(llm(base)))
	d.outcome == "allow"
	contains(d.reasons[0], "subject to approval")
}

# --- Rollbacks ------------------------------------------------------------------------------

rollback(r) := object.union(object.remove(r, ["parser", "confidence"]), {"parser": "rollback", "confidence": 1})

test_a_rollback_is_not_model_parsed_so_a_lab_change_runs if {
	decide(rollback(base)).outcome == "allow"
}

test_a_destructive_rollback_waits_for_a_human_like_any_other if {
	i := rollback(req("dns.delete_record", "destructive", {"name": "test.local", "type": "A"}))
	decide(i).outcome == "require_approval"
	reason_has(i, "is destructive")
}

test_unexposing_a_service_is_destructive if {
	i := rollback(req("k8s.unexpose_service", "destructive", {"namespace": "dev", "service": "web", "hostname": "web.local"}))
	decide(i).outcome == "require_approval"
}

# --- MCP tool calls -----------------------------------------------------------------------

mcp(r) := object.union(object.remove(r, ["parser", "confidence"]), {"parser": "mcp", "confidence": 1})

test_an_mcp_call_is_typed_so_a_lab_change_runs if {
	decide(mcp(base)).outcome == "allow"
}

test_a_destructive_mcp_call_waits_for_a_human if {
	needs_approval(mcp(req("dns.delete_record", "destructive", {"name": "test.local", "type": "A"})))
}
