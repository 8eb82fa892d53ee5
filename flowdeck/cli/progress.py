"""The terminal view of a run: a line per agent, redrawn live on a terminal, appended otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from flowdeck.cli.terminal import shown
from flowdeck.engine.agents import display_name
from flowdeck.engine.loops import LoopRounds
from flowdeck.engine.state import RunState
from flowdeck.engine.workflow import Workflow

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_MARKS = {
    "queued": "·",
    "succeeded": "✓",
    "failed": "✗",
    "skipped": "↷",
    "cancelled": "■",
    "interrupted": "!",
    "retrying": "↻",
    "waiting": "…",
}


class ProgressView:
    """Renders RunState; call update() after each event and finish() at the end."""

    def __init__(self, workflow: Workflow, out: TextIO | None = None, live: bool | None = None) -> None:
        self._out = out or sys.stderr  # looked up now, not at import: a test runner may have replaced it since
        self._live = self._out.isatty() if live is None else live
        self._names = {node.id: display_name(node) for node in workflow.nodes}
        self._width = max((len(name) for name in self._names.values()), default=8)
        self._rounds = LoopRounds.of(workflow)  # agents a loop repeats: the round of its innermost loop each is in
        self._drawn = 0
        self._last_status: dict[str, tuple[str, int]] = {}
        self._logs = 0
        self._last_draw = 0.0
        self._frame = 0

    def update(self, state: RunState, force: bool = False) -> None:
        if self._live:
            now = time.monotonic()
            if force or now - self._last_draw >= 0.08:
                self._last_draw = now
                self._redraw(state)
            return
        for node_id, node in state.nodes.items():
            seen = (node.status, node.latest.index if node.latest is not None else 0)
            if self._last_status.get(node_id) != seen:
                self._last_status[node_id] = seen
                self._out.write(self._line(state, node_id, tail=False) + "\n")
        self._write_notes(state)
        self._out.flush()

    def _write_notes(self, state: RunState) -> None:
        """What the engine said about an agent's routing (a loop going round, or stopping), once each."""
        for note in state.logs[self._logs :]:
            if note.node_id is not None and note.level in ("info", "warning", "error"):
                self._out.write(shown(f"   {'!' if note.level != 'info' else '↻'} {note.text}") + "\n")
        self._logs = len(state.logs)

    def finish(self, state: RunState) -> None:
        self.update(state, force=True)
        if self._live:
            self._write_notes(state)
        total = state.usage.total_tokens
        duration = f"{state.duration:.1f} s" if state.duration is not None else "-"
        cost = f", ${state.cost:.4f}" if state.cost else ""
        self._out.write(f"\nrun {state.run_id} {state.status} in {duration}, {total} tokens{cost}\n")
        self._out.flush()

    def _redraw(self, state: RunState) -> None:
        self._frame += 1
        lines = [self._line(state, node_id, tail=True) for node_id in state.nodes]
        if self._drawn:
            self._out.write(f"\x1b[{self._drawn}F")
        for line in lines:
            self._out.write("\x1b[2K" + line + "\n")
        self._drawn = len(lines)
        self._out.flush()

    def _line(self, state: RunState, node_id: str, *, tail: bool) -> str:
        node = state.nodes[node_id]
        name = self._names.get(node_id, node_id).ljust(self._width)
        ex = node.latest
        status = node.status
        mark = _SPINNER[self._frame % len(_SPINNER)] if status == "running" else _MARKS.get(status, "?")
        text = node.summary()
        found = self._rounds.agent(node_id, ex.index, state.handoffs) if ex is not None else None
        if found is not None and (found.rounds > 1 or found.outer > 1):
            text = f"{found} · {text}"
        if status == "running" and ex is not None:
            text += f" on {ex.model}"
            if tail and ex.text:
                text += "  …" + " ".join(ex.text.split())[-48:]
        return shown(f" {mark} {name}  {text}")  # a model's text in a terminal: shown, never obeyed
