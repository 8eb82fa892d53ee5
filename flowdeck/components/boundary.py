"""Boundary: a container whose changes stay inside it in the browser (see boundary.js)."""

from __future__ import annotations

from typing import Literal

from nicegui.element import Element


class Boundary(Element, component="boundary.js"):
    """Lays out like ui.column or ui.row; an element that changes often re-renders only its own boundary."""

    def __init__(self, layout: Literal["column", "row"] = "column") -> None:
        super().__init__()
        self.classes("nicegui-column" if layout == "column" else "nicegui-row")
