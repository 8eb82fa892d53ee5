"""Which workflow the editor shows: the one it starts on, New, Templates, Open and Import (asking first over unsaved
changes), and the browser's draft of unsaved edits, which a refresh or a closed tab brings back."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from nicegui import background_tasks, ui

from flowdeck.app.dialogs import ask_unsaved, import_dialog, open_dialog, templates_gallery
from flowdeck.app.document import Document, blank_workflow
from flowdeck.app.draft import read_draft, read_open, remember_open, saved_since, write_draft
from flowdeck.app.trust_dialog import ask_trust, unapproved_handlers
from flowdeck.components.canvas import FlowCanvas, payload
from flowdeck.components.notices import notify_done
from flowdeck.engine.workflow import Workflow
from flowdeck.errors import FlowdeckError
from flowdeck.services import Services
from flowdeck.storage.workflows import new_workflow_id

if TYPE_CHECKING:
    from flowdeck.app.toolbar import Toolbar


class Opening:
    """The editor's part that replaces the workflow shown (a mixin of app.editor.Editor)."""

    services: Services
    doc: Document
    workflow_id: str
    selected: str | None
    host: ui.element
    bar: Toolbar
    canvas: FlowCanvas
    _draft_due: bool
    from_run: str | None  # the past run this workflow was opened from (open_run), shown until it has runs of its own

    if TYPE_CHECKING:

        async def save(self) -> None: ...

        def _refresh(self, panel: bool = True) -> None: ...

        async def _show_runs(self) -> None: ...

    async def new_workflow(self) -> None:
        """A blank workflow, after asking about unsaved changes as opening another does."""
        saved = await asyncio.to_thread(self.services.workflows.list)
        blank = blank_workflow({item.name for item in saved} | {self.doc.workflow.name})
        if await self._may_replace(blank.name):
            self._show(blank, workflow_id=None, saved=False)

    async def gallery(self) -> None:
        await templates_gallery(self.services.workflows, self._open)

    async def open_workflow(self) -> None:
        await open_dialog(self.services.workflows, self._open, self.workflow_id)

    def import_file(self) -> None:
        import_dialog(self._import)

    def go_to_runs(self) -> None:
        self._draft_due = True
        self._write_draft()  # now, not at the next tick: the page is left at once
        ui.navigate.to("/runs")

    async def _open(self, workflow: Workflow, workflow_id: str | None, saved: bool) -> None:
        if await self._may_replace(workflow.name):
            self._show(workflow, workflow_id=workflow_id, saved=saved)
            await self._ask_trust(workflow)

    async def _import(self, workflow: Workflow, workflow_id: str | None, saved: bool) -> None:
        if await self._may_replace(workflow.name):
            self._show(workflow, workflow_id=None, saved=False)
            with self.host:
                notify_done(f"Imported “{workflow.name}”")
            await self._ask_trust(workflow)

    async def _ask_trust(self, workflow: Workflow) -> None:
        """Handlers from elsewhere that no editor approved: shown with what they can call (nothing runs here)."""
        handlers = await unapproved_handlers(self.services, workflow)
        if handlers:
            with self.host:
                await ask_trust(self.services, handlers)

    async def _may_replace(self, opening: str) -> bool:
        """Whether the workflow shown may give way to another: nothing unsaved, or saved or discarded on asking."""
        if self.doc.save_state != "changed":
            return True
        with self.host:
            choice = await ask_unsaved(self.doc.workflow.name, opening)
            if choice == "save":
                await self.save()
                return not self.doc.dirty  # the save may have been refused
        return choice == "discard"

    async def open_run(self, run_id: str) -> bool:
        """A past run's workflow as it ran, as a new workflow (a fork: what is saved stays as it is), with that run
        shown on it: its outputs in the Inspector, and Run from here or Run this node only go on from them."""
        try:
            workflow = await asyncio.to_thread(self.services.runner.recorded_workflow, run_id)
        except FlowdeckError as exc:
            with self.host:
                ui.notify(f"Run {run_id} cannot be opened: {exc}", type="negative", multi_line=True)
            return False
        fork = workflow.model_copy(update={"name": forked_name(workflow.name, run_id)})
        if not await self._may_replace(fork.name):
            return False
        self._show(fork, workflow_id=None, saved=False, from_run=run_id)
        self._write_draft()  # now: the address no longer names the run, so a quick reload must find the draft
        return True

    def _show(
        self,
        workflow: Workflow,
        *,
        workflow_id: str | None,
        saved: bool,
        edited: bool = False,
        from_run: str | None = None,
    ) -> None:
        self.doc.replace(workflow, saved=saved, edited=edited)
        self.workflow_id = workflow_id or new_workflow_id()
        self.from_run = from_run
        if saved and from_run is None:
            remember_open(self.workflow_id)  # a reload opens this one again, not the one saved last
        self.selected = None
        self.bar.name.set_value(workflow.name)
        self.canvas.patch(
            payload.replace(
                payload.canvas_nodes(self.doc.workflow, self.doc.default_model), payload.canvas_edges(self.doc.workflow)
            ),
            payload.fit(),
        )
        self._refresh()
        background_tasks.create(self._show_runs(), name="show the runs of the workflow opened")

    # -- the local draft: unsaved edits kept in the browser, so a refresh or a closed tab loses nothing ----

    def _write_draft(self) -> None:
        if self._draft_due:
            self._draft_due = False
            edited = self.doc.save_state == "changed"
            workflow = self.doc.workflow if self.doc.dirty else None
            write_draft(workflow, self.workflow_id, edited=edited, from_run=self.from_run)

    async def _restore_draft(self) -> bool:
        draft = await read_draft()
        if draft is None:
            return await self._reopen()
        if draft.workflow == self.doc.workflow:
            # The workflow shown already: only its identity comes from the draft (its runs are found by it). Drawing
            # it again would undo what the person did meanwhile, e.g. select an agent right after the page loaded.
            if draft.workflow_id is not None and draft.workflow_id != self.workflow_id:
                self.workflow_id = draft.workflow_id
                self.from_run = draft.from_run
            return False
        if await asyncio.to_thread(saved_since, self.services.workflows, draft):
            return False  # saved since (perhaps in another tab): the saved version wins
        self._show(
            draft.workflow, workflow_id=draft.workflow_id, saved=False, edited=draft.edited, from_run=draft.from_run
        )
        if draft.edited:
            ui.notify("Restored your unsaved changes", type="info")
        return True

    async def _reopen(self) -> bool:
        """The saved workflow this browser showed before the reload, if it is not the one shown (saved last)."""
        workflow_id = await read_open()
        if workflow_id is None or workflow_id == self.workflow_id:
            return False
        try:
            saved = await asyncio.to_thread(self.services.workflows.get, workflow_id)
        except FlowdeckError:
            return False  # deleted since, or never saved here: the one saved last stays
        if saved.is_template:
            return False
        self._show(saved.workflow, workflow_id=saved.id, saved=True)
        return True

    async def _load_initial(self, startup: Workflow | None, startup_id: str) -> None:
        if startup is not None:
            self.doc.replace(startup)
            self.workflow_id = startup_id
            return
        saved = await asyncio.to_thread(self.services.workflows.list)
        if saved:
            self.doc.replace(saved[0].workflow, saved=True)
            self.workflow_id = saved[0].id


def forked_name(name: str, run_id: str) -> str:
    """The name of a workflow opened from a past run: its own, and which run (within the 200 characters a name has)."""
    suffix = f" (run {run_id})"
    return name[: 200 - len(suffix)] + suffix
