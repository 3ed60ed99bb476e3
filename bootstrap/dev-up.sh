#!/usr/bin/env bash
# Starts the appliance locally on embedded defaults: installs what is missing (BIND 9,
# ansible-core in a venv), builds aiopsd, starts a private BIND on 127.0.0.1 (zones `local`
# and `corp.example.com`, TSIG key), a local Slack API receiver, and aiopsd in the
# background, waits until it is ready, and prints KEY=VALUE lines last:
#   AIOPS_URL=http://127.0.0.1:30080
#   AIOPS_DNS=127.0.0.1:<port>
#   AIOPS_LOG=<the daemon's log file>
#   AIOPS_DATA=<its data directory>
#   AIOPS_TOKEN=<the API token to use: the operator's, the same as AIOPS_TOKEN_REQUESTER>
#   AIOPS_TOKEN_REQUESTER=<API token of user `requester` (role operator)>
#   AIOPS_TOKEN_APPROVER=<API token of user `approver` (role approver, in the owning groups
#                         netops and platform)>
#   AIOPS_TOKEN_ADMIN=<API token of user `admin` (role admin: may ingest runbooks)>
#   AIOPS_SLACK_SIGNING_SECRET=<generated dev signing secret>
#   AIOPS_SLACK_APPROVER_ID=<the Slack user id mapped to `approver`>
#   AIOPS_SLACK_API=<the Slack API base it configured: a receiver on 127.0.0.1>
# and, with AIOPS_SECRETS=vault, a local OpenBao holding the TSIG key (the daemon logs in by
# AppRole with the shipped policy):
#   VAULT_ADDR=http://127.0.0.1:<port>
#   VAULT_TOKEN=<dev root token>
# Kubernetes: the cluster of $KUBECONFIG when set (Kind, K3s); with AIOPS_K8S=local it builds
# (once, ≈8 min) and starts a local etcd + kube-apiserver, installs the project's Gateway API
# and cert-manager CRDs (deploy/k8s/crds, waiting until they are Established) and a small
# demo world (bootstrap/kube/dev-cluster.yaml: Deployments and Services `web` in the
# namespaces `shop` and `bar1`, the Gateway and ClusterIssuer the k8s.expose_service objects
# name), and prints
#   KUBECONFIG=<path>
# Runbook retrieval is on: the embedding model is installed (bootstrap/embeddings.sh), the
# vectors live in an embedded Qdrant Edge shard in the data directory, and deploy/runbooks is
# ingested once the daemon is ready (unchanged runbooks are skipped on later runs). With
# AIOPS_VECTOR=qdrant a local Qdrant server holds them instead (bootstrap/qdrant.sh); it prints
#   AIOPS_QDRANT_URL=http://127.0.0.1:<grpc port>
# TLS: with AIOPS_TLS=1 it creates once (in <state>/tls, keys 0600, with `aiopsd gen-certs`) a
# local CA, a server certificate for localhost and 127.0.0.1 and a client certificate, serves
# the API over mTLS (AIOPS_URL becomes https://...) and prints
#   AIOPS_CA=<the CA certificate>  AIOPS_CLIENT_CERT=<client certificate>  AIOPS_CLIENT_KEY=<its key>
# which the aiops CLI reads as they are (curl: --cacert, --cert, --key). The client
# certificate maps to user `requester`.
# Store: with AIOPS_STORE=postgres it starts a private PostgreSQL cluster
# (bootstrap/postgres.sh, in <state>/postgres, port AIOPS_PG_PORT, default 15432) and runs the
# daemon on it ([store] backend = "postgres"; the URL, which holds the cluster's password,
# reaches the daemon through AIOPS_STORE_URL, not the config file); it prints
#   AIOPS_PG_URL=postgres://aiops:<password>@127.0.0.1:<port>/aiops
# Language model: with AIOPS_LLM=ollama it starts Ollama on loopback with two small models
# (bootstrap/ollama.sh) and turns on the model parser ([llm]); it prints
#   OLLAMA_HOST=http://127.0.0.1:<port>
# Idempotent: a second run keeps what is running (restarting aiopsd only if it was rebuilt
# or reconfigured). Tokens and the signing secret are generated once and kept (0600) in the
# state directory.
#
# Settings (environment): AIOPS_STATE (default <repo>/.aiops), AIOPS_PORT (30080),
# AIOPS_DNS_PORT (15353), AIOPS_SLACK_PORT (30081), AIOPS_VAULT_PORT (18200),
# AIOPS_SECRETS (directory | vault), AIOPS_K8S (local), AIOPS_KUBE_PORT (16443),
# AIOPS_LLM (ollama), AIOPS_VECTOR (edge | qdrant), AIOPS_TLS (1),
# AIOPS_STORE (sqlite | postgres), AIOPS_PG_PORT (15432),
# AIOPS_PROFILE (release | dev), AIOPS_CACHE (~/.cache/aiops).
# Stop everything with bootstrap/dev-down.sh.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=bootstrap/lib.sh
source "$here/lib.sh"

