"""MCP servers' tools for a run, through the official `mcp` SDK: one connection per server per run, opened on
first use and closed when the run ends. A server that hangs, floods or dies gives a refusal the model sees, never a
stuck run."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from flowdeck.engine.mcp_config import McpServer, tool_name
from flowdeck.engine.tools import MAX_RESULT_CHARS, ToolResult, ToolSpec

MAX_TOOLS_PER_SERVER = 200
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# A URL server is reached only where the workflow's egress rules allow: the guard says why not, or None.
UrlCheck = Callable[[str], Awaitable[str | None]]


class McpUnavailable(Exception):
    """The server could not be started or reached, or did not answer in time (the message says which)."""


class McpConnection:
    """One server for one run. The SDK's client lives in a task of its own (its cancel scopes belong to the task
    that entered it); calls come from the agents' tasks."""

    def __init__(self, server: McpServer, *, workspace: Path, check_url: UrlCheck | None = None) -> None:
        self.server = server
        self._workspace = workspace
        self._check_url = check_url
        self._client: Any = None
        self._ready = asyncio.Event()
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self._tools: dict[str, ToolSpec] = {}  # by the model's name for it
        self._remote: dict[str, str] = {}  # the model's name -> the server's
        self._opening = asyncio.Lock()

    async def tools(self) -> list[ToolSpec]:
        """Start the server (once) and list its tools."""
        async with self._opening:
            if self._task is None:
                await self._open()
        return list(self._tools.values())

    async def call(self, name: str, arguments: str) -> ToolResult:
        """Call one of its tools (by the model's name), with the JSON arguments the model wrote."""
        try:
            await self.tools()
        except McpUnavailable as exc:
            return ToolResult(content=str(exc), ok=False)
        remote = self._remote.get(name)
        if remote is None:
            return ToolResult(content=f"{self.server.name} has no tool {name!r}", ok=False)
        try:
            parsed = json.loads(arguments or "{}")
        except ValueError as exc:
            return ToolResult(content=f"the arguments are not valid JSON ({exc}): send a JSON object", ok=False)
        if not isinstance(parsed, dict):
            return ToolResult(content="the arguments must be a JSON object", ok=False)
        try:
            async with asyncio.timeout(self.server.timeout):
                answer = await self._client.call_tool(remote, parsed)
        except TimeoutError:
            return ToolResult(
                content=f"MCP server '{self.server.name}' did not answer {remote} within {self.server.timeout:g} s",
                ok=False,
            )
        except Exception as exc:  # the SDK's protocol and transport errors: the model sees them, the run goes on
            return ToolResult(content=f"MCP server '{self.server.name}' failed {remote}: {_first_line(exc)}", ok=False)
        text = _text_of(answer)
        return ToolResult(content=text, ok=not answer.is_error, detail={"server": self.server.name, "tool": remote})

    async def close(self) -> None:
        self._closing.set()
        if self._task is not None:
            await asyncio.wait({self._task}, timeout=5)  # the SDK's shutdown: stdin closed, then the process tree
            if not self._task.done():
                self._task.cancel()
                await asyncio.wait({self._task}, timeout=5)

    async def _open(self) -> None:
        server = self.server
        if server.url is not None and self._check_url is not None:
            refused = await self._check_url(server.url)
            if refused is not None:
                raise McpUnavailable(f"MCP server '{server.name}' is not reachable: {refused}")
        self._task = asyncio.get_running_loop().create_task(self._serve(), name=f"mcp:{server.name}")
        done = asyncio.get_running_loop().create_task(self._ready.wait())
        try:
            await asyncio.wait({self._task, done}, timeout=server.start_timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            done.cancel()
        if self._failure is not None:
            raise McpUnavailable(f"MCP server '{server.name}' could not start: {_first_line(self._failure)}")
        if not self._ready.is_set():
            self._task.cancel()
            raise McpUnavailable(f"MCP server '{server.name}' did not start within {server.start_timeout:g} s")

    async def _serve(self) -> None:
        from mcp import Client  # the SDK costs ~0.3 s to import: only runs whose agents use MCP pay it
        from mcp.client.stdio import StdioServerParameters, stdio_client

        server = self.server
        try:
            # A server's own logging must not flood ours (opening /dev/null does not block).
            with open(os.devnull, "w") as errlog:  # noqa: ASYNC230
                if server.command is not None:
                    # Only the SDK's safe environment (PATH, HOME, ...): none of this process's keys reach it.
                    params = StdioServerParameters(
                        command=server.command[0], args=server.command[1:], cwd=self._workspace
                    )
                    target: Any = stdio_client(params, errlog=errlog)
                else:
                    target = server.url
                async with Client(target) as client:
                    self._client = client
                    listing = await client.list_tools()
                    self._learn(listing.tools)
                    self._ready.set()
                    await self._closing.wait()
        except Exception as exc:
            self._failure = exc
            self._ready.set()

    def _learn(self, tools: list[Any]) -> None:
        for tool in tools[:MAX_TOOLS_PER_SERVER]:
            name = tool_name(self.server.name, tool.name)
            if not _NAME.match(name):
                continue  # a name no model accepts as a function name
            read_only = tool.annotations is not None and tool.annotations.read_only_hint is True
            self._remote[name] = tool.name
            self._tools[name] = ToolSpec(
                name=name,
                description=(tool.description or tool.name)[:1_000],
                parameters=tool.input_schema if isinstance(tool.input_schema, dict) else {"type": "object"},
                effect="read" if read_only else "write",  # unannotated is a side effect
            )


def _text_of(answer: Any) -> str:
    parts: list[str] = []
    for block in answer.content:
        text = getattr(block, "text", None)
        parts.append(text if isinstance(text, str) else f"[{getattr(block, 'type', 'content')} not shown]")
    text = "\n".join(parts)
    if len(text) > MAX_RESULT_CHARS:
        return text[:MAX_RESULT_CHARS] + f"\n[cut at {MAX_RESULT_CHARS:,} characters]"
    return text


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _first_line(exc.exceptions[0])
    return text.splitlines()[0][:300]
