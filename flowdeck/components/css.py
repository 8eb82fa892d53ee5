"""Style sheets shared by every page, added once per process."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from nicegui import ui

STATIC = Path(__file__).parent.parent / "static"  # the package's style sheets


@cache
def shared_css(content: str | Path) -> None:
    """Add CSS to every page. Once: ui.add_css(shared=True) appends another copy on each call, so calling it
    from an element's constructor made every page view add one more copy to every later page."""
    ui.add_css(content, shared=True)
