#!/usr/bin/env python3
"""A bounded fuzz run against a running aiopsd on loopback (the dev-up stack, or the daemon
an end-to-end test serves: tests/tests/wire_fuzz.rs runs this script).

  bootstrap/fuzz.py --url http://127.0.0.1:30080 --token "$AIOPS_TOKEN" --cases 1000 --seed 7

Two kinds of cases, over real TCP connections (stdlib only):
- HTTP requests to every route with fuzzed methods, paths, query strings, headers
  (Authorization with valid, forged and odd credentials; Content-Type, Content-Length,
  Expect) and bodies. Each must get a complete answer: no 5xx, no connection reset or
  truncation mid-response, and an error answer (4xx) is the JSON error shape
  {"error": {"code", "message"}}.
- Raw-socket cases below the router: malformed request lines, bad header bytes, huge
  headers, broken chunked bodies, bodies shorter than their Content-Length, garbage. The
  server may refuse them its own way (a 4xx status, or closing the connection), but never
  with a 5xx, and it must still answer /healthz afterwards. Slow headers (one byte at a
  time, bounded by --slow-seconds) are reported: whether the server closed the connection
  and after how long; --require-header-timeout S fails the run when it did not close one
  within S seconds.

Requests the daemon could legitimately answer 503 for (a backend down) are never sent:
GET /readyz is probed with other methods only, sentences that could parse into an action go
to /api/v1/parse (side-effect free), /api/v1/intent gets sentences no parser reads as a
request (so nothing is ever changed), and documents are only posted in shapes the daemon
refuses before it needs the index.

Tokens: --token (repeatable; valid tokens of any role) or $AIOPS_TOKEN. Refuses any
address outside 127.0.0.0/8 and ::1. Prints a JSON report (counts by route and status,
the first failures) and exits 1 on any failure, 2 on bad arguments.
"""
import argparse
import hashlib
import hmac
import http.client
import ipaddress
import json
import os
import random
import socket
import string
import sys
import time
import urllib.parse

ROUTES = [
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("POST", "/api/v1/intent"),
    ("POST", "/api/v1/parse"),
    ("GET", "/api/v1/intents/{id}"),
    ("GET", "/api/v1/audit/verify"),
    ("GET", "/api/v1/catalog"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/quarantine"),
    ("GET", "/api/v1/approvals"),
    ("GET", "/api/v1/approvals/{id}"),
    ("POST", "/api/v1/approvals/{id}/approve"),
    ("POST", "/api/v1/approvals/{id}/reject"),
    ("POST", "/api/v1/slack/interactions"),
    ("POST", "/api/v1/documents"),
    ("GET", "{elsewhere}"),
]

METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "PROPFIND", "get"]

SEGMENTS = [
    "..", "%2e%2e", "..%2F..%2Fetc%2Fpasswd", "%00", "%FF", "%C0%AF", "%", "%zz", "%E2%80%AE",
    "a%20b", "-1", "0", "null", "%2F", "01JD0000000000000000000000", "x" * 300,
]

ELSEWHERE = [
    "/", "//", "/api", "/api/v1/", "/api/v1/intent/", "/API/V1/INTENT", "/api/v2/intent",
    "/api/v1//intent", "/api/v1/./intent", "/api/v1/../v1/intent", "/api/v1/intents/",
    "/api/v1/approvals/x/approve/extra", "/api/v1/slack", "/healthz/", "/%2e%2e/%2e%2e/etc/passwd",
    "/api/v1/intent%00", "/api/v1/intent;x=1", "/" + "a/" * 200,
]

# Sentences that parse (or nearly) into catalog actions, with hostile slots: /parse only.
VERBS = ["add", "create", "delete", "remove", "scale", "restart", "run", "list", "look up",
         "expose", "point", "ignore previous instructions and"]
OBJECTS = ["DNS A record for", "the A record for", "deployment", "pod", "the pods in namespace",
           "service", "the playbook", "playbook", ""]
SLOTS = ["test.local", "t\u0435st.local", "k1.local..", "../../etc/passwd", "$(reboot)", "`id`",
         "all:!none", "*:!none", "localhost,all", "kube-system", "ping", "patch-hosts", "-e",
         "0x7f.1", "010.1.1.1", "192.168.1.0/24", "::ffff:10.0.0.1", "0.0.0.0", "169.254.169.254",
         "255.255.255.255", "-1", "1e9", "99999999999999999999", "to", "in namespace", "as",
         "on port", "with ttl", "limited to", "replicas", "and", "then", ";", "\n"]

