#!/usr/bin/env bash
# Seeds a Vault or OpenBao server for aiopsd, least privilege: idempotent, safe to re-run.
#
#   VAULT_ADDR=http://127.0.0.1:8200 VAULT_TOKEN=<root or admin token> \
#       bootstrap/vault/setup.sh <tsig-json-file> <out-dir>
#
# 1. enables a KV v2 secrets engine at secret/ when missing (fails on a KV v1 or other mount there),
# 2. enables the AppRole auth method at approle/ when missing,
# 3. writes the policy `aiops` from bootstrap/vault/aiops-policy.hcl (read on exactly the
#    secrets the catalog actions declare, plus the token's own lookup/renew/capabilities),
# 4. creates (or updates) the AppRole role `aiopsd` whose tokens carry only that policy
#    (no `default` policy),
# 5. stores the DNS TSIG key at secret/dns/tsig from <tsig-json-file>, a JSON object
#    {"name": …, "algorithm": …, "secret": …} such as the one bootstrap/bind.sh writes at
#    <state>/secrets/dns/tsig (the value goes through a file, never the command line),
# 6. writes the role id and a fresh secret id to <out-dir>/role-id and <out-dir>/secret-id
#    (0600; the secret id the previous run issued, if recorded, is destroyed).
#
# Prints KEY=VALUE lines last on stdout (logs go to stderr):
#   AIOPS_VAULT_ROLE_ID=<role id>            (an identifier, not a secret)
#   AIOPS_VAULT_ROLE_ID_FILE=<out-dir>/role-id
#   AIOPS_VAULT_SECRET_ID_FILE=<out-dir>/secret-id
#   AIOPS_VAULT_SECRET_ID_WRAPPED=true|false (true: the file holds a response-wrapping token)
#
# Environment (all optional except VAULT_ADDR and VAULT_TOKEN):
#   VAULT_BIN                       the CLI: `bao` or `vault` (default: $AIOPS_BAO, then bao or
#                                   vault on PATH, then the one bootstrap/openbao.sh installs)
#   AIOPS_VAULT_TOKEN_TTL           role token_ttl        (default 1h)
#   AIOPS_VAULT_TOKEN_MAX_TTL       role token_max_ttl    (default 4h)
#   AIOPS_VAULT_SECRET_ID_TTL       role secret_id_ttl    (default 0: no expiry)
#   AIOPS_VAULT_WRAP_TTL            when set (e.g. 10m), the secret id is response-wrapped with
#                                   this TTL and <out-dir>/secret-id holds the wrapping token
#
# Only API paths common to Vault and OpenBao are used (sys/mounts, sys/auth, sys/policies,
# auth/approle, KV v2), through the CLI both share (`read`, `write`, `secrets enable`,
# `auth enable`, `policy write`, `kv put`).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bootstrap/lib.sh
source "$here/../lib.sh"

readonly KV_MOUNT="secret"
readonly APPROLE_MOUNT="approle"
readonly POLICY_NAME="aiops"
readonly ROLE_NAME="aiopsd"
readonly TSIG_PATH="dns/tsig"

usage() {
    echo "usage: VAULT_ADDR=… VAULT_TOKEN=… setup.sh <tsig-json-file> <out-dir>" >&2
    exit 2
}

find_cli() {
    local candidate
    if [[ -n "${VAULT_BIN:-}" ]]; then
        command -v "$VAULT_BIN" 2>/dev/null || aiops_die "VAULT_BIN=$VAULT_BIN is not executable"
        return 0
    fi
    if [[ -n "${AIOPS_BAO:-}" && -x "${AIOPS_BAO}" ]]; then
        printf '%s\n' "$AIOPS_BAO"
        return 0
    fi
    for candidate in bao vault; do
        if command -v "$candidate" >/dev/null 2>&1; then
            command -v "$candidate"
            return 0
        fi
    done
    aiops_openbao_venv_bao || aiops_die "no bao or vault CLI found: set VAULT_BIN, or run bash bootstrap/openbao.sh install"
}

# Runs the CLI; its stderr is kept for the error message. Never pass secrets as arguments.
cli() {
    "$VB" "$@"
}

ensure_kv() {
    local mount_json
    if mount_json="$(cli read -format=json "sys/mounts/$KV_MOUNT" 2>/dev/null)"; then
        if [[ "$(printf '%s' "$mount_json" | aiops_json_string type)" != "kv" ]]; then
            aiops_die "$KV_MOUNT/ is mounted, but not as a kv secrets engine"
        fi
        if ! printf '%s' "$mount_json" | tr -d ' \n' | grep -q '"options":{[^}]*"version":"2"'; then
            aiops_die "$KV_MOUNT/ is a KV version 1 mount; aiopsd reads KV version 2 (upgrade it with: $VB kv enable-versioning $KV_MOUNT/)"
        fi
        aiops_log "KV v2 already mounted at $KV_MOUNT/"
    else
        aiops_log "enabling KV v2 at $KV_MOUNT/"
        cli secrets enable -path="$KV_MOUNT" -version=2 kv >/dev/null
    fi
}

ensure_approle() {
    if cli auth list -format=json | tr -d ' \n' | grep -q "\"$APPROLE_MOUNT/\":{[^}]*\"type\":\"approle\""; then
        aiops_log "AppRole already enabled at $APPROLE_MOUNT/"
    elif cli auth list -format=json | tr -d ' \n' | grep -q "\"$APPROLE_MOUNT/\":"; then
        aiops_die "auth/$APPROLE_MOUNT/ is enabled, but not as AppRole"
    else
        aiops_log "enabling AppRole at $APPROLE_MOUNT/"
        cli auth enable -path="$APPROLE_MOUNT" approle >/dev/null
    fi
}

