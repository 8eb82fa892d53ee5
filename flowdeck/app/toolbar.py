"""The editor's top bar: the workflow's name and whether it is saved, Run, and the workflow and view commands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nicegui import ui

from flowdeck.app import landmarks
from flowdeck.app.account import account_controls
from flowdeck.app.handlers_dialog import handlers_dialog
from flowdeck.app.settings_dialog import workflow_settings
from flowdeck.components.canvas import payload

if TYPE_CHECKING:
    from flowdeck.app.editor import Editor

_SAVE_STATE = {
    "saved": ("All changes saved", "text-slate-300"),  # said, not left blank: a blank reads as nothing happened
    "new": ("Not saved yet", "text-slate-300"),  # never saved, not edited either: nothing to lose
    "changed": ("Unsaved changes", "text-amber-300"),
}


@dataclass
class Toolbar:
    name: ui.input
    save_state: ui.label
    run_button: ui.button

    def show_save_state(self, state: str) -> None:
        """ "saved", "new" or "changed" (Document.save_state)."""
        text, colour = _SAVE_STATE.get(state, ("", ""))
        self.save_state.set_text(text)
        self.save_state.classes(replace=f"text-sm ml-2 whitespace-nowrap {colour}")

    def show_name_error(self, message: str | None) -> None:
        """A name refused as typed, said under the field; None: the name is fine."""
        self.name.error = message and message[:1].upper() + message[1:]


def toolbar(editor: Editor, dark: Any) -> Toolbar:
    """Build the bar at the top of the editor page; its commands call the editor's."""
    white = "flat dense color=white"
    with ui.header().classes("items-center gap-1 no-wrap bg-slate-900 py-2"):
        landmarks.page_heading("flowdeck", "text-lg font-bold mr-1")  # the h1; the workflow is named next to it
        name = (
            ui.input("Workflow name", value=editor.doc.workflow.name)
            .props("dense dark standout hide-bottom-space no-error-icon")
            .classes("w-56 ml-2")
            .without_auto_validation()  # errors are set by the editor as the name is typed
        )
        name.on_value_change(lambda e: editor.rename(e.value or ""))
        name.on("blur", editor.name_left)
        ui.button(icon="tune", on_click=lambda: workflow_settings(editor)).props(
            f'{white} aria-label="Workflow settings"'
        ).tooltip("Workflow settings: name, description, inputs, default model")
        save_state = ui.label().classes("text-sm ml-2 whitespace-nowrap")
        ui.space()
        run_button = ui.button("Run", icon="play_arrow", on_click=editor.run).props("dense color=positive")
        run_button.tooltip("Run (Ctrl+Enter)")
        ui.button("Runs", icon="history", on_click=editor.go_to_runs).props(white)
        ui.button("New", icon="add", on_click=editor.new_workflow).props(white).tooltip("New blank workflow")
        ui.button("Templates", icon="dashboard_customize", on_click=editor.gallery).props(white)
        ui.button("Open", icon="folder_open", on_click=editor.open_workflow).props(white)
        ui.button("Save", icon="save", on_click=editor.save).props(white)
        with ui.button(icon="more_vert").props(f'{white} aria-label="More workflow actions"'), ui.menu():
            ui.menu_item("New workflow", editor.new_workflow).props("role=menuitem")
            ui.menu_item("Workflow settings…", lambda: workflow_settings(editor)).props("role=menuitem")
            ui.menu_item("Compensation handlers…", lambda: handlers_dialog(editor)).props("role=menuitem")
            ui.menu_item("Import from file…", editor.import_file).props("role=menuitem")
            ui.menu_item("Export to file", editor.export).props("role=menuitem")
            ui.menu_item("Save as template", editor.save_as_template).props("role=menuitem")
            ui.menu_item("API keys…", lambda: editor.keys()).props("role=menuitem")
        ui.button(icon="undo", on_click=editor.undo).props(f'{white} aria-label="Undo"').tooltip("Undo (Ctrl+Z)")
        ui.button(icon="redo", on_click=editor.redo).props(f'{white} aria-label="Redo"').tooltip("Redo (Ctrl+Shift+Z)")
        ui.button(icon="account_tree", on_click=editor.layout).props(f'{white} aria-label="Arrange agents"').tooltip(
            "Arrange agents left to right"
        )
        ui.button(icon="fit_screen", on_click=lambda: editor.canvas.patch(payload.fit())).props(
            f'{white} aria-label="Show the whole workflow"'
        )
        ui.button(icon="dark_mode", on_click=lambda: editor.toggle_theme(dark)).props(
            f'{white} aria-label="Toggle dark theme"'
        )
        ui.button(icon="keyboard", on_click=editor.shortcuts).props(f'{white} aria-label="Keyboard shortcuts"').tooltip(
            "Keyboard shortcuts (?)"
        )
        account_controls()
    return Toolbar(name=name, save_state=save_state, run_button=run_button)