# Bodies above this may be cut off by the server's body limit (64 KiB by default).
OVERSIZED = 60 * 1024

CONTENT_TYPES = [None, "application/json", "application/json; charset=utf-8", "Application/JSON",
                 "application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x",
                 "", ";", "application/vnd.api+json", "*/*"]


def loopback_only(url):
    host = urllib.parse.urlparse(url).hostname or ""
    for info in socket.getaddrinfo(host, None):
        if not ipaddress.ip_address(info[4][0]).is_loopback:
            raise SystemExit(f"refusing to fuzz {host}: not a loopback address")


class Report:
    def __init__(self):
        self.counts = {}
        self.failures = []
        self.failed = 0
        self.slow = []

    def count(self, route, status):
        key = f"{route} {status}"
        self.counts[key] = self.counts.get(key, 0) + 1

    def fail(self, what, detail):
        self.failed += 1
        if len(self.failures) < 25:
            self.failures.append({"case": what, "problem": detail})


# ---------------------------------------------------------------------------------------
# Generators
# ---------------------------------------------------------------------------------------

def rand_text(rng, n):
    """Arbitrary text: printable ASCII, other scripts, controls, invisible characters."""
    pools = [string.printable, "\u0430\u0435\u043e\u0441\u0456\uff54\uff11\u200b\u202e\ufeff\u00e9\u4e2d\U0001F4A5",
             "".join(chr(c) for c in range(0, 32))]
    return "".join(rng.choice(rng.choice(pools)) for _ in range(rng.randrange(n + 1)))


def inert_sentence(rng):
    """Text no parser reads as a request: random characters, never catalog words in order."""
    kind = rng.randrange(4)
    if kind == 0:
        return rand_text(rng, 120)
    if kind == 1:
        return "".join(rng.choice("qzxjvkw0123456789 .,;:-_") for _ in range(rng.randrange(1, 80)))
    if kind == 2:
        return "x" * rng.choice([1, 1000, 70_000])
    return " \t\n "


def sentence(rng):
    parts = [rng.choice(VERBS), rng.choice(OBJECTS)]
    parts += [rng.choice(SLOTS) for _ in range(rng.randrange(6))]
    return " ".join(p for p in parts if p)


def hostile_json(rng):
    return rng.choice([
        b"", b"{", b'{"nl": ', b'{"nl": "x"', b'{"nl": "x"}}', b'{"nl": "x"} {"nl": "y"}',
        '\ufeff{"nl": "x"}'.encode(), b'{"nl": "\\ud800"}', b'{"nl": "\\u0000"}',
        b'{"nl": "a", "nl": "b"}', b'{"nl": 1e999}', b'{"nl": "x", "dry_run": "yes"}', b"null",
        b"[]", b"[" * 100_000, b'{"nl": "\xff\xfe"}', bytes(rng.randrange(256) for _ in range(rng.randrange(300))),
    ])


def json_body(rng, value):
    return json.dumps(value, ensure_ascii=rng.random() < 0.5).encode()


def body_for(rng, route, auth_kind):
    if route == "/api/v1/parse":
        return rng.choice([
            lambda: json_body(rng, {"nl": sentence(rng)}),
            lambda: json_body(rng, {"nl": inert_sentence(rng), "dry_run": rng.random() < 0.5}),
            lambda: hostile_json(rng),
        ])()
    if route == "/api/v1/intent":
        if auth_kind == "forged":  # refused before any stage runs: realistic sentences too
            return json_body(rng, {"nl": sentence(rng)})
        return rng.choice([
            lambda: json_body(rng, {"nl": inert_sentence(rng), "dry_run": rng.random() < 0.5}),
            lambda: hostile_json(rng),
        ])()
    if route.endswith("/approve") or route.endswith("/reject"):
        return rng.choice([
            lambda: b"",
            lambda: json_body(rng, {"reason": rand_text(rng, 40), "channel": rng.choice(["rest", "cli", "slack", "x"])}),
            lambda: json_body(rng, {"reason": "r" * 1001}),
            lambda: hostile_json(rng),
        ])()
    if route == "/api/v1/documents":
        # Shapes refused before the index is needed (unknown fields, wrong types, not JSON).
        return rng.choice([
            lambda: json_body(rng, {"sources": "runbooks"}),
            lambda: json_body(rng, {"documents": {}}),
            lambda: json_body(rng, {"documents": [{"path": "../x.md"}]}),
            lambda: hostile_json(rng),
        ])()
    if route == "/api/v1/slack/interactions":
        payload = rng.choice([
            json.dumps({"type": "block_actions", "user": {"id": rand_text(rng, 12)},
                        "actions": [{"action_id": rng.choice(["aiops_approve", "aiops_reject", "x"]),
                                     "value": rand_text(rng, 30)}]}),
            json.dumps({"type": "view_submission"}),
            rand_text(rng, 100),
        ])
        return rng.choice([
            lambda: urllib.parse.urlencode({"payload": payload}).encode(),
            lambda: b"payload=%ZZ%7B",
            lambda: bytes(rng.randrange(256) for _ in range(rng.randrange(200))),
        ])()
    return rng.choice([b"", b"", hostile_json(rng)])


