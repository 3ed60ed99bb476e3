#!/usr/bin/env bash
# A real Kubernetes API server for tests and local development: kube-apiserver built from
# Debian bookworm's `kubernetes` source package with Debian's Go 1.19, backed by Debian's
# etcd 3.4, both on 127.0.0.1. No controller-manager, no scheduler, no nodes: Deployments
# get no ReplicaSets and pods stay Pending. CRDs work. It serves the API groups of v1.20:
# networking.k8s.io/v1 (NetworkPolicy) but policy/v1beta1 only (policy/v1, e.g. a
# PodDisruptionBudget, came with v1.21 and is not in this source tree at all, so no
# --runtime-config can turn it on).
#
#   bootstrap/kube.sh build                       build kube-apiserver once into $AIOPS_CACHE
#   bootstrap/kube.sh start  <state-dir> <port>   start (or re-report) etcd + kube-apiserver
#   bootstrap/kube.sh crds   <state-dir>          install deploy/k8s/crds (Gateway API and
#                                                 cert-manager kinds) and wait until served
#   bootstrap/kube.sh stop   <state-dir>          stop both
#   bootstrap/kube.sh status <state-dir>          exit 0 if running and ready
#
# `build` is a no-op when $AIOPS_CACHE/kube/bin/kube-apiserver exists and its stamp
# ($AIOPS_CACHE/kube/bin/kube-apiserver.version) names the pinned source version and
# vendor fix (it still makes sure etcd-server, openssl and curl are installed); otherwise it
# installs the build tools with apt (golang-1.19-go, rsync, make, dpkg-dev; as root, or
# Go with `apt-get download` + `dpkg -x` into the cache when not root), downloads the
# source package through a private apt configuration (`deb-src` lines derived from this
# machine's own apt sources), replaces the vendored reflect2 v1.0.1 (crashes on Go >= 1.18)
# with Debian's v1.0.2, and runs `make WHAT=cmd/kube-apiserver` in GOPATH mode. Every step
# is resumable: the download, the unpacked tree and the Go build cache survive a failed
# run; after success only the binary (≈110 MB) and the downloaded source stay.
# ≈5-8 min cold on 2 cores.
#
# `crds` server-side applies the project's CRDs with kubectl (bootstrap/lib.sh
# aiops_ensure_kubectl: a venv under $AIOPS_CACHE), so a second run updates them in place,
# then waits until each is Established and its kinds answer a list.
#
# `start` and `status` print KEY=VALUE lines last on stdout (logs go to stderr):
#   KUBECONFIG=<state-dir>/admin.kubeconfig                          (group system:masters)
#   AIOPS_KUBE_RESTRICTED_KUBECONFIG=<state-dir>/restricted.kubeconfig (user aiops-restricted,
#                                                                     no RBAC bindings)
#   AIOPS_KUBE_API=https://127.0.0.1:<port>
#   AIOPS_KUBE_PIDS=<apiserver pid>,<etcd pid>
# The servers run as the invoking user under nohup/setsid; their data, keys, certificates,
# tokens and logs (etcd.log, apiserver.log) live in <state-dir>.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=bootstrap/lib.sh
source "$here/lib.sh"

