"""The Handoffs tab: a sequence view, one swimlane per agent, one arrow per handoff in time order."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from nicegui import ui

from flowdeck.components.css import STATIC, shared_css
from flowdeck.engine.events import Handoff

ROW = 34


def add_styles() -> None:
    """This component's style sheet, for every page (once)."""
    shared_css(STATIC / "handoffs.css")


class HandoffsTab:
    """Arrows are appended as handoffs arrive; clicking one shows the receiving agent in the inspector."""

    def __init__(self, on_pick: Callable[[Handoff], None]) -> None:
        add_styles()
        self.on_pick = on_pick
        self.root = ui.column().classes("w-full gap-0")
        self._lanes: dict[str, int] = {}
        self._labels: Mapping[str, str] = {}
        self._shown = 0
        self._started_at: float | None = None
        self._area: ui.element | None = None
        with self.root:
            ui.label("Handoffs between agents appear here as they happen.").classes("text-sm text-gray-500")

    def reset(self, labels: Mapping[str, str], started_at: float | None) -> None:
        """A new run: its lanes are drawn when the tab is first brought up to date (a page restoring a run of
        200 agents spent a quarter of a second drawing lanes for a tab nobody had opened)."""
        self.root.clear()
        self._labels = labels
        self._lanes = {node_id: index for index, node_id in enumerate(labels)}
        self._shown = 0
        self._started_at = started_at
        self._area = None
        with self.root:
            ui.label("Handoffs between agents appear here as they happen.").classes("text-sm text-gray-500")

    def update(self, handoffs: list[Handoff]) -> None:
        if self._area is None:
            if not self._labels:
                return
            self._draw_lanes()
        assert self._area is not None
        if len(handoffs) <= self._shown:
            return
        count = max(len(self._lanes), 1)
        with self._area:
            for handoff in handoffs[self._shown :]:
                self._arrow(handoff, self._shown, count)
                self._shown += 1
        self._area.style(f"height: {30 + self._shown * ROW + 8}px")

    def _draw_lanes(self) -> None:
        self.root.clear()
        count = max(len(self._labels), 1)
        with self.root:
            self._area = ui.element("div").classes("fd-lanes").style("height: 30px")
            self._area.props('role="list" aria-label="Handoffs in time order"')
            with self._area:
                with ui.element("div").classes("fd-lane-heads"):
                    for label in self._labels.values():
                        ui.label(label).classes("fd-lane-head")
                for index in range(len(self._labels)):
                    ui.element("div").classes("fd-lane-line").style(f"left: {(index + 0.5) * 100 / count}%")

    def _arrow(self, handoff: Handoff, row: int, count: int) -> None:
        source = self._lanes.get(handoff.node_id, 0)
        target = self._lanes.get(handoff.target, 0)
        left, right = sorted((source, target))
        width = max(right - left, 1) * 100 / count
        src, dst = self._labels.get(handoff.node_id, handoff.node_id), self._labels.get(handoff.target, handoff.target)
        offset = handoff.ts - self._started_at if self._started_at is not None else 0.0
        preview = " ".join(handoff.message.split())[:80]
        top = 30 + row * ROW
        with ui.element("div").props('role="listitem"'):
            ui.label(f"+{offset:.1f} s").classes("fd-arrow-time").style(f"top: {top + 8}px")
            arrow = (
                ui.element("button")
                .classes("fd-arrow")
                .style(f"top: {top}px; left: {(left + 0.5) * 100 / count}%; width: {width}%")
                .on("click", lambda h=handoff: self.on_pick(h))
            )
            arrow.props["data-direction"] = "right" if target >= source else "left"
            arrow.props["aria-label"] = f"{src} handed its output to {dst} at +{offset:.1f} s"
            with arrow:
                ui.label(preview or "(empty output)").classes("fd-arrow-text")
                ui.element("span").classes("fd-arrow-line")
