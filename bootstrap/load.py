#!/usr/bin/env python3
"""A bounded load test of a running aiopsd on loopback (e.g. the dev-up stack).

Sends COUNT requests with CONCURRENCY workers to one endpoint and prints throughput and
latency percentiles as JSON. Refuses any address outside 127.0.0.0/8 and ::1: load is only
ever sent to this machine. Stops by itself after COUNT requests or --max-seconds.

The API needs a caller: the token comes from --token or $AIOPS_TOKEN (dev-up prints one).

  bootstrap/load.py --url http://127.0.0.1:30080 --endpoint parse   --count 2000 --concurrency 8
  bootstrap/load.py --url http://127.0.0.1:30080 --endpoint intent  --count 300  --concurrency 4
  bootstrap/load.py --url http://127.0.0.1:30080 --endpoint healthz --count 5000

`intent` posts dry-run lookups and unrecognised sentences (they are stored and audited,
so this also measures the store), never a change.

The daemon's per-caller rate limit applies to this client too (429 beyond it): for a load
test, raise it, e.g. AIOPS_API__RATE_LIMIT_PER_MINUTE=1000000 AIOPS_API__RATE_LIMIT_BURST=100000.
"""
import argparse
import ipaddress
import json
import os
import socket
import statistics
import threading
import time
import urllib.parse
import urllib.request

SENTENCES = {
    "parse": [
        "Add DNS A record for test.local to 192.168.1.100",
        "scale deployment web in namespace shop to 5 replicas",
        "what does api.corp.example.com resolve to?",
        "delete pod web-7d9f8-abcde in namespace shop",
        "make me a sandwich",
    ],
    "intent": ["make me a sandwich", "look up the TXT record for corp.example.com"],
}


def loopback_only(url):
    host = urllib.parse.urlparse(url).hostname or ""
    for info in socket.getaddrinfo(host, None):
        if not ipaddress.ip_address(info[4][0]).is_loopback:
            raise SystemExit(f"refusing to load {host}: not a loopback address")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:30080")
    ap.add_argument("--endpoint", choices=["parse", "intent", "healthz"], default="parse")
    ap.add_argument("--token", default=os.environ.get("AIOPS_TOKEN", ""),
                    help="API bearer token (default: $AIOPS_TOKEN)")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--max-seconds", type=float, default=120)
    a = ap.parse_args()
    loopback_only(a.url)
    a.count = max(1, min(a.count, 100_000))
    lock = threading.Lock()
    latencies, errors, sent = [], [0], [0]
    deadline = time.monotonic() + a.max_seconds

    def request(i):
        if a.endpoint == "healthz":
            req = urllib.request.Request(f"{a.url}/healthz")
        else:
            nl = SENTENCES[a.endpoint][i % len(SENTENCES[a.endpoint])]
            body = {"nl": nl} if a.endpoint == "parse" else {"nl": nl, "dry_run": True}
            req = urllib.request.Request(
                f"{a.url}/api/v1/{a.endpoint}", data=json.dumps(body).encode(),
                headers={"content-type": "application/json",
                         "authorization": f"Bearer {a.token}"}, method="POST")
        t = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                r.read()
            ok = True
        except Exception:  # noqa: BLE001 (counted, not raised: a load test reports)
            ok = False
        return time.perf_counter() - t, ok

    def worker():
        while True:
            with lock:
                if sent[0] >= a.count or time.monotonic() > deadline:
                    return
                i = sent[0]
                sent[0] += 1
            dt, ok = request(i)
            with lock:
                latencies.append(dt)
                errors[0] += 0 if ok else 1

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(max(1, a.concurrency))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    lat = sorted(latencies)
    pct = lambda p: round(1000 * lat[min(len(lat) - 1, int(p * len(lat)))], 2)  # noqa: E731
    print(json.dumps({
        "endpoint": a.endpoint, "requests": len(lat), "errors": errors[0],
        "concurrency": a.concurrency, "seconds": round(wall, 2),
        "per_second": round(len(lat) / wall, 1),
        "ms": {"p50": pct(0.50), "p95": pct(0.95), "p99": pct(0.99),
               "mean": round(1000 * statistics.mean(lat), 2)},
    }))


if __name__ == "__main__":
    main()
