"""An in-memory Toolbox and EffectJournal for the engine's tests (flowdeck/tools/ and storage/ have the real ones).

The toolbox's tools are plain and predictable: fetch and list_files read, write_file writes into a dict. The journal
keeps its rows in a list, append-only, and answers `recorded` from them as the real one does from its table."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from flowdeck.engine.tools import RecordedEffect, ToolCall, ToolContext, ToolResult, ToolSpec

OBJECT = {"type": "object", "properties": {}, "additionalProperties": True}
SPECS = {
    "fetch": ToolSpec(name="fetch", description="GET a URL", parameters=OBJECT, effect="read"),
    "list_files": ToolSpec(name="list_files", description="list the workspace", parameters=OBJECT, effect="read"),
    "write_file": ToolSpec(name="write_file", description="write a file", parameters=OBJECT, effect="write"),
}


@dataclass
class MemoryToolbox:
    """Runs the three tools above; `calls` lists every call it ran, `files` what write_file wrote."""

    files: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, str, str]] = field(default_factory=list)  # (tool, arguments, key)
    before_run: Callable[[ToolCall, ToolContext], object] | None = None  # awaited if it returns an awaitable
    fail_with: Exception | None = None  # raised by every call: a toolbox with a bug

    def specs(self, names: Sequence[str]) -> list[ToolSpec]:
        return [SPECS[name] for name in names]

    async def call(self, call: ToolCall, spec: ToolSpec, context: ToolContext) -> ToolResult:
        if self.before_run is not None:
            waited = self.before_run(call, context)
            if asyncio.iscoroutine(waited):
                await waited
        self.calls.append((call.name, call.arguments, context.key))
        if self.fail_with is not None:
            raise self.fail_with
        try:
            arguments = json.loads(call.arguments)
        except ValueError:
            return ToolResult(content=f"arguments are not JSON: {call.arguments[:40]}", ok=False)
        if call.name == "fetch":
            return ToolResult(content=f"Page at {arguments.get('url')}\nsecond line", detail={"method": "GET"})
        if call.name == "list_files":
            return ToolResult(content="\n".join(sorted(self.files)) or "(no files)")
        path = str(arguments.get("path"))
        self.files[path] = str(arguments.get("content", ""))
        return ToolResult(content=f"wrote {path}", artifacts=(path,), detail={"path": path})


@dataclass
class MemoryJournal:
    """An append-only list of (phase, key, tool or status, content) rows."""

    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    broken: str | None = None  # "intent" or "outcome": writing that row fails, as a full disk would make it

    def recorded(self, key: str) -> RecordedEffect | None:
        mine = [row for row in self.rows if row[1] == key]
        if not mine:
            return None
        last = mine[-1]
        if last[0] == "intent":
            return RecordedEffect(key=key, status="unknown")
        return RecordedEffect(key=key, status="ok" if last[2] == "ok" else "failed", content=last[3])

    def intent(self, context: ToolContext, spec: ToolSpec, call: ToolCall) -> None:
        if self.broken == "intent":
            raise OSError(28, "No space left on device")
        self.rows.append(("intent", context.key, spec.name, call.arguments))

    def outcome(self, context: ToolContext, result: ToolResult) -> None:
        if self.broken == "outcome":
            raise OSError(28, "No space left on device")
        self.rows.append(("outcome", context.key, "ok" if result.ok else "failed", result.content))

    def phases(self, key: str) -> list[str]:
        return [row[0] for row in self.rows if row[1] == key]
