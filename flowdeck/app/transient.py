"""Dialogs made for one showing: kept apart from the page they are opened from, and removed once closed."""

from __future__ import annotations

from weakref import WeakKeyDictionary

from nicegui import Client, ui

from flowdeck.components.boundary import Boundary

_hosts: WeakKeyDictionary[Client, Boundary] = WeakKeyDictionary()


def transient_dialog() -> ui.dialog:
    """A new dialog (open it, fill it), removed from the page once it has closed.

    It is made in a host of its own: NiceGUI re-renders an element's parent component whenever a child comes
    or goes, and a dialog made where its button is (the toolbar) re-rendered the header and the whole layout,
    ~45 ms of the page's time as a run started and 270 agents began to stream. Never removed, every opening
    left another hidden dialog in the page for as long as it was open.
    """
    client = ui.context.client
    host = _hosts.get(client)
    if host is None or host.is_deleted:
        with client.content:
            host = _hosts[client] = Boundary().style("display: none")  # a dialog shows on top of the page
    with host:
        dialog = ui.dialog()
    dialog.on("hide", dialog.delete)  # after its closing transition
    return dialog
