"""The Output tab: each agent's text as it streams in, then as sanitized markdown (markup.py), with a copy button.
An agent that ran more than once (a loop) shows its latest round, and says which; under it, each earlier round,
latest first, folded until opened."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from functools import cache

from nicegui.element import Element

from flowdeck.components.css import STATIC, shared_css
from flowdeck.components.markup import render_markdown
from flowdeck.components.wire import send_packed
from flowdeck.engine.state import Execution, NodeState, RunState


class OutputList(Element, component="output_list.js"):
    """Every card of the Output tab, drawn by the browser from batches of changes (see output_list.js)."""

    def __init__(self) -> None:
        super().__init__()
        self._ops: list[tuple[object, ...]] = []

    def queue(self, *op: object) -> None:
        self._ops.append(op)

    def send(self) -> None:
        if self._ops:
            ops, self._ops = self._ops, []
            send_packed(self, "apply", ops)


class _Card:
    """What the page was last sent about one agent's card."""

    __slots__ = ("earlier", "head", "streaming", "text")

    def __init__(self) -> None:
        self.head: tuple[str, str, bool] | None = None
        self.text = ""
        self.streaming = False
        self.earlier = 0  # how many earlier rounds the page has: they are over, and do not change

    def _earlier_rounds(self, key: str, node: NodeState, view: OutputList) -> None:
        for ex in node.executions[self.earlier : -1]:
            summary = NodeState(node_id=node.node_id, executions=[ex]).summary()
            text = ex.output if ex.output is not None else ex.text
            view.queue("round", key, ex.index, f"Round {ex.index} · {summary}", render_markdown(text))
        self.earlier = max(self.earlier, len(node.executions) - 1)

    def show(self, key: str, node: NodeState, view: OutputList) -> None:
        ex = node.latest
        text = "" if ex is None else ex.output if ex.output is not None else ex.text
        streaming = node.status in ("running", "retrying")
        # While streaming, the word count ticks on the canvas; here the summary changes with the status only.
        summary = node.status if streaming else node.summary()
        if ex is not None and len(node.executions) > 1:
            summary = f"round {ex.index} · {summary}"  # the card shows an agent's latest round
        self._earlier_rounds(key, node, view)
        head = (node.status, summary, streaming)
        if head != self.head:
            self.head = head
            view.queue("head", key, *head)
        if text == self.text and streaming == self.streaming:
            return
        previous, was_streaming, self.text, self.streaming = self.text, self.streaming, text, streaming
        if not streaming:
            view.queue("done", key, render_markdown(text), text)  # the stream is cleared, markdown shown
        elif was_streaming and previous and text.startswith(previous):
            if len(text) > len(previous):
                view.queue("append", key, text[len(previous) :])  # only the new part goes to the page
        elif text or previous:
            view.queue("set", key, text)  # a retry started over


class OutputsTab:
    """A card per agent that has started, in the order they started (at the same time: in data-flow order), then
    the agents that ended without starting (skipped), in data-flow order. Only what changed is sent, in one
    message per flush."""

    def __init__(self) -> None:
        add_styles()
        self.view = OutputList()
        self._cards: dict[str, _Card] = {}
        self._labels: Mapping[str, str] = {}
        self._flow: dict[str, int] | None = None

    def reset(self, labels: Mapping[str, str]) -> None:
        self._cards = {}
        self._labels = labels
        self._flow = None
        self.view.queue("reset")
        self.view.send()

    def update(self, state: RunState, changed: Iterable[str]) -> None:
        if self._flow is None:
            self._flow = flow_order(state)
        flow = self._flow
        for node_id in sorted(changed, key=lambda n: (*_started_at(state, n), flow.get(n, len(flow)))):
            node = state.nodes.get(node_id)
            ex = node.latest if node is not None else None
            if node is None or ex is None:
                continue
            card = self._cards.get(node_id)
            if card is None:
                card = self._cards[node_id] = _Card()
                # Cards of agents that never started stay after those of agents that did (in the page, too).
                self.view.queue("add", node_id, self._labels.get(node_id, node_id), _began(ex) is None)
            card.show(node_id, node, self.view)
        self.view.send()


@cache
def add_styles() -> None:
    """The output cards' style sheet (with code highlighting), for every page (once)."""
    from pygments.formatters import HtmlFormatter

    highlight = HtmlFormatter(nobackground=True).get_style_defs(".codehilite")
    highlight += HtmlFormatter(nobackground=True, style="github-dark").get_style_defs(".body--dark .codehilite")
    shared_css((STATIC / "outputs.css").read_text() + highlight)


def flow_order(state: RunState) -> dict[str, int]:
    """Each agent's place in the run's data flow: by layer (the longest chain of agents before it), then in the
    workflow's order."""
    ids = list(state.labels) or list(state.nodes)
    known = set(ids)
    following: dict[str, list[str]] = {node_id: [] for node_id in ids}
    waiting = dict.fromkeys(ids, 0)
    for edge in state.workflow.get("edges", []):
        source, target = str(edge.get("source")), str(edge.get("target"))
        if source in known and target in known:
            following[source].append(target)
            waiting[target] += 1
    layer = dict.fromkeys(ids, 0)
    ready = deque(node_id for node_id in ids if not waiting[node_id])
    while ready:
        node_id = ready.popleft()
        for target in following[node_id]:
            layer[target] = max(layer[target], layer[node_id] + 1)
            waiting[target] -= 1
            if not waiting[target]:
                ready.append(target)
    places = sorted(ids, key=lambda node_id: layer[node_id])  # stable: the workflow's order within a layer
    return {node_id: place for place, node_id in enumerate(places)}


def _started_at(state: RunState, node_id: str) -> tuple[bool, float]:
    """Started agents first, by when they started; then those that never did."""
    node = state.nodes.get(node_id)
    ex = node.latest if node else None
    began = _began(ex) if ex is not None else None
    if began is None:
        return True, 0.0
    return False, began


def _began(ex: Execution) -> float | None:
    """When an agent's work began: its start, or for a reused or pinned output (no model call), its finish."""
    return ex.started_at if ex.started_at is not None else ex.finished_at
