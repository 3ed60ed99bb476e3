#!/usr/bin/env bash
# Starts the appliance locally on embedded defaults: installs what is missing (BIND 9,
# ansible-core in a venv), builds aiopsd, starts a private BIND on 127.0.0.1 (zones `local`
# and `corp.example.com`, TSIG key) and aiopsd in the background, waits until it is ready,
# and prints KEY=VALUE lines last:
#   AIOPS_URL=http://127.0.0.1:30080
#   AIOPS_DNS=127.0.0.1:<port>
#   AIOPS_LOG=<the daemon's log file>
#   AIOPS_DATA=<its data directory>
# Idempotent: a second run keeps what is running (restarting aiopsd only if it was rebuilt).
#
# Settings (environment): AIOPS_STATE (default <repo>/.aiops), AIOPS_PORT (30080),
# AIOPS_DNS_PORT (15353), AIOPS_PROFILE (release; or dev), AIOPS_CACHE (~/.cache/aiops).
# Stop everything with bootstrap/dev-down.sh.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=bootstrap/lib.sh
source "$here/lib.sh"

state="${AIOPS_STATE:-$repo/.aiops}"
port="${AIOPS_PORT:-30080}"
dns_port="${AIOPS_DNS_PORT:-15353}"
profile="${AIOPS_PROFILE:-release}"
mkdir -p "$state"
state="$(cd "$state" && pwd -P)"

command -v cargo >/dev/null 2>&1 || aiops_die "cargo is not installed (install a Rust toolchain >= 1.95, e.g. with rustup)"

aiops_ensure_bind
command -v curl >/dev/null 2>&1 || aiops_apt_install curl
aiops_ensure_ansible

# Build outside the repository so a fresh clone reuses earlier builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$AIOPS_CACHE/target}"
aiops_log "building aiopsd ($profile profile; the first build takes several minutes)"
if [[ "$profile" == "release" ]]; then
    (cd "$repo" && cargo build --quiet --locked --release -p aiopsd) >&2
    bin="$CARGO_TARGET_DIR/release/aiopsd"
else
    (cd "$repo" && cargo build --quiet --locked -p aiopsd) >&2
    bin="$CARGO_TARGET_DIR/debug/aiopsd"
fi

# BIND: bind.sh start is idempotent and prints AIOPS_DNS / AIOPS_SECRETS_DIR.
bind_out="$(bash "$here/bind.sh" start "$state/bind" "$dns_port")"
dns_addr="$(sed -n 's/^AIOPS_DNS=//p' <<<"$bind_out" | tail -n1)"
secrets_dir="$(sed -n 's/^AIOPS_SECRETS_DIR=//p' <<<"$bind_out" | tail -n1)"
[[ -n "$dns_addr" && -n "$secrets_dir" ]] || aiops_die "bootstrap/bind.sh did not report its address"

data="$state/data"
log="$state/aiopsd.log"
pidfile="$state/aiopsd.pid"
config="$state/aiopsd.toml"
mkdir -p "$data"
cat >"$config.new" <<TOML
# Written by bootstrap/dev-up.sh; edits are overwritten on the next run.
listen = "127.0.0.1:$port"
data_dir = "$data"

[secrets]
provider = "directory"
dir = "$secrets_dir"

[dns]
server = "$dns_addr"

[ansible]
playbook_bin = "$AIOPS_ANSIBLE_PLAYBOOK"
playbook_dir = "$repo/deploy/ansible/playbooks"
TOML

running_pid() {
    local pid
    [[ -f "$pidfile" ]] || return 1
    pid="$(cat "$pidfile")"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    printf '%s\n' "$pid"
}

restart=1
if pid="$(running_pid)"; then
    if [[ ! "$bin" -nt "$pidfile" ]] && cmp -s "$config" "$config.new"; then
        restart=0
        aiops_log "aiopsd is already running (pid $pid)"
    else
        aiops_log "aiopsd was rebuilt or reconfigured; restarting it"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
fi
mv "$config.new" "$config"

if [[ "$restart" -eq 1 ]]; then
    # Fail fast on a bad config or a busy port, with the daemon's own one-line reason.
    "$bin" --config "$config" check-config >/dev/null || aiops_die "aiopsd rejected $config"
    (cd "$repo" && AIOPS_CONFIG="$config" nohup setsid "$bin" serve >>"$log" 2>&1 </dev/null & echo $! >"$pidfile")
    aiops_log "aiopsd started (pid $(cat "$pidfile")), logging to $log"
fi

url="http://127.0.0.1:$port"
ready=0
for _ in $(seq 1 150); do
    if ! running_pid >/dev/null; then
        tail -n 20 "$log" >&2 || true
        aiops_die "aiopsd exited during start-up (log: $log)"
    fi
    if curl -fsS "$url/readyz" >/dev/null 2>&1; then
        ready=1
        break
    fi
    sleep 0.2
done
if [[ "$ready" -ne 1 ]]; then
    curl -sS "$url/readyz" >&2 || true
    aiops_die "aiopsd did not become ready (log: $log)"
fi

echo "AIOPS_URL=$url"
echo "AIOPS_DNS=$dns_addr"
echo "AIOPS_LOG=$log"
echo "AIOPS_DATA=$data"
