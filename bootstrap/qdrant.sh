#!/usr/bin/env bash
# A private Qdrant server for tests and local development (the production backend of the
# vector index, crates/aiops-vector), on 127.0.0.1 only, telemetry off.
#
#   bootstrap/qdrant.sh install                     find (or unpack) the qdrant binary
#   bootstrap/qdrant.sh start  [--state DIR] [--http-port PORT --grpc-port PORT]
#                                                   start (or re-report) a server
#   bootstrap/qdrant.sh status [--state DIR]        exit 0 if the server of DIR runs and answers
#   bootstrap/qdrant.sh stop   [--state DIR]        stop the server of DIR
#
# Commands print KEY=VALUE lines last on stdout (logs go to stderr):
#   install:         AIOPS_QDRANT=<absolute path of the qdrant binary>
#   start, status:   AIOPS_QDRANT=<binary>
#                    AIOPS_QDRANT_URL=http://127.0.0.1:<grpc port>   (what qdrant-client wants)
#                    AIOPS_QDRANT_HTTP=http://127.0.0.1:<http port>  (REST)
#                    AIOPS_QDRANT_PID=<pid>
#
# The binary: $AIOPS_QDRANT_BIN when set, else `qdrant` on PATH, else the Qdrant v1.18.3
# build in ../shared/tools/ ($AIOPS_QDRANT_ARCHIVE overrides its path): the archive's and
# the binary's sha256 are checked, and the binary is unpacked once (zstd, installed from
# Debian when missing) into $AIOPS_CACHE/qdrant/. A stamp beside it (sha256, device,
# inode, size, mtime) spares later runs re-hashing 93 MiB.
#
# The server: ports 6333 (HTTP) and 6334 (gRPC) when both are free, else the next free
# pair above; --http-port and --grpc-port insist on a pair. Storage and snapshots, pid
# file (qdrant.pid), ports (port, grpc-port) and log (qdrant.log) live in the state
# directory (default ${AIOPS_STATE:-<repo>/.aiops}/qdrant), which is also the working
# directory: Qdrant warns there that config/ and static/ are missing, which is harmless
# (everything is set through QDRANT__* variables; the web UI is off).
#
# With AIOPS_NO_INSTALL=1 a missing binary is an error instead of an install.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=bootstrap/lib.sh
source "$here/lib.sh"

readonly VERSION="1.18.3"
readonly ARCHIVE_SHA256="3966a6d9a73d4883ee9dac27721a8177c7c54999623c4deb06cc19c8bb8d6762"
readonly BINARY_SHA256="b3238a14c3ed94012fefda7ed5bb04919423e61882d800e300052fa8afadbe65"
readonly ARCHIVE="${AIOPS_QDRANT_ARCHIVE:-$repo/../shared/tools/qdrant-$VERSION-linux-amd64.zst}"
readonly QDRANT_DIR="$AIOPS_CACHE/qdrant"
readonly CACHED_BIN="$QDRANT_DIR/qdrant-$VERSION"
readonly DEFAULT_HTTP_PORT=6333
readonly PORT_SCAN=200
readonly START_TIMEOUT_SECS=60

usage() {
    cat >&2 <<'EOF'
usage: qdrant.sh install
       qdrant.sh start  [--state DIR] [--http-port PORT --grpc-port PORT]
       qdrant.sh status [--state DIR]
       qdrant.sh stop   [--state DIR]
EOF
    exit 2
}

# ---------------------------------------------------------------------------------------
# The binary

qdrant_works() {
    [[ -x "$1" ]] && "$1" --version >/dev/null 2>&1
}

stamp_of() {
    printf '%s %s\n' "$BINARY_SHA256" "$(stat -c '%d %i %s %Y' "$1")"
}

cached_verified() {
    [[ -x "$CACHED_BIN" && -f "$CACHED_BIN.verified" ]] &&
        [[ "$(cat "$CACHED_BIN.verified")" == "$(stamp_of "$CACHED_BIN")" ]]
}

unpack_archive() {
    local tmp
    [[ -f "$ARCHIVE" ]] || aiops_die "no qdrant on PATH, AIOPS_QDRANT_BIN unset, and no $ARCHIVE"
    command -v zstd >/dev/null 2>&1 || aiops_apt_install zstd
    aiops_log "checking $ARCHIVE"
    aiops_check_sha256 "$ARCHIVE" "$ARCHIVE_SHA256"
    mkdir -p "$QDRANT_DIR"
    tmp="$(mktemp "$QDRANT_DIR/unpack.XXXXXX")"
    if ! zstd -q -d -f "$ARCHIVE" -o "$tmp"; then
        rm -f "$tmp"
        aiops_die "could not decompress $ARCHIVE"
    fi
    (aiops_check_sha256 "$tmp" "$BINARY_SHA256" "the qdrant binary in $ARCHIVE") || {
        rm -f "$tmp"
        exit 1
    }
    chmod 0755 "$tmp"
    mv -f "$tmp" "$CACHED_BIN"
    stamp_of "$CACHED_BIN" >"$CACHED_BIN.verified"
    aiops_log "unpacked qdrant $VERSION into $CACHED_BIN"
}

