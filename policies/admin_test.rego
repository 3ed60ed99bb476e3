package aiops_test

import rego.v1

import data.aiops

admin_roles := {"documents.ingest": ["admin"]}

test_admin_may_ingest if {
	d := aiops.admin_decision with input as {"caller": {"user": "root", "roles": ["admin"]}, "operation": "documents.ingest"}
		with data.aiops.config.admin_roles as admin_roles
	d.allowed
}

test_operator_may_not_ingest if {
	d := aiops.admin_decision with input as {"caller": {"user": "alice", "roles": ["operator", "approver"]}, "operation": "documents.ingest"}
		with data.aiops.config.admin_roles as admin_roles
	not d.allowed
	count(d.reasons) == 1
}

test_anonymous_may_not_ingest_even_with_roles if {
	d := aiops.admin_decision with input as {"caller": {"user": "anonymous", "roles": ["admin"]}, "operation": "documents.ingest"}
		with data.aiops.config.admin_roles as admin_roles
	not d.allowed
}

test_unknown_operation_is_refused if {
	d := aiops.admin_decision with input as {"caller": {"user": "root", "roles": ["admin"]}, "operation": "store.wipe"}
		with data.aiops.config.admin_roles as admin_roles
	not d.allowed
}

test_malformed_roles_fail_closed if {
	d := aiops.admin_decision with input as {"caller": {"user": "root", "roles": "admin"}, "operation": "documents.ingest"}
		with data.aiops.config.admin_roles as admin_roles
	not d.allowed
}
