#!/usr/bin/env bash
# Stops what bootstrap/dev-up.sh started (aiopsd, BIND, the Slack receiver, OpenBao, the
# local Kubernetes API server, Ollama, Qdrant). Keeps the data directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=bootstrap/lib.sh
source "$here/lib.sh"
state="${AIOPS_STATE:-$repo/.aiops}"

for process in aiopsd slack-sink; do
    aiops_stop_recorded "$state/$process.pid" "$process" "$(aiops_live_pid "$state/$process.pid" || true)"
done
for server in kube openbao bind; do
    if [[ -d "$state/$server" ]]; then
        bash "$here/$server.sh" stop "$state/$server" || true
    fi
done
for server in ollama qdrant; do
    if [[ -d "$state/$server" ]]; then
        bash "$here/$server.sh" stop --state "$state/$server" || true
    fi
done
