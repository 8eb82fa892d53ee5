"""A run's toolbox when its workflow lists MCP servers: the built-ins plus each server's tools. Servers start when the
first agent that uses them starts (open()), and stop when the run's process lets go of it (close()). A stdio server
is a command on this machine: it starts only if an editor approved its exact entry on this server; a URL server is
reached only through the egress guard's check of the workflow's allowed domains."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

import httpx

from flowdeck.engine.mcp_config import McpServer
from flowdeck.engine.tools import ToolCall, ToolContext, ToolResult, ToolSpec
from flowdeck.tools.egress import Egress, EgressRefused
from flowdeck.tools.mcp import McpConnection, McpUnavailable
from flowdeck.tools.toolbox import BuiltinToolbox


def not_approved(server: McpServer) -> str:
    return (
        f"MCP server '{server.name}' runs the command {' '.join(server.command or [])!r} on this machine, and no "
        f"editor has approved it here: approve it in the workflow's settings or with `flowdeck trust approve` "
        f"(hash {server.content_hash()[:12]})"
    )


class McpToolbox:
    """engine/tools.py's Toolbox, with open() and close() for the servers' lifetimes (the engine and the runner call
    them when the toolbox has them)."""

    def __init__(
        self,
        builtin: BuiltinToolbox,
        servers: Sequence[McpServer],
        *,
        workspace: Path,
        egress: Egress,
        approved: Callable[[McpServer], bool],
    ) -> None:
        self._builtin = builtin
        self._servers = {server.name: server for server in servers}
        self._workspace = workspace
        self._egress = egress
        self._approved = approved
        self._connections: dict[str, McpConnection] = {}
        self._refused: dict[str, str] = {}  # server name -> why its tools cannot be had
        self._specs: dict[str, ToolSpec] = {}
        self._opening = asyncio.Lock()

    async def open(self, names: Collection[str]) -> None:
        """Start the servers whose tools these names are (each once per run), and learn their tools."""
        wanted = {self._server_of(name) for name in names} - {None}
        async with self._opening:
            for server_name in sorted(n for n in wanted if n is not None):
                if server_name in self._connections or server_name in self._refused:
                    continue
                await self._start(self._servers[server_name])

    def specs(self, names: Sequence[str]) -> list[ToolSpec]:
        found = []
        for name in names:
            server_name = self._server_of(name)
            if server_name is None:
                found += self._builtin.specs([name])
                continue
            if server_name in self._refused:
                raise KeyError(self._refused[server_name])
            spec = self._specs.get(name)
            if spec is None:
                offered = sorted(n for n in self._specs if n.startswith(f"{server_name}__"))
                raise KeyError(
                    f"MCP server '{server_name}' has no tool '{name.split('__', 1)[1]}' "
                    f"(it offers: {', '.join(offered) or 'nothing'})"
                )
            found.append(spec)
        return found

    async def call(self, call: ToolCall, spec: ToolSpec, context: ToolContext) -> ToolResult:
        server_name = self._server_of(call.name)
        if server_name is None:
            return await self._builtin.call(call, spec, context)
        connection = self._connections.get(server_name)
        if connection is None:
            return ToolResult(content=self._refused.get(server_name, f"MCP server '{server_name}' is not running"),
                              ok=False)  # fmt: skip
        return await connection.call(call.name, call.arguments)

    async def close(self) -> None:
        connections, self._connections = list(self._connections.values()), {}
        await asyncio.gather(*(connection.close() for connection in connections), return_exceptions=True)

    def _server_of(self, name: str) -> str | None:
        server_name, sep, _tool = name.partition("__")
        return server_name if sep and server_name in self._servers else None

    async def _start(self, server: McpServer) -> None:
        if server.command is not None and not self._approved(server):
            self._refused[server.name] = not_approved(server)
            return
        connection = McpConnection(server, workspace=self._workspace, check_url=self._check_url)
        try:
            specs = await connection.tools()
        except McpUnavailable as exc:
            self._refused[server.name] = str(exc)
            await connection.close()
            return
        self._connections[server.name] = connection
        self._specs.update({spec.name: spec for spec in specs})

    async def _check_url(self, url: str) -> str | None:
        try:
            await self._egress.check(httpx.URL(url))
        except EgressRefused as exc:
            return str(exc)
        except (httpx.InvalidURL, ValueError) as exc:
            return f"{url[:200]} is not a URL the tools can reach ({exc})"
        return None
