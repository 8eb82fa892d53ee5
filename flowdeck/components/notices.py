"""Short notices at the page's edge, in colours that keep their text readable."""

from __future__ import annotations

from nicegui import ui


def notify_done(message: str) -> None:
    """Something the person asked for was done (saved, imported, decided)."""
    ui.notify(message, type="positive", color="green-9")  # Quasar's own green is 2.6:1 under white text (axe)
