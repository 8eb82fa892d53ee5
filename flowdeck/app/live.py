"""A run watched from the editor: the inputs form, per-agent status on the canvas, progress in the header.

Everything shown is folded from the run's events (RunState); status reaches the canvas merged per agent
about every 50 ms, as one patch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from nicegui import background_tasks, ui

from flowdeck.components.canvas import FlowCanvas
from flowdeck.engine.state import TERMINAL_NODE, RunState
from flowdeck.engine.workflow import Workflow
from flowdeck.errors import FlowdeckError
from flowdeck.runner import Runner

FLUSH_SECONDS = 0.05


class LiveRun:
    """Starts runs from the editor and shows them; one per editor tab at a time."""

    def __init__(
        self,
        runner: Runner,
        canvas: FlowCanvas,
        progress: ui.label,
        on_change: Callable[[], None],
        on_nodes: Callable[[set[str]], None],
    ) -> None:
        self.runner = runner
        self.canvas = canvas
        self.progress = progress
        self.on_change = on_change
        self.on_nodes = on_nodes
        self.run_id: str | None = None
        self.state = RunState()
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self.run_id is not None and self.state.status in ("pending", "running", "waiting")

    def ask(self, workflow: Workflow) -> None:
        """The inputs form; Start launches exactly one run, however often it is clicked."""
        if self.running:
            ui.notify("A run is already going; cancel it first", type="warning")
            return
        with ui.dialog() as dialog, ui.card().classes("w-[36rem] max-w-full"):
            ui.label(f"Run “{workflow.name}”").classes("text-lg font-semibold")
            fields: dict[str, ui.textarea] = {}
            for item in workflow.inputs:
                fields[item.name] = (
                    ui.textarea(item.label or item.name, value=item.default or "")
                    .props("outlined autogrow")
                    .classes("w-full")
                )
                if item.description:
                    ui.label(item.description).classes("text-xs text-gray-500")
            if not workflow.inputs:
                ui.label("This workflow takes no inputs.").classes("text-sm text-gray-500")

            async def start() -> None:
                button.disable()
                dialog.close()
                self.progress.set_text("Starting…")
                await self.start(workflow, {name: field.value or "" for name, field in fields.items()})

            with ui.row():
                button = ui.button("Start run", icon="play_arrow", on_click=start).props("color=positive")
                ui.button("Cancel", on_click=dialog.close).props("flat")
        dialog.open()

    async def start(self, workflow: Workflow, inputs: dict[str, str]) -> None:
        try:
            run_id = await self.runner.start(workflow, inputs)
        except FlowdeckError as exc:
            ui.notify(f"Not started: {exc}", type="negative", multi_line=True)
            return
        self.watch(run_id)

    def watch(self, run_id: str) -> None:
        if self._task is not None:
            self._task.cancel()
        self.run_id = run_id
        self.state = RunState()
        self.canvas.patch({"op": "clear_status"})
        self._task = background_tasks.create(self._follow(run_id), name=f"watch run {run_id}")
        ui.context.client.on_disconnect(self._task.cancel)
        self.on_change()

    def cancel(self) -> None:
        if self.run_id is not None and self.runner.cancel(self.run_id):
            ui.notify("Cancelling the run…")

    async def _follow(self, run_id: str) -> None:
        changed: set[str] = set()
        last_flush = 0.0
        flush_handle: asyncio.TimerHandle | None = None
        loop = asyncio.get_running_loop()

        def flush() -> None:
            nonlocal last_flush, flush_handle
            flush_handle = None
            last_flush = time.monotonic()
            if changed:
                self.canvas.patch({"op": "status", "updates": {n: self._status(n) for n in changed}})
                self.on_nodes(set(changed))
                changed.clear()
            self._show_progress()

        async for event in self.runner.subscribe(run_id):
            self.state.apply(event)
            node_id = getattr(event, "node_id", None)
            if node_id is not None:
                changed.add(node_id)
            elif event.type == "run_started":
                changed.update(self.state.nodes)
            if time.monotonic() - last_flush >= FLUSH_SECONDS:
                flush()
            elif flush_handle is None:
                flush_handle = loop.call_later(FLUSH_SECONDS, flush)
        if flush_handle is not None:
            flush_handle.cancel()
        flush()
        self.on_change()

    def _status(self, node_id: str) -> dict[str, Any]:
        node = self.state.nodes.get(node_id)
        if node is None:
            return {"state": "queued", "text": "queued"}
        return {"state": node.status, "text": node.summary()[:100]}

    def _show_progress(self) -> None:
        total = len(self.state.nodes)
        done = sum(1 for node in self.state.nodes.values() if node.status in TERMINAL_NODE)
        elapsed = self.state.duration
        if elapsed is None and self.state.started_at is not None:
            elapsed = time.time() - self.state.started_at
        tokens = self.state.usage.total_tokens
        label = {"running": "Running", "pending": "Starting"}.get(self.state.status, self.state.status.capitalize())
        self.progress.set_text(f"{label}: {done}/{total} agents · {elapsed or 0:.1f} s · {tokens} tokens")
