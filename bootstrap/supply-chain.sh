#!/usr/bin/env bash
# Supply-chain checks of the dependency tree, as CI runs them (bootstrap/run-tests.sh):
#   1. cargo deny check licenses bans sources   (deny.toml; needs only the registry's crates)
#   2. bootstrap/sbom.sh --check                 (the committed SBOMs match Cargo.lock)
# cargo-deny and cargo-cyclonedx are installed once into $AIOPS_CACHE/tools
# (aiops_ensure_cargo_tool in bootstrap/lib.sh); a cold install compiles each of them
# (about 2.5 CPU-minutes each).
#
#   bootstrap/supply-chain.sh                  the checks
#   bootstrap/supply-chain.sh --install-only   only install the tools (run-tests.sh starts
#                                              this early, at low priority)
#
# Advisories (`cargo deny check advisories`) need the RustSec advisory database, a Git
# repository this CI cannot reach; run them where it is reachable, before a release:
#   AIOPS_ADVISORIES=1 bootstrap/supply-chain.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=bootstrap/lib.sh
source "$here/lib.sh"
cd "$repo"

AIOPS_CARGO_DENY_VERSION="${AIOPS_CARGO_DENY_VERSION:-0.20.2}"
AIOPS_CARGO_CYCLONEDX_VERSION="${AIOPS_CARGO_CYCLONEDX_VERSION:-0.5.9}"
export AIOPS_CARGO_CYCLONEDX_VERSION

deny="$(aiops_ensure_cargo_tool cargo-deny "$AIOPS_CARGO_DENY_VERSION")"
case "${1:-}" in
"") ;;
--install-only)
    aiops_ensure_cargo_tool cargo-cyclonedx "$AIOPS_CARGO_CYCLONEDX_VERSION" >/dev/null
    exit 0
    ;;
*) echo "usage: bootstrap/supply-chain.sh [--install-only]" >&2; exit 2 ;;
esac

PATH="$(dirname "$deny"):$PATH"
export PATH
checks=(licenses bans sources)
if [[ "${AIOPS_ADVISORIES:-0}" == "1" ]]; then
    checks+=(advisories)
fi
aiops_log "cargo deny check ${checks[*]}"
# Errors only: the duplicate-version report (bans.multiple-versions = "warn") is for reading
# locally with `cargo deny check bans`, not for every CI log.
cargo deny --locked --log-level error check "${checks[@]}"

aiops_log "the SBOMs are current (bootstrap/sbom.sh --check)"
bash "$here/sbom.sh" --check
