# Policy `aiops`: what aiopsd's Vault token may do, and nothing more.
# Written by bootstrap/vault/setup.sh; tokens of the AppRole role `aiopsd` carry only this
# policy (token_no_default_policy=true), so there is no `default` policy beside it.
#
# Secrets: read on exactly the KV v2 paths the catalog actions declare, no globs, no
# list; and read on the same paths' metadata (versions and their times, never a value:
# the MCP tool `vault_metadata` shows when each was last rotated). To give an action a
# secret `<path>` (its `secrets:` in the catalog), add two blocks with the exact paths of
# the KV v2 mount `secret/`:
#
#   path "secret/data/<path>" {
#     capabilities = ["read"]
#   }
#   path "secret/metadata/<path>" {
#     capabilities = ["read"]
#   }
#
# then re-run bootstrap/vault/setup.sh (it rewrites the policy; tokens pick it up at once).
# aiopsd checks at start-up and in /readyz, with sys/capabilities-self, that its token can
# read each declared path, and names the ones it cannot.

# dns.* actions: the TSIG key for RFC 2136 updates.
path "secret/data/dns/tsig" {
  capabilities = ["read"]
}

path "secret/metadata/dns/tsig" {
  capabilities = ["read"]
}

# Slack approvals (when [slack] is enabled): the bot token and the signing secret.
path "secret/data/slack/app" {
  capabilities = ["read"]
}

path "secret/metadata/slack/app" {
  capabilities = ["read"]
}

# Token lifecycle: renew the token before it expires, look it up (TTL, validity after a 403).
path "auth/token/renew-self" {
  capabilities = ["update"]
}

path "auth/token/lookup-self" {
  capabilities = ["read"]
}

# The capabilities check behind /readyz.
path "sys/capabilities-self" {
  capabilities = ["update"]
}