check_tsig_file() {
    local file="$1" flat field
    [[ -r "$file" ]] || aiops_die "cannot read the TSIG key file $file"
    flat="$(tr -d '\n' <"$file")"
    [[ "$flat" =~ ^[[:space:]]*\{.*\}[[:space:]]*$ ]] || aiops_die "$file is not a JSON object"
    for field in name algorithm secret; do
        [[ "$flat" =~ \"$field\"[[:space:]]*:[[:space:]]*\"[^\"]+\" ]] ||
            aiops_die "$file has no string field \"$field\""
    done
}

main() {
    [[ $# -eq 2 ]] || usage
    local tsig_file="$1" out="$2" role_id secret_json secret_id accessor old_accessor wrapped=false
    [[ -n "${VAULT_ADDR:-}" ]] || aiops_die "VAULT_ADDR is not set"
    [[ -n "${VAULT_TOKEN:-}" ]] || aiops_die "VAULT_TOKEN (a root or admin token) is not set"
    # The bao CLI reads BAO_*, the vault CLI VAULT_*: give both the same values.
    export VAULT_ADDR VAULT_TOKEN BAO_ADDR="$VAULT_ADDR" BAO_TOKEN="$VAULT_TOKEN"
    VB="$(find_cli)"
    check_tsig_file "$tsig_file"

    local status_rc=0
    cli status >/dev/null 2>&1 || status_rc=$?
    case "$status_rc" in
    0) ;;
    2) aiops_die "the server at $VAULT_ADDR is sealed" ;;
    *) aiops_die "cannot reach a Vault/OpenBao server at $VAULT_ADDR" ;;
    esac

    ensure_kv
    ensure_approle

    aiops_log "writing policy $POLICY_NAME"
    cli policy write "$POLICY_NAME" "$here/aiops-policy.hcl" >/dev/null

    aiops_log "writing AppRole role $ROLE_NAME"
    cli write "auth/$APPROLE_MOUNT/role/$ROLE_NAME" \
        token_policies="$POLICY_NAME" \
        token_no_default_policy=true \
        token_type=service \
        token_ttl="${AIOPS_VAULT_TOKEN_TTL:-1h}" \
        token_max_ttl="${AIOPS_VAULT_TOKEN_MAX_TTL:-4h}" \
        secret_id_ttl="${AIOPS_VAULT_SECRET_ID_TTL:-0}" \
        secret_id_num_uses=0 \
        bind_secret_id=true >/dev/null

    aiops_log "storing the DNS TSIG key at $KV_MOUNT/$TSIG_PATH"
    cli kv put "$KV_MOUNT/$TSIG_PATH" "@$tsig_file" >/dev/null

    mkdir -p "$out"
    chmod 0700 "$out"
    out="$(cd "$out" && pwd -P)"
    role_id="$(cli read -field=role_id "auth/$APPROLE_MOUNT/role/$ROLE_NAME/role-id")"
    [[ -n "$role_id" ]] || aiops_die "no role id for $ROLE_NAME"

    # Retire the secret id a previous run issued (its accessor is recorded, not the id).
    if [[ -s "$out/secret-id-accessor" ]]; then
        old_accessor="$(cat "$out/secret-id-accessor")"
        if cli write "auth/$APPROLE_MOUNT/role/$ROLE_NAME/secret-id-accessor/destroy" \
            secret_id_accessor="$old_accessor" >/dev/null 2>&1; then
            aiops_log "destroyed the previous secret id"
        fi
        rm -f "$out/secret-id-accessor"
    fi

    (
        umask 077
        printf '%s\n' "$role_id" >"$out/role-id.tmp"
        mv "$out/role-id.tmp" "$out/role-id"
        if [[ -n "${AIOPS_VAULT_WRAP_TTL:-}" ]]; then
            # The wrapping token is single-use: whoever unwraps it first gets the secret id.
            cli write -f -wrap-ttl="$AIOPS_VAULT_WRAP_TTL" -field=wrapping_token \
                "auth/$APPROLE_MOUNT/role/$ROLE_NAME/secret-id" >"$out/secret-id.tmp"
            [[ -s "$out/secret-id.tmp" ]] || aiops_die "no wrapping token issued"
        else
            secret_json="$(cli write -f -format=json "auth/$APPROLE_MOUNT/role/$ROLE_NAME/secret-id")"
            secret_id="$(printf '%s' "$secret_json" | aiops_json_string secret_id)"
            accessor="$(printf '%s' "$secret_json" | aiops_json_string secret_id_accessor)"
            [[ -n "$secret_id" ]] || aiops_die "no secret id issued"
            printf '%s\n' "$secret_id" >"$out/secret-id.tmp"
            [[ -z "$accessor" ]] || printf '%s\n' "$accessor" >"$out/secret-id-accessor"
        fi
        mv "$out/secret-id.tmp" "$out/secret-id"
    )
    [[ -n "${AIOPS_VAULT_WRAP_TTL:-}" ]] && wrapped=true
    aiops_log "AppRole $ROLE_NAME ready (secret id in $out/secret-id, wrapped: $wrapped)"

    aiops_kv AIOPS_VAULT_ROLE_ID "$role_id" AIOPS_VAULT_ROLE_ID_FILE "$out/role-id" \
        AIOPS_VAULT_SECRET_ID_FILE "$out/secret-id" AIOPS_VAULT_SECRET_ID_WRAPPED "$wrapped"
}

main "$@"
