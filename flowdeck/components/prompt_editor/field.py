"""The prompt template field of the properties panel: the editor, what went wrong applying it, what it reads,
chips that insert a reference at the cursor, and a preview with the last run's values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from flowdeck.components.prompt_editor.diagnostics import FILTER_NAMES, Diagnostic, Scope, diagnose
from flowdeck.components.prompt_editor.element import PromptEditor
from flowdeck.components.prompt_editor.preview import render_preview
from flowdeck.components.references import Edited, reference_chips, show_reads
from flowdeck.engine.state import RunState
from flowdeck.errors import EditRefused

OnEdit = Callable[[str, dict[str, Any]], None]
LastRun = Callable[[], RunState | None]  # the state of the workflow's last run shown in the editor, if any


def prompt_template_field(doc: Edited, node_id: str, on_edit: OnEdit, last_run: LastRun) -> Callable[[], None]:
    """The field for one agent; every change is applied as typed (on_edit raises EditRefused if it is refused).
    Returns what to call when the run shown with the workflow changes (the preview shows its values)."""
    workflow = doc.workflow
    source = workflow.node(node_id).config.prompt_template or ""
    upstream = workflow.upstream(node_id)
    agents = {n.id: n.label or n.id for n in workflow.nodes}
    scope = Scope(inputs={i.name for i in workflow.inputs}, upstream=upstream, agents=agents)
    context = {
        "inputs": {i.name: i.label or i.name for i in workflow.inputs},
        "upstream": {n: agents[n] for n in sorted(upstream, key=lambda n: agents[n].lower())},
        "agents": agents,
        "filters": sorted(FILTER_NAMES),
    }
    editor = PromptEditor(
        value=source,
        label="Prompt template",
        placeholder="Empty: the task, then each upstream output. Type {{ to insert a reference.",
        context=context,
        diagnostics=diagnose(source, scope),
    )
    refused = ui.label().classes("text-xs text-negative -mt-1").props("role=alert")
    refused.set_visibility(False)
    reads = ui.row().classes("w-full gap-1 items-center")
    reads.props('role=status aria-label="What this prompt reads"')
    show_reads(reads, doc, node_id, source)
    reference_chips(doc, node_id, editor)
    preview = _PreviewPanel(doc, node_id, last_run)

    def typed(text: str) -> list[Diagnostic]:
        try:
            on_edit(node_id, {"prompt_template": text or None})
        except EditRefused as exc:
            refused.set_text(str(exc))
            refused.set_visibility(True)
        else:
            refused.set_visibility(False)
        show_reads(reads, doc, node_id, text)
        preview.show(text)
        return diagnose(text, scope)

    editor.on_text(typed)
    preview.text = source
    return lambda: preview.show(preview.text)


class _PreviewPanel:
    """A closed expansion until asked for; while open, rendered again with each change of the template."""

    def __init__(self, doc: Edited, node_id: str, last_run: LastRun) -> None:
        self.doc, self.node_id, self.last_run = doc, node_id, last_run
        self.text = ""
        self.expansion = ui.expansion("Preview with the last run's values", icon="visibility").classes("w-full")
        self.expansion.props("dense header-class=text-sm")
        region = 'role=region aria-label="Preview of the prompt"'
        with self.expansion, ui.column().classes("w-full gap-1").props(region):
            self.note = ui.label().classes("text-xs text-gray-500")
            self.error = ui.label().classes("text-xs text-negative").props("role=alert")
            self.body = ui.label().classes("fd-prompt-preview w-full")
        self.expansion.on_value_change(lambda e: self.show(self.text) if e.value else None)

    def show(self, text: str) -> None:
        self.text = text
        if not self.expansion.value:
            return
        result = render_preview(self.doc.workflow, self.node_id, text, self.last_run())
        self.note.set_text(result.note)
        self.error.set_text(result.error or "")
        self.error.set_visibility(result.error is not None)
        self.body.set_text(result.text)
        self.body.set_visibility(result.error is None)
