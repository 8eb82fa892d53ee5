"""The editor's keyboard shortcuts: one table, which both the keys (caught in the browser by shortcuts.js) and the
list that "?" shows are made from, so that the list says what the keys do."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nicegui.element import Element

Command = Callable[[], Any]


@dataclass(frozen=True, kw_only=True, slots=True)
class Shortcut:
    keys: tuple[str, ...]  # chords, any of which does it: "Mod+Shift+Z" (Mod: Ctrl, or ⌘ on a Mac), "?", "Delete"
    action: str  # what it does, as the list says it
    where: str = "Editor"  # where it works: the list's heading
    command: str | None = None  # sent to the editor; None: the canvas, the palette or a dialog takes the key itself
    in_fields: bool = False  # works with the cursor in a text field too (the field's own use of the key gives way)


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut(keys=("Mod+S",), action="Save the workflow (in a field too)", command="save", in_fields=True),
    Shortcut(keys=("Mod+Enter",), action="Run: asks for the inputs (in a field too)", command="run", in_fields=True),
    Shortcut(keys=("Mod+Z",), action="Undo (in a field: undo its typing)", command="undo"),
    Shortcut(keys=("Mod+Shift+Z", "Mod+Y"), action="Redo", command="redo"),
    Shortcut(keys=("Mod+C",), action="Copy the selected agents", command="copy"),
    Shortcut(keys=("Mod+V",), action="Paste the copied agents", command="paste"),
    Shortcut(keys=("?",), action="Show these shortcuts", command="shortcuts"),
    # Taken by React Flow (components/canvas/src/index.jsx: deleteKeyCode, multiSelectionKeyCode, its defaults).
    # Not listed: the arrow keys move a selected agent on the canvas, but the canvas sends no nodes_moved for
    # that, so the move is not kept; listed once it is.
    Shortcut(keys=("Delete", "Backspace"), action="Delete the selected agents and connections", where="Canvas"),
    Shortcut(keys=("Shift+click", "Mod+click"), action="Select several agents", where="Canvas"),
    Shortcut(keys=("Shift+drag",), action="Select the agents in a box", where="Canvas"),
    Shortcut(keys=("Tab, then Enter",), action="Go to an agent and select it", where="Canvas"),
    Shortcut(keys=("Enter",), action="Add the agent focused in the palette", where="Palette"),
    Shortcut(keys=("Enter",), action="In the search box: add the first agent shown", where="Palette"),
    Shortcut(keys=("Enter",), action="In Open's search box: open the first workflow listed", where="Dialogs"),
    Shortcut(keys=("Escape",), action="Close the dialog, or a list of suggestions", where="Dialogs"),
)

SHORTCUT_COMMANDS = tuple(s.command for s in SHORTCUTS if s.command)


def shown(chord: str, mac: bool = False) -> str:
    """A chord as the list shows it: Mod is Ctrl, or ⌘ on a Mac."""
    return chord.replace("Mod", "⌘" if mac else "Ctrl")


class Shortcuts(Element, component="shortcuts.js"):
    """The keys of SHORTCUTS that are the editor's commands; each calls the function given by the command's name."""

    def __init__(self, **commands: Command) -> None:
        super().__init__()
        missing = sorted(set(SHORTCUT_COMMANDS) - set(commands))
        if missing:
            raise TypeError(f"Shortcuts() needs a function for each command of SHORTCUTS; missing: {missing}")
        self._props["shortcuts"] = [
            {"keys": list(s.keys), "command": s.command, "inFields": s.in_fields} for s in SHORTCUTS if s.command
        ]
        self.on("command", lambda e: commands.get(str(e.args), lambda: None)())