state="${AIOPS_STATE:-$repo/.aiops}"
port="${AIOPS_PORT:-30080}"
dns_port="${AIOPS_DNS_PORT:-15353}"
profile="${AIOPS_PROFILE:-release}"
slack_port="${AIOPS_SLACK_PORT:-30081}"
vault_port="${AIOPS_VAULT_PORT:-18200}"
secrets_mode="${AIOPS_SECRETS:-directory}"
case "$secrets_mode" in
    directory | vault) ;;
    *) echo "[aiops] error: AIOPS_SECRETS must be directory or vault, not $secrets_mode" >&2; exit 2 ;;
esac
case "${AIOPS_TLS:-}" in
    "" | 0) tls=0 ;;
    1) tls=1 ;;
    *) echo "[aiops] error: AIOPS_TLS must be 1 (or unset: plain HTTP on loopback)" >&2; exit 2 ;;
esac
state="$(aiops_abs_dir "$state")"

command -v cargo >/dev/null 2>&1 || aiops_die "cargo is not installed (install a Rust toolchain >= 1.95, e.g. with rustup)"

aiops_ensure_bind
aiops_ensure_curl
aiops_ensure_ansible

# Build outside the repository so a fresh clone reuses earlier builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$AIOPS_CACHE/target}"
aiops_log "building aiopsd ($profile profile; the first build takes several minutes)"
if [[ "$profile" == "release" ]]; then
    (cd "$repo" && cargo build --quiet --locked --release -p aiopsd -p aiops-cli) >&2
    bin="$CARGO_TARGET_DIR/release/aiopsd"
else
    (cd "$repo" && cargo build --quiet --locked -p aiopsd -p aiops-cli) >&2
    bin="$CARGO_TARGET_DIR/debug/aiopsd"
fi

# BIND: bind.sh start is idempotent and prints AIOPS_DNS / AIOPS_SECRETS_DIR.
bind_out="$(bash "$here/bind.sh" start "$state/bind" "$dns_port")"
dns_addr="$(aiops_kv_get AIOPS_DNS <<<"$bind_out")"
secrets_dir="$(aiops_kv_get AIOPS_SECRETS_DIR <<<"$bind_out")"
[[ -n "$dns_addr" && -n "$secrets_dir" ]] || aiops_die "bootstrap/bind.sh did not report its address"

