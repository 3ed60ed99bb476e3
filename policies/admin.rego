# Who may run an administrative operation of the appliance itself (not an infrastructure
# change): evaluated as `data.aiops.admin_decision` before the operation runs.
#
# input:  {"caller": {"user": "root", "roles": ["admin"]}, "operation": "documents.ingest"}
# output: {"allowed": bool, "reasons": [string]}
#
# Data: data.aiops.config.admin_roles maps an operation to the roles that may run it.
# Fails closed: anonymous callers, unknown operations and callers without a listed role are
# refused.
package aiops

import rego.v1

admin_roles_for(op) := roles if {
	roles := data.aiops.config.admin_roles[op]
	is_array(roles)
} else := []

admin_user := u if {
	u := input.caller.user
	is_string(u)
	u != ""
} else := "anonymous"

admin_role_set := {r | some r in input.caller.roles; is_string(r)} if {
	is_array(input.caller.roles)
} else := set()

admin_deny contains "anonymous callers may not run administrative operations" if {
	admin_user == "anonymous"
}

admin_deny contains msg if {
	wanted := {r | some r in admin_roles_for(input.operation)}
	count(wanted) == 0
	msg := sprintf("no role may run %v", [input.operation])
}

admin_deny contains msg if {
	wanted := {r | some r in admin_roles_for(input.operation)}
	count(wanted) > 0
	count(wanted & admin_role_set) == 0
	msg := sprintf("%s needs one of the roles %v; %s has %v", [input.operation, sort(wanted), admin_user, sort(admin_role_set)])
}

default admin_decision := {"allowed": false, "reasons": ["no rule allowed this operation; failing closed"]}

admin_decision := {"allowed": false, "reasons": sort(admin_deny)} if {
	count(admin_deny) > 0
} else := {"allowed": true, "reasons": [sprintf("%s holds a role that may run %s", [admin_user, input.operation])]}
