"""The Timeline tab: when each agent worked (a Gantt chart, which shows parallelism) and its tokens."""

from __future__ import annotations

import time
from collections.abc import Mapping

from nicegui import ui

from flowdeck.components.css import STATIC, shared_css
from flowdeck.engine.state import RunState


def add_styles() -> None:
    """This component's style sheet, for every page (once)."""
    shared_css(STATIC / "timeline.css")


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
        max_tokens = max((n.latest.usage.total_tokens for n in state.nodes.values() if n.latest), default=0) or 1
        self.root.clear()
        with self.root:
            ui.label(f"Node durations over {span:.2f} s, and tokens per node").classes("text-xs text-gray-500")
            with ui.element("div").classes("fd-gantt"):
                for node_id, label in self._labels.items():
                    node = state.nodes.get(node_id)
                    ex = node.latest if node else None
                    ui.label(label).classes("fd-gantt-name")
                    track = ui.element("div").classes("fd-gantt-track")
                    if ex is not None and ex.started_at is not None:
                        start = ex.started_at - state.started_at
                        stop = (ex.finished_at or end) - state.started_at
                        bar = ui.element("div").classes("fd-gantt-bar")
                        bar.style(f"left: {start / span * 100:.2f}%; width: {max(stop - start, 0) / span * 100:.2f}%")
                        bar.props["data-status"] = ex.status
                        bar.props["role"] = "img"
                        bar.props["aria-label"] = f"{label}: {ex.status} from {start:.2f} s to {stop:.2f} s"
                        bar.move(track)
                    tokens = ex.usage.total_tokens if ex else 0
                    with ui.element("div").classes("fd-tokens"):
                        ui.element("div").classes("fd-tokens-bar").style(f"width: {tokens / max_tokens * 90:.0f}px")
                        ui.label(f"{tokens} tokens").classes("text-xs")