# Sets AIOPS_QDRANT to a working qdrant binary, unpacking the shared build when needed.
ensure_qdrant() {
    local bin
    if [[ -n "${AIOPS_QDRANT_BIN:-}" ]]; then
        qdrant_works "$AIOPS_QDRANT_BIN" || aiops_die "AIOPS_QDRANT_BIN=$AIOPS_QDRANT_BIN is not a working qdrant binary"
        AIOPS_QDRANT="$AIOPS_QDRANT_BIN"
    elif bin="$(command -v qdrant 2>/dev/null)" && qdrant_works "$bin"; then
        AIOPS_QDRANT="$bin"
    else
        if ! cached_verified || ! qdrant_works "$CACHED_BIN"; then
            [[ "${AIOPS_NO_INSTALL:-0}" != "1" ]] || aiops_die "Qdrant is not installed: run bash bootstrap/qdrant.sh install"
            unpack_archive
            qdrant_works "$CACHED_BIN" || aiops_die "$CACHED_BIN does not run"
        fi
        AIOPS_QDRANT="$CACHED_BIN"
    fi
    AIOPS_QDRANT="$(cd "$(dirname "$AIOPS_QDRANT")" && pwd -P)/$(basename "$AIOPS_QDRANT")"
    export AIOPS_QDRANT
}

# ---------------------------------------------------------------------------------------
# The server

answers() {
    local out
    out="$(curl -fsS --max-time 2 "http://127.0.0.1:$1/readyz" 2>/dev/null)" || return 1
    [[ -n "$out" ]]
}

# HTTP ready and both ports held by the qdrant of <state-dir> (Qdrant opens both at
# start-up; a port that answers may be another server's).
answers_on() {
    local state="$1" http="$2" grpc pid
    grpc="$(cat "$state/grpc-port" 2>/dev/null)" || return 1
    pid="$(find_server "$state")" || return 1
    answers "$http" && aiops_pid_listens "$pid" "$http" && aiops_pid_listens "$pid" "$grpc"
}

# Is /proc/<pid> a qdrant working in <state-dir>? (Guards against recycled pids.)
is_server() {
    local state="$1" pid="$2"
    [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == "$state" ]] || return 1
    aiops_cmdline_has qdrant "$pid"
}

# The qdrant of <state-dir>, found by its working directory (setsid forks when the caller
# runs with job control, so $! is not always the server).
find_server() {
    aiops_find_process is_server "$1"
}

running_pid() {
    aiops_live_pid "$1/qdrant.pid" is_server "$1"
}

stop_server() {
    local pid
    pid="$(running_pid "$1")" || pid="$(find_server "$1")" || pid=""
    aiops_stop_recorded "$1/qdrant.pid" qdrant "$pid"
    rm -f "$1/port" "$1/grpc-port"
}

# Still starting: alive, and not stuck half-up. Qdrant 1.18 keeps serving HTTP when its gRPC
# port cannot be bound (it logs "Error while starting gRPC server" and stays up), so that
# line counts as an exit: the caller then moves on to the next port pair.
starting() {
    local state="$1" pid="$2"
    ! grep -q 'Error while starting gRPC server' "$state/qdrant.log" 2>/dev/null || return 1
    aiops_alive "$pid" || find_server "$state" >/dev/null
}

# Starts qdrant on <http> and <grpc>; prints its pid once both answer. Returns 1 when the
# server exits during start-up (e.g. a port was taken meanwhile), 2 on a timeout.
launch() {
    local state="$1" http="$2" grpc="$3" pid rc=0
    mkdir -p "$state/storage" "$state/snapshots"
    printf '%s\n' "$grpc" >"$state/grpc-port"
    pid="$(aiops_spawn --cwd "$state" --setsid --new-log "$state/qdrant.log" \
        env QDRANT__SERVICE__HOST=127.0.0.1 \
        QDRANT__SERVICE__HTTP_PORT="$http" QDRANT__SERVICE__GRPC_PORT="$grpc" \
        QDRANT__SERVICE__ENABLE_STATIC_CONTENT=false \
        QDRANT__STORAGE__STORAGE_PATH="$state/storage" \
        QDRANT__STORAGE__SNAPSHOTS_PATH="$state/snapshots" \
        QDRANT__TELEMETRY_DISABLED=true \
        "$AIOPS_QDRANT")"
    aiops_await_start qdrant "$state/qdrant.log" "$START_TIMEOUT_SECS" "did not answer on 127.0.0.1:$http and :$grpc" \
        starting "$state" "$pid" -- answers_on "$state" "$http" || rc=$?
    if ((rc != 0)); then
        stop_server "$state"
        return "$rc"
    fi
    pid="$(find_server "$state")" || aiops_die "something answers on 127.0.0.1:$http, but not the qdrant of $state"
    printf '%s\n' "$pid" >"$state/qdrant.pid"
    printf '%s\n' "$http" >"$state/port"
    printf '%s\n' "$pid"
}

