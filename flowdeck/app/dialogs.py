"""Workflow dialogs of the editor: templates gallery, open (with duplicate and delete), import, and the questions
asked before deleting or leaving unsaved changes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Literal

from nicegui import events, ui

from flowdeck.app.transient import transient_dialog
from flowdeck.engine.dag import build
from flowdeck.engine.workflow import MAX_FILE_BYTES, Workflow, parse_workflow
from flowdeck.errors import Problem, WorkflowError
from flowdeck.storage import SavedWorkflow, WorkflowStore
from flowdeck.templates import load_template, template_names

Show = Callable[[Workflow, str | None, bool], Awaitable[None]]  # (workflow, its id if saved, saved)


async def templates_gallery(store: WorkflowStore, show: Show) -> None:
    """Built-in templates and the user's own, each with a description and a mini-graph; one's own can be deleted."""
    saved = await asyncio.to_thread(store.list, templates=True)
    with transient_dialog() as dialog, ui.card().classes("w-[56rem] max-w-full"):
        ui.label("New workflow from a template").classes("text-lg font-semibold")

        async def use(workflow: Workflow) -> None:
            dialog.close()
            await show(workflow, None, False)

        cards: dict[str, ui.card] = {}

        async def delete(template_id: str, name: str) -> None:
            if await confirm(f"Delete your template “{name}”? This cannot be undone."):
                await asyncio.to_thread(store.delete, template_id)
                # Its card goes; the gallery stays open. (Reopening it from this handler built the new gallery
                # inside the old one, which closing deleted: the gallery vanished about one time in four.)
                cards.pop(template_id).delete()

        with ui.grid(columns=2).classes("w-full gap-3"):
            for name in template_names():
                _template_card(load_template(name), on_use=use)
            for item in saved:
                on_delete = partial(delete, item.id, item.name)
                cards[item.id] = _template_card(item.workflow, on_use=use, on_delete=on_delete)
        ui.button("Cancel", on_click=dialog.close).props("flat")
    dialog.open()


def _template_card(
    workflow: Workflow,
    *,
    on_use: Callable[[Workflow], Awaitable[None]],
    on_delete: Callable[[], Awaitable[None]] | None = None,
) -> ui.card:
    with ui.card().classes("gap-1").props("flat bordered") as card:
        ui.html(preview_svg(workflow), sanitize=False).classes("w-full")
        ui.label(workflow.name).classes("font-semibold")
        if on_delete is not None:
            ui.label("Your template").classes("text-xs text-indigo-500")
        ui.label(workflow.description or "No description.").classes("text-sm text-gray-600")
        with ui.row().classes("w-full items-center gap-1"):
            ui.button(f"Use {workflow.name}", on_click=lambda: on_use(workflow)).props("flat no-caps color=indigo")
            if on_delete is not None:
                ui.space()
                ui.button(icon="delete", on_click=on_delete).props(
                    f'flat dense color=negative aria-label="Delete template {_attr(workflow.name)}"'
                )
    return card


async def open_dialog(store: WorkflowStore, show: Show, current_id: str | None) -> None:
    """Saved workflows with search; open (click its name), duplicate or delete (asks first) each. Enter in the
    search box opens the first one listed."""
    listed: list[SavedWorkflow] = []
    with transient_dialog() as dialog, ui.card().classes("w-[40rem] max-w-full"):
        ui.label("Open a saved workflow").classes("text-lg font-semibold")
        search = ui.input("Search saved workflows").props("dense outlined clearable").classes("w-full")
        listing = ui.column().classes("w-full gap-1")

        async def pick(item: SavedWorkflow) -> None:
            dialog.close()
            await show(item.workflow, item.id, True)

        async def refresh() -> None:
            items = await asyncio.to_thread(store.list, search=search.value or "")
            listed[:] = items
            listing.clear()
            with listing:
                if not items:
                    ui.label("Nothing saved yet." if not search.value else "No match.").classes("text-gray-500")
                for item in items:
                    with ui.row().classes("w-full items-center no-wrap gap-1"):
                        opener = ui.button(item.name, on_click=partial(pick, item))
                        opener.props("flat no-caps align=left").classes("grow min-w-0 font-medium truncate")
                        opener.props["aria-label"] = f"Open {item.name}"  # the name shown, and what it does
                        ui.label(time.strftime("%Y-%m-%d %H:%M", time.localtime(item.updated_at))).classes(
                            "text-xs text-gray-500"
                        )

                        async def duplicate(_: object, item: SavedWorkflow = item) -> None:
                            copy = item.workflow.model_copy(update={"name": f"{item.name} (copy)"[:200]})
                            await asyncio.to_thread(store.save, copy)
                            await refresh()

                        async def delete(_: object, item: SavedWorkflow = item) -> None:
                            if await confirm(f"Delete “{item.name}”? This cannot be undone."):
                                await asyncio.to_thread(store.delete, item.id)
                                await refresh()

                        ui.button(icon="content_copy", on_click=duplicate).props(
                            f'flat dense aria-label="Duplicate {_attr(item.name)}"'
                        )
                        ui.button(icon="delete", on_click=delete).props(
                            f'flat dense color=negative aria-label="Delete {_attr(item.name)}"'
                        ).set_enabled(item.id != current_id)

        async def open_first() -> None:
            if listed:
                await pick(listed[0])

        search.on_value_change(refresh)
        search.on("keydown.enter", open_first)
        await refresh()
        ui.button("Close", on_click=dialog.close).props("flat")
    dialog.open()


def import_dialog(show: Show) -> None:
    """Upload a workflow file; every problem is listed and nothing changes unless it is valid."""
    with transient_dialog() as dialog, ui.card().classes("w-[40rem] max-w-full"):
        ui.label("Import a workflow file").classes("text-lg font-semibold")
        ui.label("A .json workflow file; it opens as a new, unsaved workflow.").classes("text-sm text-gray-600")
        problems = ui.column().classes("w-full gap-0")

        async def received(event: events.UploadEventArguments) -> None:
            problems.clear()
            try:
                if (size := event.file.size()) > MAX_FILE_BYTES:  # the browser's check is not the only one
                    raise WorkflowError(
                        [Problem("", f"the file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,} bytes")],
                        event.file.name,
                    )
                data = await event.file.read()
                # Checking a large workflow takes seconds: never on the event loop every page is served from.
                workflow = await asyncio.to_thread(parse_workflow, data, source=event.file.name)
                await asyncio.to_thread(build, workflow)
            except WorkflowError as exc:
                with problems:
                    ui.label(f"{event.file.name} was not imported:").classes("text-negative font-medium")
                    for problem in exc.problems[:50]:
                        ui.label(f"• {problem}").classes("text-sm text-negative")
                upload.reset()
                return
            dialog.close()
            await show(workflow, None, False)

        upload = (
            ui.upload(
                label="Choose a workflow file", auto_upload=True, max_file_size=MAX_FILE_BYTES, on_upload=received
            )
            .props('accept=".json,application/json"')
            .classes("w-full")
        )
        # Quasar's own header shows "0.0B / 0.00%" before any file is chosen: the file's name and size instead.
        upload.add_slot("header", _UPLOAD_HEADER)
        upload.add_slot("list", _UPLOAD_LIST)
        upload.on_rejected(
            lambda: ui.notify(f"Files over {MAX_FILE_BYTES // 1024 // 1024} MB are refused", type="warning")
        )
        ui.button("Cancel", on_click=dialog.close).props("flat")
    dialog.open()


async def confirm(question: str, action: str = "Delete") -> bool:
    """Ask before something that cannot be undone; `action` names the button that goes ahead."""
    with transient_dialog() as dialog, ui.card():
        ui.label(question)
        with ui.row():
            ui.button(action, on_click=lambda: dialog.submit(True)).props("color=negative")
            ui.button("Cancel", on_click=lambda: dialog.submit(False)).props("flat")
    return bool(await dialog)


async def ask_unsaved(name: str, opening: str) -> Literal["save", "discard"] | None:
    """Before another workflow replaces one with unsaved changes: save them, discard them, or stay (None)."""
    with transient_dialog() as dialog, ui.card().classes("max-w-[32rem]"):
        ui.label(f"“{name}” has unsaved changes").classes("text-lg font-semibold")
        ui.label(f"Save them before opening “{opening}”?").classes("text-sm")
        with ui.row().classes("w-full justify-end gap-1"):
            ui.button("Cancel", on_click=lambda: dialog.submit(None)).props("flat")
            ui.button("Discard changes", on_click=lambda: dialog.submit("discard")).props("flat color=negative")
            ui.button("Save", on_click=lambda: dialog.submit("save")).props("color=primary autofocus")
    choice = await dialog
    return "save" if choice == "save" else "discard" if choice == "discard" else None


def preview_svg(workflow: Workflow, width: int = 320, height: int = 110) -> str:
    """A mini-graph of the workflow: boxes and lines only (no user text, so nothing to escape)."""
    if not workflow.nodes:
        return f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="Empty workflow"></svg>'
    xs = [n.position.x for n in workflow.nodes]
    ys = [n.position.y for n in workflow.nodes]
    box_w, box_h = 180.0, 60.0
    span_x = max(xs) - min(xs) + box_w
    span_y = max(ys) - min(ys) + box_h
    scale = min((width - 10) / span_x, (height - 10) / span_y)
    off_x = (width - span_x * scale) / 2 - min(xs) * scale
    off_y = (height - span_y * scale) / 2 - min(ys) * scale
    pos = {n.id: (n.position.x * scale + off_x, n.position.y * scale + off_y) for n in workflow.nodes}
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="Preview of {len(pos)} agents">']
    for e in workflow.edges:
        if e.source in pos and e.target in pos:
            (x1, y1), (x2, y2) = pos[e.source], pos[e.target]
            parts.append(
                f'<line x1="{x1 + box_w * scale:.1f}" y1="{y1 + box_h * scale / 2:.1f}" x2="{x2:.1f}" '
                f'y2="{y2 + box_h * scale / 2:.1f}" stroke="#94a3b8" stroke-width="1.5"/>'
            )
    for x, y in pos.values():
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{box_w * scale:.1f}" height="{box_h * scale:.1f}" rx="4" '
            'fill="#eef2ff" stroke="#6366f1"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _attr(text: str) -> str:
    return text.replace('"', "'")


# The import dialog's uploader: its own header and list (import_dialog).
_UPLOAD_HEADER = """
<div class="row no-wrap items-center q-pa-sm q-gutter-xs">
  <div class="col q-uploader__title">Choose a workflow file</div>
  <q-spinner v-if="props.isUploading" class="q-uploader__spinner" />
  <q-btn v-if="props.canAddFiles" type="a" icon="add_box" dense flat round aria-label="Choose a workflow file">
    <q-uploader-add-trigger />
  </q-btn>
</div>
"""
_UPLOAD_LIST = """
<div v-if="!props.files.length" class="text-sm text-gray-500">Drop a .json file here, or choose one with +.</div>
<div v-for="file in props.files" :key="file.__key" class="text-sm">{{ file.name }} · {{ file.__sizeLabel }}</div>
"""
