#!/usr/bin/env bash
# A private, throwaway PostgreSQL cluster for tests and local development: Debian's
# PostgreSQL (installed with apt when missing), a cluster made by initdb in <state-dir>,
# listening on 127.0.0.1:<port> and on a unix socket in <state-dir>, password (SCRAM) auth
# over TCP, one database `aiops` owned by the role `aiops`.
#
#   bootstrap/postgres.sh install                   install (or re-report) the server binaries
#   bootstrap/postgres.sh start  <state-dir> <port> start (or re-report) a cluster
#   bootstrap/postgres.sh stop   <state-dir>        stop it (the cluster's files stay)
#   bootstrap/postgres.sh status <state-dir>        exit 0 if running and answering
#
# Commands print KEY=VALUE lines last on stdout (logs go to stderr):
#   install:        AIOPS_PG_BIN=/usr/lib/postgresql/<version>/bin
#   start, status:  AIOPS_PG_URL=postgres://aiops:<password>@127.0.0.1:<port>/aiops
#                   AIOPS_PG_PORT=<port>
#                   AIOPS_PG_PID=<pid of the postmaster>
#                   AIOPS_PG_SOCKET_DIR=<state-dir>/socket
# The URL holds the cluster's password (generated once, kept 0600 in <state-dir>): treat
# it as a secret. Superuser access needs no password over the unix socket
# (`psql -h <state-dir>/socket -p <port> -U aiops postgres`).
#
# initdb and postgres refuse to run as root: as root, the cluster runs as the `postgres`
# user (Debian's package creates it), else `nobody`, through runuser/setpriv; <state-dir>
# is made traversable for it. As any other user, it runs as that user.
# AIOPS_PG_BIN=<dir> chooses the binaries; with AIOPS_NO_INSTALL=1 missing binaries are an
# error instead of an install (tests use it).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bootstrap/lib.sh
source "$here/lib.sh"

readonly DB_USER="aiops"
readonly DB_NAME="aiops"
readonly START_TIMEOUT_SECS=30

usage() {
    cat >&2 <<'EOF'
usage: postgres.sh install
       postgres.sh start <state-dir> <port>
       postgres.sh stop <state-dir>
       postgres.sh status <state-dir>
EOF
    exit 2
}

# The newest /usr/lib/postgresql/<version>/bin holding initdb, pg_ctl and postgres.
find_bin() {
    local dir
    if [[ -n "${AIOPS_PG_BIN:-}" ]]; then
        [[ -x "$AIOPS_PG_BIN/initdb" && -x "$AIOPS_PG_BIN/postgres" ]] || return 1
        printf '%s\n' "$AIOPS_PG_BIN"
        return 0
    fi
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/postgres" ]]; then
            printf '%s\n' "$dir"
            return 0
        fi
    done
    return 1
}

# Sets PG_BIN, installing Debian's postgresql when needed and allowed.
ensure_postgres() {
    if ! PG_BIN="$(find_bin)"; then
        if [[ "${AIOPS_NO_INSTALL:-0}" == "1" ]]; then
            aiops_die "PostgreSQL is not installed: run bash bootstrap/postgres.sh install (or bootstrap/test-env.sh)"
        fi
        aiops_log "installing postgresql"
        # The package starts a system-wide cluster when an init system runs; the project
        # runs its own clusters and does not use it.
        aiops_apt_install postgresql
        PG_BIN="$(find_bin)" || aiops_die "no PostgreSQL server binaries found after install"
    fi
}

# The user the cluster runs as (see the header), and the command prefix that runs as it.
run_as_user() {
    if [[ "$(id -u)" -ne 0 ]]; then
        id -un
    elif id postgres >/dev/null 2>&1; then
        echo postgres
    else
        echo nobody
    fi
}

as_user() {
    local user
    user="$(run_as_user)"
    if [[ "$(id -u)" -ne 0 ]]; then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        runuser -u "$user" -- "$@"
    else
        setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups -- "$@"
    fi
}

# The postmaster of <state-dir>, if it is alive and really ours: the first line of
# postmaster.pid, a live process whose command line names the cluster's directory.
running_pid() {
    local pid
    pid="$(head -n 1 "$1/data/postmaster.pid" 2>/dev/null)" || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] && aiops_alive "$pid" && aiops_cmdline_has "$1/data" "$pid" || return 1
    printf '%s\n' "$pid"
}

answers() {
    local state="$1" port="$2"
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -t 2 >/dev/null 2>&1
}

url() {
    printf 'postgres://%s:%s@127.0.0.1:%s/%s\n' "$DB_USER" "$(cat "$1/password")" "$2" "$DB_NAME"
}

print_env() {
    aiops_kv AIOPS_PG_URL "$(url "$1" "$2")" AIOPS_PG_PORT "$2" AIOPS_PG_PID "$3" \
        AIOPS_PG_SOCKET_DIR "$1/socket"
}

