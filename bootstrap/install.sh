#!/usr/bin/env bash
# Installs aiopsd as a systemd service on a Debian host:
#   /usr/local/bin/aiopsd                                the daemon (0755)
#   /usr/local/lib/systemd/system/aiopsd.service         deploy/systemd/aiopsd.service (0644)
#   /usr/local/lib/sysusers.d/aiops.conf                 the system user aiops (deploy/systemd/aiops.sysusers)
#   /etc/aiops/aiopsd.toml                               from deploy/systemd/aiopsd.toml, root:aiops 0640;
#                                                        written once, kept (with your edits) afterwards
#   /etc/aiops/admin.token                               the first admin's API token, root 0600 (with the config)
#   /etc/aiops/secrets/                                  the secret directory, root:aiops 0750
#   /usr/local/share/aiops/ansible/{playbooks,library}   deploy/ansible: the allow-listed playbooks
#   /usr/local/lib/aiops/ansible-venv                    ansible-core + dnspython (pinned in bootstrap/lib.sh),
#                                                        unless --ansible-playbook names one
# then checks the configuration with `aiopsd check-config` (as the service user, on a scratch
# data directory: /var/lib/aiops is created by systemd, StateDirectory=aiops) and, when
# systemd runs, reloads it and enables the unit (--start also starts it).
#
# Usage: bootstrap/install.sh [--binary PATH] [--ansible-playbook PATH] [--root DIR] [--dry-run] [--start]
#   --binary PATH            the aiopsd to install (default: a release build of this checkout)
#   --ansible-playbook PATH  use this ansible-playbook instead of creating the venv
#   --root DIR               install into DIR as a filesystem root (an image, or a test); no
#                            systemctl; ownership is set only when run as root. Needs
#                            --ansible-playbook (a venv does not survive being moved)
#   --dry-run                print what would be done, change nothing
#   --start                  start (or restart) the service after installing
# Idempotent: files that are already up to date are left alone; the config and the token are
# never overwritten. Prints KEY=VALUE lines last (AIOPS_BIN, AIOPS_UNIT, AIOPS_CONFIG,
# AIOPS_TOKEN_FILE); paths are the host's, inside --root when given.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=bootstrap/lib.sh
source "$here/lib.sh"

usage() {
    sed -n 's/^# \{0,1\}//; /^Usage:/,/^Idempotent/p' "${BASH_SOURCE[0]}" | sed '$d' >&2
    exit 2
}

binary=""
ansible_playbook=""
root=""
dry_run=0
start=0
while (($# > 0)); do
    case "$1" in
    --binary) [[ $# -ge 2 ]] || usage; binary="$2"; shift ;;
    --ansible-playbook) [[ $# -ge 2 ]] || usage; ansible_playbook="$2"; shift ;;
    --root) [[ $# -ge 2 ]] || usage; root="$2"; shift ;;
    --dry-run) dry_run=1 ;;
    --start) start=1 ;;
    *) usage ;;
    esac
    shift
done

# Where things go, as seen by the running system (the unit and config name these paths).
bin_path=/usr/local/bin/aiopsd
unit_path=/usr/local/lib/systemd/system/aiopsd.service
sysusers_path=/usr/local/lib/sysusers.d/aiops.conf
config_dir=/etc/aiops
config_path=$config_dir/aiopsd.toml
token_path=$config_dir/admin.token
secrets_dir=$config_dir/secrets
share_dir=/usr/local/share/aiops
venv_dir=/usr/local/lib/aiops/ansible-venv
user=aiops

if [[ -n "$root" ]]; then
    [[ -n "$ansible_playbook" ]] || aiops_die "--root needs --ansible-playbook: a venv made under DIR keeps DIR in its paths"
    root="$(realpath -m "$root")"
    [[ "$root" != / ]] || root=""
fi
# R: a path of the installed system, on this host.
R() { printf '%s%s\n' "$root" "$1"; }
is_root() { [[ "$(id -u)" -eq 0 ]]; }
if [[ -z "$root" ]] && ((!dry_run)) && ! is_root; then
    aiops_die "installing into / needs root (or give --root DIR, or --dry-run)"
fi

# Runs CMD..., or only says it would (--dry-run).
act() {
    if ((dry_run)); then
        aiops_log "would run: $*"
    else
        "$@"
    fi
}

# The uid and gid of the service user in the target's passwd/group (numeric: the user may
# exist only in --root's files, not on this host).
user_ids() {
    local uid gid
    uid="$(awk -F: -v u="$user" '$1 == u { print $3 }' "$(R /etc/passwd)" 2>/dev/null)"
    gid="$(awk -F: -v u="$user" '$1 == u { print $3 }' "$(R /etc/group)" 2>/dev/null)"
    [[ -n "$uid" && -n "$gid" ]] || return 1
    printf '%s %s\n' "$uid" "$gid"
}

# chown OWNER (root, or root:aiops) of PATH..., only as root: a non-root --root install
# keeps the caller's ownership (an image builder sets it later).
own() {
    local owner="$1" ids gid
    shift
    is_root || return 0
    case "$owner" in
    root) act chown 0:0 "$@" ;;
    root:aiops)
        if ((dry_run)) && ! ids="$(user_ids)"; then
            aiops_log "would run: chown root:$user $*"
            return 0
        fi
        ids="$(user_ids)" || aiops_die "user $user is missing from $(R /etc/passwd)"
        gid="${ids#* }"
        act chown "0:$gid" "$@"
        ;;
    esac
}

