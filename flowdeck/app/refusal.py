"""Why something asked for was refused, on screen until dismissed: a list of problems takes longer to read than a
notification stays."""

from __future__ import annotations

from nicegui import ui


class Refusal:
    """A banner above the canvas: in the page's flow, it covers nothing (a notification at the bottom covered the
    canvas's zoom controls and minimap); dismissed, the canvas has its room back."""

    def __init__(self, host: ui.element, message: str) -> None:
        with host, ui.row().classes("bg-negative text-white w-full items-start no-wrap gap-2 px-4 py-2") as self.box:
            self.box.props["role"] = "alert"
            ui.icon("warning").classes("text-lg")
            ui.label(message).classes("grow whitespace-pre-wrap text-sm")
            ui.button("Dismiss", on_click=self.dismiss).props("flat dense no-caps color=white")

    @property
    def is_deleted(self) -> bool:
        return self.box.is_deleted

    def dismiss(self) -> None:
        if not self.box.is_deleted:
            self.box.delete()


def show_refusal(message: str, host: ui.element | None = None) -> ui.notification | Refusal:
    """In `host` as a banner when given, else as a notification that stays until dismissed."""
    if host is not None:
        return Refusal(host, message)
    return ui.notification(
        message,
        type="negative",
        multi_line=True,
        timeout=None,
        # Not close_button: its button is drawn in the theme's colour, unreadable on red.
        actions=[{"label": "Dismiss", "color": "white"}],
        classes="whitespace-pre-wrap",
    )