# Dev identities and Slack secrets: generated once, kept private in the state directory.
umask 077
mkdir -p "$state/dev"
gen() { [[ -s "$state/dev/$1" ]] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$state/dev/$1"; cat "$state/dev/$1"; }
token_requester="$(gen token-requester)"
token_approver="$(gen token-approver)"
token_admin="$(gen token-admin)"
slack_signing="$(gen slack-signing-secret)"
slack_bot="xoxb-dev-$(gen slack-bot-token)"
slack_approver_id="U0AIOPSAPPROVER"
sha() { printf %s "$1" | aiops_sha256 -; }
umask 022
mkdir -p "$secrets_dir/slack"
(umask 077 && printf '{"bot_token":"%s","signing_secret":"%s"}\n' "$slack_bot" "$slack_signing" >"$secrets_dir/slack/app")

# A local Slack API receiver (Slack itself is not reachable from here).
slack_pidfile="$state/slack-sink.pid"
if ! aiops_live_pid "$slack_pidfile" >/dev/null; then
    aiops_spawn --pid-file "$slack_pidfile" "$state/slack-sink.log" \
        python3 "$here/slack-sink.py" "$slack_port" "$state/slack-calls.jsonl" >/dev/null
fi
slack_api="http://127.0.0.1:$slack_port"

# Secrets from a local OpenBao, when asked.
vault_toml=""
if [[ "$secrets_mode" == "vault" ]]; then
    AIOPS_BAO="$(bash "$here/openbao.sh" install | aiops_kv_get AIOPS_BAO)"
    export AIOPS_BAO
    bao_out="$(bash "$here/openbao.sh" start-dev "$state/openbao" "$vault_port")"
    vault_addr="$(aiops_kv_get VAULT_ADDR <<<"$bao_out")"
    vault_token="$(aiops_kv_get VAULT_TOKEN <<<"$bao_out")"
    setup_out="$(VAULT_ADDR="$vault_addr" VAULT_TOKEN="$vault_token" bash "$here/vault/setup.sh" "$secrets_dir/dns/tsig" "$state/approle")"
    role_id_file="$(aiops_kv_get AIOPS_VAULT_ROLE_ID_FILE <<<"$setup_out")"
    secret_id_file="$(aiops_kv_get AIOPS_VAULT_SECRET_ID_FILE <<<"$setup_out")"
    # The Slack secret too (the shipped policy grants read on secret/data/slack/app).
    VAULT_ADDR="$vault_addr" VAULT_TOKEN="$vault_token" "$AIOPS_BAO" kv put secret/slack/app \
        "@$secrets_dir/slack/app" >/dev/null
    vault_toml="
[secrets.vault]
addr = \"$vault_addr\"
cache_max_age_secs = 30

[secrets.vault.auth]
method = \"approle\"
role_id = \"$(cat "$role_id_file")\"
secret_id_file = \"$secret_id_file\"
"
fi

# Kubernetes: a given cluster, or a local API server.
kube_toml=""
kubeconfig_out=""
if [[ "${AIOPS_K8S:-}" == "local" ]]; then
    bash "$here/kube.sh" build >&2
    kube_out="$(bash "$here/kube.sh" start "$state/kube" "${AIOPS_KUBE_PORT:-16443}")"
    kubeconfig_out="$(aiops_kv_get KUBECONFIG <<<"$kube_out")"
    # The kinds k8s.expose_service writes exist only once their CRDs are served.
    bash "$here/kube.sh" crds "$state/kube" >&2
    aiops_ensure_kubectl
    # Applied on every run: what requests changed since (replicas, restarts, routes) is in
    # fields the file does not name, so it stays.
    aiops_quiet "$AIOPS_KUBECTL" --kubeconfig "$kubeconfig_out" apply \
        -f "$here/kube/dev-cluster.yaml" ||
        aiops_die "the local API server refused bootstrap/kube/dev-cluster.yaml"
elif [[ -n "${AIOPS_K8S:-}" ]]; then
    aiops_die "AIOPS_K8S must be \"local\" (or unset, to use \$KUBECONFIG)"
elif [[ -n "${KUBECONFIG:-}" ]]; then
    kubeconfig_out="${KUBECONFIG%%:*}"
fi
if [[ -n "$kubeconfig_out" ]]; then
    kube_toml="
[kube]
enabled = true
kubeconfig = \"$kubeconfig_out\"
"
fi

# The store: the embedded SQLite file, or a local PostgreSQL cluster.
# The URL reaches check-config and the daemon through the environment (inherited, never on a
# command line or in the config file).
store_toml=""
pg_url=""
case "${AIOPS_STORE:-sqlite}" in
    sqlite) unset AIOPS_STORE_URL ;;
    postgres)
        pg_out="$(bash "$here/postgres.sh" start "$state/postgres" "${AIOPS_PG_PORT:-15432}")"
        pg_url="$(aiops_kv_get AIOPS_PG_URL <<<"$pg_out")"
        [[ -n "$pg_url" ]] || aiops_die "bootstrap/postgres.sh did not report its URL"
        export AIOPS_STORE_URL="$pg_url"
        store_toml='
[store]
backend = "postgres"
'
        ;;
    *) aiops_die "AIOPS_STORE must be \"sqlite\" or \"postgres\"" ;;
esac

# The language model: a local Ollama with the small models, or none.
llm_toml=""
ollama_host=""
case "${AIOPS_LLM:-}" in
    "") ;;
    ollama)
        ollama_out="$(bash "$here/ollama.sh" start --state "$state/ollama")"
        ollama_host="$(aiops_kv_get OLLAMA_HOST <<<"$ollama_out")"
        # The ladder is the default one: SmolLM2 (fast), then Gemma 3 270M.
        llm_toml="