# Installs SRC as DEST (a path of the target) with MODE, unless DEST already has SRC's bytes
# (then only the mode is set).
put() {
    local src="$1" dest mode="$3"
    dest="$(R "$2")"
    if [[ -f "$dest" ]] && cmp -s "$src" "$dest"; then
        act chmod "$mode" "$dest"
        return 0
    fi
    aiops_log "installing $2"
    act install -D -m "$mode" "$src" "$dest"
}

# Creates directory DIR (a path of the target) with MODE.
mkdir_mode() {
    act install -d -m "$2" "$(R "$1")"
}

# ---------------------------------------------------------------------------------------
# The binary

if [[ -z "$binary" ]]; then
    command -v cargo >/dev/null 2>&1 || aiops_die "cargo is not installed: give --binary PATH, or install a Rust toolchain >= 1.95"
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$AIOPS_CACHE/target}"
    binary="$CARGO_TARGET_DIR/release/aiopsd"
    aiops_log "building aiopsd (release; the first build takes several minutes)"
    build() { (cd "$repo" && cargo build --quiet --locked --release -p aiopsd) >&2; }
    act build
fi
if ((!dry_run)) || [[ -e "$binary" ]]; then
    [[ -f "$binary" && -x "$binary" ]] || aiops_die "$binary is not an executable file"
fi
if [[ -n "$ansible_playbook" && ! -x "$ansible_playbook" ]]; then
    aiops_die "--ansible-playbook $ansible_playbook is not executable"