# The source package that the build pins (Debian bookworm, incl. its point-release update).
readonly KUBE_PKG="kubernetes"
readonly KUBE_PKG_VERSION="${AIOPS_KUBE_PKG_VERSION:-1.20.5+really1.20.2-1.1+deb12u1}"
# The version the binary reports on GET /version (the upstream code actually shipped).
readonly KUBE_GIT_VERSION_PIN="v1.20.2"
readonly GO_PKG="golang-1.19-go"
readonly GO_SRC_PKG="golang-1.19-src"
readonly KUBE_DIR="$AIOPS_CACHE/kube"
# The vendored github.com/modern-go/reflect2 v1.0.1 of this tree corrupts memory on Go >= 1.18
# (json encoding of maps crashes the apiserver with "unexpected fault address", e.g. when a
# CRD is created); v1.0.2 is the upstream fix. It comes from Debian's own package of it.
readonly REFLECT2_PKG="golang-github-modern-go-reflect2-dev"
readonly REFLECT2_VERSION="1.0.2"
# What the stamp records: the source package and the vendor fix applied to it.
readonly KUBE_BUILD_ID="$KUBE_PKG_VERSION reflect2-$REFLECT2_VERSION"
readonly KUBE_BIN="$KUBE_DIR/bin/kube-apiserver"
readonly KUBE_STAMP="$KUBE_DIR/bin/kube-apiserver.version"
readonly START_TIMEOUT_SECS=90
readonly RESTRICTED_USER="aiops-restricted"
readonly ADMIN_USER="aiops-admin"
# The project's CRDs (deploy/k8s/crds), found by the label each of them carries.
readonly CRD_DIR="$repo/deploy/k8s/crds"
readonly CRD_SELECTOR="app.kubernetes.io/part-of=aiops-dev-crds"
readonly CRD_KINDS="gateways.gateway.networking.k8s.io,httproutes.gateway.networking.k8s.io,certificates.cert-manager.io,clusterissuers.cert-manager.io"
readonly CRD_TIMEOUT_SECS=60

usage() {
    cat >&2 <<'EOF'
usage: kube.sh build
       kube.sh start <state-dir> <port>
       kube.sh crds <state-dir>
       kube.sh stop <state-dir>
       kube.sh status <state-dir>
EOF
    exit 2
}

can_be_root() {
    [[ "$(id -u)" -eq 0 ]] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }
}

# ---------------------------------------------------------------------------------------
# build
# ---------------------------------------------------------------------------------------

binary_ok() {
    [[ -x "$KUBE_BIN" && -f "$KUBE_STAMP" ]] || return 1
    [[ "$(cat "$KUBE_STAMP")" == "$KUBE_BUILD_ID" ]]
}

# Debian codename of this machine (bookworm).
codename() {
    local name=""
    if [[ -r /etc/os-release ]]; then
        name="$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release | tr -d '"')"
    fi
    printf '%s\n' "${name:-bookworm}"
}

