"""The Toolbox a run gets (engine/tools.py's protocol): the five built-in tools' specs, and a call's arguments
checked and handed to the tool. Whatever goes wrong in a tool comes back as a result with ok=False."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowdeck.engine.mcp_config import McpServer
from flowdeck.engine.tools import ToolCall, ToolContext, ToolEffect, ToolResult, ToolSpec
from flowdeck.engine.workflow import Workflow
from flowdeck.tools.arguments import (
    ArgumentsError,
    FetchArgs,
    HttpRequestArgs,
    ListFilesArgs,
    ReadFileArgs,
    ToolArguments,
    WriteFileArgs,
    parse_arguments,
    schema_of,
)
from flowdeck.tools.egress import Egress, EgressLimits
from flowdeck.tools.files import Files
from flowdeck.tools.web import SecretLookup, Web
from flowdeck.tools.workspace import Workspace

if TYPE_CHECKING:
    from flowdeck.tools.mcp_toolbox import McpToolbox

__all__ = ["BuiltinToolbox", "make_toolbox"]

_log = logging.getLogger(__name__)


def make_toolbox(
    workflow: Workflow,
    workspace: Path,
    secrets: SecretLookup,
    *,
    approved: Callable[[McpServer], bool] = lambda server: False,
) -> BuiltinToolbox | McpToolbox:
    """The toolbox of one run of `workflow`: network tools limited to its allowed domains, file tools to
    `workspace` (the run's folder), saved secrets looked up by name with `secrets`; with its MCP servers' tools when
    it lists servers (`approved`: whether an editor approved a stdio server's entry here; none is by default)."""
    builtin = BuiltinToolbox(workspace=workspace, allowed_domains=workflow.allowed_domains, secrets=secrets)
    if not workflow.mcp_servers:
        return builtin
    from flowdeck.tools.mcp_toolbox import McpToolbox  # only workflows with MCP servers load the SDK's module

    egress = Egress(workflow.allowed_domains)
    return McpToolbox(builtin, workflow.mcp_servers, workspace=workspace, egress=egress, approved=approved)


@dataclass(frozen=True, slots=True)
class _Tool:
    spec: ToolSpec
    arguments: type[ToolArguments]
    run: Callable[[Any], Awaitable[ToolResult]]


class BuiltinToolbox:
    """fetch, http_request, read_file, write_file and list_files for one run."""

    def __init__(
        self,
        *,
        workspace: Path,
        allowed_domains: Iterable[str],
        secrets: SecretLookup,
        limits: EgressLimits | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        web = Web(Egress(allowed_domains, limits, tls), secrets)
        files = Files(Workspace(workspace))
        self._tools = {
            tool.spec.name: tool
            for tool in (
                _Tool(_spec("fetch", _FETCH, FetchArgs, "read"), FetchArgs, web.fetch),
                # "write" whatever the method: the engine journals by the spec (a GET's intent row is harmless).
                _Tool(_spec("http_request", _HTTP, HttpRequestArgs, "write"), HttpRequestArgs, web.http_request),
                _Tool(_spec("read_file", _READ, ReadFileArgs, "read"), ReadFileArgs, files.read_file),
                _Tool(_spec("write_file", _WRITE, WriteFileArgs, "write"), WriteFileArgs, files.write_file),
                _Tool(_spec("list_files", _LIST, ListFilesArgs, "read"), ListFilesArgs, files.list_files),
            )
        }

    def specs(self, names: Sequence[str]) -> list[ToolSpec]:
        """The specs of the tools named, in their order; KeyError naming an unknown one and the known ones."""
        unknown = [name for name in names if name not in self._tools]
        if unknown:
            raise KeyError(f"no tool named {unknown[0]!r}: the tools are {', '.join(self._tools)}")
        return [self._tools[name].spec for name in names]

    async def call(self, call: ToolCall, spec: ToolSpec, context: ToolContext) -> ToolResult:
        """Run one call; never raises for the tool's own failures (bad arguments, refusals, errors)."""
        tool = self._tools.get(call.name)
        if tool is None:
            known = ", ".join(self._tools)
            return ToolResult(content=f"there is no tool named {call.name!r}: the tools are {known}", ok=False)
        try:
            arguments = parse_arguments(call.name, tool.arguments, call.arguments)
        except ArgumentsError as e:
            return ToolResult(content=str(e), ok=False, detail={"error": str(e)})
        try:
            return await tool.run(arguments)
        except Exception:  # a defect in a tool must not end the run: the model is told, the log keeps the trace
            _log.exception("tool %s failed (call %s)", call.name, context.key)
            reason = f"{call.name} failed with an internal error; the run's log has the details"
            return ToolResult(content=reason, ok=False, detail={"error": reason})


def _spec(name: str, description: str, arguments: type[ToolArguments], effect: ToolEffect) -> ToolSpec:
    return ToolSpec(name=name, description=description, parameters=schema_of(arguments), effect=effect)


_FETCH = (
    "GET a web page or file over http(s) and return its text (HTML reduced to readable text, at most 20,000 "
    "characters; the body is cut at 2 MB). Only hosts on the workflow's allowed domains can be reached; a refusal "
    "says which domain to add."
)
_HTTP = (
    "Send an HTTP request (GET, HEAD, POST, PUT, PATCH or DELETE) and return the status, content type and body. "
    "Headers may use a saved secret by name: {{secret:NAME}} inside a value (never write a secret's value). "
    "Only hosts on the workflow's allowed domains can be reached. Requests other than GET and HEAD change things: "
    "they are recorded in the run's side-effect log."
)
_READ = "Read a text file (UTF-8, at most 1 MB) from the run's workspace folder."
_WRITE = (
    "Write a text file into the run's workspace folder, replacing it if it exists (at most 1 MB; folders are "
    "created). Files written are the run's artifacts, which the person running the workflow can download."
)
_LIST = "List the files in the run's workspace folder (or in one of its folders), with their sizes."