[llm]
enabled = true
host = \"$ollama_host\"
"
        ;;
    *) aiops_die "AIOPS_LLM must be \"ollama\" (or unset: rules only)" ;;
esac

# Runbook retrieval: the embedding model, and where the vectors live.
embed_dir="$(bash "$here/embeddings.sh" install | aiops_kv_get AIOPS_EMBED_MODEL_DIR)"
[[ -n "$embed_dir" ]] || aiops_die "bootstrap/embeddings.sh did not report the model directory"
qdrant_url=""
case "${AIOPS_VECTOR:-edge}" in
    edge) vector_toml='backend = "edge"' ;;
    qdrant)
        qdrant_out="$(bash "$here/qdrant.sh" start --state "$state/qdrant")"
        qdrant_url="$(aiops_kv_get AIOPS_QDRANT_URL <<<"$qdrant_out")"
        [[ -n "$qdrant_url" ]] || aiops_die "bootstrap/qdrant.sh did not report its URL"
        vector_toml="backend = \"qdrant\"
qdrant_url = \"$qdrant_url\""
        ;;
    *) aiops_die "AIOPS_VECTOR must be \"edge\" or \"qdrant\"" ;;
esac

# TLS: a local CA and certificates, made once and kept in the state directory.
tls_toml=""
client_cert_toml=""
scheme="http"
curl_tls=()
cli_tls_env=()
if ((tls)); then
    pki_out="$("$bin" gen-certs "$state/tls")" || aiops_die "aiopsd gen-certs failed"
    tls_ca="$(aiops_kv_get AIOPS_CA <<<"$pki_out")"
    tls_client_cert="$(aiops_kv_get AIOPS_CLIENT_CERT <<<"$pki_out")"
    tls_client_key="$(aiops_kv_get AIOPS_CLIENT_KEY <<<"$pki_out")"
    [[ -n "$tls_ca" && -n "$tls_client_cert" && -n "$tls_client_key" ]] ||
        aiops_die "aiopsd gen-certs did not report its files"
    tls_toml="
[tls]
cert = \"$(aiops_kv_get AIOPS_TLS_CERT <<<"$pki_out")\"
key = \"$(aiops_kv_get AIOPS_TLS_KEY <<<"$pki_out")\"
client_ca = \"$tls_ca\"
client_auth = \"required\"
"
    client_cert_toml='client_cert = "aiops-dev-client"'
    scheme="https"
    curl_tls=(--cacert "$tls_ca" --cert "$tls_client_cert" --key "$tls_client_key")
    cli_tls_env=(AIOPS_CA="$tls_ca" AIOPS_CLIENT_CERT="$tls_client_cert" AIOPS_CLIENT_KEY="$tls_client_key")
fi

data="$state/data"
log="$state/aiopsd.log"
pidfile="$state/aiopsd.pid"
config="$state/aiopsd.toml"
mkdir -p "$data"
cat >"$config.new" <<TOML
# Written by bootstrap/dev-up.sh; edits are overwritten on the next run.
listen = "127.0.0.1:$port"
data_dir = "$data"

[secrets]
provider = "$secrets_mode"
dir = "$secrets_dir"
$vault_toml
$store_toml
[dns]
server = "$dns_addr"

[ansible]
playbook_bin = "$AIOPS_ANSIBLE_PLAYBOOK"
playbook_dir = "$repo/deploy/ansible/playbooks"

[slack]
enabled = true
api_base = "$slack_api"
channel = "C0AIOPSDEV"

[retrieval]
enabled = true
$vector_toml
model_dir = "$embed_dir"

$kube_toml
$llm_toml
$tls_toml
[[auth.users]]
name = "requester"
roles = ["operator"]
token_sha256 = "$(sha "$token_requester")"
$client_cert_toml

[[auth.users]]
name = "approver"
roles = ["approver", "netops", "platform"]
token_sha256 = "$(sha "$token_approver")"
slack_id = "$slack_approver_id"

[[auth.users]]
name = "admin"
roles = ["admin"]
token_sha256 = "$(sha "$token_admin")"
TOML

