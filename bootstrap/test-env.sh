#!/usr/bin/env bash
# Installs what the tests need (BIND 9, an ansible-core venv, OpenBao, a kube-apiserver
# built from Debian's source package, etcd) and prints
# where they are, as KEY=VALUE lines on stdout:
#   AIOPS_ANSIBLE_PLAYBOOK=/…/ansible-venv/bin/ansible-playbook
#   AIOPS_NAMED=/usr/sbin/named
# Quick (about a second) when everything is already installed and built.
#
# Typical use:  eval "$(bash bootstrap/test-env.sh)"; export AIOPS_ANSIBLE_PLAYBOOK AIOPS_NAMED
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bootstrap/lib.sh
source "$here/lib.sh"

aiops_ensure_bind
aiops_ensure_ansible
bao_line="$(bash "$here/openbao.sh" install | grep '^AIOPS_BAO=' | tail -n1)"
[[ -n "$bao_line" ]] || aiops_die "bootstrap/openbao.sh install did not report the bao binary"
# kube-apiserver from Debian's source package: ≈5–8 min the first time, cached after.
bash "$here/kube.sh" build >&2

printf 'AIOPS_ANSIBLE_PLAYBOOK=%s\n' "$AIOPS_ANSIBLE_PLAYBOOK"
printf 'AIOPS_NAMED=%s\n' "$AIOPS_NAMED"
printf '%s\n' "$bao_line"
