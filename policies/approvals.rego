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
# approve it. Owner routing: a DNS zone, namespace or playbook with an `owners` list (of
# groups, which users hold as roles) is approved only by a member of an owning group, or by
# an `admin`. Fails closed: no matching role, not an owner, anonymous, or self-approval →
# not allowed.
#
# `data.aiops.approval_owners` (same input; `approver` may be absent) lists the owning
# groups of the request's targets, for the approval message.
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

owner_collections := {"dns zone": zones, "namespace": namespaces, "playbook": playbooks}

owned_targets contains {"kind": t.kind, "name": t.name, "owners": owners} if {
	some t in param_targets
	owners := [g | some g in arr(owner_collections[t.kind][t.name], "owners"); is_string(g)]
	count(owners) > 0
}

approval_owners := sort({g | some t in owned_targets; some g in t.owners})

# Kept below `owned_targets`: regorus 0.14 evaluates a rule that uses a later-defined rule
# wrongly under `with input as` in a rule body (the Rego unit tests), though not in the
# daemon's own evaluation.
approver_deny contains msg if {
	not "admin" in approver_role_set
	some t in owned_targets
	count({g | some g in t.owners} & approver_role_set) == 0
	msg := sprintf("%s %s is owned by %v; %s is in none of those groups", [t.kind, t.name, sort(t.owners), approver_user])
}

default approver_decision := {"allowed": false, "reasons": ["no rule allowed this approver; failing closed"]}

approver_decision := {"allowed": false, "reasons": sort(approver_deny)} if {
	count(approver_deny) > 0
} else := {"allowed": true, "reasons": [sprintf("%s holds a role that may approve %s actions", [approver_user, input.risk])]}
