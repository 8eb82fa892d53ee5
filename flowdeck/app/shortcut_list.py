"""The list of keyboard shortcuts ("?", or the header's keyboard button), made from the table the keys use."""

from __future__ import annotations

from nicegui import ui

from flowdeck.app.transient import transient_dialog
from flowdeck.components.shortcuts import SHORTCUTS, Shortcut, shown


def shortcut_list() -> None:
    """Open the list: one table per place the keys work in, in the order of SHORTCUTS."""
    places = list(dict.fromkeys(s.where for s in SHORTCUTS))
    with transient_dialog() as dialog, ui.card().classes("w-[40rem] max-w-full gap-2"):
        dialog.props('aria-label="Keyboard shortcuts"')
        ui.label("Keyboard shortcuts").classes("text-lg font-semibold")
        ui.label("On a Mac, ⌘ instead of Ctrl.").classes("text-sm text-gray-500")
        for place in places:
            _table(place, [s for s in SHORTCUTS if s.where == place])
        with ui.row().classes("w-full justify-end"):
            ui.button("Close", on_click=dialog.close).props("flat autofocus")
    dialog.open()


def _table(place: str, shortcuts: list[Shortcut]) -> None:
    """A table named by its caption (the place); its columns as wide as in the other tables."""
    with ui.element("table").classes("w-full").style("table-layout: fixed; border-collapse: collapse"):
        with ui.element("caption").classes("text-left text-base font-semibold pt-2"):
            ui.label(place)
        with ui.element("thead"), ui.element("tr"):
            for heading, width in (("Keys", "15rem"), ("What they do", "auto")):
                with ui.element("th").classes("text-left text-xs text-gray-500 px-2").style(f"width: {width}"):
                    ui.label(heading)
        with ui.element("tbody"):
            for shortcut in shortcuts:
                with ui.element("tr"):
                    with ui.element("td").classes("px-2 pt-1"):
                        ui.label(" or ".join(shown(k) for k in shortcut.keys)).classes("font-mono text-sm")
                    with ui.element("td").classes("px-2 pt-1"):
                        ui.label(shortcut.action).classes("text-sm")
