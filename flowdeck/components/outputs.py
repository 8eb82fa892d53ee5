"""The Output tab: each agent's text as it streams in, as sanitized markdown, with a copy button."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from nicegui import ui
from nicegui.element import Element

from flowdeck.engine.state import NodeState, RunState

_DOT = {
    "queued": "#94a3b8",
    "running": "#0ea5e9",
    "retrying": "#f59e0b",
    "succeeded": "#22c55e",
    "failed": "#ef4444",
}


class StreamText(Element, component="stream_text.js"):
    """Streamed text, written by deltas through a StreamHub: 20 updates a second cost the new characters."""


class StreamHub(Element, component="stream_hub.js"):
    """Sends the deltas of every StreamText changed in one flush as one message."""

    def __init__(self) -> None:
        super().__init__()
        self._batch: list[tuple[int, str, str]] = []

    def show(self, stream: StreamText, text: str, previous: str) -> None:
        if text.startswith(previous) and previous:
            if len(text) > len(previous):
                self._batch.append((stream.id, "append", text[len(previous) :]))
        elif text or previous:
            self._batch.append((stream.id, "set", text))  # a retry started over, or the text was cleared

    def send(self) -> None:
        if self._batch:
            batch, self._batch = self._batch, []
            self.run_method("apply", batch)


class _Card:
    def __init__(self, label: str, hub: StreamHub) -> None:
        self.hub = hub
        self.text = ""
        self.status = "queued"
        with ui.card().props("flat bordered").classes("w-full p-2 gap-1") as self.card:
            with ui.row().classes("w-full items-center gap-2 no-wrap"):
                self.dot = ui.element("span").style(_dot_style("queued"))
                ui.label(label).classes("font-semibold text-sm")
                self.summary = ui.label("queued").classes("text-xs text-gray-500 grow")
                copy = ui.button(icon="content_copy", on_click=lambda: ui.clipboard.write(self.text))
                copy.props("flat dense round size=sm").tooltip("Copy")
                copy.props["aria-label"] = f"Copy the output of {label}"
            # While the agent streams, its text is shown as text (cheap to update 20 times a second); once it
            # is done, as markdown. DOMPurify sanitizes the rendered HTML: model text never becomes markup.
            self.stream = StreamText().classes("w-full text-sm")
        self.body: ui.markdown | None = None

    def show(self, node: NodeState) -> None:
        ex = node.latest
        text = "" if ex is None else ex.output if ex.output is not None else ex.text
        streaming = node.status in ("running", "retrying")
        # While streaming, the word count ticks on the canvas; here the summary changes with the status only.
        summary = node.status if streaming else node.summary()
        if summary != self.summary.text:
            self.summary.set_text(summary)
        if node.status != self.status:
            self.status = node.status
            self.dot.style(_dot_style(node.status))
        if text == self.text and streaming == self.stream.visible:
            return
        previous, self.text = self.text, text
        if self.stream.visible != streaming:
            self.stream.set_visibility(streaming)
        if streaming:
            self.hub.show(self.stream, text, previous)
            if self.body is not None and self.body.visible:
                self.body.set_visibility(False)
            return
        self.hub.show(self.stream, "", previous)
        if self.body is None:
            with self.card:
                self.body = ui.markdown("").classes("w-full text-sm fd-output")
        self.body.set_visibility(True)
        self.body.set_content(text)


class OutputsTab:
    """A card per agent that has started, in the order they started; only changed cards are updated."""

    def __init__(self) -> None:
        self.column = ui.column().classes("w-full gap-2")
        self._hub = StreamHub()
        self._cards: dict[str, _Card] = {}
        self._labels: Mapping[str, str] = {}
        self.reset({})

    def reset(self, labels: Mapping[str, str]) -> None:
        self.column.clear()
        self._cards = {}
        self._labels = labels
        with self.column:
            self._empty = ui.label("Outputs appear here as agents work.").classes("text-sm text-gray-500")

    def update(self, state: RunState, changed: Iterable[str]) -> None:
        for node_id in sorted(changed, key=lambda n: _started_at(state, n)):
            node = state.nodes.get(node_id)
            if node is None or node.latest is None:
                continue
            card = self._cards.get(node_id)
            if card is None:
                self._empty.set_visibility(False)
                with self.column:
                    card = self._cards[node_id] = _Card(self._labels.get(node_id, node_id), self._hub)
            card.show(node)
        self._hub.send()


def _started_at(state: RunState, node_id: str) -> float:
    node = state.nodes.get(node_id)
    ex = node.latest if node else None
    return (ex.started_at or ex.finished_at or 0.0) if ex else 0.0


def _dot_style(status: str) -> str:
    color = _DOT.get(status, "#64748b")
    return f"display:inline-block;width:10px;height:10px;border-radius:50%;background:{color};flex:none"
