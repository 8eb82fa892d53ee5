"""The Output tab: each agent's text as it streams in, as sanitized markdown, with a copy button."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache, lru_cache

from nicegui.element import Element

from flowdeck.components.css import shared_css
from flowdeck.components.wire import send_packed
from flowdeck.engine.state import NodeState, RunState

_MARKDOWN_EXTRAS = ["fenced-code-blocks", "tables"]  # as ui.markdown; code blocks highlighted by pygments

_CSS = """
.fd-cards { width: 100%; }
.fd-cards [hidden] { display: none; }
.fd-card-group { content-visibility: auto; contain-intrinsic-size: auto 2560px; }
.fd-card { width: 100%; padding: 0.5rem; border: 1px solid rgba(0, 0, 0, 0.12); border-radius: 4px;
  display: flex; flex-direction: column; gap: 0.25rem; font-size: 0.875rem; line-height: 1.25rem;
  content-visibility: auto; contain-intrinsic-size: auto 120px; margin-bottom: 0.5rem; }
.body--dark .fd-card { border-color: rgba(255, 255, 255, 0.28); }
.fd-card-head { display: flex; align-items: center; gap: 0.5rem; }
.fd-dot { flex: none; width: 10px; height: 10px; border-radius: 50%; background: #64748b; }
.fd-card[data-status="queued"] .fd-dot { background: #94a3b8; }
.fd-card[data-status="running"] .fd-dot { background: #0ea5e9; }
.fd-card[data-status="retrying"] .fd-dot { background: #f59e0b; }
.fd-card[data-status="succeeded"] .fd-dot { background: #22c55e; }
.fd-card[data-status="failed"] .fd-dot { background: #ef4444; }
.fd-card-label { font-weight: 600; }
.fd-card-summary { flex-grow: 1; font-size: 0.75rem; line-height: 1rem; color: #6b7280; }
.body--dark .fd-card-summary { color: #9ca3af; }
.fd-copy { border: none; background: transparent; color: inherit; cursor: pointer; border-radius: 50%;
  width: 28px; height: 28px; display: inline-flex; align-items: center; justify-content: center; }
.fd-copy:hover, .fd-copy:focus-visible { background: rgba(127, 127, 127, 0.15); }
.fd-copy .material-icons { font-size: 16px; }
.fd-stream { white-space: pre-wrap; }
.fd-output pre { overflow-x: auto; max-width: 100%; }
"""


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

    __slots__ = ("head", "streaming", "text")

    def __init__(self) -> None:
        self.head: tuple[str, str, bool] | None = None
        self.text = ""
        self.streaming = False

    def show(self, key: str, node: NodeState, view: OutputList) -> None:
        ex = node.latest
        text = "" if ex is None else ex.output if ex.output is not None else ex.text
        streaming = node.status in ("running", "retrying")
        # While streaming, the word count ticks on the canvas; here the summary changes with the status only.
        head = (node.status, node.status if streaming else node.summary(), streaming)
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
    """A card per agent that has started, in the order they started; only what changed is sent, in one
    message per flush."""

    def __init__(self) -> None:
        add_styles()
        self.view = OutputList()
        self._cards: dict[str, _Card] = {}
        self._labels: Mapping[str, str] = {}

    def reset(self, labels: Mapping[str, str]) -> None:
        self._cards = {}
        self._labels = labels
        self.view.queue("reset")
        self.view.send()

    def update(self, state: RunState, changed: Iterable[str]) -> None:
        for node_id in sorted(changed, key=lambda n: _started_at(state, n)):
            node = state.nodes.get(node_id)
            if node is None or node.latest is None:
                continue
            card = self._cards.get(node_id)
            if card is None:
                card = self._cards[node_id] = _Card()
                self.view.queue("add", node_id, self._labels.get(node_id, node_id))
            card.show(node_id, node, self.view)
        self.view.send()


@lru_cache(maxsize=128)
def render_markdown(text: str) -> str:
    """Markdown to HTML, as ui.markdown does it; the page sanitizes the HTML (DOMPurify) before showing it.
    Cached for replays, which show the same outputs again; kept small, as an output can be long."""
    if not text:
        return ""
    import markdown2  # ~50 ms to import: not on the app's start path

    return str(markdown2.markdown(text, extras=_MARKDOWN_EXTRAS))


@cache
def add_styles() -> None:
    """The output cards' style sheet (with code highlighting), for every page (once)."""
    from pygments.formatters import HtmlFormatter

    highlight = HtmlFormatter(nobackground=True).get_style_defs(".codehilite")
    highlight += HtmlFormatter(nobackground=True, style="github-dark").get_style_defs(".body--dark .codehilite")
    shared_css(_CSS + highlight)


def _started_at(state: RunState, node_id: str) -> float:
    node = state.nodes.get(node_id)
    ex = node.latest if node else None
    return (ex.started_at or ex.finished_at or 0.0) if ex else 0.0
