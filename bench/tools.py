"""The engine's own cost of an agent's tool calls (issue 22), beside the same agent without tools.

    python bench/tools.py [--repeats N]

One agent on the scripted model (latency 0) with a toolbox whose tools return at once: without tools; with 10
read calls (no journal); with 10 write calls and a journal that writes nothing (what is left is the engine's own
work, and the two hops to a worker thread per call that a real journal's durable writes go through). Prints the
fastest run's microseconds per run and per tool call.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flowdeck.engine.run import Run, drain
from flowdeck.engine.tools import RecordedEffect, ToolCall, ToolContext, ToolResult, ToolSpec
from flowdeck.engine.workflow import Workflow, parse_workflow
from flowdeck.models.scripted import ScriptedCaller

CALLS = 10
OBJECT = {"type": "object"}


class InstantToolbox:
    def specs(self, names: Sequence[str]) -> list[ToolSpec]:
        return [
            ToolSpec(name=n, description=n, parameters=OBJECT, effect="write" if n == "write_file" else "read")
            for n in names
        ]

    async def call(self, call: ToolCall, spec: ToolSpec, context: ToolContext) -> ToolResult:
        return ToolResult(content="done")


class NullJournal:
    def recorded(self, key: str) -> RecordedEffect | None:
        return None

    def intent(self, context: ToolContext, spec: ToolSpec, call: ToolCall) -> None:
        return None

    def outcome(self, context: ToolContext, result: ToolResult) -> None:
        return None


def workflow(tool: str | None) -> Workflow:
    lines = [f'CALL {tool} {{"n": {i}}}' for i in range(CALLS)] if tool else []
    config = {"system_prompt": "\n".join(["Work.", *lines]), "tools": [tool] if tool else []}
    return parse_workflow({"format": 2, "name": "b", "nodes": [{"id": "a", "type": "custom", "config": config}]})


async def fastest(flow: Workflow, repeats: int, journal: bool) -> float:
    best = float("inf")
    for _ in range(repeats):
        run = Run(
            flow,
            caller=ScriptedCaller(),
            default_model="scripted/chunks=1",
            toolbox=InstantToolbox(),
            journal=NullJournal() if journal else None,
        )
        t0 = time.perf_counter()
        events = await drain(run)
        best = min(best, time.perf_counter() - t0)
        assert events[-1].status == "succeeded"  # type: ignore[union-attr]
    return best * 1e6


async def main(repeats: int) -> None:
    plain = await fastest(workflow(None), repeats, False)
    reads = await fastest(workflow("fetch"), repeats, False)
    writes = await fastest(workflow("write_file"), repeats, True)
    print(f"one agent, latency 0, fastest of {repeats} runs (us)")
    print(f"  without tools               {plain:8.0f}")
    print(f"  {CALLS} read calls                {reads:8.0f}   {(reads - plain) / CALLS:6.0f} a call")
    print(f"  {CALLS} write calls + journal     {writes:8.0f}   {(writes - plain) / CALLS:6.0f} a call")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=50)
    asyncio.run(main(parser.parse_args().repeats))