def path_for(rng, template):
    if template == "{elsewhere}":
        return rng.choice(ELSEWHERE)
    seg = rng.choice(SEGMENTS + ["".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(26))])
    path = template.replace("{id}", seg)
    if rng.random() < 0.3:
        key = {"/api/v1/approvals": "state", "/api/v1/quarantine": "limit"}.get(path, "x")
        path += "?" + key + "=" + rng.choice(["pending", "PENDING", "", "0", "-1", "501", "abc", "%FF", "1e3",
                                              "9223372036854775808", "a%20b"])
    return path


def auth_header(rng, tokens):
    """(kind, header value or None). Kinds: none, valid, spelled, forged, raw."""
    r = rng.random()
    if r < 0.15 or not tokens:
        return "none", None
    if r < 0.60:
        return "valid", "Bearer " + rng.choice(tokens)
    if r < 0.70:
        return "spelled", rng.choice(["bearer ", "BEARER ", "Bearer  "]) + rng.choice(tokens)
    if r < 0.85:
        return "forged", rng.choice(["Bearer ", "Basic ", "Token ", "Bearer: "]) + "".join(
            rng.choice(string.ascii_letters + string.digits) for _ in range(rng.randrange(1, 60))) + "x"
    return "raw", bytes(rng.choice([9] + list(range(32, 127)) + list(range(128, 256)))
                        for _ in range(rng.randrange(80))).decode("latin-1")


def slack_headers(rng, secret, body):
    if not secret:
        return {"x-slack-request-timestamp": str(int(time.time())), "x-slack-signature": "v0=" + "0" * 64}
    ts = str(int(time.time()) + rng.choice([0, 0, 0, -1000, 1000]))
    mac = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    sig = "v0=" + (mac.upper() if rng.random() < 0.2 else mac)
    if rng.random() < 0.2:
        sig = "v0=" + "".join(rng.choice("0123456789abcdefXYZ") for _ in range(64))
    return {"x-slack-request-timestamp": ts, "x-slack-signature": sig}


# ---------------------------------------------------------------------------------------
# HTTP cases
# ---------------------------------------------------------------------------------------

def check_answer(report, what, route, status, headers, body, method):
    report.count(route, status)
    if status >= 500:
        report.fail(what, f"answered {status}: {body[:300]!r}")
        return
    if method == "HEAD" or status < 400:
        return
    ctype = headers.get("content-type", "")
    if not ctype.startswith("application/json"):
        report.fail(what, f"{status} answered as {ctype!r}, not JSON: {body[:300]!r}")
        return
    try:
        err = json.loads(body)["error"]
        if not (isinstance(err["code"], str) and err["code"] and isinstance(err["message"], str) and err["message"]):
            raise ValueError("empty code or message")
    except (ValueError, KeyError, TypeError) as e:
        report.fail(what, f"{status} body is not the JSON error shape ({e}): {body[:300]!r}")


