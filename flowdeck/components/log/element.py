"""LogView: the run log as a NiceGUI element. The browser keeps the lines and shows only the visible ones."""

from __future__ import annotations

from typing import Any

from nicegui.element import Element

from flowdeck.components.css import STATIC, shared_css
from flowdeck.components.wire import send_packed


def add_styles() -> None:
    """This component's style sheet, for every page (once)."""
    shared_css(STATIC / "log.css")


class LogView(Element, component="log_view.js"):
    """Lines are appended in batches (log_line() dicts). The page keeps them; the caller keeps its own copy
    for the download (RunView.log_lines)."""

    def __init__(self) -> None:
        super().__init__()
        add_styles()

    def append(self, lines: list[dict[str, Any]]) -> None:
        if lines:
            # Rows of values, not objects: 40 % fewer bytes; the browser makes the objects. The round, last, only
            # on an agent's lines (the run's own have none).
            rows = [[ln["seq"], ln["time"], ln["agent"], ln["level"], ln["text"]] for ln in lines]
            for row, ln in zip(rows, lines, strict=True):
                if ln.get("round"):
                    row.append(ln["round"])
            send_packed(self, "append", rows)

    def reset(self) -> None:
        self.run_method("reset")
