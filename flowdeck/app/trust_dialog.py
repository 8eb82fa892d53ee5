"""The dialog "This workflow has compensation handlers from elsewhere": each handler no editor approved yet, with
exactly what it can call (domains, methods, files, secrets). Approve (editors only) stores the approval of that exact
content on the server; Not now leaves it untrusted: it never runs. Opened when the editor shows such a workflow
(opened, imported, a template) and from the Compensate confirmation."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from nicegui import ui

from flowdeck.app.account import can_edit, current_role
from flowdeck.app.transient import transient_dialog
from flowdeck.engine.handlers import Handler
from flowdeck.engine.workflow import Workflow
from flowdeck.services import Services
from flowdeck.storage.trust import TrustStore, approve_handler

TITLE = "This workflow has compensation handlers from elsewhere"
WHAT = {"domains": "Domains", "methods": "Methods", "files": "Files", "secrets": "Secrets"}


async def unapproved_handlers(services: Services, workflow: Workflow) -> list[Handler]:
    """The workflow's handlers that no editor approved yet."""
    if not workflow.handlers:
        return []
    trust = TrustStore(services.engine)
    return await asyncio.to_thread(lambda: [h for h in workflow.handlers if not trust.approved(h.content_hash())])


async def ask_trust(services: Services, handlers: Sequence[Handler]) -> bool:
    """Show the dialog for `handlers`; True if an editor approved them."""
    editor = can_edit()
    with transient_dialog() as dialog, ui.card().classes("w-full max-w-full gap-3").style("width: 38rem"):
        title = ui.label(TITLE).classes("text-lg font-semibold").props('role=heading aria-level="2"')
        dialog.props(f"aria-labelledby={title.html_id}")
        ui.label(
            "They undo what a run did when it fails, is cancelled, or someone compensates it. None of them runs until "
            "an editor approves it; a changed handler needs approving again."
        ).classes("text-sm text-gray-500")
        for handler in handlers:
            with ui.column().classes("w-full gap-0").props(f'role=group aria-label="Handler {handler.id}"'):
                kind = handler.action.kind
                ui.label(f"{handler.label or handler.id} · {kind} · undoes {handler.match.tool}").classes(
                    "text-sm font-semibold"
                )
                said = [(WHAT[what], items) for what, items in handler.reach().items() if items]
                for name, items in said:
                    ui.label(f"{name}: {', '.join(items)}").classes("text-sm font-mono")
                if not said:
                    ui.label("It calls nothing: it shows steps to a person.").classes("text-sm")
        if not editor:
            ui.label("Only an editor can approve them.").classes("text-sm text-gray-500")

        async def approve() -> None:
            if not can_edit():  # asked again: the page may be older than the role
                return
            trust = TrustStore(services.engine)
            by = f"{current_role()} (page)"
            await asyncio.to_thread(lambda: [approve_handler(trust, h, by) for h in handlers])
            dialog.submit(True)

        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Not now", on_click=lambda: dialog.submit(False)).props("flat no-caps")
            if editor:
                ui.button("Approve", icon="verified_user", on_click=approve).props("no-caps color=indigo")
    dialog.open()
    return bool(await dialog)
