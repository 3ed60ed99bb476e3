#!/usr/bin/env python3
"""A local stand-in for Slack's Web API, for the dev stack (Slack is not reachable here).

Answers `POST /<method>` (chat.postMessage, chat.update, ...) as Slack documents:
`{"ok": true, "channel": ..., "ts": ...}`, and appends every call to a JSON-lines file so a
developer can see what the appliance would have posted. Listens on 127.0.0.1 only.

usage: slack-sink.py PORT CALLS_FILE
"""
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    calls_file = "slack-calls.jsonl"

    def do_POST(self):  # noqa: N802 (http.server naming)
        length = min(int(self.headers.get("content-length") or 0), 1 << 20)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"unparsed": raw.decode("utf-8", "replace")}
        method = self.path.strip("/")
        # The bot token is a secret: record only that one was sent.
        record = {
            "at": time.time(),
            "method": method,
            "authorized": self.headers.get("authorization", "").startswith("Bearer "),
            "body": body,
        }
        with open(self.calls_file, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        answer = {"ok": True, "channel": body.get("channel", "C0LOCAL"),
                  "ts": body.get("ts") or f"{time.time():.6f}"}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def main():
    port, calls = int(sys.argv[1]), sys.argv[2]
    Handler.calls_file = calls
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
