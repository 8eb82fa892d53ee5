"""Edit an agent's output and pin it: the agents after it receive the edited text, and its model is not called."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from nicegui import ui

from flowdeck.app.transient import transient_dialog
from flowdeck.components.canvas import payload
from flowdeck.errors import EditRefused

if TYPE_CHECKING:
    from flowdeck.app.editor import Editor


def edit_output_dialog(text: str, pin: Callable[[str], None]) -> None:
    """A dialog holding `text`; "Pin edited output" hands the edited text to `pin`."""
    with transient_dialog() as dialog, ui.card().classes("w-[56rem] max-w-full"):
        ui.label("Edit and pin this output").classes("text-lg font-semibold")
        ui.label(
            "Runs use the pinned text instead of calling the model, so you can iterate on the agents after it."
        ).classes("text-sm text-gray-500")
        box = ui.textarea("Output", value=text).props("outlined autogrow autofocus").classes("w-full font-mono")

        def save() -> None:
            pin(box.value or "")
            dialog.close()

        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
            ui.button("Pin edited output", icon="push_pin", on_click=save).props("no-caps color=indigo")
    dialog.open()


def pin_output(editor: Editor, node_id: str, output: str | None) -> None:
    """Pin (or with None unpin) an agent's output in the workflow being edited; one Undo step."""
    try:
        node = editor.doc.pin(node_id, output)
    except EditRefused as exc:
        ui.notify(str(exc), type="warning")
        return
    editor.canvas.patch(payload.update_node(payload.canvas_node(node, editor.doc.default_model)))
    editor.refresh()
    ui.notify("Output pinned: runs use it instead of calling the model" if output is not None else "Output unpinned")
    if editor.live.shown:
        editor.live.view.select(node_id)