restart=1
if pid="$(aiops_live_pid "$pidfile")"; then
    if [[ ! "$bin" -nt "$pidfile" ]] && cmp -s "$config" "$config.new"; then
        restart=0
        aiops_log "aiopsd is already running (pid $pid)"
    else
        aiops_log "aiopsd was rebuilt or reconfigured; restarting it"
        kill "$pid" 2>/dev/null || true
        aiops_wait_exit "$pid" 50 || true
    fi
fi
mv "$config.new" "$config"

if [[ "$restart" -eq 1 ]]; then
    # Fail fast on a bad config or a busy port, with the daemon's own one-line reason.
    "$bin" --config "$config" check-config >/dev/null || aiops_die "aiopsd rejected $config"
    # Someone else on our port would answer our readiness probe: refuse instead.
    if curl -fsS ${curl_tls[@]+"${curl_tls[@]}"} "$scheme://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
        aiops_die "port $port is already served by another process (not the aiopsd this script started); stop it or set AIOPS_PORT"
    fi
    # No setsid: it forks when it leads a process group, and $! would not be the daemon.
    pid="$(aiops_spawn --cwd "$repo" --pid-file "$pidfile" "$log" env AIOPS_CONFIG="$config" "$bin" serve)"
    aiops_log "aiopsd started (pid $pid), logging to $log"
fi

url="$scheme://127.0.0.1:$port"
rc=0
aiops_await_start aiopsd "$log" 30 "did not become ready on $url" \
    aiops_live_pid "$pidfile" -- curl -fsS ${curl_tls[@]+"${curl_tls[@]}"} "$url/readyz" || rc=$?
if ((rc == 2)); then
    curl -sS ${curl_tls[@]+"${curl_tls[@]}"} "$url/readyz" >&2 || true
fi
((rc == 0)) || aiops_die "aiopsd did not start (log: $log)"
# The process that answered must be ours, still running.
if ! aiops_live_pid "$pidfile" >/dev/null; then
    tail -n 20 "$log" >&2 || true
    aiops_die "aiopsd exited after start-up (log: $log)"
fi

# The appliance's own runbooks; unchanged ones are skipped, so a re-run costs little.
cli="$(dirname "$bin")/aiops"
ingest_out="$(env AIOPS_URL="$url" AIOPS_TOKEN="$token_admin" ${cli_tls_env[@]+"${cli_tls_env[@]}"} \
    "$cli" --json ingest "$repo/deploy/runbooks")" ||
    aiops_die "ingesting deploy/runbooks failed (log: $log)"
aiops_log "runbooks indexed: $(tr -d '\n ' <<<"$ingest_out")"

# The KEY=VALUE lines, also kept in <state>/dev.env (0600: it holds tokens) for a shell:
# `set -a; . .aiops/dev.env; set +a`.
print_env() {
    aiops_kv AIOPS_URL "$url" AIOPS_DNS "$dns_addr" AIOPS_LOG "$log" AIOPS_DATA "$data" \
        AIOPS_TOKEN "$token_requester" \
        AIOPS_TOKEN_REQUESTER "$token_requester" AIOPS_TOKEN_APPROVER "$token_approver" \
        AIOPS_TOKEN_ADMIN "$token_admin" \
        AIOPS_SLACK_SIGNING_SECRET "$slack_signing" AIOPS_SLACK_APPROVER_ID "$slack_approver_id" \
        AIOPS_SLACK_API "$slack_api"
    if ((tls)); then
        aiops_kv AIOPS_CA "$tls_ca" AIOPS_CLIENT_CERT "$tls_client_cert" AIOPS_CLIENT_KEY "$tls_client_key"
    fi
    if [[ "$secrets_mode" == "vault" ]]; then
        aiops_kv VAULT_ADDR "$vault_addr" VAULT_TOKEN "$vault_token"
    fi
    if [[ -n "$kubeconfig_out" ]]; then
        aiops_kv KUBECONFIG "$kubeconfig_out"
    fi
    if [[ -n "$ollama_host" ]]; then
        aiops_kv OLLAMA_HOST "$ollama_host"
    fi
    if [[ -n "$qdrant_url" ]]; then
        aiops_kv AIOPS_QDRANT_URL "$qdrant_url"
    fi
    if [[ -n "$pg_url" ]]; then
        aiops_kv AIOPS_PG_URL "$pg_url"
    fi
}
(umask 077 && rm -f "$state/dev.env" && print_env | tee "$state/dev.env")
