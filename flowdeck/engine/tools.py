"""What the engine asks of tools: their specs, a call and its result, the box that runs them and the journal that
records their side effects. engine/ runs the tool-calling loop; flowdeck/tools/ implements the box; storage/
implements the journal. Like the model caller, both reach a Run as arguments (DESIGN.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol

import msgspec

from flowdeck.engine.events import Record, ToolCall

__all__ = [
    "BUILTIN_TOOLS",
    "EffectJournal",
    "RecordedEffect",
    "ToolCall",
    "ToolContext",
    "ToolResult",
    "ToolSpec",
    "Toolbox",
]

# read: changes nothing outside the run (a GET, reading a file); write: changes the world (a file written, a POST, a
# destructive or unannotated MCP tool) and is recorded in the side-effect log before and after it runs.
ToolEffect = Literal["read", "write"]
# How a side effect ended: unknown is an intent whose outcome was never written (its process died in between).
EffectStatus = Literal["ok", "failed", "unknown"]
# The built-in tools an agent can list by name (flowdeck/tools/ implements them); an MCP tool is "<server>__<tool>".
BUILTIN_TOOLS = ("fetch", "http_request", "read_file", "write_file", "list_files")
MAX_TOOL_CALLS = 50  # an agent's per-execution cap (default 10): every call is a model round trip
MAX_RESULT_CHARS = 20_000  # what a tool result keeps in the event log and gives back to the model


class ToolSpec(Record, frozen=True):
    """A tool as the model is offered it (an OpenAI-style function) and as the engine treats it."""

    name: str  # what the model calls it: ^[A-Za-z0-9_-]{1,64}$ (an MCP tool: "<server>__<tool>")
    description: str
    parameters: dict[str, Any]  # JSON schema of its arguments (type: object)
    effect: ToolEffect = "write"  # unknown means side effect


class ToolResult(Record, frozen=True):
    """What a tool gave back: `content` goes to the model (and, capped, to the log). A refusal (egress guard, a
    path outside the workspace, bad arguments) is a result with ok=False that the model sees, not an exception."""

    content: str
    ok: bool = True
    artifacts: tuple[str, ...] = ()  # workspace-relative paths of files this call wrote
    detail: dict[str, Any] = msgspec.field(default_factory=dict)  # for the side-effect log: method, url, path...


class ToolContext(Record, frozen=True):
    """Where a call happens. `key` is its idempotency key: the same call of the same execution of the same agent
    has the same key in a retry or a resume, so a recorded side effect is never repeated."""

    run_id: str
    node_id: str
    execution: int
    key: str  # f"{run_id}:{node_id}:{execution}:{n}", n counting this execution's tool calls from 1


class Toolbox(Protocol):
    """Runs tools for a run (flowdeck/tools/ provides one per run: built-ins, MCP servers, the egress guard)."""

    def specs(self, names: Sequence[str]) -> list[ToolSpec]:
        """The specs of the tools an agent lists, in its order; KeyError names an unknown one."""
        ...

    async def call(self, call: ToolCall, spec: ToolSpec, context: ToolContext) -> ToolResult:
        """Run one call. Never raises for the tool's own failures: they are results with ok=False."""
        ...


class RecordedEffect(Record, frozen=True):
    """A side effect already in the journal, as a retried or resumed call finds it."""

    key: str
    status: EffectStatus
    content: str = ""  # the result the model was given, when the outcome was recorded


class EffectJournal(Protocol):
    """The append-only side-effect log (storage/ provides it). The engine calls these from a worker thread: each
    returns once its row is durable."""

    def recorded(self, key: str) -> RecordedEffect | None: ...

    def intent(self, context: ToolContext, spec: ToolSpec, call: ToolCall) -> None:
        """Before a side-effecting call runs (its arguments redacted of secrets by the journal)."""
        ...

    def outcome(self, context: ToolContext, result: ToolResult) -> None:
        """After it ran: ok or failed, with the result's detail."""
        ...