def http_case(rng, args, report):
    method_default, template = rng.choice(ROUTES)
    method = method_default if rng.random() < 0.85 else rng.choice(METHODS)
    if template == "/readyz" and method.upper() in ("GET", "HEAD"):
        method = "POST"  # GET/HEAD /readyz honestly answers 503 while a backend is down
    path = path_for(rng, template)
    kind, auth = auth_header(rng, args.token)
    route = template
    body = body_for(rng, template, kind)
    headers = {}
    if auth is not None:
        headers["Authorization"] = auth
    ctype = rng.choice(CONTENT_TYPES)
    if template == "/api/v1/slack/interactions":
        headers.update(slack_headers(rng, args.slack_secret, body))
        if rng.random() < 0.8:
            ctype = "application/x-www-form-urlencoded"
    elif template in ("/api/v1/intent", "/api/v1/parse") and rng.random() < 0.7:
        ctype = "application/json"
    if ctype is not None:
        headers["Content-Type"] = ctype
    if rng.random() < 0.1:
        headers["Expect"] = "100-continue"
    what = f"{method} {path} auth={kind} ctype={ctype!r} body={body[:80]!r}"
    host, port = args.host, args.port
    conn = http.client.HTTPConnection(host, port, timeout=args.timeout)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v.encode("latin-1", "replace") if isinstance(v, str) else v)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        sent_all = True
        try:
            conn.send(body)
        except (BrokenPipeError, ConnectionResetError):
            sent_all = False  # the server answered early (e.g. 413) and stopped reading
        try:
            resp = conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError) as e:
            if not sent_all or len(body) > OVERSIZED:
                # An oversized body: the server may answer 413 and close while the rest is
                # still arriving, and the kernel's reset can overtake the answer.
                report.count(route, "closed-on-oversized-body")
            else:
                report.fail(what, f"no answer ({type(e).__name__})")
            return
        try:
            data = resp.read()
        except (http.client.IncompleteRead, ConnectionResetError) as e:
            report.fail(what, f"connection broken mid-response after status {resp.status}: {type(e).__name__}")
            return
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        check_answer(report, what, route, resp.status, hdrs, data, method)
    except socket.timeout:
        report.fail(what, f"no answer within {args.timeout} s")
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------
# Raw-socket cases
# ---------------------------------------------------------------------------------------

def complete(buf):
    """Whether buf holds one whole answer (headers, and the body its Content-Length names)."""
    head, sep, rest = buf.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                return len(rest) >= int(value.strip())
            except ValueError:
                return True
    return True


