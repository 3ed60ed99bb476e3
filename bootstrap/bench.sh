#!/usr/bin/env bash
# The speed benchmark of issue 12. Builds the release aiopsd and aiops-floor (crates/aiops-bench:
# a bare axum echo and the intent path's floor, on the workspace's axum), starts both on
# loopback with a throwaway data directory, and prints JSON lines on stdout:
#   {"config": ...}                          what the daemon ran with
#   {"ready_ms": N, ...}                     spawn → first 200 from /readyz
#   {"idle_rss_mb": N, ...}                  VmRSS once ready and idle
#   {"target": T, "concurrency": C, "round": R, "rps": N, "p50_ms": N, "p99_ms": N, ...}
#                                            one per wrk run; targets alternate within a round
#   {"policy": P, "p50_us": N, "p99_us": N, ...}
#                                            policy evaluation percentiles (release, in process:
#                                            the criterion bench's percentile part, 20 000 calls):
#                                            first_evaluation, repeated (the memo), access
#   {"ratio": "parse_over_echo", ...}        median req/s of parse / median of echo
#   {"ratio": "intent_over_floor", ...}      median req/s of floor / median of intent (the
#                                            intent path's time as a multiple of the floor's)
#   {"verdict": ...}                         which targets pass
# Targets: echo (POST /echo, bare axum), parse (POST /api/v1/parse with the bench's bearer
# token), floor (POST /floor: parse, validate, one policy evaluation, one durable SQLite
# commit), intent (POST /api/v1/intent with a sentence policy denies: parse, policy and the
# store, nothing executed and no outside server needed).
# Done when: parse_over_echo >= 0.5, intent_over_floor <= 1.2, intent_rps (at the first
# concurrency) >= 445 (5x the 89 req/s of the issue), policy_eval_p99_us <= 50 (a first
# evaluation), idle_rss_mb <= 150, ready_ms <= 1000. Tests never assert speed; this script is where it is measured.
#
# Settings (environment):
#   AIOPS_BENCH_DURATION      seconds per wrk run (5)
#   AIOPS_BENCH_ROUNDS        rounds; each runs every target once per concurrency (3)
#   AIOPS_BENCH_CONCURRENCY   connections, space-separated; the first is the verdict's ("8 1")
#   AIOPS_BENCH_TARGETS       subset of "echo parse floor intent"
#   AIOPS_BENCH_SENTENCE      the sentence parse, floor and intent send
#                             ("add dns record www.evil.org to 6.6.6.6": parsed, then denied)
#   AIOPS_BENCH_VARY          1 (default): every request's sentence ends in another address
#                             (the last three octets of the sentence's vary), so that every
#                             policy decision is a first evaluation, which the policy's memo
#                             cannot answer: the cost of new requests. 0: the same sentence
#                             every time (a decision asked before: the memo's answer)
#   AIOPS_BENCH_PERF          a directory: record a perf profile (cpu-clock, DWARF call
#                             graphs) of the server of each target during the first round,
#                             as <dir>/<target>.perf.data (the numbers of that round suffer)
#   AIOPS_BENCH_NO_BUILD=1    use the binaries already built
#   AIOPS_BENCH_POLICY=0      skip the policy percentiles (they build and run the policy bench)
#   AIOPS_BENCH_STRICT=1      exit 1 when a target fails (default: 0 once measured)
#   CARGO_TARGET_DIR          where the binaries are built (default $AIOPS_CACHE/target)
# Installs wrk (and curl, and perf when asked) with apt-get when missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=bootstrap/lib.sh
source "$here/lib.sh"