# initdb once per state directory: SCRAM over TCP (the password from <state>/password),
# trust over the socket, which only the cluster's user and root can reach.
init_cluster() {
    local state="$1" user
    user="$(run_as_user)"
    if [[ ! -s "$state/password" ]]; then
        (umask 077 && head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$state/password")
    fi
    [[ -s "$state/data/PG_VERSION" ]] && return 0
    rm -rf "$state/data"
    mkdir -p "$state/data" "$state/socket"
    # The cluster's user owns its files; root keeps the password file to itself except for
    # the copy initdb reads.
    local pwfile="$state/data.pw"
    (umask 077 && cat "$state/password" >"$pwfile")
    if [[ "$(id -u)" -eq 0 ]]; then
        chown "$user" "$state/data" "$state/socket" "$pwfile"
        # Traversable (not readable) for the cluster's user.
        chmod 0711 "$state"
        as_user test -x "$state" ||
            aiops_die "user $user cannot reach $state (a parent directory is private, e.g. /root): choose a state directory elsewhere"
    fi
    aiops_log "initdb $state/data (user $user)"
    if ! aiops_quiet as_user "$PG_BIN/initdb" -D "$state/data" -U "$DB_USER" --pwfile="$pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C --no-sync; then
        rm -f "$pwfile"
        aiops_die "initdb failed"
    fi
    rm -f "$pwfile"
    cat >>"$state/data/postgresql.conf" <<EOF
# bootstrap/postgres.sh: a throwaway cluster on loopback.
listen_addresses = '127.0.0.1'
unix_socket_directories = '$state/socket'
# Trust over the socket: only the cluster's user (and root) may use it.
unix_socket_permissions = 0700
max_connections = 200
fsync = on
log_destination = 'stderr'
logging_collector = off
EOF
}

stop_server() {
    local state="$1" pid
    pid="$(running_pid "$state" || true)"
    [[ -n "$pid" ]] || return 0
    # A fast shutdown (roll back open transactions), as an operator restarting it would.
    as_user "$PG_BIN/pg_ctl" -D "$state/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
        aiops_stop_pid "$pid" 100 || true
    aiops_log "stopped postgres (pid $pid)"
}

cmd_install() {
    ensure_postgres
    aiops_kv AIOPS_PG_BIN "$PG_BIN"
}

cmd_start() {
    local state="$1" port="$2" pid
    aiops_check_port "$port"
    ensure_postgres
    state="$(aiops_abs_dir "$state")"

    if pid="$(running_pid "$state")"; then
        if [[ "$(cat "$state/port" 2>/dev/null)" == "$port" ]] && answers "$state" "$port"; then
            print_env "$state" "$port" "$pid"
            return 0
        fi
        aiops_log "postgres for $state runs, but not answering on port $port: restarting it there"
        stop_server "$state"
    fi
    if aiops_port_in_use "$port"; then
        aiops_die "127.0.0.1:$port is already in use by another process"
    fi

    init_cluster "$state"
    printf '%s\n' "$port" >"$state/port"
    : >"$state/postgres.log"
    [[ "$(id -u)" -ne 0 ]] || chown "$(run_as_user)" "$state/postgres.log"
    # pg_ctl starts the postmaster detached (its own session) and returns once it accepts
    # connections, or fails with the log's last lines.
    if ! as_user "$PG_BIN/pg_ctl" -D "$state/data" -l "$state/postgres.log" -w -t "$START_TIMEOUT_SECS" \
        -o "-p $port" start >/dev/null 2>&1; then
        aiops_log "postgres did not start on 127.0.0.1:$port; last lines of $state/postgres.log:"
        tail -n 30 "$state/postgres.log" >&2 || true
        if grep -qi "already in use" "$state/postgres.log"; then
            aiops_log "127.0.0.1:$port is already in use"
        fi
        stop_server "$state"
        exit 1
    fi
    pid="$(running_pid "$state")" || aiops_die "postgres started but its pid file is missing"
    if ! answers "$state" "$port"; then
        stop_server "$state"
        aiops_die "postgres (pid $pid) does not answer on 127.0.0.1:$port"
    fi
    # The application database, once (owned by the superuser role `aiops`).
    if ! "$PG_BIN/psql" -h "$state/socket" -p "$port" -U "$DB_USER" -d postgres -tAq \
        -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" | grep -q 1; then
        as_user "$PG_BIN/createdb" -h "$state/socket" -p "$port" -U "$DB_USER" "$DB_NAME" ||
            aiops_die "createdb $DB_NAME failed"
    fi
    aiops_log "postgres (pid $pid) answers on 127.0.0.1:$port"
    print_env "$state" "$port" "$pid"
}

cmd_stop() {
    if [[ -d "$1" ]]; then
        ensure_postgres
    fi
    aiops_stop_state "$1" stop_server
}

answers_on() {
    answers "$1" "$2"
}

cmd_status() {
    if [[ -d "$1" ]]; then
        ensure_postgres
    fi
    aiops_status "$1" running_pid answers_on print_env
}

aiops_dispatch "install:0 start:2 stop:1 status:1" "$@"