print_server_env() {
    local state="$1" http="$2" pid="$3"
    aiops_kv AIOPS_QDRANT "$(readlink "/proc/$pid/exe" 2>/dev/null || printf '%s' "${AIOPS_QDRANT:-}")" \
        AIOPS_QDRANT_URL "http://127.0.0.1:$(cat "$state/grpc-port")" \
        AIOPS_QDRANT_HTTP "http://127.0.0.1:$http" \
        AIOPS_QDRANT_PID "$pid"
}

cmd_start() {
    local state="$1" http="$2" grpc="$3" pid="" old_http old_grpc port
    ensure_qdrant
    aiops_ensure_curl
    state="$(aiops_abs_dir "$state")"
    if pid="$(running_pid "$state")"; then
        old_http="$(cat "$state/port" 2>/dev/null || true)"
        old_grpc="$(cat "$state/grpc-port" 2>/dev/null || true)"
        if [[ -n "$old_http" && (-z "$http" || ("$http" == "$old_http" && "$grpc" == "$old_grpc")) ]] &&
            answers_on "$state" "$old_http"; then
            http="$old_http"
            aiops_log "qdrant (pid $pid) already answers on 127.0.0.1:$http (gRPC :$old_grpc)"
        else
            aiops_log "qdrant for $state runs, but not as asked: restarting it"
            stop_server "$state"
            pid=""
        fi
    else
        # A server of this state directory that lost its pid file would hold the storage.
        stop_server "$state"
        pid=""
    fi
    if [[ -z "$pid" ]]; then
        if [[ -n "$http" ]]; then
            for port in "$http" "$grpc"; do
                ! aiops_port_in_use "$port" || aiops_die "127.0.0.1:$port is already in use by another process"
            done
            pid="$(launch "$state" "$http" "$grpc")" || exit 1
        else
            # 6333/6334 when free, else the next free pair: another server may take a port
            # between the check and the bind, so a failed start moves on.
            http="$DEFAULT_HTTP_PORT"
            while true; do
                grpc=$((http + 1))
                if ! aiops_port_in_use "$http" && ! aiops_port_in_use "$grpc"; then
                    if pid="$(launch "$state" "$http" "$grpc")"; then
                        break
                    elif (($? == 2)); then
                        exit 1
                    fi
                fi
                http=$((http + 2))
                ((http < DEFAULT_HTTP_PORT + PORT_SCAN)) || aiops_die "no free port pair in $DEFAULT_HTTP_PORT..$((DEFAULT_HTTP_PORT + PORT_SCAN - 1))"
            done
        fi
        aiops_log "qdrant (pid $pid) answers on 127.0.0.1:$http (gRPC :$(cat "$state/grpc-port"))"
    fi
    print_server_env "$state" "$http" "$pid"
}

main() {
    [[ $# -ge 1 ]] || usage
    local cmd="$1" state="${AIOPS_STATE:-$repo/.aiops}/qdrant" http="" grpc=""
    shift
    while [[ $# -gt 0 ]]; do
        [[ $# -ge 2 ]] || usage
        case "$1" in
        --state) state="$2" ;;
        --http-port) http="$2" ;;
        --grpc-port) grpc="$2" ;;
        *) usage ;;
        esac
        shift 2
    done
    if [[ -n "$http" || -n "$grpc" ]]; then
        [[ -n "$http" && -n "$grpc" ]] || aiops_die "--http-port and --grpc-port go together"
        aiops_check_port "$http"
        aiops_check_port "$grpc"
        [[ "$http" != "$grpc" ]] || aiops_die "the HTTP and gRPC ports must differ"
    fi
    case "$cmd" in
    install)
        ensure_qdrant
        aiops_kv AIOPS_QDRANT "$AIOPS_QDRANT"
        ;;
    start) cmd_start "$state" "$http" "$grpc" ;;
    status) aiops_status "$state" running_pid answers_on print_server_env ;;
    stop) aiops_stop_state "$state" stop_server ;;
    *) usage ;;
    esac
}

main "$@"
