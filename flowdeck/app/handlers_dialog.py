"""⋮ → Compensation handlers…: the workflow's handlers as JSON (engine/handlers.py's format), checked as the engine
checks them, each problem naming where it is. Applied as one undo step. A handler an editor writes here is `user`:
its exact content is approved on the server as "<role> (written here)", so it runs without the trust dialog."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

from nicegui import ui
from pydantic import TypeAdapter, ValidationError

from flowdeck.app.account import can_edit, current_role
from flowdeck.app.transient import transient_dialog
from flowdeck.engine.handlers import MAX_HANDLERS, Handler, check_handlers
from flowdeck.storage.trust import TrustStore, approve_handler

if TYPE_CHECKING:
    from flowdeck.app.editor import Editor

_HANDLERS: TypeAdapter[list[Handler]] = TypeAdapter(list[Handler])


def read_handlers(text: str) -> tuple[list[Handler], str | None]:
    """The handlers a JSON text lists, or the first problem: where it is and what to do."""
    try:
        data = json.loads(text or "[]")
    except ValueError as exc:
        return [], f"Compensation handlers: not JSON ({exc}); give a list of handlers, [] for none"
    if not isinstance(data, list):
        return [], "Compensation handlers: give a JSON list of handlers, [] for none"
    if len(data) > MAX_HANDLERS:
        return [], f"Compensation handlers: at most {MAX_HANDLERS} handlers"
    try:
        handlers = _HANDLERS.validate_python(data, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return [], f"handlers.{where}: {str(first['msg']).removeprefix('Value error, ')}"
    problems = check_handlers(handlers)
    return handlers, (problems[0] if problems else None)


def handlers_dialog(editor: Editor) -> None:
    """Open the dialog on the editor's workflow (editors only: a viewer's page never edits)."""
    if not can_edit():
        return
    workflow = editor.doc.workflow
    text = json.dumps([h.model_dump(mode="json", exclude_defaults=True) for h in workflow.handlers], indent=2)
    services = editor.services
    with editor.host, transient_dialog() as dialog, ui.card().classes("w-full max-w-full gap-3").style("width: 44rem"):
        title = ui.label("Compensation handlers").classes("text-lg font-semibold").props('role=heading aria-level="2"')
        dialog.props(f"aria-labelledby={title.html_id}")
        ui.label(
            "What undoes this workflow's side effects when a run fails, is cancelled, or someone compensates it: "
            'a JSON list, e.g. [{"id": "undo", "match": {"tool": "http_request", "method": ["POST"]}, "action": '
            '{"kind": "http", "method": "DELETE", "url": "https://api.example.org/items/{{ effect.key }}"}}]. '
            "Handlers written here are approved as yours."
        ).classes("text-sm text-gray-500")
        box = ui.textarea("Compensation handlers (JSON)", value=text).props("outlined autogrow autofocus")
        box.classes("w-full font-mono")
        said = ui.label("").classes("text-sm text-negative").props("role=alert")

        async def apply() -> None:
            handlers, problem = read_handlers(box.value)
            said.set_text(problem or "")
            box.props(f"aria-invalid={'true' if problem else 'false'}")
            if problem is not None or not can_edit():
                return
            trust = TrustStore(services.engine)
            by = f"{current_role()} (written here)"
            await asyncio.to_thread(lambda: [approve_handler(trust, h, by) for h in handlers])
            before = editor.doc.workflow
            editor.doc.set_handlers(handlers)
            editor.changed_since(before)
            dialog.close()

        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
            ui.button("Apply handlers", on_click=apply).props("no-caps color=indigo")
    dialog.open()
