"""An MCP client nobody here wrote: the Python `mcp` SDK (PyPI), driven by the tests.

Usage: client.py URL  (bearer token in AIOPS_TOKEN, none if unset)
Reads steps as JSON from stdin: [{"op": "list"}, {"op": "call", "name": ..., "arguments": {...}}]
and prints one JSON object per step: the tools (name, inputSchema, annotations, description)
or the call's result (isError, structuredContent, text). A failure to connect or initialize
prints {"error": "..."} and exits 2.
"""

import asyncio
import json
import os
import sys

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client


async def run(url, steps):
    token = os.environ.get("AIOPS_TOKEN")
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=120) as http:
        async with streamable_http_client(url, http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                await session.initialize()
                for step in steps:
                    if step["op"] == "list":
                        tools = (await session.list_tools()).tools
                        out = [
                            {
                                "name": t.name,
                                "description": t.description,
                                "inputSchema": t.inputSchema if hasattr(t, "inputSchema") else t.input_schema,
                                "annotations": (t.annotations.model_dump(by_alias=True, exclude_none=True)
                                                if t.annotations else None),
                            }
                            for t in tools
                        ]
                        print(json.dumps({"tools": out}), flush=True)
                    elif step["op"] == "call":
                        r = await session.call_tool(step["name"], step.get("arguments", {}))
                        text = "".join(getattr(c, "text", "") for c in r.content)
                        structured = getattr(r, "structuredContent", None)
                        if structured is None:
                            structured = getattr(r, "structured_content", None)
                        is_error = getattr(r, "isError", None)
                        if is_error is None:
                            is_error = getattr(r, "is_error", None)
                        print(json.dumps({"isError": bool(is_error), "structured": structured,
                                          "text": text}), flush=True)


def main():
    steps = json.load(sys.stdin)
    try:
        asyncio.run(run(sys.argv[1], steps))
    except BaseException as e:  # noqa: BLE001 - the test reads the reason
        root = e
        while isinstance(root, BaseExceptionGroup) and root.exceptions:
            root = root.exceptions[0]
        print(json.dumps({"error": f"{type(root).__name__}: {root}"}), flush=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
