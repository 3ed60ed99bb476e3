"""An MCP client nobody here wrote: the Python `mcp` SDK (PyPI), driven by the tests.

Usage: client.py URL                 Streamable HTTP to the daemon's /mcp
       client.py --stdio AIOPSD URL  stdio, to `AIOPSD mcp --url URL` (the relay)
The bearer token is AIOPS_TOKEN (none if unset); over stdio the relay gets it the same way.
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
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client


async def run(target, steps):
    token = os.environ.get("AIOPS_TOKEN")
    if target[0] == "--stdio":
        aiopsd, url = target[1], target[2]
        env = {"AIOPS_TOKEN": token} if token else {}
        params = StdioServerParameters(command=aiopsd, args=["mcp", "--url", url], env=env)
        async with stdio_client(params) as (read, write):
            await session_steps(read, write, steps)
        return
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=120) as http:
        async with streamable_http_client(target[0], http_client=http) as streams:
            await session_steps(streams[0], streams[1], steps)


def dumped(model):
    """A protocol object as its wire JSON (camelCase, as the spec names the fields)."""
    return model.model_dump(by_alias=True, exclude_none=True, mode="json")


async def session_steps(read, write, steps):
    async with ClientSession(read, write) as session:
        await session.initialize()
        for step in steps:
            print(json.dumps(await one_step(session, step)), flush=True)


async def one_step(session, step):
    op = step["op"]
    if op == "list":
        tools = (await session.list_tools()).tools
        return {"tools": [
            {
                "name": t.name,
                "description": t.description,
                "inputSchema": t.inputSchema if hasattr(t, "inputSchema") else t.input_schema,
                "annotations": (t.annotations.model_dump(by_alias=True, exclude_none=True)
                                if t.annotations else None),
            }
            for t in tools
        ]}
    if op in ("call", "call_progress"):
        # call_progress asks for progress (the SDK then sends a progressToken) and keeps the
        # notifications it gets.
        seen = []

        async def on_progress(progress, total, message):
            seen.append({"progress": progress, "message": message})

        callback = on_progress if op == "call_progress" else None
        r = await session.call_tool(step["name"], step.get("arguments", {}), progress_callback=callback)
        text = "".join(getattr(c, "text", "") for c in r.content)
        structured = getattr(r, "structuredContent", None)
        if structured is None:
            structured = getattr(r, "structured_content", None)
        is_error = getattr(r, "isError", None)
        if is_error is None:
            is_error = getattr(r, "is_error", None)
        out = {"isError": bool(is_error), "structured": structured, "text": text}
        if callback:
            out["progress"] = seen
        return out
    if op == "resources":
        # Every page, following nextCursor; the page sizes show the paging.
        pages, cursor = [], None
        while True:
            params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
            r = await session.list_resources(params=params)
            pages.append([dumped(x) for x in r.resources])
            cursor = getattr(r, "nextCursor", None) or getattr(r, "next_cursor", None)
            if not cursor:
                return {"pages": pages}
    if op == "read":
        r = await session.read_resource(step["uri"])
        return {"contents": [dumped(c) for c in r.contents]}
    if op == "prompts":
        r = await session.list_prompts()
        return {"prompts": [dumped(p) for p in r.prompts]}
    if op == "prompt":
        r = await session.get_prompt(step["name"], step.get("arguments", {}))
        return {"messages": [{"role": m.role, "text": getattr(m.content, "text", None)}
                             for m in r.messages]}
    raise ValueError(f"unknown op {op}")


def main():
    steps = json.load(sys.stdin)
    try:
        asyncio.run(run(sys.argv[1:], steps))
    except BaseException as e:  # noqa: BLE001 - the test reads the reason
        root = e
        while isinstance(root, BaseExceptionGroup) and root.exceptions:
            root = root.exceptions[0]
        print(json.dumps({"error": f"{type(root).__name__}: {root}"}), flush=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