duration="${AIOPS_BENCH_DURATION:-5}"
rounds="${AIOPS_BENCH_ROUNDS:-3}"
read -r -a concurrencies <<<"${AIOPS_BENCH_CONCURRENCY:-8 1}"
read -r -a targets <<<"${AIOPS_BENCH_TARGETS:-echo parse floor intent}"
sentence="${AIOPS_BENCH_SENTENCE:-add dns record www.evil.org to 6.6.6.6}"
vary="${AIOPS_BENCH_VARY:-1}"
perf_dir="${AIOPS_BENCH_PERF:-}"
[[ "$duration" =~ ^[1-9][0-9]*$ ]] || aiops_die "AIOPS_BENCH_DURATION must be whole seconds"
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || aiops_die "AIOPS_BENCH_ROUNDS must be a positive number"
((${#concurrencies[@]} > 0)) || aiops_die "AIOPS_BENCH_CONCURRENCY is empty"
for c in "${concurrencies[@]}"; do
    [[ "$c" =~ ^[1-9][0-9]*$ ]] || aiops_die "AIOPS_BENCH_CONCURRENCY: $c is not a positive number"
done
for t in "${targets[@]}"; do
    [[ " echo parse floor intent " == *" $t "* ]] || aiops_die "AIOPS_BENCH_TARGETS: unknown target $t"
done
# The sentence goes into JSON and a Lua long string as it is.
[[ "$sentence" =~ ^[A-Za-z0-9\ .,:/_@-]+$ ]] ||
    aiops_die "AIOPS_BENCH_SENTENCE: letters, digits, spaces and .,:/_@- only"
[[ "$vary" == 0 || "$vary" == 1 ]] || aiops_die "AIOPS_BENCH_VARY must be 0 or 1"
if [[ "$vary" == 1 ]]; then
    [[ "$sentence" =~ [0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
        aiops_die "AIOPS_BENCH_VARY=1 needs a sentence that ends in an IPv4 address"
fi

# ---------------------------------------------------------------------------------------
# Tools and binaries

aiops_ensure_curl
# The backends /readyz checks with the embedded defaults (a DNS server for the managed
# zones, ansible-playbook, the TSIG secret), as bootstrap/dev-up.sh provides them. The
# benchmarked requests use none of them.
aiops_ensure_bind
aiops_ensure_ansible
if ! command -v wrk >/dev/null 2>&1; then
    [[ "${AIOPS_NO_INSTALL:-0}" != "1" ]] || aiops_die "wrk is not installed"
    aiops_log "installing wrk"
    aiops_apt_install wrk
fi
if [[ -n "$perf_dir" ]] && ! command -v perf >/dev/null 2>&1; then
    [[ "${AIOPS_NO_INSTALL:-0}" != "1" ]] || aiops_die "perf is not installed"
    aiops_log "installing linux-perf"
    aiops_apt_install linux-perf
fi
command -v cargo >/dev/null 2>&1 || aiops_die "cargo is not installed"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$AIOPS_CACHE/target}"
if [[ "${AIOPS_BENCH_NO_BUILD:-0}" != "1" ]]; then
    aiops_log "building aiopsd and aiops-floor (release; the first build takes a long while)"
    (cd "$repo" && cargo build --quiet --locked --release -p aiopsd -p aiops-bench) >&2
fi
daemon_bin="$CARGO_TARGET_DIR/release/aiopsd"
floor_bin="$CARGO_TARGET_DIR/release/aiops-floor"
[[ -x "$daemon_bin" && -x "$floor_bin" ]] || aiops_die "no release build in $CARGO_TARGET_DIR/release"

# ---------------------------------------------------------------------------------------
# Policy evaluation, in process and before any server runs (so nothing else competes):
# the percentile part of crates/aiops-policy/benches/evaluate.rs.

policy_lines=""
if [[ "${AIOPS_BENCH_POLICY:-1}" == "1" ]]; then
    aiops_log "policy evaluation percentiles (cargo bench -p aiops-policy --bench evaluate)"
    policy_lines="$(cd "$repo" && AIOPS_BENCH_PERCENTILES_ONLY=1 \
        cargo bench --quiet --locked -p aiops-policy --bench evaluate 2>/dev/null)" ||
        aiops_die "the policy bench failed"
fi
# The value of KEY=… on the line starting with NAME: policy_value NAME KEY
policy_value() {
    awk -v name="$1" -v key="$2" '$1 == name { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) print kv[2] } }' <<<"$policy_lines"
}

# ---------------------------------------------------------------------------------------
# A throwaway directory, and everything stopped on the way out

work="$(mktemp -d "${TMPDIR:-/tmp}/aiops-bench.XXXXXX")"
daemon_pid=""
floor_pid=""
perf_pid=""
cleanup() {
    local pid
    for pid in "$perf_pid" "$daemon_pid" "$floor_pid"; do
        if [[ -n "$pid" ]]; then aiops_stop_pid "$pid" 50 || true; fi
    done
    if [[ -d "$work/bind" ]]; then bash "$here/bind.sh" stop "$work/bind" >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A free loopback port at or above $1 (this script's servers only; someone else's port
# would answer our probes).
free_port() {
    local port="$1"
    while aiops_port_in_use "$port"; do port=$((port + 1)); done
    printf '%s\n' "$port"
}

now_ns() { date +%s%N; }

# ---------------------------------------------------------------------------------------
# The daemon: embedded defaults, plus what a benchmark needs

dns_port="$(free_port "${AIOPS_BENCH_DNS_PORT:-15400}")"
bind_out="$(bash "$here/bind.sh" start "$work/bind" "$dns_port")"
dns_addr="$(aiops_kv_get AIOPS_DNS <<<"$bind_out")"
secrets_dir="$(aiops_kv_get AIOPS_SECRETS_DIR <<<"$bind_out")"
[[ -n "$dns_addr" && -n "$secrets_dir" ]] || aiops_die "bootstrap/bind.sh did not report its address"

token="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
port="$(free_port "${AIOPS_BENCH_PORT:-38080}")"
# Far above what the runs send, so they measure the limiter's check, never its 429s.
rate_per_minute=4000000000
rate_burst=1000000
mkdir -p "$work/data"
cat >"$work/aiopsd.toml" <<TOML
# Written by bootstrap/bench.sh for one run; everything else is the embedded defaults.
listen = "127.0.0.1:$port"
data_dir = "$work/data"

[secrets]
dir = "$secrets_dir"

[dns]
server = "$dns_addr"

[ansible]
playbook_bin = "$AIOPS_ANSIBLE_PLAYBOOK"
playbook_dir = "$repo/deploy/ansible/playbooks"

[api]
rate_limit_per_minute = $rate_per_minute
rate_limit_burst = $rate_burst

[[auth.users]]
name = "bench"
roles = ["operator"]
token_sha256 = "$(printf %s "$token" | aiops_sha256 -)"
TOML
# check-config builds the app, store included: in a directory of its own, so the measured
# start below opens a fresh store as a first start does.
AIOPS_DATA_DIR="$work/check-data" "$daemon_bin" --config "$work/aiopsd.toml" check-config \
    >"$work/effective.json" 2>"$work/check.log" ||
    { cat "$work/check.log" >&2; aiops_die "aiopsd rejected the bench config"; }
# A scalar KEY of SECTION in check-config's output (pretty JSON), or null.
effective() {
    local v
    v="$(tr -d '\n ' <"$work/effective.json" | grep -o "\"$1\":{[^{}]*" | grep -o "\"$2\":[^,}]*" | head -n 1 | cut -d: -f2)"
    printf '%s\n' "${v:-null}"
}
printf '{"config":{"daemon":"embedded defaults + listen, data_dir (temporary), secrets.dir, dns.server (a private BIND from bootstrap/bind.sh), ansible.playbook_bin (the venv of lib.sh), one bearer user (bench, role operator), api.rate_limit_per_minute=%s, api.rate_limit_burst=%s","retrieval_enabled":%s,"llm_enabled":%s,"log_level":%s,"log_to":"a file","tls":false,"sentence":"%s","vary":%s,"duration_s":%s,"rounds":%s,"concurrency":[%s],"cpus":%s}}\n' \
    "$rate_per_minute" "$rate_burst" "$(effective retrieval enabled)" "$(effective llm enabled)" \
    "$(effective log level)" "$sentence" "$vary" "$duration" "$rounds" "$(IFS=,; echo "${concurrencies[*]}")" "$(nproc)"

url="http://127.0.0.1:$port"
started="$(now_ns)"
daemon_pid="$(aiops_spawn --cwd "$work" "$work/aiopsd.log" env AIOPS_CONFIG="$work/aiopsd.toml" "$daemon_bin" serve)"
ms_since() { awk -v ns="$(($(now_ns) - $1))" 'BEGIN { printf "%.1f", ns / 1e6 }'; }
# Polled back to back, each probe as soon as the last one answered, for at most 60 s. A
# /readyz probe takes as long as its slowest check (it runs `ansible-playbook --version`).
listening_ms=""
ready_ms=""
deadline=$((SECONDS + 60))
while ((SECONDS < deadline)) && aiops_alive "$daemon_pid"; do
    if [[ -z "$listening_ms" ]] && curl -fs -o /dev/null --max-time 5 "$url/healthz" 2>/dev/null; then
        listening_ms="$(ms_since "$started")"
    fi
    if [[ -n "$listening_ms" ]]; then
        code="$(curl -s -o "$work/readyz.json" -w '%{http_code}' --max-time 30 "$url/readyz" 2>/dev/null || true)"
        if [[ "$code" == "200" ]]; then
            ready_ms="$(ms_since "$started")"
            break
        fi
    fi
    sleep 0.005
done
if [[ -z "$ready_ms" ]]; then
    cat "$work/readyz.json" >&2 2>/dev/null || true
    tail -n 30 "$work/aiopsd.log" >&2 || true
    aiops_die "aiopsd did not become ready"
fi
printf '{"ready_ms":%s,"listening_ms":%s,"what":"spawn to the first 200 from GET /readyz (probes back to back); listening: to the first 200 from /healthz"}\n' \
    "$ready_ms" "$listening_ms"

# Idle: nothing sent but the readiness probe, for a second.
sleep 1
rss_kb="$(awk '/^VmRSS:/ { print $2 }' "/proc/$daemon_pid/status")"
idle_rss_mb="$(awk -v kb="$rss_kb" 'BEGIN { printf "%.1f", kb / 1024 }')"
printf '{"idle_rss_mb":%s,"what":"VmRSS of aiopsd, ready and idle for 1 s"}\n' "$idle_rss_mb"

# ---------------------------------------------------------------------------------------
# The baselines

floor_port="$(free_port $((port + 1)))"
floor_pid="$(aiops_spawn "$work/floor.log" "$floor_bin" --listen "127.0.0.1:$floor_port" --db "$work/floor.db")"
floor_url="http://127.0.0.1:$floor_port"
aiops_await_start aiops-floor "$work/floor.log" 30 "did not answer on $floor_url" \
    aiops_alive "$floor_pid" -- curl -fsS -X POST -H 'content-type: application/json' -d '{}' "$floor_url/echo" ||
    aiops_die "aiops-floor did not start"

# ---------------------------------------------------------------------------------------
# The targets: URL, Lua script (the POST body and headers), the answer expected

body="{\"nl\": \"$sentence\"}"
lua() {
    local file="$work/$1.lua" auth="$2"
    {
        printf 'wrk.method = "POST"\n'
        printf 'wrk.body = [==[%s]==]\n' "$body"
        printf 'wrk.headers["Content-Type"] = "application/json"\n'
        if [[ -n "$auth" ]]; then printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$auth"; fi
        if [[ "$vary" == 1 ]]; then
            # The address is first.R.C.C: the sentence's first octet, R from the run's number
            # (wrk's argument after --) and the thread's, C a counter per thread (each wrk
            # thread has its own Lua state). No sentence repeats within the script's runs
            # (up to 128 runs of 2 threads, 62 500 requests per thread and run).
            printf 'local prefix, first = ([==[%s]==]):match("^(.-)(%%d+)%%.%%d+%%.%%d+%%.%%d+$")\n' "$sentence"
            # shellcheck disable=SC2016 # Lua, not shell
            printf '%s\n' \
                'local n = 0' \
                'local threads = 0' \
                'function setup(thread) thread:set("id", threads); threads = threads + 1 end' \
                'function init(args) second = ((tonumber(args[1]) or 0) * 2 + (id or 0)) % 256 end' \
                'function request()' \
                '    n = n + 1' \
                '    local ip = string.format("%s.%d.%d.%d", first, second, math.floor(n / 250) % 256, n % 250 + 1)' \
                '    return wrk.format(nil, nil, nil, string.format("{\"nl\": \"%s%s\"}", prefix, ip))' \
                'end'
        fi
    } >"$file"
    printf '%s\n' "$file"
}
declare -A target_url target_lua target_expect
target_url[echo]="$floor_url/echo"
target_lua[echo]="$(lua echo "")"
target_expect[echo]='"nl"'
target_url[parse]="$url/api/v1/parse"
target_lua[parse]="$(lua parse "$token")"
target_expect[parse]='"status":"parsed"'
target_url[floor]="$floor_url/floor"
target_lua[floor]="$(lua floor "")"
target_expect[floor]='"status":"denied"'
target_url[intent]="$url/api/v1/intent"
target_lua[intent]="$(lua intent "$token")"
target_expect[intent]='"status":"denied"'

# One request each first: a target that answers an error would measure the error path.
for t in "${targets[@]}"; do
    headers=(-H 'content-type: application/json')
    if [[ "$t" == parse || "$t" == intent ]]; then headers+=(-H "authorization: Bearer $token"); fi
    answer="$(curl -sS -w '\n%{http_code}' -X POST "${headers[@]}" -d "$body" "${target_url[$t]}")" ||
        aiops_die "$t: no answer from ${target_url[$t]}"
    code="${answer##*$'\n'}"
    answer="${answer%$'\n'*}"
    if [[ "$code" != "200" || "$(tr -d ' ' <<<"$answer")" != *"${target_expect[$t]}"* ]]; then
        aiops_die "$t: expected 200 with ${target_expect[$t]}, got $code: $answer"
    fi
done

# wrk's times carry units (us, ms, s, m, h): milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000
        else if (u == "m") n *= 60000; else if (u == "h") n *= 3600000
        else if (u != "ms") n = -1
        printf "%.3f", n
    }'
}

declare -A rps_of # "target c" -> space-separated req/s of each round
declare -A failures_of # "target c" -> answers that were not 2xx, and socket errors, over the rounds
# Runs wrk on target $1 at concurrency $2 for $3 seconds; prints its output.
drive() {
    local t="$1" c="$2" secs="$3" threads=2
    ((c >= threads)) || threads="$c"
    wrk --latency -t "$threads" -c "$c" -d "${secs}s" -s "${target_lua[$t]}" "${target_url[$t]}" -- "$run_no" 2>&1
}
# Numbers the wrk runs, so that a varying sentence never repeats one of an earlier run.
run_no=0

# CPU time (user + system, in clock ticks) PID has used so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
server_pid() { if [[ "$1" == echo || "$1" == floor ]]; then echo "$floor_pid"; else echo "$daemon_pid"; fi; }
ticks_per_s="$(getconf CLK_TCK)"

measure() {
    local t="$1" c="$2" round="$3" out rps p50 p99 non2xx errors requests pid before cpu_us
    pid="$(server_pid "$t")"
    before="$(cpu_ticks "$pid")"
    run_no=$((run_no + 1))
    out="$(drive "$t" "$c" "$duration")" || aiops_die "wrk failed on $t: $out"
    requests="$(awk '/requests in/ { print $1 }' <<<"$out")"
    # The server's CPU per request: what the ratios hide when the client shares the cores.
    cpu_us="$(awk -v t="$(($(cpu_ticks "$pid") - before))" -v hz="$ticks_per_s" -v n="${requests:-0}" \
        'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "null" }')"
    rps="$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")"
    p50="$(awk '$1 == "50%" { print $2 }' <<<"$out")"
    p99="$(awk '$1 == "99%" { print $2 }' <<<"$out")"
    non2xx="$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")"
    errors="$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' <<<"$out")"
    [[ -n "$rps" && -n "$p50" && -n "$p99" ]] || aiops_die "cannot read wrk's output for $t: $out"
    printf '{"target":"%s","concurrency":%s,"round":%s,"rps":%.1f,"p50_ms":%s,"p99_ms":%s,"non_2xx":%s,"socket_errors":%s,"server_cpu_us_per_req":%s}\n' \
        "$t" "$c" "$round" "$rps" "$(to_ms "$p50")" "$(to_ms "$p99")" "${non2xx:-0}" "${errors:-0}" "$cpu_us"
    if [[ -n "$non2xx" && "$non2xx" != 0 ]]; then
        aiops_log "$t: $non2xx answers were not 2xx; its numbers measure errors too"
    fi
    rps_of["$t $c"]+="$rps "
    failures_of["$t $c"]=$((${failures_of["$t $c"]:-0} + ${non2xx:-0} + ${errors:-0}))
}

# Warm every target up (connections, caches, the store's first pages); not reported.
for t in "${targets[@]}"; do
    run_no=$((run_no + 1))
    drive "$t" "${concurrencies[0]}" 1 >/dev/null
done

for ((round = 1; round <= rounds; round++)); do
    for c in "${concurrencies[@]}"; do
        for t in "${targets[@]}"; do
            if [[ -n "$perf_dir" && $round -eq 1 && "$c" == "${concurrencies[0]}" ]]; then
                mkdir -p "$perf_dir"
                perf record -q -e cpu-clock -F 999 --call-graph dwarf,16384 -p "$(server_pid "$t")" \
                    -o "$perf_dir/$t.perf.data" >"$perf_dir/$t.perf.log" 2>&1 &
                perf_pid=$!
                sleep 0.5
                measure "$t" "$c" "$round"
                kill -INT "$perf_pid" 2>/dev/null || true
                wait "$perf_pid" 2>/dev/null || true
                perf_pid=""
                aiops_log "profile of $t: $perf_dir/$t.perf.data (perf report -i ... --no-children)"
            else
                measure "$t" "$c" "$round"
            fi
        done
    done
done

# ---------------------------------------------------------------------------------------
# Ratios and the verdict

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
has() { [[ " ${targets[*]} " == *" $1 "* ]]; }
verdict_c="${concurrencies[0]}"
passed=()
failed=()
# Sets `pass` (true/false) and files NAME under passed or failed: check NAME VALUE OP LIMIT
# [TARGET ...]. A number measured from failing answers (not 2xx, socket errors) fails
# whatever it is: a server that errors fast, or hangs, must never pass as a fast one.
check() {
    local name="$1" value="$2" op="$3" limit="$4" t
    shift 4
    for t in "$@"; do
        if ((${failures_of["$t $verdict_c"]:-0} > 0)); then
            aiops_log "$name fails: $t had ${failures_of["$t $verdict_c"]} failed answers"
            failed+=("\"$name\"")
            pass=false
            return
        fi
    done
    set -- "$name" "$value" "$op" "$limit"
    if awk -v v="$2" -v l="$4" -v op="$3" 'BEGIN { exit !((op == "<=") ? v <= l : v >= l) }'; then
        passed+=("\"$1\"")
        pass=true
    else
        failed+=("\"$1\"")
        pass=false
    fi
}
for c in "${concurrencies[@]}"; do
    if has parse && has echo; then
        parse_rps="$(median <<<"${rps_of["parse $c"]}")"
        echo_rps="$(median <<<"${rps_of["echo $c"]}")"
        ratio="$(awk -v a="$parse_rps" -v b="$echo_rps" 'BEGIN { printf "%.3f", a / b }')"
        pass=null
        if [[ "$c" == "$verdict_c" ]]; then check parse_over_echo "$ratio" '>=' 0.5 parse echo; fi
        printf '{"ratio":"parse_over_echo","concurrency":%s,"value":%s,"parse_rps":%.1f,"echo_rps":%.1f,"goal":">= 0.5","pass":%s}\n' \
            "$c" "$ratio" "$parse_rps" "$echo_rps" "$pass"
    fi
    if has intent && has floor; then
        intent_rps="$(median <<<"${rps_of["intent $c"]}")"
        floor_rps="$(median <<<"${rps_of["floor $c"]}")"
        ratio="$(awk -v a="$floor_rps" -v b="$intent_rps" 'BEGIN { printf "%.3f", a / b }')"
        pass=null
        if [[ "$c" == "$verdict_c" ]]; then check intent_over_floor "$ratio" '<=' 1.2 intent floor; fi
        printf '{"ratio":"intent_over_floor","concurrency":%s,"value":%s,"intent_rps":%.1f,"floor_rps":%.1f,"goal":"<= 1.2","pass":%s}\n' \
            "$c" "$ratio" "$intent_rps" "$floor_rps" "$pass"
    fi
done
if has intent; then
    intent_rps="$(median <<<"${rps_of["intent $verdict_c"]}")"
    check intent_rps "$intent_rps" '>=' 445 intent
    printf '{"throughput":"intent","concurrency":%s,"rps":%.1f,"goal":">= 445 (5x 89)","pass":%s}\n' \
        "$verdict_c" "$intent_rps" "$pass"
fi
if [[ -n "$policy_lines" ]]; then
    for name in policy_eval policy_eval_repeat policy_access; do
        p50="$(policy_value "$name" p50_us)"
        p99="$(policy_value "$name" p99_us)"
        [[ -n "$p50" && -n "$p99" ]] || aiops_die "the policy bench printed no $name line"
        case "$name" in
            policy_eval) what=first_evaluation ;;
            policy_eval_repeat) what=repeated ;;
            *) what=access ;;
        esac
        pass=null
        if [[ "$name" == policy_eval ]]; then check policy_eval_p99_us "$p99" '<=' 50; fi
        printf '{"policy":"%s","p50_us":%s,"p99_us":%s,"goal":"%s","pass":%s}\n' "$what" "$p50" "$p99" \
            "$([[ "$name" == policy_eval ]] && echo 'p99 <= 50')" "$pass"
    done
fi
check idle_rss_mb "$idle_rss_mb" '<=' 150
check ready_ms "$ready_ms" '<=' 1000
printf '{"verdict":{"concurrency":%s,"pass":[%s],"fail":[%s]}}\n' "$verdict_c" \
    "$(IFS=,; echo "${passed[*]}")" "$(IFS=,; echo "${failed[*]}")"
if [[ "${AIOPS_BENCH_STRICT:-0}" == "1" ]] && ((${#failed[@]} > 0)); then
    exit 1
fi
