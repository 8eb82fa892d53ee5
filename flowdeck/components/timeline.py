"""The Timeline tab: when each agent worked (a Gantt chart, which shows parallelism) and its tokens. One bar per
execution: an agent a loop ran three times has three rows, "Coder · round 1" to "Coder · round 3"."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from nicegui import ui

from flowdeck.components.css import STATIC, shared_css
from flowdeck.components.rounds import round_name
from flowdeck.engine.state import Execution, RunState


def add_styles() -> None:
    """This component's style sheet, for every page (once)."""
    shared_css(STATIC / "timeline.css")


@dataclass(frozen=True, slots=True)
class Row:
    """One row of the chart: an execution of an agent, or an agent that has not run (execution None)."""

    name: str
    execution: Execution | None


def timeline_rows(state: RunState, labels: Mapping[str, str]) -> list[Row]:
    """Every execution that began (a model call, or a reused output), in the order they began; then the agents
    that have not begun (queued, skipped), in the workflow's order."""
    began: list[tuple[float, int, Row]] = []
    waiting: list[Row] = []
    for place, (node_id, label) in enumerate(labels.items()):
        node = state.nodes.get(node_id)
        executions = node.executions if node is not None else []
        several = len(executions) > 1
        for ex in executions:
            start = ex.started_at if ex.started_at is not None else ex.finished_at
            row = Row(round_name(label, ex.index, several), ex)
            if start is not None:
                began.append((start, place, row))
            else:
                waiting.append(row)
        if not executions:
            waiting.append(Row(label, None))
    began.sort(key=lambda item: item[:2])
    return [row for _, _, row in began] + waiting


class TimelineTab:
    """Rebuilt from the state when an agent starts or ends (and about once a second while one runs)."""

    def __init__(self) -> None:
        add_styles()
        self.root = ui.column().classes("w-full gap-1")
        self._labels: Mapping[str, str] = {}
        with self.root:
            ui.label("The timeline of agents appears here once a run starts.").classes("text-sm text-gray-500")

    def reset(self, labels: Mapping[str, str]) -> None:
        self._labels = labels
        self.root.clear()

    def update(self, state: RunState, now: float | None = None) -> None:
        if state.started_at is None:
            return
        end = state.finished_at or (now if now is not None else time.time())
        span = max(end - state.started_at, 1e-6)
        rows = timeline_rows(state, self._labels)
        max_tokens = max((r.execution.usage.total_tokens for r in rows if r.execution), default=0) or 1
        self.root.clear()
        with self.root:
            ui.label(f"Agent durations over {span:.2f} s, and tokens per execution").classes("text-xs text-gray-500")
            with ui.element("div").classes("fd-gantt"):
                for row in rows:
                    ex = row.execution
                    ui.label(row.name).classes("fd-gantt-name")
                    with ui.element("div").classes("fd-gantt-track"):
                        if ex is not None and ex.started_at is not None:
                            start = ex.started_at - state.started_at
                            stop = (ex.finished_at or end) - state.started_at
                            bar = ui.element("div").classes("fd-gantt-bar")
                            bar.style(
                                f"left: {start / span * 100:.2f}%; width: {max(stop - start, 0) / span * 100:.2f}%"
                            )
                            bar.props["data-status"] = ex.status
                            bar.props["role"] = "img"
                            bar.props["aria-label"] = f"{row.name}: {ex.status} from {start:.2f} s to {stop:.2f} s"
                        elif ex is not None and ex.status == "skipped":
                            ui.label(f"skipped: {ex.skip_reason}").classes("fd-gantt-note")
                        elif ex is not None and ex.finished_at is not None:
                            ui.label("reused its recorded output").classes("fd-gantt-note")
                    tokens = ex.usage.total_tokens if ex else 0
                    with ui.element("div").classes("fd-tokens"):
                        ui.element("div").classes("fd-tokens-bar").style(f"width: {tokens / max_tokens * 90:.0f}px")
                        ui.label(f"{tokens} tokens").classes("text-xs")
