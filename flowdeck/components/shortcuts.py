"""The editor's keyboard shortcuts, caught in the browser (see shortcuts.js) and sent as commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui.element import Element

Command = Callable[[], Any]


class Shortcuts(Element, component="shortcuts.js"):
    """Ctrl+S, Ctrl+Enter, Ctrl+Z, Ctrl+Shift+Z (or Ctrl+Y), Ctrl+C and Ctrl+V (Cmd on a Mac) call these."""

    def __init__(
        self, *, save: Command, run: Command, undo: Command, redo: Command, copy: Command, paste: Command
    ) -> None:
        super().__init__()
        commands = {"save": save, "run": run, "undo": undo, "redo": redo, "copy": copy, "paste": paste}
        self.on("command", lambda e: commands.get(str(e.args), lambda: None)())