fi
if [[ -z "$root" && "$(readlink -f "${ansible_playbook:-/}")" == /@(root|home)/* ]]; then
    aiops_die "--ansible-playbook $ansible_playbook is under /root or /home, which the service cannot see (ProtectHome=)"
fi
if [[ -f "$binary" ]]; then
    put "$binary" "$bin_path" 0755
else
    aiops_log "would install $binary as $bin_path"
fi

# ---------------------------------------------------------------------------------------
# The service user, the unit

put "$repo/deploy/systemd/aiops.sysusers" "$sysusers_path" 0644
if ! user_ids >/dev/null; then
    aiops_log "creating the system user $user"
    if sysusers="$(aiops_find_tool systemd-sysusers)"; then
        act mkdir -p "$(R /etc)"
        # With --root it writes DIR/etc/passwd and friends (the file is read as named).
        act "$sysusers" ${root:+"--root=$root"} "$(R "$sysusers_path")"
    elif [[ -z "$root" ]]; then
        act useradd --system --user-group --home-dir /var/lib/aiops --no-create-home \
            --shell /usr/sbin/nologin --comment "aiops appliance daemon" "$user"
    else
        aiops_die "systemd-sysusers is needed to create the user under --root (apt-get install systemd)"
    fi
fi
put "$repo/deploy/systemd/aiopsd.service" "$unit_path" 0644

# ---------------------------------------------------------------------------------------
# Playbooks, the Ansible venv

# The playbooks are replaced as a whole (a removed playbook must not stay runnable).
share_new="$(R "$share_dir/ansible.new")"
if ! diff -r "$repo/deploy/ansible" "$(R "$share_dir/ansible")" >/dev/null 2>&1; then
    aiops_log "installing $share_dir/ansible"
    act rm -rf "$share_new"
    act install -d -m 0755 "$share_new"
    act cp -R "$repo/deploy/ansible/." "$share_new/"
    act chmod -R u=rwX,go=rX "$share_new"
    act rm -rf "$(R "$share_dir/ansible")"
    act mv "$share_new" "$(R "$share_dir/ansible")"
fi
put "$repo/README.md" /usr/local/share/doc/aiops/README.md 0644

if [[ -z "$ansible_playbook" ]]; then
    ansible_playbook="$venv_dir/bin/ansible-playbook"
    if ! aiops_ansible_venv_ok "$(R "$venv_dir")"; then
        aiops_log "creating $venv_dir (ansible-core $AIOPS_ANSIBLE_CORE_VERSION, dnspython $AIOPS_DNSPYTHON_VERSION)"
        # The system's Python first: the venv's interpreter must stay visible to the service,
        # which cannot see /root or /home (ProtectHome=), where pyenv and the like live.
        PATH="/usr/bin:/bin:$PATH" act aiops_make_venv "$(R "$venv_dir")" "could not create the ansible venv" \
            "ansible-core==$AIOPS_ANSIBLE_CORE_VERSION" "dnspython==$AIOPS_DNSPYTHON_VERSION"
        act chmod -R go-w,go+rX "$(R "$venv_dir")"
    fi
    if ((!dry_run)); then
        interpreter="$(readlink -f "$(R "$venv_dir")/bin/python3")"
        case "$interpreter" in
        /root/* | /home/*) aiops_die "$venv_dir uses $interpreter, which the service cannot see (ProtectHome=): remove it and install python3 from Debian" ;;
        esac
    fi
fi

# ---------------------------------------------------------------------------------------
# Configuration, secrets

mkdir_mode "$config_dir" 0750
own root:aiops "$(R "$config_dir")"
mkdir_mode "$secrets_dir" 0750
own root:aiops "$(R "$secrets_dir")"
config_file="$(R "$config_path")"
if [[ -e "$config_file" ]]; then
    aiops_log "keeping $config_path (edit it there; deploy/systemd/aiopsd.toml is only the first version)"
else
    [[ "$ansible_playbook" != *[\|\&\\]* ]] || aiops_die "--ansible-playbook: unsupported characters in $ansible_playbook"
    aiops_log "writing $config_path and the first admin's token $token_path"
    if ((!dry_run)); then
        token="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
        (umask 077 && printf '%s\n' "$token" >"$(R "$token_path")")
        own root "$(R "$token_path")"
        (umask 027 && sed -e "s|@ANSIBLE_PLAYBOOK@|$ansible_playbook|" \
            -e "s|@ADMIN_TOKEN_SHA256@|$(printf %s "$token" | aiops_sha256 -)|" \
            "$repo/deploy/systemd/aiopsd.toml" >"$config_file.new")
        chmod 0640 "$config_file.new"
        own root:aiops "$config_file.new"
        mv "$config_file.new" "$config_file"
    fi
fi

# The configuration as the daemon reads it, before systemd ever starts it: on a scratch data
# directory (check-config opens the store; the real state directory is systemd's to create,
# owned by the service user), and as that user when this host has it (so a file it cannot
# read fails here).
check_config() {
    local scratch rc=0 as_user=()
    scratch="$(mktemp -d)"
    if [[ -z "$root" ]] && is_root && id "$user" >/dev/null 2>&1 && command -v setpriv >/dev/null 2>&1; then
        chown "$user:$user" "$scratch"
        as_user=(setpriv "--reuid=$user" "--regid=$user" --init-groups)
    fi
    (cd "$scratch" && env AIOPS_DATA_DIR="$scratch/data" RUST_LOG="${RUST_LOG:-warn}" ${as_user[@]+"${as_user[@]}"} \
        "$(R "$bin_path")" --config "$config_file" check-config >/dev/null) || rc=$?
    rm -rf "$scratch"
    return "$rc"
}
if ((dry_run)); then
    aiops_log "would run: $bin_path --config $config_path check-config"
else
    check_config || aiops_die "aiopsd check-config rejected $config_path (its reason is above)"
fi

# ---------------------------------------------------------------------------------------
# systemd

if [[ -z "$root" ]]; then
    if [[ -d /run/systemd/system ]]; then
        act systemctl daemon-reload
        act systemctl enable aiopsd.service
        if ((start)); then
            act systemctl restart aiopsd.service
        fi
    else
        aiops_log "systemd is not running here: enable it later with systemctl enable --now aiopsd"
    fi
fi

aiops_kv AIOPS_BIN "$(R "$bin_path")" AIOPS_UNIT "$(R "$unit_path")" AIOPS_CONFIG "$config_file" \
    AIOPS_TOKEN_FILE "$(R "$token_path")"
