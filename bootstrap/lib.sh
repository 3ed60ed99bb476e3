#!/usr/bin/env bash
# Shared helpers for the bootstrap scripts. Source it; do not run it.
#
#   source bootstrap/lib.sh
#   aiops_ensure_bind      # bind9 + bind9-dnsutils (named, dig, tsig-keygen, nsupdate)
#   aiops_ensure_ansible   # venv with ansible-core + dnspython; exports AIOPS_ANSIBLE_PLAYBOOK
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

aiops_log() {
    printf '[aiops] %s\n' "$*" >&2
}

aiops_die() {
    printf '[aiops] error: %s\n' "$*" >&2
    exit 1
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
    local log
    log="$(mktemp)"
    export DEBIAN_FRONTEND=noninteractive
    if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
        aiops_log "apt-get update (package lists are empty)"
        aiops_sudo apt-get update >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; aiops_die "apt-get update failed"; }
    fi
    if ! aiops_sudo apt-get install -y --no-install-recommends "$@" >"$log" 2>&1; then
        aiops_log "apt-get install $* failed; running apt-get update and retrying"
        aiops_sudo apt-get update >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; aiops_die "apt-get update failed"; }
        if ! aiops_sudo apt-get install -y --no-install-recommends "$@" >"$log" 2>&1; then
            cat "$log" >&2
            rm -f "$log"
            aiops_die "apt-get install $* failed"
        fi
    fi
    rm -f "$log"
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
    local venv="$AIOPS_CACHE/ansible-venv" python log
    if ! aiops_ansible_venv_ok "$venv"; then
        python="$(aiops_find_python)" || {
            aiops_log "no python >= 3.11 found; installing python3"
            aiops_apt_install python3 python3-venv
            python="$(aiops_find_python)" || aiops_die "no python >= 3.11 available"
        }
        if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
            aiops_log "installing python3-venv"
            aiops_apt_install python3-venv
        fi
        aiops_log "creating ansible venv at $venv (ansible-core $AIOPS_ANSIBLE_CORE_VERSION, dnspython $AIOPS_DNSPYTHON_VERSION)"
        mkdir -p "$AIOPS_CACHE"
        rm -rf "$venv"
        log="$(mktemp)"
        if ! { "$python" -m venv "$venv" &&
            "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
                "ansible-core==$AIOPS_ANSIBLE_CORE_VERSION" "dnspython==$AIOPS_DNSPYTHON_VERSION"; } >"$log" 2>&1; then
            cat "$log" >&2
            rm -f "$log"
            rm -rf "$venv"
            aiops_die "could not create the ansible venv"
        fi
        rm -f "$log"
        aiops_ansible_venv_ok "$venv" || aiops_die "the ansible venv at $venv does not work"
    fi
    AIOPS_ANSIBLE_VENV="$venv"
    AIOPS_ANSIBLE_PLAYBOOK="$venv/bin/ansible-playbook"
    export AIOPS_ANSIBLE_VENV AIOPS_ANSIBLE_PLAYBOOK
}
