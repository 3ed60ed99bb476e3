#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the real test servers (BIND 9, ansible-core),
# then style gates, every crate's tests (unit, Rego, in-process API, end-to-end against real
# BIND, Ansible, OpenBao, kube-apiserver, Qdrant, PostgreSQL and Ollama), the retrieval
# evaluation and the parser evaluation on the shared sets, and the supply-chain checks
# (cargo-deny, SBOMs).
# Slow builds are cached outside the repository ($AIOPS_CACHE, default ~/.cache/aiops).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=bootstrap/lib.sh
source "$here/lib.sh"
cd "$repo"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$AIOPS_CACHE/target}"
export CARGO_TERM_COLOR=never
# A test run builds once: incremental state would only cost disk (gigabytes) and time.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

step() { printf '\n==> %s\n' "$*" >&2; }

step "cargo fmt --check"
cargo fmt --all -- --check

# The test servers install (apt, a kube-apiserver build, downloads: minutes on a fresh
# machine) while the workspace builds; the tests wait for both.
env_out="$(mktemp)"
tools_log="$(mktemp)"
trap 'rm -f "$env_out" "$tools_log"' EXIT
bash "$here/test-env.sh" >"$env_out" &
env_pid=$!
# The supply-chain tools (cargo-deny, cargo-cyclonedx; about 2.5 CPU-minutes each to compile,
# once, then cached in $AIOPS_CACHE/tools) build at the lowest priority meanwhile: on the CPU
# the workspace build and the tests leave idle. In a session of its own, so a failed build
# can stop it with its cargo.
setsid nice -n 19 bash "$here/supply-chain.sh" --install-only >"$tools_log" 2>&1 &
tools_pid=$!

# Clippy and the test build in one pass. `cargo clippy` is `cargo check` with clippy-driver
# as the workspace's rustc wrapper and its arguments in CLIPPY_ARGS; a separate clippy run
# would check every dependency a second time (check metadata is not shared with a build),
# which costs about 9 of a cold run's minutes on 2 cores. clippy-driver compiles like rustc,
# so the same wrapper, kept for the test run below, lints the workspace's crates (all
# targets, benches included) while building them, with `-D warnings` as in
# `cargo clippy --all-targets -- -D warnings`.
clippy_driver="$(rustc --print sysroot)/bin/clippy-driver"
[[ -x "$clippy_driver" ]] || aiops_die "clippy-driver not found in the toolchain; run: rustup component add clippy"
export RUSTC_WORKSPACE_WRAPPER="$clippy_driver"
# One argument, so cargo-clippy's separator for several (an internal detail) is not needed.
export CLIPPY_ARGS="-Dwarnings"

step "cargo clippy --all-targets -- -D warnings, and the test build (one pass)"
if ! cargo test --locked --workspace --all-targets --no-run; then
    kill "$env_pid" 2>/dev/null || true
    kill -- "-$tools_pid" 2>/dev/null || true
    wait "$env_pid" "$tools_pid" 2>/dev/null || true
    exit 1
fi

step "test servers (bootstrap/test-env.sh)"
wait "$env_pid" || aiops_die "bootstrap/test-env.sh failed (its output is above)"
eval "$(grep -E '^[A-Z_]+=' "$env_out")"
export AIOPS_ANSIBLE_PLAYBOOK AIOPS_NAMED AIOPS_BAO AIOPS_QDRANT_BIN AIOPS_EMBED_MODEL_DIR AIOPS_KUBECTL \
    AIOPS_PG_BIN AIOPS_MCP_PYTHON AIOPS_MCP_INSPECTOR AIOPS_CHROMIUM AIOPS_CHROMEDRIVER

step "cargo test"
cargo test --locked --workspace --no-fail-fast

step "OpenAPI document validates as OpenAPI 3.1"
tools="$AIOPS_CACHE/pytools"
if [[ ! -x "$tools/bin/openapi-spec-validator" ]]; then
    aiops_make_venv "$tools" "could not install openapi-spec-validator" openapi-spec-validator
fi
# The committed copy is checked against the served one by `cargo test` (crates/aiopsd/tests/openapi.rs).
"$tools/bin/openapi-spec-validator" crates/aiopsd/openapi.json

step "retrieval evaluation on ../shared/eval/ask.jsonl (recall@3 >= 0.9)"
AIOPS_EMBED_MODEL_DIR="$AIOPS_EMBED_MODEL_DIR" "$CARGO_TARGET_DIR/debug/aiopsd" eval-retrieval \
    "$repo/../shared/eval/ask.jsonl" --corpus "$repo/../shared/eval/corpus/prometheus-runbooks"

for eval_set in "$repo"/../shared/eval/intents.jsonl "$repo"/../shared/eval/intents-more.jsonl; do
    step "parser evaluation on ${eval_set#"$repo/"}"
    "$CARGO_TARGET_DIR/debug/aiopsd" eval "$eval_set"
done

step "supply chain: cargo deny check licenses bans sources, the SBOMs are current"
if ! wait "$tools_pid"; then
    cat "$tools_log" >&2
    aiops_die "installing cargo-deny or cargo-cyclonedx failed (its output is above)"
fi
# Advisories need the RustSec database (not reachable here): bootstrap/supply-chain.sh says how.
bash "$here/supply-chain.sh"
