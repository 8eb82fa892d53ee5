"""LogView: the run log as a NiceGUI element. The browser keeps the lines and shows only the visible ones."""

from __future__ import annotations

from typing import Any

from nicegui.element import Element

from flowdeck.components.css import shared_css
from flowdeck.components.wire import send_packed

_CSS = """
.fd-log { display: flex; flex-direction: column; height: 100%; min-height: 0; }
.fd-log-bar { display: flex; gap: 8px; align-items: center; padding: 4px 0; flex-wrap: wrap; }
.fd-log-filter { width: 170px; }
.fd-log-search { width: 220px; }
.fd-log-count { font-size: 12px; color: #64748b; }
.fd-log-lines { flex: 1; min-height: 0; overflow: auto; font: 12px/22px ui-monospace, monospace; }
.fd-log-line { display: flex; gap: 10px; height: 22px; white-space: nowrap; padding: 0 4px; }
.fd-log-line:hover { background: rgba(100, 116, 139, 0.12); }
.fd-log-time { width: 80px; flex: none; color: #64748b; text-align: right; }
.fd-log-agent { width: 130px; flex: none; overflow: hidden; text-overflow: ellipsis; font-weight: 600; }
.fd-log-level { width: 60px; flex: none; color: #64748b; }
.fd-log-text { overflow: hidden; text-overflow: ellipsis; }
.fd-log-line[data-level="warning"] .fd-log-level { color: #d97706; }
.fd-log-line[data-level="error"] { color: #dc2626; }
.fd-log-line[data-level="debug"] { color: #94a3b8; }
"""


def add_styles() -> None:
    """This component's style sheet, for every page (once)."""
    shared_css(_CSS)


class LogView(Element, component="log_view.js"):
    """Lines are appended in batches (log_line() dicts). The page keeps them; the caller keeps its own copy
    for the download (RunView.log_lines)."""

    def __init__(self) -> None:
        super().__init__()
        add_styles()

    def append(self, lines: list[dict[str, Any]]) -> None:
        if lines:
            # Rows of values, not objects: 40 % fewer bytes; the browser makes the objects.
            send_packed(self, "append", [[ln["seq"], ln["time"], ln["agent"], ln["level"], ln["text"]] for ln in lines])

    def reset(self) -> None:
        self.run_method("reset")
