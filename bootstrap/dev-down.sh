#!/usr/bin/env bash
# Stops what bootstrap/dev-up.sh started (aiopsd, BIND, the Slack receiver, OpenBao, the
# local Kubernetes API server, Ollama, Qdrant, PostgreSQL). Keeps the data directory (and the
# PostgreSQL cluster's files).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=bootstrap/lib.sh
source "$here/lib.sh"
state="${AIOPS_STATE:-$repo/.aiops}"

for process in aiopsd slack-sink; do
    aiops_stop_recorded "$state/$process.pid" "$process" "$(aiops_live_pid "$state/$process.pid" || true)"
done
for server in postgres kube openbao bind; do
    if [[ -d "$state/$server" ]]; then
        bash "$here/$server.sh" stop "$state/$server" || true
    fi
done
for server in ollama qdrant; do
    if [[ -d "$state/$server" ]]; then
        bash "$here/$server.sh" stop --state "$state/$server" || true
    fi
done
