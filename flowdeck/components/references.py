"""A prompt template's references: chips that insert one at the cursor, and what the template reads, by name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from nicegui import ui

from flowdeck.engine.prompts import References, check_template
from flowdeck.engine.workflow import Workflow

if TYPE_CHECKING:
    from flowdeck.components.prompt_editor.element import PromptEditor


class Edited(Protocol):
    """What the panel reads of the workflow being edited (app.document.Document is one)."""

    workflow: Workflow

    @property
    def default_model(self) -> str: ...


def reference_chips(doc: Edited, node_id: str, editor: PromptEditor) -> None:
    """One chip per input and upstream output; clicking one (or Enter on it) inserts its reference at the editor's
    cursor, as one step of the editor's own undo, and the cursor ends after it."""
    upstream = [e.source for e in doc.workflow.edges if e.target == node_id]
    refs = [(f"Input: {i.label or i.name}", f"{{{{ inputs.{i.name} }}}}") for i in doc.workflow.inputs]
    refs += [(f"Output of {doc.workflow.node(s).label or s}", f"{{{{ outputs.{s} }}}}") for s in upstream]
    if not refs:
        return
    ui.label("Insert a reference").classes("text-xs text-gray-500")
    with ui.row().classes("gap-1"):
        for title, text in refs:
            chip = ui.chip(title, icon="data_object").props("dense clickable outline color=indigo role=button")
            chip.props["aria-label"] = f"Insert {title}"
            chip.on("click", js_handler=editor.insert_js(text))


def show_reads(row: ui.row, doc: Edited, node_id: str, source: str, refs: References | None = None) -> None:
    """The template's references as readable chips (an input's label, an upstream agent's name); one that
    cannot resolve is shown in red with the reason, as the run would refuse it. `refs`: check_template(source), if
    already made."""
    refs = refs or check_template(source)
    inputs = {i.name: i.label or i.name for i in doc.workflow.inputs}
    upstream = doc.workflow.upstream(node_id)
    row.clear()
    if not (refs.inputs or refs.outputs or refs.problems):
        return
    with row:
        ui.label("Reads").classes("text-xs text-gray-500")
        for name in sorted(refs.inputs):
            if name in inputs:
                ui.chip(f"Input: {inputs[name]}", icon="input").props("dense color=indigo-1 text-color=indigo-9")
            else:
                ui.chip(f"inputs.{name}: no such input", icon="error").props("dense color=red-1 text-color=red-9")
        for source_id in sorted(refs.outputs):
            if source_id in upstream:
                label = doc.workflow.node(source_id).label or source_id
                ui.chip(f"Output of {label}", icon="output").props("dense color=teal-1 text-color=teal-9")
            else:
                ui.chip(f"outputs.{source_id}: not upstream of this agent", icon="error").props(
                    "dense color=red-1 text-color=red-9"
                )
        for problem in refs.problems:
            ui.label(problem).classes("text-xs text-negative")