def raw_exchange(args, data):
    """Sends bytes, returns (status or None, raw answer bytes); None: closed without a status.
    Waits at most RAW_WAIT seconds for the answer: a server that keeps the connection open
    after answering (keep-alive), or waits for a body it was promised, is not waited out."""
    s = socket.create_connection((args.host, args.port), timeout=args.timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        s.settimeout(min(args.timeout, RAW_WAIT))
        buf = b""
        try:
            while len(buf) < 65536 and not complete(buf):
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        if buf.startswith(b"HTTP/1."):
            try:
                return int(buf.split(b" ", 2)[1]), buf
            except (ValueError, IndexError):
                return None, buf
        return None, buf
    finally:
        s.close()


RAW_WAIT = 5.0


def raw_cases(rng, args):
    host = f"{args.host}:{args.port}".encode()
    token = (args.token[0] if args.token else "x").encode()
    big = b"X-Big: " + b"a" * 200_000 + b"\r\n"
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(2000))
    cases = [
        ("malformed request line", b"GARBAGE\r\n\r\n"),
        ("request line without version", b"GET /healthz\r\n\r\n"),
        ("HTTP/9.9", b"GET /healthz HTTP/9.9\r\nHost: h\r\n\r\n"),
        ("absolute URI to elsewhere", b"GET http://example.org/ HTTP/1.1\r\nHost: example.org\r\n\r\n"),
        ("NUL in the path", b"GET /health\x00z HTTP/1.1\r\nHost: h\r\n\r\n"),
        ("space in the path", b"GET /api/v1/intents/a b HTTP/1.1\r\nHost: h\r\n\r\n"),
        ("huge request line", b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: h\r\n\r\n"),
        ("one huge header", b"GET /healthz HTTP/1.1\r\nHost: h\r\n" + big + b"\r\n"),
        ("2000 headers", b"GET /healthz HTTP/1.1\r\nHost: h\r\n" + many + b"\r\n"),
        ("header without colon", b"GET /healthz HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n"),
        ("control bytes in a header", b"GET /healthz HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n"),
        ("bare LF line ends", b"GET /healthz HTTP/1.1\nHost: h\n\n"),
        ("obs-fold header", b"GET /healthz HTTP/1.1\r\nHost: h\r\nX: a\r\n  b\r\n\r\n"),
        ("two Content-Lengths", b"POST /api/v1/parse HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
                                b"Content-Length: 5\r\nContent-Length: 7\r\n\r\n{\"nl\"}"),
        ("negative Content-Length", b"POST /api/v1/parse HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n"),
        ("Content-Length and chunked", b"POST /api/v1/parse HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n"
                                       b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        ("broken chunk size", b"POST /api/v1/parse HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                              b"Content-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"),
        ("body shorter than Content-Length", b"POST /api/v1/parse HTTP/1.1\r\nHost: h\r\n"
                                             b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"nl\": \"x\"}"),
        ("declared 10 MB with Expect", b"POST /api/v1/intent HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer " + token +
                                       b"\r\nContent-Type: application/json\r\nContent-Length: 10485760\r\n"
                                       b"Expect: 100-continue\r\n\r\n"),
        ("pipelined garbage after a request", b"GET /healthz HTTP/1.1\r\nHost: " + host + b"\r\n\r\n\x16\x03\x01garbage\r\n\r\n"),
        ("TLS hello on plain HTTP", bytes.fromhex("160301002a0100002603035a") + bytes(40)),
        ("random bytes", bytes(rng.randrange(256) for _ in range(512))),
        ("empty line only", b"\r\n\r\n"),
    ]
    return cases


def run_raw(rng, args, report):
    for name, data in raw_cases(rng, args):
        what = f"raw: {name}"
        try:
            status, answer = raw_exchange(args, data)
        except OSError as e:
            report.fail(what, f"could not connect or send: {e}")
            continue
        report.count("raw", status if status is not None else "closed")
        if status is not None and status >= 500:
            report.fail(what, f"answered {status}: {answer[:200]!r}")
        if not alive(args):
            report.fail(what, "the daemon stopped answering /healthz afterwards")
            return


def alive(args):
    try:
        conn = http.client.HTTPConnection(args.host, args.port, timeout=args.timeout)
        conn.request("GET", "/healthz")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def slow_headers(args, report):
    """Dribbles a request's headers one byte per 0.5 s for at most --slow-seconds."""
    if args.slow_seconds <= 0:
        return
    request = b"GET /healthz HTTP/1.1\r\nHost: h\r\nX-Slow: " + b"a" * 10_000
    s = socket.create_connection((args.host, args.port), timeout=args.timeout)
    started = time.monotonic()
    closed_after = None
    try:
        s.settimeout(0.5)
        for b in request:
            if time.monotonic() - started > args.slow_seconds:
                break
            try:
                s.send(bytes([b]))
                # Returns b"" when the server closed, or its answer (408, 431): either way it
                # stopped waiting for the rest.
                s.recv(4096)
                closed_after = time.monotonic() - started
                break
            except socket.timeout:
                continue
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - started
                break
    finally:
        s.close()
    report.slow.append({"closed_after_s": None if closed_after is None else round(closed_after, 1),
                        "watched_s": args.slow_seconds})
    if args.require_header_timeout and (closed_after is None or closed_after > args.require_header_timeout):
        report.fail("raw: slow headers", f"the connection was still open after {args.slow_seconds} s"
                    if closed_after is None else f"closed only after {closed_after:.1f} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default=os.environ.get("AIOPS_URL", "http://127.0.0.1:30080"))
    ap.add_argument("--token", action="append", default=[],
                    help="a valid bearer token (repeatable); default $AIOPS_TOKEN")
    ap.add_argument("--slack-secret", default=os.environ.get("AIOPS_SLACK_SIGNING_SECRET"),
                    help="Slack signing secret, to send validly signed interactions too")
    ap.add_argument("--cases", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one answer")
    ap.add_argument("--slow-seconds", type=float, default=10.0,
                    help="how long to dribble slow headers (0: skip)")
    ap.add_argument("--require-header-timeout", type=float, default=0.0,
                    help="fail unless a slow-header connection is closed within this many seconds")
    args = ap.parse_args()
    if not args.token and os.environ.get("AIOPS_TOKEN"):
        args.token = [os.environ["AIOPS_TOKEN"]]
    if args.cases < 0 or args.cases > 1_000_000:
        ap.error("--cases must be between 0 and 1,000,000")
    u = urllib.parse.urlparse(args.url)
    if u.scheme != "http":
        ap.error("--url must be http://127.0.0.1:PORT (plain HTTP on loopback)")
    loopback_only(args.url)
    args.host, args.port = u.hostname, u.port or 80
    rng = random.Random(args.seed)
    report = Report()
    started = time.monotonic()
    if not alive(args):
        print(json.dumps({"error": f"{args.url}/healthz does not answer 200"}))
        return 1
    for _ in range(args.cases):
        http_case(rng, args, report)
    run_raw(rng, args, report)
    slow_headers(args, report)
    if not alive(args):
        report.fail("end", "the daemon stopped answering /healthz")
    out = {
        "url": args.url,
        "seed": args.seed,
        "cases": args.cases,
        "seconds": round(time.monotonic() - started, 1),
        "failed": report.failed,
        "counts": dict(sorted(report.counts.items(), key=lambda kv: str(kv[0]))),
        "slow_headers": report.slow,
        "failures": report.failures,
    }
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
