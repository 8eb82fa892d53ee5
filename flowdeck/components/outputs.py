"""The Output tab: each agent's text as it streams in, as sanitized markdown, with a copy button."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache, lru_cache

from nicegui import ui
from nicegui.element import Element

from flowdeck.components.css import shared_css
from flowdeck.components.wire import send_packed
from flowdeck.engine.state import NodeState, RunState

_MARKDOWN_EXTRAS = ["fenced-code-blocks", "tables"]  # as ui.markdown; code blocks highlighted by pygments

_CSS = """
.fd-cards { width: 100%; }
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


class OutputCard(Element, component="output_card.js"):
    """One agent's output; its streamed text arrives through a StreamHub, its final text as props."""

    def __init__(self, label: str) -> None:
        super().__init__()
        self._props.update(label=label, status="queued", summary="queued", streaming=False, html="", text="")

    def set(self, **props: object) -> None:
        """Change these props; the element is sent again only if one of them really changed."""
        changed = {key: value for key, value in props.items() if self._props.get(key) != value}
        if changed:
            self._props.update(changed)


class StreamHub(Element, component="stream_hub.js"):
    """Sends the new parts of every card's streamed text in one flush as one message."""

    def __init__(self) -> None:
        super().__init__()
        self._batch: list[tuple[int, str, str]] = []

    def show(self, card: OutputCard, text: str, previous: str) -> None:
        if text.startswith(previous) and previous:
            if len(text) > len(previous):
                self._batch.append((card.id, "append", text[len(previous) :]))
        elif text or previous:
            self._batch.append((card.id, "set", text))  # a retry started over, or the text was cleared

    def send(self) -> None:
        if self._batch:
            batch, self._batch = self._batch, []
            send_packed(self, "apply", batch)


class _Card:
    def __init__(self, label: str, hub: StreamHub) -> None:
        self.hub = hub
        self.text = ""
        self.streaming = False
        self.element = OutputCard(label)

    def show(self, node: NodeState) -> None:
        ex = node.latest
        text = "" if ex is None else ex.output if ex.output is not None else ex.text
        streaming = node.status in ("running", "retrying")
        # While streaming, the word count ticks on the canvas; here the summary changes with the status only.
        props: dict[str, object] = {
            "status": node.status,
            "summary": node.status if streaming else node.summary(),
            "streaming": streaming,
        }
        if text != self.text or streaming != self.streaming:
            previous, self.text, self.streaming = self.text, text, streaming
            # While streaming, the text goes as deltas; once done, as markdown (the stream is cleared).
            self.hub.show(self.element, text if streaming else "", previous)
            if not streaming:
                props.update(html=render_markdown(text), text=text)
        self.element.set(**props)


class OutputsTab:
    """A card per agent that has started, in the order they started; only changed cards are updated.

    The cards go in groups of GROUP, each skipped by the browser's layout while off screen (as each card is):
    with 250 agents streaming, laying out 250 skipped cards still took ~4 ms of every frame, and a flex column
    of them ~3 ms more. The cards are stacked as blocks, not flex items.
    """

    GROUP = 20

    def __init__(self) -> None:
        add_styles()
        self.column = ui.element("div").classes("fd-cards")
        self._hub = StreamHub()
        self._cards: dict[str, _Card] = {}
        self._group: Element | None = None
        self._in_group = 0
        self._labels: Mapping[str, str] = {}
        self.reset({})

    def reset(self, labels: Mapping[str, str]) -> None:
        self.column.clear()
        self._cards = {}
        self._group = None
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
                if self._group is None or self._in_group == self.GROUP:
                    with self.column:
                        self._group = ui.element("div").classes("fd-card-group")
                    self._in_group = 0
                with self._group:
                    card = self._cards[node_id] = _Card(self._labels.get(node_id, node_id), self._hub)
                self._in_group += 1
            card.show(node)
        self._hub.send()


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
