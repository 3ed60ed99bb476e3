#!/usr/bin/env bash
# Stops what bootstrap/dev-up.sh started (aiopsd, BIND, the Slack receiver, OpenBao).
# Keeps the data directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
state="${AIOPS_STATE:-$repo/.aiops}"

if [[ -f "$state/aiopsd.pid" ]]; then
    pid="$(cat "$state/aiopsd.pid")"
    if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
        echo "[aiops] aiopsd stopped" >&2
    fi
    rm -f "$state/aiopsd.pid"
fi
if [[ -f "$state/slack-sink.pid" ]]; then
    kill "$(cat "$state/slack-sink.pid")" 2>/dev/null || true
    rm -f "$state/slack-sink.pid"
fi
if [[ -d "$state/kube" ]]; then
    bash "$here/kube.sh" stop "$state/kube" || true
fi
if [[ -d "$state/openbao" ]]; then
    bash "$here/openbao.sh" stop "$state/openbao" || true
fi
if [[ -d "$state/bind" ]]; then
    bash "$here/bind.sh" stop "$state/bind" || true
fi
