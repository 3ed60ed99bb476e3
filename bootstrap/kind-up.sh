#!/usr/bin/env bash
# UNTESTED HERE: needs Docker and kind, which the project's CI and development machines do
# not have (no container runtime, no registry but the package ones). What it applies is
# tested: tests/tests/k8s_manifests.rs renders deploy/k8s/overlays/kind and dry-runs every
# object on a real API server.
#
# aiopsd on a local kind cluster, for users with Docker:
#   1. creates the kind cluster `aiops` from deploy/kind/kind-config.yaml (kept if it exists),
#   2. builds the image aiops/aiopsd:dev from the repository's Dockerfile and loads it into
#      the node (`kind load docker-image`; the overlay never pulls it),
#   3. installs the CRDs of the kinds the manifests use, unless the cluster already serves
#      them (a real Gateway API or cert-manager install brings its own; deploy/k8s/crds is
#      the project's subset, enough for the objects to be accepted, with no controller),
#   4. creates the namespace and the Secrets the manifests read (random passwords, once),
#   5. applies deploy/k8s/overlays/kind and waits for the daemon's rollout,
# then prints KEY=VALUE lines:
#   AIOPS_URL=http://127.0.0.1:30080
#   KUBECONFIG=<the kind cluster's kubeconfig>
# OpenBao starts sealed and uninitialised: the daemon is not ready until it is initialised,
# unsealed and seeded (deploy/k8s/components/openbao/kustomization.yaml says how).
#
# Settings (environment): AIOPS_KIND_CLUSTER (aiops), KIND (kind), DOCKER (docker),
# AIOPS_CACHE (~/.cache/aiops).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=bootstrap/lib.sh
source "$here/lib.sh"

cluster="${AIOPS_KIND_CLUSTER:-aiops}"
kind_bin="${KIND:-kind}"
docker_bin="${DOCKER:-docker}"
image="aiops/aiopsd:dev"
namespace="aiops"

command -v "$docker_bin" >/dev/null 2>&1 || aiops_die "docker is not installed (kind runs its nodes in Docker)"
command -v "$kind_bin" >/dev/null 2>&1 || aiops_die "kind is not installed (see the kind project's install guide)"
aiops_ensure_kubectl
kubeconfig="$AIOPS_CACHE/kind-$cluster.kubeconfig"
kubectl() { "$AIOPS_KUBECTL" --kubeconfig "$kubeconfig" "$@"; }

if "$kind_bin" get clusters 2>/dev/null | grep -qx "$cluster"; then
    aiops_log "kind cluster $cluster exists; keeping it"
else
    aiops_log "creating kind cluster $cluster"
    "$kind_bin" create cluster --name "$cluster" --config "$repo/deploy/kind/kind-config.yaml" >&2
fi
mkdir -p "$AIOPS_CACHE"
(umask 077 && "$kind_bin" get kubeconfig --name "$cluster" >"$kubeconfig")

aiops_log "building $image (the first build compiles the workspace: several minutes)"
"$docker_bin" build -t "$image" "$repo" >&2
"$kind_bin" load docker-image --name "$cluster" "$image" >&2

# The project's CRDs only where nothing serves these kinds yet: never over a real install's.
for crd in gateways.gateway.networking.k8s.io httproutes.gateway.networking.k8s.io \
    certificates.cert-manager.io clusterissuers.cert-manager.io; do
    if ! kubectl get crd "$crd" >/dev/null 2>&1; then
        aiops_log "installing the CRD $crd from deploy/k8s/crds (no controller acts on it)"
        kubectl apply --server-side --field-manager aiops-kind-up \
            -f "$repo/deploy/k8s/crds/$crd.yaml" >&2
    fi
done
kubectl wait --for condition=Established --timeout 60s crd \
    gateways.gateway.networking.k8s.io httproutes.gateway.networking.k8s.io \
    certificates.cert-manager.io clusterissuers.cert-manager.io >&2

# The Secrets, made once with random passwords; no secret is kept in the repository.
kubectl apply -f - >&2 <<YAML
apiVersion: v1
kind: Namespace
metadata:
  name: $namespace
YAML
if ! kubectl -n "$namespace" get secret aiops-postgres >/dev/null 2>&1; then
    password="$(openssl rand -hex 24)"
    kubectl -n "$namespace" create secret generic aiops-postgres \
        --from-literal=password="$password" >&2
    kubectl -n "$namespace" create secret generic aiopsd-store \
        --from-literal=url="postgres://aiops:$password@postgres:5432/aiops" >&2
    unset password
fi

kubectl apply -k "$repo/deploy/k8s/overlays/kind" >&2
kubectl -n "$namespace" rollout status statefulset/postgres --timeout 300s >&2
if ! kubectl -n "$namespace" rollout status deployment/aiopsd --timeout 300s >&2; then
    aiops_log "aiopsd is not ready yet: is OpenBao initialised and unsealed? (kubectl -n $namespace get pods)"
fi
aiops_kv AIOPS_URL "http://127.0.0.1:30080" KUBECONFIG "$kubeconfig"
