"""Dialogs made for one showing, removed from the page once closed."""

from __future__ import annotations

from weakref import WeakKeyDictionary

from nicegui import Client, ui

_made: WeakKeyDictionary[Client, list[ui.dialog]] = WeakKeyDictionary()


def transient_dialog() -> ui.dialog:
    """A new dialog, where it is opened from (open it, fill it); the page's closed ones go as it is made.

    Never removed, every opening would leave another hidden dialog in the page for as long as it is open. Made
    where it is opened from, not in a host element of its own, which slowed the drawing of a run (bench/README.md).
    """
    made = _made.setdefault(ui.context.client, [])
    for closed in [d for d in made if not d.value]:
        made.remove(closed)
        if not closed.is_deleted:
            closed.delete()
    dialog = ui.dialog()
    made.append(dialog)
    return dialog
