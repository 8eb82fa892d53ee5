"""The Handoffs tab: a sequence view, one swimlane per agent, one arrow per handoff in time order. In a run with
rounds each arrow says its round, and a loop edge's arrow says that it sent the work back, with the feedback."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from nicegui import ui

from flowdeck.components.css import STATIC, shared_css
from flowdeck.components.inspector import show_round
from flowdeck.components.rounds import loop_edges, split_verdict
from flowdeck.engine.events import Handoff
from flowdeck.engine.state import RunState

ROW = 34
FEEDBACK_ROW = 52  # a loop's arrow also shows, under it, up to three lines of the feedback it sent back
PREVIEW = 80


@dataclass(frozen=True, slots=True)
class Step:
    """One handoff as the tab shows it: its round (the sender's execution), the round of the receiver it is for,
    and for a loop edge (`back`: it sent the work back) the verdict and the feedback."""

    handoff: Handoff
    round: int
    to_round: int
    back: bool = False
    verdict: str | None = None
    feedback: str = ""


def handoff_steps(handoffs: list[Handoff], loops: frozenset[str] | None = None) -> list[Step]:
    """Each handoff with its rounds. `loops`: the run's loop edges (rounds.loop_edges); without them, an edge is
    taken for a loop's when its target had already handed over in that round or later, which is exact unless
    loops nest."""
    steps = []
    sent: dict[str, int] = {}  # agent -> the latest execution it handed over from
    for handoff in handoffs:
        source, target, index = handoff.node_id, handoff.target, handoff.execution
        sent[source] = max(sent.get(source, 0), index)
        to_round = sent.get(target, 0) + 1
        back = handoff.edge_id in loops if loops is not None else target == source or to_round > index
        if back:
            verdict, feedback = split_verdict(handoff.message)
            steps.append(Step(handoff, index, to_round, True, verdict, feedback))
        else:
            steps.append(Step(handoff, index, to_round))
    return steps


def add_styles() -> None:
    """This component's style sheet, for every page (once)."""
    shared_css(STATIC / "handoffs.css")


class HandoffsTab:
    """Arrows are appended as handoffs arrive; clicking one shows the receiving agent in the inspector. Once the
    run has a second round, the arrows are drawn again, each with its round."""

    def __init__(self, on_pick: Callable[[Handoff], None]) -> None:
        add_styles()
        self.on_pick = on_pick
        self.root = ui.column().classes("w-full gap-0")
        self._lanes: dict[str, int] = {}
        self._labels: Mapping[str, str] = {}
        self._shown = 0
        self._height = 30
        self._rounds = False
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
        self._rounds = False
        self._started_at = started_at
        self._area = None
        with self.root:
            ui.label("Handoffs between agents appear here as they happen.").classes("text-sm text-gray-500")

    def update(self, handoffs: list[Handoff], state: RunState | None = None) -> None:
        """Draw the handoffs not drawn yet. With the run's `state`, loop edges are known from its workflow."""
        if self._area is None:
            if not self._labels:
                return
            self._draw_lanes()
        assert self._area is not None
        if len(handoffs) <= self._shown:
            return
        steps = handoff_steps(handoffs, loop_edges(state.workflow) if state is not None else None)
        if not self._rounds and any(step.round > 1 or step.back for step in steps):
            self._rounds = True  # the arrows drawn so far did not say their round: all of them do now
            self._draw_lanes()
        count = max(len(self._lanes), 1)
        with self._area:
            for step in steps[self._shown :]:
                self._arrow(step, count)
                self._shown += 1
        self._area.style(f"height: {self._height + 8}px")

    def _draw_lanes(self) -> None:
        self.root.clear()
        self._shown = 0
        self._height = 30
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

    def _arrow(self, step: Step, count: int) -> None:
        handoff = step.handoff
        source = self._lanes.get(handoff.node_id, 0)
        target = self._lanes.get(handoff.target, 0)
        left, right = sorted((source, target))
        width = max(right - left, 1) * 100 / count
        src, dst = self._labels.get(handoff.node_id, handoff.node_id), self._labels.get(handoff.target, handoff.target)
        offset = handoff.ts - self._started_at if self._started_at is not None else 0.0
        top = self._height
        tag = f"round {step.round} · " if self._rounds else ""
        if step.back:
            said = f"{step.verdict}: " if step.verdict else ""
            text = f"{tag}{said}sent back for round {step.to_round}"
            name = f"{src} sent the work back to {dst} for round {step.to_round} at +{offset:.1f} s"
        else:
            text = tag + (" ".join(handoff.message.split())[:PREVIEW] or "(empty output)")
            within = f" in round {step.round}" if self._rounds else ""
            name = f"{src} handed its output to {dst}{within} at +{offset:.1f} s"
        with ui.element("div").props('role="listitem"'):
            ui.label(f"+{offset:.1f} s").classes("fd-arrow-time").style(f"top: {top + 8}px")
            arrow = (
                ui.element("button")
                .classes("fd-arrow")
                .style(f"top: {top}px; left: {(left + 0.5) * 100 / count}%; width: {width}%")
                .on("click", lambda step=step: self._pick(step))
            )
            arrow.props["data-direction"] = "right" if target >= source else "left"
            arrow.props["aria-label"] = name
            with arrow:
                ui.label(text).classes("fd-arrow-text")
                ui.element("span").classes("fd-arrow-line")
            if step.back:
                arrow.props["data-loop"] = "true"
                note = ui.label(step.feedback or "(no feedback)").classes("fd-arrow-feedback")
                note.style(f"top: {top + ROW - 4}px; left: {(left + 0.5) * 100 / count}%; width: {width}%")
                note.props["title"] = step.feedback  # in full on hover; three lines show
        self._height += FEEDBACK_ROW + ROW if step.back else ROW

    def _pick(self, step: Step) -> None:
        show_round(step.handoff.target, step.to_round)  # the inspector opens on the round that received it
        self.on_pick(step.handoff)
