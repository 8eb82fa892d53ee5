"""Bulky data for a browser-side method, sent as one JSON string.

NiceGUI's run_method writes its arguments into JavaScript source that the browser evaluates, and the browser
reads bulky data much faster as one JSON string than as object literals parsed as code (bench/README.md). Live
runs send such a message for the canvas, the log and the outputs on every flush.
"""

from __future__ import annotations

from typing import Any

import orjson
from nicegui.element import Element


def send_packed(element: Element, method: str, data: Any) -> None:
    """Call `method` on the element in the browser with `data` as a JSON string (the method parses it)."""
    element.run_method(method, orjson.dumps(data).decode())