# Prints one-line `deb-src [signed-by=…] URI SUITE main` entries for the Debian archive
# suites (<codename>, <codename>-updates, <codename>-security) this machine's apt sources
# use, read from both the deb822 (*.sources) and the one-line (*.list) formats.
derive_deb_src() {
    local code="$1" files=() f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [[ -r "$f" ]] && files+=("$f")
    done
    if ((${#files[@]} > 0)); then
        awk -v code="$code" '
            function suite_ok(s) { return s == code || s == code "-updates" || s == code "-security" }
            function emit(types, uris, suites, comps, signed,   t, u, s, nt, nu, ns, ta, ua, sa, opt, i, j, k) {
                if (comps !~ /(^|[ \t])main([ \t]|$)/) return
                nt = split(types, ta, /[ \t]+/)
                has_deb = 0
                for (i = 1; i <= nt; i++) if (ta[i] == "deb") has_deb = 1
                if (!has_deb) return
                opt = (signed != "") ? "[signed-by=" signed "] " : ""
                nu = split(uris, ua, /[ \t]+/)
                ns = split(suites, sa, /[ \t]+/)
                for (j = 1; j <= nu; j++) for (k = 1; k <= ns; k++)
                    if (ua[j] != "" && suite_ok(sa[k])) print "deb-src " opt ua[j] " " sa[k] " main"
            }
            function flush() {
                if (p_types != "") emit(p_types, p_uris, p_suites, p_comps, p_signed)
                p_types = p_uris = p_suites = p_comps = p_signed = ""
            }
            FNR == 1 { flush(); deb822 = (FILENAME ~ /\.sources$/) }
            /^[ \t]*#/ { next }
            deb822 {
                if ($0 ~ /^[ \t]*$/) { flush(); next }
                line = $0
                key = tolower(line); sub(/:.*/, "", key)
                val = line; sub(/^[^:]*:[ \t]*/, "", val)
                if (key == "types") p_types = val
                else if (key == "uris") p_uris = val
                else if (key == "suites") p_suites = val
                else if (key == "components") p_comps = val
                else if (key == "signed-by" && val ~ /^\//) p_signed = val
                else if (key == "enabled" && tolower(val) == "no") p_types = "disabled"
                next
            }
            /^[ \t]*deb[ \t]/ {
                signed = ""; rest = $0; sub(/^[ \t]*deb[ \t]+/, "", rest)
                if (rest ~ /^\[/) {
                    opts = rest; sub(/\].*/, "", opts); sub(/^\[/, "", opts)
                    sub(/^\[[^]]*\][ \t]*/, "", rest)
                    if (match(opts, /signed-by=[^ \t]+/)) signed = substr(opts, RSTART + 10, RLENGTH - 10)
                }
                n = split(rest, w, /[ \t]+/)
                comps = ""; for (i = 3; i <= n; i++) comps = comps " " w[i]
                emit("deb", w[1], w[2], comps, signed)
            }
            END { flush() }
        ' "${files[@]}" | sort -u
    fi
}

# A private apt configuration (its own source list, lists and archive cache) that knows
# the source packages; the machine's apt configuration is left alone.
private_apt() {
    local aptdir="$KUBE_DIR/apt" code entries
    code="$(codename)"
    mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$aptdir/sources.list.d"
    entries="$(derive_deb_src "$code")"
    if [[ -z "$entries" ]]; then
        aiops_log "no Debian $code suite in /etc/apt/sources.list*; using deb.debian.org"
        entries="deb-src http://deb.debian.org/debian $code main"
    fi
    printf '%s\n' "$entries" >"$aptdir/sources.list"
    cat >"$aptdir/apt.conf" <<EOF
Dir::Etc::SourceList "$aptdir/sources.list";
Dir::Etc::SourceParts "$aptdir/sources.list.d";
Dir::State::Lists "$aptdir/lists";
Dir::Cache "$aptdir/cache";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
APT::Get::Only-Source "true";
EOF
    if [[ "$(id -u)" -ne 0 ]]; then
        printf 'APT::Sandbox::User "%s";\n' "$(id -un)" >>"$aptdir/apt.conf"
    fi
    printf '%s\n' "$aptdir/apt.conf"
}

fetch_source() {
    local srcdir="$KUBE_DIR/src" conf dsc
    dsc="$(find "$srcdir" -maxdepth 1 -name "${KUBE_PKG}_*.dsc" 2>/dev/null | head -n 1)"
    if [[ -n "$dsc" ]] && [[ -f "$srcdir/.complete" ]] && [[ "$(cat "$srcdir/.complete")" == "$KUBE_PKG_VERSION" ]]; then
        printf '%s\n' "$dsc"
        return 0
    fi
    conf="$(private_apt)"
    aiops_log "apt-get update (private config: $(tr '\n' ';' <"$KUBE_DIR/apt/sources.list"))"
    APT_CONFIG="$conf" aiops_quiet apt-get -q update || aiops_die "apt-get update for the source packages failed"
    rm -rf "$srcdir"
    mkdir -p "$srcdir"
    aiops_log "apt-get source --download-only $KUBE_PKG=$KUBE_PKG_VERSION"
    (cd "$srcdir" && APT_CONFIG="$conf" aiops_quiet apt-get -q source --download-only "$KUBE_PKG=$KUBE_PKG_VERSION") ||
        aiops_die "could not download the $KUBE_PKG $KUBE_PKG_VERSION source package (set AIOPS_KUBE_PKG_VERSION to another version of it?)"
    dsc="$(find "$srcdir" -maxdepth 1 -name "${KUBE_PKG}_*.dsc" | head -n 1)"
    [[ -n "$dsc" ]] || aiops_die "apt-get source left no .dsc in $srcdir"
    printf '%s\n' "$KUBE_PKG_VERSION" >"$srcdir/.complete"
    printf '%s\n' "$dsc"
}

# Sets GOROOT_BIN to a directory holding Debian's go 1.19 and the tools the build runs.
ensure_build_tools() {
    local need=() tool
    if can_be_root; then
        [[ -x /usr/lib/go-1.19/bin/go ]] || need+=("$GO_PKG")
        for tool in rsync make dpkg-source openssl; do
            if ! command -v "$tool" >/dev/null 2>&1; then
                case "$tool" in
                dpkg-source) need+=(dpkg-dev) ;;
                *) need+=("$tool") ;;
                esac
            fi
        done
        if ((${#need[@]} > 0)); then
            aiops_log "installing ${need[*]}"
            aiops_apt_install "${need[@]}"
        fi
        GOROOT_BIN=/usr/lib/go-1.19/bin
    else
        # No root: unpack Debian's Go into the cache (it is self-contained).
        local root="$KUBE_DIR/tools"
        if [[ ! -x "$root/usr/lib/go-1.19/bin/go" ]]; then
            aiops_log "unpacking $GO_PKG and $GO_SRC_PKG into $root (apt-get download + dpkg -x)"
            aiops_deb_unpack "$root" "$GO_PKG" "$GO_SRC_PKG"
        fi
        for tool in rsync make dpkg-source; do
            command -v "$tool" >/dev/null 2>&1 || aiops_die "$tool is missing and installing it needs root"
        done
        GOROOT_BIN="$root/usr/lib/go-1.19/bin"
    fi
    "$GOROOT_BIN/go" version >/dev/null 2>&1 || aiops_die "go 1.19 at $GOROOT_BIN does not run"
}

# Replaces the tree's vendored reflect2 v1.0.1 with Debian's v1.0.2 (see REFLECT2_PKG).
patch_vendor_reflect2() {
    local tree="$1" tmp src dst deb version
    tmp="$(mktemp -d)"
    aiops_deb_fetch "$tmp" "$REFLECT2_PKG" || aiops_deb_fetch "$tmp" "$REFLECT2_PKG" ||
        aiops_die "apt-get download $REFLECT2_PKG failed"
    deb="$(find "$tmp" -maxdepth 1 -name "${REFLECT2_PKG}_*.deb" | head -n 1)"
    version="$(dpkg-deb -f "$deb" Version)"
    [[ "$version" == "$REFLECT2_VERSION"* ]] || aiops_die "$REFLECT2_PKG is $version, expected $REFLECT2_VERSION"
    dpkg -x "$deb" "$tmp/root"
    src="$tmp/root/usr/share/gocode/src/github.com/modern-go/reflect2"
    [[ -f "$src/reflect2.go" ]] || aiops_die "$REFLECT2_PKG has no reflect2 sources"
    dst="$tree/vendor/github.com/modern-go/reflect2"
    rm -rf "$dst"
    mkdir -p "$dst"
    find "$src" -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' -o -name 'LICENSE' \) ! -name '*_test.go' \
        -exec cp {} "$dst/" \;
    rm -rf "$tmp"
    aiops_log "vendored github.com/modern-go/reflect2 replaced by $version (Go >= 1.18 fix)"
}

cmd_build() {
    # The run-time tools (etcd, curl, openssl) too, so that `start` needs no install.
    ensure_runtime_tools
    if binary_ok; then
        aiops_log "kube-apiserver ($KUBE_BUILD_ID) already built: $KUBE_BIN"
        return 0
    fi
    local started=$SECONDS dsc build tree gopath log
    mkdir -p "$KUBE_DIR/bin"
    ensure_build_tools
    aiops_log "using $("$GOROOT_BIN/go" version)"
    dsc="$(fetch_source)"

    build="$KUBE_DIR/build"
    tree="$build/kubernetes"
    if [[ ! -f "$build/.unpacked" ]] || [[ "$(cat "$build/.unpacked")" != "$KUBE_BUILD_ID" ]]; then
        aiops_log "unpacking $(basename "$dsc")"
        rm -rf "$build/kubernetes" "$build/.unpacked"
        mkdir -p "$build"
        dpkg-source --no-check -x "$dsc" "$tree" >&2 || aiops_die "dpkg-source -x failed"
        patch_vendor_reflect2 "$tree"
        printf '%s\n' "$KUBE_BUILD_ID" >"$build/.unpacked"
    fi
    [[ -d "$tree/vendor" ]] || aiops_die "$tree has no vendor/ directory"

    # GOPATH mode: the tree must sit at $GOPATH/src/k8s.io/kubernetes (a plain `go build`
    # of the module fails on this vintage of the tree).
    gopath="$build/gopath"
    mkdir -p "$gopath/src/k8s.io"
    ln -sfn "$tree" "$gopath/src/k8s.io/kubernetes"

    aiops_log "building cmd/kube-apiserver (make WHAT=cmd/kube-apiserver; several minutes)"
    log="$build/make.log"
    if ! (
        cd "$gopath/src/k8s.io/kubernetes"
        export PATH="$GOROOT_BIN:$PATH"
        unset GOROOT GOFLAGS
        export GOPATH="$gopath" GO111MODULE=off GOTOOLCHAIN=local GOPROXY=off
        export GOCACHE="$build/gocache"
        # No .git in a source package: hand the version to hack/lib/version.sh.
        export KUBE_GIT_VERSION="$KUBE_GIT_VERSION_PIN" KUBE_GIT_TREE_STATE=clean
        export KUBE_GIT_MAJOR=1 KUBE_GIT_MINOR=20 KUBE_GIT_COMMIT=debian-${KUBE_PKG_VERSION//[^A-Za-z0-9.]/-}
        export KUBE_VERBOSE=1
        make WHAT=cmd/kube-apiserver
    ) >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        aiops_die "make WHAT=cmd/kube-apiserver failed (full log: $log)"
    fi
    local out
    out="$(find "$tree/_output" -type f -name kube-apiserver -perm -u+x 2>/dev/null | head -n 1)"
    [[ -n "$out" ]] || aiops_die "the build produced no kube-apiserver binary (log: $log)"
    cp "$out" "$KUBE_BIN.tmp"
    chmod 0755 "$KUBE_BIN.tmp"
    "$KUBE_BIN.tmp" --version >&2 || aiops_die "the built kube-apiserver does not run"
    mv "$KUBE_BIN.tmp" "$KUBE_BIN"
    printf '%s\n' "$KUBE_BUILD_ID" >"$KUBE_STAMP"
    # The tree, GOPATH and Go cache are large (GBs); the downloaded source stays cached.
    rm -rf "$build"
    aiops_log "built $KUBE_BIN in $((SECONDS - started))s"
}

# ---------------------------------------------------------------------------------------
# start / stop / status
# ---------------------------------------------------------------------------------------

ensure_runtime_tools() {
    local need=()
    aiops_find_tool etcd >/dev/null || need+=(etcd-server)
    command -v openssl >/dev/null 2>&1 || need+=(openssl)
    command -v curl >/dev/null 2>&1 || need+=(curl)
    if ((${#need[@]} > 0)); then
        if [[ "${AIOPS_NO_INSTALL:-0}" == "1" ]]; then
            aiops_die "missing ${need[*]}: run bootstrap/kube.sh build"
        fi
        if can_be_root; then
            aiops_log "installing ${need[*]}"
            aiops_apt_install "${need[@]}"
        elif [[ "${need[*]}" == "etcd-server" ]]; then
            aiops_deb_unpack "$KUBE_DIR/tools" etcd-server
        else
            aiops_die "missing ${need[*]} and installing needs root"
        fi
    fi
    ETCD_BIN="$(aiops_find_tool etcd 2>/dev/null || true)"
    if [[ -z "$ETCD_BIN" && -x "$KUBE_DIR/tools/usr/bin/etcd" ]]; then
        ETCD_BIN="$KUBE_DIR/tools/usr/bin/etcd"
    fi
    [[ -n "$ETCD_BIN" ]] || aiops_die "etcd not found after install"
}

# The pids recorded in <state>/<name>.pid, if alive and really running with our files on
# their command lines (guards against a recycled pid).
etcd_pid() { aiops_live_pid "$1/etcd.pid" aiops_cmdline_has "$1/etcd-data"; }
apiserver_pid() { aiops_live_pid "$1/apiserver.pid" aiops_cmdline_has "$1/tokens.csv"; }

# The apiserver's pid when both servers of <state> run.
servers_pid() {
    etcd_pid "$1" >/dev/null && apiserver_pid "$1"
}

# A free TCP port on 127.0.0.1 in 20000-59999, not in the exclusion list.
free_port() {
    local exclude=" $* " p i
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        [[ "$exclude" == *" $p "* ]] && continue
        aiops_port_in_use "$p" || {
            printf '%s\n' "$p"
            return 0
        }
    done
    aiops_die "no free port found"
}

ready() {
    local state="$1" port="$2" token
    [[ -s "$state/admin.token" && -s "$state/ca.crt" ]] || return 1
    token="$(cat "$state/admin.token")"
    # The token goes through a header file, never on a command line.
    curl -fsS --max-time 3 --cacert "$state/ca.crt" -H @<(printf 'Authorization: Bearer %s\n' "$token") \
        "https://127.0.0.1:$port/readyz" >/dev/null 2>&1
}

ensure_keys() {
    local state="$1"
    (
        umask 077
        if [[ ! -s "$state/sa.key" || ! -s "$state/sa.pub" ]]; then
            openssl genrsa -out "$state/sa.key.tmp" 2048 2>/dev/null
            openssl rsa -in "$state/sa.key.tmp" -pubout -out "$state/sa.pub" 2>/dev/null
            mv "$state/sa.key.tmp" "$state/sa.key"
        fi
        if [[ ! -s "$state/admin.token" ]]; then
            openssl rand -hex 32 >"$state/admin.token"
        fi
        if [[ ! -s "$state/restricted.token" ]]; then
            openssl rand -hex 32 >"$state/restricted.token"
        fi
        # token,user,uid,"group,…"
        {
            printf '%s,%s,%s,"system:masters"\n' "$(cat "$state/admin.token")" "$ADMIN_USER" "uid-$ADMIN_USER"
            printf '%s,%s,%s\n' "$(cat "$state/restricted.token")" "$RESTRICTED_USER" "uid-$RESTRICTED_USER"
        } >"$state/tokens.csv.tmp"
        mv "$state/tokens.csv.tmp" "$state/tokens.csv"
    )
}

# The CA that signed the self-signed serving certificate kube-apiserver generates in its
# --cert-dir: the last PEM block of apiserver.crt (the serving certificate comes first).
extract_ca() {
    local state="$1"
    awk '
        /-----BEGIN CERTIFICATE-----/ { buf = ""; inblock = 1 }
        inblock { buf = buf $0 "\n" }
        /-----END CERTIFICATE-----/ { last = buf; inblock = 0 }
        END { printf "%s", last }
    ' "$state/certs/apiserver.crt" >"$state/ca.crt.tmp"
    [[ -s "$state/ca.crt.tmp" ]] || return 1
    mv "$state/ca.crt.tmp" "$state/ca.crt"
}

write_kubeconfig() {
    local state="$1" port="$2" name="$3" user="$4" tokenfile="$5" ca
    ca="$(base64 -w0 <"$state/ca.crt")"
    (
        umask 077
        cat >"$state/$name.kubeconfig.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: aiops-local
  cluster:
    server: https://127.0.0.1:$port
    certificate-authority-data: $ca
users:
- name: $user
  user:
    token: $(cat "$tokenfile")
contexts:
- name: aiops-local
  context:
    cluster: aiops-local
    user: $user
current-context: aiops-local
EOF
        mv "$state/$name.kubeconfig.tmp" "$state/$name.kubeconfig"
    )
}

print_env() {
    local state="$1" port="$2"
    aiops_kv KUBECONFIG "$state/admin.kubeconfig" \
        AIOPS_KUBE_RESTRICTED_KUBECONFIG "$state/restricted.kubeconfig" \
        AIOPS_KUBE_API "https://127.0.0.1:$port" \
        AIOPS_KUBE_PIDS "$(apiserver_pid "$state" || true),$(etcd_pid "$state" || true)"
}

stop_servers() {
    local state="$1"
    aiops_stop_recorded "$state/apiserver.pid" kube-apiserver "$(apiserver_pid "$state" || true)"
    aiops_stop_recorded "$state/etcd.pid" etcd "$(etcd_pid "$state" || true)"
}

etcd_healthy() {
    curl -fsS --max-time 2 "http://127.0.0.1:$1/health" 2>/dev/null | grep -q '"health":"true"'
}

# Starts server <name> of <state> detached, in a process group of its own, with a private
# directory <dir>, its log in <state>/<name>.log and its pid in <state>/<name>.pid; prints
# the pid. A pid that is not the server's would fail the command-line check of
# etcd_pid/apiserver_pid, so start-up would report it instead of losing track of it.
# Usage: spawn_server <state> <name> <dir> CMD...
spawn_server() {
    local state="$1" name="$2" dir="$3"
    shift 3
    mkdir -p "$dir"
    chmod 0700 "$dir"
    aiops_spawn --setsid --new-log --pid-file "$state/$name.pid" "$state/$name.log" "$@"
}

start_etcd() {
    local state="$1" client="$2" peer="$3" pid
    pid="$(spawn_server "$state" etcd "$state/etcd-data" "$ETCD_BIN" \
        --name aiops \
        --data-dir "$state/etcd-data" \
        --listen-client-urls "http://127.0.0.1:$client" \
        --advertise-client-urls "http://127.0.0.1:$client" \
        --listen-peer-urls "http://127.0.0.1:$peer" \
        --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
        --initial-cluster "aiops=http://127.0.0.1:$peer" \
        --initial-cluster-state new \
        --listen-metrics-urls "" \
        --log-level warn)"
    aiops_await_start etcd "$state/etcd.log" 30 "did not become healthy" \
        aiops_alive "$pid" -- etcd_healthy "$client" || {
        stop_servers "$state"
        exit 1
    }
    aiops_log "etcd (pid $pid) serves http://127.0.0.1:$client"
}

# Ready once /readyz answers over TLS, checked with the CA taken from the serving
# certificate as soon as the server has written it.
apiserver_ready() {
    local state="$1" port="$2"
    if [[ ! -s "$state/ca.crt" || "$state/certs/apiserver.crt" -nt "$state/ca.crt" ]] &&
        [[ -s "$state/certs/apiserver.crt" ]]; then
        extract_ca "$state" || true
    fi
    ready "$state" "$port"
}

start_apiserver() {
    local state="$1" port="$2" client="$3" pid
    pid="$(spawn_server "$state" apiserver "$state/certs" "$KUBE_BIN" \
        --etcd-servers "http://127.0.0.1:$client" \
        --bind-address 127.0.0.1 \
        --advertise-address 127.0.0.1 \
        --secure-port "$port" \
        --insecure-port 0 \
        --cert-dir "$state/certs" \
        --token-auth-file "$state/tokens.csv" \
        --anonymous-auth=false \
        --authorization-mode RBAC \
        --service-account-issuer https://kubernetes.default.svc.cluster.local \
        --service-account-key-file "$state/sa.pub" \
        --service-account-signing-key-file "$state/sa.key" \
        --service-cluster-ip-range 10.96.0.0/24 \
        --disable-admission-plugins ServiceAccount \
        --enable-admission-plugins NamespaceLifecycle,LimitRanger,DefaultTolerationSeconds,Priority,ResourceQuota \
        --endpoint-reconciler-type none \
        --profiling=false \
        --v 1)"
    aiops_await_start kube-apiserver "$state/apiserver.log" "$START_TIMEOUT_SECS" "was not ready on 127.0.0.1:$port" \
        aiops_alive "$pid" -- apiserver_ready "$state" "$port" || {
        stop_servers "$state"
        exit 1
    }
    aiops_log "kube-apiserver (pid $pid) ready on https://127.0.0.1:$port"
}

cmd_start() {
    local state="$1" port="$2" client peer
    aiops_check_port "$port"
    binary_ok || aiops_die "kube-apiserver is not built ($KUBE_BIN missing): run \`bash bootstrap/kube.sh build\` first"
    ensure_runtime_tools
    state="$(aiops_abs_dir "$state")"
    chmod 0700 "$state"

    if servers_pid "$state" >/dev/null; then
        if [[ "$(cat "$state/port" 2>/dev/null)" == "$port" ]] && ready "$state" "$port"; then
            print_env "$state" "$port"
            return 0
        fi
        aiops_log "the servers of $state run, but not ready on port $port: restarting them"
    fi
    stop_servers "$state"

    if aiops_port_in_use "$port"; then
        aiops_die "127.0.0.1:$port is already in use by another process"
    fi
    client="$(free_port "$port")"
    peer="$(free_port "$port" "$client")"
    printf '%s\n' "$port" >"$state/port"
    printf '%s\n' "$client" >"$state/etcd-client-port"

    ensure_keys "$state"
    # A fresh serving certificate per start (it names the advertise address).
    rm -f "$state/certs/apiserver.crt" "$state/certs/apiserver.key" "$state/ca.crt"
    start_etcd "$state" "$client" "$peer"
    start_apiserver "$state" "$port" "$client"
    write_kubeconfig "$state" "$port" admin "$ADMIN_USER" "$state/admin.token"
    write_kubeconfig "$state" "$port" restricted "$RESTRICTED_USER" "$state/restricted.token"
    print_env "$state" "$port"
}

# Do the custom kinds answer a list? Established says the CRD was accepted; the handlers
# that serve its kinds follow a moment later.
crd_kinds_served() {
    "$AIOPS_KUBECTL" --kubeconfig "$1" get "$CRD_KINDS" --all-namespaces >/dev/null 2>&1
}

cmd_crds() {
    local state kubeconfig rc=0
    state="$(aiops_abs_dir "$1")"
    if ! servers_pid "$state" >/dev/null || ! ready "$state" "$(cat "$state/port" 2>/dev/null)"; then
        aiops_die "no ready kube-apiserver in $state: run \`bootstrap/kube.sh start $1 <port>\` first"
    fi
    aiops_ensure_kubectl
    kubeconfig="$state/admin.kubeconfig"
    # Server-side apply: creates them, or updates them after an edit of deploy/k8s/crds.
    aiops_quiet "$AIOPS_KUBECTL" --kubeconfig "$kubeconfig" apply --server-side \
        --field-manager aiops-bootstrap -k "$CRD_DIR" ||
        aiops_die "the API server refused the CRDs of $CRD_DIR"
    aiops_quiet "$AIOPS_KUBECTL" --kubeconfig "$kubeconfig" wait --for condition=Established \
        --timeout "${CRD_TIMEOUT_SECS}s" crd -l "$CRD_SELECTOR" ||
        aiops_die "the CRDs of $CRD_DIR were not Established within ${CRD_TIMEOUT_SECS}s"
    aiops_wait_for "$CRD_TIMEOUT_SECS" true -- crd_kinds_served "$kubeconfig" || rc=$?
    ((rc == 0)) || aiops_die "the custom kinds ($CRD_KINDS) were not served within ${CRD_TIMEOUT_SECS}s"
    aiops_log "CRDs of deploy/k8s/crds installed and served"
}

cmd_stop() {
    aiops_stop_state "$1" stop_servers
}

cmd_status() {
    aiops_status "$1" servers_pid ready print_env
}

aiops_dispatch "build:0 start:2 crds:1 stop:1 status:1" "$@"
