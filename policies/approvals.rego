# Who may decide an approval. Evaluated as `data.aiops.approver_decision` when a human
# approves or rejects, whatever the channel (REST, CLI, Slack): the channel only says who
# the human is; this rule says whether they may decide.
#
# input:  {"approver":  {"user": "bob", "roles": ["approver"]},
#          "requester": "alice",
#          "action": "dns.delete_record", "risk": "destructive", "params": {...}}
# output: {"allowed": bool, "reasons": [string]}
#
# Data: data.aiops.config.approvals.approver_roles maps a risk class to the roles that may
# approve it. Fails closed: no matching role, anonymous, or self-approval → not allowed.
package aiops

import rego.v1

approver_roles_for(risk) := roles if {
	roles := data.aiops.config.approvals.approver_roles[risk]
	is_array(roles)
} else := []

approver_user := u if {
	u := input.approver.user
	is_string(u)
	u != ""
} else := "anonymous"

approver_role_set := {r | some r in input.approver.roles; is_string(r)} if {
	is_array(input.approver.roles)
} else := set()

approver_deny contains "anonymous callers may not approve" if {
	approver_user == "anonymous"
}

approver_deny contains "the requester may not approve their own request" if {
	approver_user == input.requester
}

approver_deny contains msg if {
	not is_string(input.risk)
	msg := "the approval names no risk class"
}

approver_deny contains msg if {
	is_string(input.risk)
	wanted := {r | some r in approver_roles_for(input.risk)}
	count(wanted & approver_role_set) == 0
	msg := sprintf("approving %s actions needs one of the roles %v; %s has %v", [input.risk, sort(wanted), approver_user, sort(approver_role_set)])
}

default approver_decision := {"allowed": false, "reasons": ["no rule allowed this approver; failing closed"]}

approver_decision := {"allowed": false, "reasons": sort(approver_deny)} if {
	count(approver_deny) > 0
} else := {"allowed": true, "reasons": [sprintf("%s holds a role that may approve %s actions", [approver_user, input.risk])]}
