"""The prompt template field of the properties panel: the editor, what went wrong applying it, what it reads,
chips that insert a reference at the cursor, and a preview with the last run's values.

Each change is applied at once (a Save or Run right after a keystroke must see it); checking and previewing it
run on a worker thread, for the latest text only (a 100,000-character template takes ~0.3 s to check)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nicegui import background_tasks, ui

from flowdeck.components.prompt_editor.diagnostics import FILTER_NAMES, Diagnostic, Scope, diagnose
from flowdeck.components.prompt_editor.element import PromptEditor
from flowdeck.components.prompt_editor.preview import Preview, Values, preview_values, render_preview
from flowdeck.components.references import Edited, reference_chips, show_reads
from flowdeck.engine.prompts import References, check_template
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
    refs = check_template(source)
    editor = PromptEditor(
        value=source,
        label="Prompt template",
        placeholder="Empty: the task, then each upstream output. Type {{ to insert a reference.",
        context=context,
        diagnostics=diagnose(source, scope, refs),
    )
    refused = ui.label().classes("text-xs text-negative -mt-1").props("role=alert")
    refused.set_visibility(False)
    reads = ui.row().classes("w-full gap-1 items-center")
    reads.props('role=status aria-label="What this prompt reads"')
    show_reads(reads, doc, node_id, source, refs)
    reference_chips(doc, node_id, editor)
    preview = _PreviewPanel(doc, node_id, last_run, source)

    def applied(text: str) -> None:
        try:
            on_edit(node_id, {"prompt_template": text or None})
        except EditRefused as exc:
            refused.set_text(str(exc))
            refused.set_visibility(True)
        else:
            refused.set_visibility(False)

    def checked(text: str, version: int, result: _Checked) -> None:
        if editor.is_deleted:
            return  # the panel was drawn again meanwhile (another agent selected)
        editor.diagnose(version, result.diagnostics)
        show_reads(reads, doc, node_id, text, result.refs)
        if result.preview is not None:
            preview.shown(result.preview)

    checker = _Checker(scope, checked, preview.values)

    def changed(text: str, version: int) -> None:
        applied(text)
        preview.text = text
        checker.check(text, version)

    editor.on_change(changed)
    return preview.refresh


@dataclass(frozen=True, kw_only=True, slots=True)
class _Checked:
    refs: References
    diagnostics: list[Diagnostic]
    preview: Preview | None


class _Checker:
    """Checks (and previews) texts on a worker thread, one at a time: a text typed while one is checked waits, and
    only the latest of those is checked next."""

    def __init__(
        self, scope: Scope, done: Callable[[str, int, _Checked], None], values: Callable[[], Values | None]
    ) -> None:
        self.scope, self.done, self.values = scope, done, values
        self.latest: tuple[str, int] | None = None
        self.busy = False

    def check(self, text: str, version: int) -> None:
        self.latest = (text, version)
        if not self.busy:
            self.busy = True
            background_tasks.create(self._run(), name="check a prompt template")

    async def _run(self) -> None:
        try:
            while self.latest is not None:
                text, version = self.latest
                self.latest = None
                values = self.values()  # read here, on the event loop: a run may be changing them
                refs, diagnostics = await asyncio.to_thread(_check, text, self.scope)
                preview = await render_preview(values, text, refs) if values is not None else None
                self.done(text, version, _Checked(refs=refs, diagnostics=diagnostics, preview=preview))
        finally:
            self.busy = False


def _check(text: str, scope: Scope) -> tuple[References, list[Diagnostic]]:
    refs = check_template(text)
    return refs, diagnose(text, scope, refs)


class _PreviewPanel:
    """A closed expansion until asked for; while open, it follows the typing and the run shown."""

    def __init__(self, doc: Edited, node_id: str, last_run: LastRun, text: str) -> None:
        self.doc, self.node_id, self.last_run, self.text = doc, node_id, last_run, text
        self.expansion = ui.expansion("Preview with the last run's values", icon="visibility").classes("w-full")
        self.expansion.props("dense header-class=text-sm")
        region = 'role=region aria-label="Preview of the prompt"'
        with self.expansion, ui.column().classes("w-full gap-1").props(region):
            self.note = ui.label().classes("text-xs text-gray-500")
            self.error = ui.label().classes("text-xs text-negative").props("role=alert")
            self.body = ui.label().classes("fd-prompt-preview w-full")
        self.expansion.on_value_change(lambda e: self.refresh() if e.value else None)

    def values(self) -> Values | None:
        """The values to preview with, while the preview is open."""
        if not self.expansion.value or self.expansion.is_deleted:
            return None
        return preview_values(self.doc.workflow, self.node_id, self.last_run())

    def refresh(self) -> None:
        values = self.values()
        if values is not None:
            background_tasks.create(self._render(values, self.text), name="preview a prompt template")

    async def _render(self, values: Values, text: str) -> None:
        preview = await render_preview(values, text)
        if text == self.text and not self.body.is_deleted:  # not typed over meanwhile, nor the panel gone
            self.shown(preview)

    def shown(self, preview: Preview) -> None:
        self.note.set_text(preview.note)
        self.error.set_text(preview.error or "")
        self.error.set_visibility(preview.error is not None)
        self.body.set_text(preview.text)
        self.body.set_visibility(preview.error is None)
