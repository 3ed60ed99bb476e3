package aiops_access_test

import rego.v1

import data.aiops

caller(user, roles) := {"user": user, "roles": roles, "auth": "bearer"}

anonymous := {"user": "anonymous", "roles": [], "auth": "anonymous"}

allowed(c, op) if {
	d := aiops.access_decision with input as {"caller": c, "operation": op}
	d.allowed
}

refused(c, op) := d.reasons if {
	d := aiops.access_decision with input as {"caller": c, "operation": op}
	not d.allowed
}

# The shipped defaults (data.json), role by role.

test_viewer_reads_and_asks_but_changes_nothing if {
	v := caller("vic", ["viewer"])
	every op in ["catalog.read", "intents.parse", "intents.read", "intents.submit", "intents.submit.read", "approvals.read", "audit.read"] {
		allowed(v, op)
	}
	every op in ["intents.submit.change", "intents.submit.destructive", "approvals.decide", "quarantine.read", "documents.ingest"] {
		refused(v, op)
	}
}

test_operator_submits_changes_but_does_not_approve if {
	o := caller("alice", ["operator"])
	allowed(o, "intents.submit.change")
	allowed(o, "intents.submit.destructive")
	refused(o, "approvals.decide") == ["approvals.decide needs one of the roles [\"admin\", \"approver\"]; alice has [\"operator\"]"]
	refused(o, "documents.ingest")
}

test_approver_decides_and_reads_the_quarantine_but_submits_no_change if {
	a := caller("bob", ["approver"])
	allowed(a, "approvals.decide")
	allowed(a, "quarantine.read")
	refused(a, "intents.submit.change")
}

test_admin_may_do_everything if {
	r := caller("root", ["admin"])
	every op, _ in data.aiops.config.access.roles {
		allowed(r, op)
	}
}

test_anonymous_reads_only_what_is_listed if {
	allowed(anonymous, "intents.submit.read")
	allowed(anonymous, "catalog.read")
	refused(anonymous, "intents.submit.change") == ["intents.submit.change needs an authenticated caller"]
	refused(anonymous, "approvals.read")
	refused(anonymous, "quarantine.read")
	refused(anonymous, "documents.ingest")
}

test_anonymous_roles_do_not_count if {
	refused({"user": "anonymous", "roles": ["admin"], "auth": "anonymous"}, "documents.ingest")
	refused({"user": "", "roles": ["admin"]}, "approvals.decide")
}

test_unknown_operation_is_refused if {
	refused(caller("root", ["admin"]), "store.wipe") == ["no role may run store.wipe"]
	refused(caller("root", ["admin"]), 42)
}

test_malformed_roles_fail_closed if {
	refused({"user": "root", "roles": "admin"}, "documents.ingest")
}

test_roles_come_from_data if {
	d := aiops.access_decision with input as {"caller": caller("eve", ["auditor"]), "operation": "audit.read"}
		with data.aiops.config.access as {"roles": {"audit.read": ["auditor"]}}
	d.allowed
}
