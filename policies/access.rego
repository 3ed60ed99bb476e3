# Who may do what through the API: evaluated as `data.aiops.access_decision` on every
# authenticated route before its handler runs, and once more for a submitted intent when
# its risk class is known (`intents.submit.read|change|destructive`).
#
# input:  {"caller": {"user": "alice", "roles": ["operator"], "auth": "bearer"},
#          "operation": "intents.submit.change"}
# output: {"allowed": bool, "reasons": [string]}
#
# Data: data.aiops.config.access.roles maps an operation to the roles that may run it;
# data.aiops.config.access.anonymous lists the operations an anonymous caller may run when
# the daemon lets anonymous callers in at all (`auth.allow_anonymous = "read"`, loopback
# only). Fails closed: unknown operations, malformed callers and callers without a listed
# role are refused.
package aiops

import rego.v1

access_cfg := obj(cfg, "access")

access_roles_for(op) := roles if {
	roles := obj(access_cfg, "roles")[op]
	is_array(roles)
} else := []

anonymous_operations := {op | some op in arr(access_cfg, "anonymous"); is_string(op)}

access_user := u if {
	u := input.caller.user
	is_string(u)
	u != ""
} else := "anonymous"

access_anonymous if access_user == "anonymous"

access_anonymous if input.caller.auth == "anonymous"

access_role_set := {r | some r in input.caller.roles; is_string(r)} if {
	is_array(input.caller.roles)
} else := set()

access_operation := op if {
	op := input.operation
	is_string(op)
} else := "(none)"

access_known(op) if count(access_roles_for(op)) > 0

access_known(op) if op in anonymous_operations

access_deny contains msg if {
	not access_known(access_operation)
	msg := sprintf("no role may run %v", [access_operation])
}

access_deny contains msg if {
	access_anonymous
	access_known(access_operation)
	not access_operation in anonymous_operations
	msg := sprintf("%s needs an authenticated caller", [access_operation])
}

access_deny contains msg if {
	not access_anonymous
	access_known(access_operation)
	wanted := {r | some r in access_roles_for(access_operation)}
	count(wanted & access_role_set) == 0
	msg := sprintf("%s needs one of the roles %v; %s has %v", [access_operation, sort(wanted), access_user, sort(access_role_set)])
}

default access_decision := {"allowed": false, "reasons": ["no rule allowed this operation; failing closed"]}

access_decision := {"allowed": false, "reasons": sort(access_deny)} if {
	count(access_deny) > 0
} else := {"allowed": true, "reasons": [sprintf("%s may run %s", [access_user, access_operation])]}
