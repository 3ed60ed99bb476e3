package aiops_approvals_test

import rego.v1

import data.aiops

ok_input := {
	"approver": {"user": "bob", "roles": ["approver", "netops"]},
	"requester": "alice",
	"action": "dns.delete_record",
	"risk": "destructive",
	"params": {"name": "x.local", "type": "A"},
}

test_approver_with_role_may_approve if {
	aiops.approver_decision.allowed with input as ok_input
}

test_requester_may_not_approve_own_request if {
	d := aiops.approver_decision with input as object.union(ok_input, {"requester": "bob"})
	not d.allowed
	"the requester may not approve their own request" in d.reasons
}

test_anonymous_may_not_approve if {
	d := aiops.approver_decision with input as object.union(ok_input, {"approver": {"user": "anonymous", "roles": ["approver"]}})
	not d.allowed
}

test_missing_user_counts_as_anonymous if {
	i := object.union(object.remove(ok_input, ["approver"]), {"approver": {"roles": ["approver"]}})
	d := aiops.approver_decision with input as i
	not d.allowed
	"anonymous callers may not approve" in d.reasons
}

test_role_is_required if {
	d := aiops.approver_decision with input as object.union(ok_input, {"approver": {"user": "carol", "roles": ["operator"]}})
	not d.allowed
}

test_roles_come_from_data if {
	d := aiops.approver_decision with input as ok_input
		with data.aiops.config.approvals.approver_roles as {"destructive": ["admin"]}
	not d.allowed
}

test_unknown_risk_is_refused if {
	d := aiops.approver_decision with input as object.union(ok_input, {"risk": "catastrophic"})
	not d.allowed
}

test_malformed_roles_are_refused if {
	d := aiops.approver_decision with input as object.union(ok_input, {"approver": {"user": "bob", "roles": "approver"}})
	not d.allowed
}

# Owner routing (data.json: every zone is owned by `netops`, the `payments` namespace by
# `payments-team`, other namespaces by `platform`).

test_an_approver_outside_the_owning_group_may_not_approve if {
	d := aiops.approver_decision with input as object.union(ok_input, {"approver": {"user": "carol", "roles": ["approver", "platform"]}})
	not d.allowed
	"dns zone local is owned by [\"netops\"]; carol is in none of those groups" in d.reasons
}

test_an_admin_approves_whatever_the_owner if {
	d := aiops.approver_decision with input as object.union(ok_input, {"approver": {"user": "root", "roles": ["admin"]}})
	d.allowed
}

test_the_namespace_owner_approves_a_scale if {
	i := {
		"approver": {"user": "pat", "roles": ["approver", "payments-team"]},
		"requester": "alice", "action": "k8s.scale_deployment", "risk": "change",
		"params": {"namespace": "payments", "name": "api", "replicas": 3},
	}
	aiops.approver_decision.allowed with input as i
	d := aiops.approver_decision with input as object.union(i, {"approver": {"user": "bob", "roles": ["approver", "netops", "platform"]}})
	not d.allowed
}

test_approval_owners_names_the_owning_groups if {
	aiops.approval_owners == ["netops"] with input as object.remove(ok_input, ["approver"])
	aiops.approval_owners == ["payments-team"] with input as {"action": "k8s.scale_deployment", "params": {"namespace": "payments", "name": "api", "replicas": 3}}
}

test_unowned_targets_need_no_group if {
	i := object.union(ok_input, {"approver": {"user": "bob", "roles": ["approver"]}})
	aiops.approver_decision.allowed with input as i with data.aiops.config.dns.zones as {"local": {"production": false}}
}
