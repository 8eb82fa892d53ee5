"""The Output tab: each agent's text as it streams in, as sanitized markdown, with a copy button."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from nicegui import ui

from flowdeck.engine.state import NodeState, RunState

_DOT = {
    "queued": "#94a3b8",
    "running": "#0ea5e9",
    "retrying": "#f59e0b",
    "succeeded": "#22c55e",
    "failed": "#ef4444",
}


class _Card:
    def __init__(self, label: str) -> None:
        self.text = ""
        with ui.card().props("flat bordered").classes("w-full p-2 gap-1"):
            with ui.row().classes("w-full items-center gap-2 no-wrap"):
                self.dot = ui.element("span").style(_dot_style("queued"))
                ui.label(label).classes("font-semibold text-sm")
                self.summary = ui.label("queued").classes("text-xs text-gray-500 grow")
                copy = ui.button(icon="content_copy", on_click=lambda: ui.clipboard.write(self.text))
                copy.props("flat dense round size=sm").tooltip("Copy")
                copy.props["aria-label"] = f"Copy the output of {label}"
            # DOMPurify sanitizes the rendered HTML in the browser: model text never becomes markup.
            self.body = ui.markdown("").classes("w-full text-sm fd-output")

    def show(self, node: NodeState) -> None:
        ex = node.latest
        text = "" if ex is None else ex.output if ex.output is not None else ex.text
        self.summary.set_text(node.summary())
        self.dot.style(_dot_style(node.status))
        if text != self.text:
            self.text = text
            self.body.set_content(text)


class OutputsTab:
    """One card per agent, in the workflow's order; only cards whose agent changed are updated."""

    def __init__(self) -> None:
        self.column = ui.column().classes("w-full gap-2")
        self._cards: dict[str, _Card] = {}
        with self.column:
            self._empty = ui.label("Outputs appear here as agents work.").classes("text-sm text-gray-500")

    def reset(self, labels: Mapping[str, str]) -> None:
        self.column.clear()
        self._cards = {}
        with self.column:
            for node_id, label in labels.items():
                self._cards[node_id] = _Card(label)

    def update(self, state: RunState, changed: Iterable[str]) -> None:
        for node_id in changed:
            card = self._cards.get(node_id)
            node = state.nodes.get(node_id)
            if card is not None and node is not None:
                card.show(node)


def _dot_style(status: str) -> str:
    color = _DOT.get(status, "#64748b")
    return f"display:inline-block;width:10px;height:10px;border-radius:50%;background:{color};flex:none"
