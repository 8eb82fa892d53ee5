"""Compensation in the run panel's Side effects tab (the editor's and the Runs page's): the attempts to undo the run's
effects (each handler's result, blocked ones with why, manual steps), "Compensating…" while the server undoes them,
and for editors a Compensate button on an ended run with side effects. It asks first, listing what would be undone
and by which handler; untrusted handlers can be reviewed and approved from there (app/trust_dialog.py)."""

from __future__ import annotations

import asyncio
import time

from nicegui import ui

from flowdeck.app.account import can_edit, current_role
from flowdeck.app.run_files import RunFiles
from flowdeck.app.transient import transient_dialog
from flowdeck.app.trust_dialog import ask_trust
from flowdeck.errors import FlowdeckError
from flowdeck.storage.compensations import CompensationEntry, compensations_of, lineage_effects, mark_done

ENDED = ("succeeded", "failed", "cancelled", "rejected", "interrupted")
RECHECK_SECONDS = 1.0  # how often the tab looks again while the server compensates the run


class CompensationSection:
    """Build it under the Side effects tab's list; show() after each reading of the tab."""

    def __init__(self, files: RunFiles) -> None:
        self.files = files
        self.editor = can_edit()
        self.run_id: str | None = None
        self.status = ""
        with ui.column().classes("w-full gap-1") as root:
            self.root = root
            with ui.row().classes("w-full items-center gap-2 no-wrap"):
                ui.label("Compensation").classes("text-sm font-semibold").props('role=heading aria-level="3"')
                self.state = ui.label("").classes("text-sm text-gray-500")
                self.button = ui.button("Compensate", icon="undo", on_click=self._confirm)
                self.button.props("dense outline no-caps color=indigo")
                self.button.tooltip("Undo the run's side effects with its workflow's handlers, newest first, once each")
            self.lines = ui.column().classes("w-full gap-0").props('role=list aria-label="Compensation attempts"')
        root.set_visibility(False)

    async def show(self, run_id: str, status: str) -> None:
        """Read the run's compensation and draw it (nothing for a run without side effects)."""
        self.run_id, self.status = run_id, status
        services = self.files.services
        going = services.runner.compensating(run_id)  # before reading: one that ends meanwhile is read again below
        effects = await asyncio.to_thread(lineage_effects, services.engine, [run_id])
        entries = await asyncio.to_thread(compensations_of, services.engine, [e.key for e in effects])
        if self.root.is_deleted or self.run_id != run_id:
            return
        self.root.set_visibility(bool(effects))
        self.button.set_visibility(self.editor and status in ENDED and bool(effects) and not going)
        self.state.set_text("Compensating…" if going else "" if entries else "nothing undone yet")
        self._draw(entries)
        if going:
            with self.root:
                ui.timer(RECHECK_SECONDS, lambda: self.show(run_id, status), once=True)

    def _draw(self, entries: list[CompensationEntry]) -> None:
        self.lines.clear()
        done = {e.key for e in entries if e.status == "ok"}
        latest = {e.key: e for e in entries}
        with self.lines:
            for e in entries:
                when = time.strftime("%H:%M:%S", time.localtime(e.ts))
                said = f"{when}  {e.tool} · {e.handler or 'no handler'} · {e.status}"
                with ui.column().classes("w-full gap-0").props("role=listitem"):
                    ui.label(f"{said} — {e.message}" if e.message else said).classes("text-sm font-mono")
                    if e.status == "manual" and e.detail.get("steps"):
                        ui.label(str(e.detail["steps"])).classes("text-sm whitespace-pre-wrap")
                        if self.editor and e.key not in done and latest[e.key] is e:
                            mark = ui.button("Mark done", icon="task_alt", on_click=lambda _, k=e.key: self._mark(k))
                            mark.props(f'dense flat no-caps aria-label="Mark done: {e.handler} for {e.tool}"')

    async def _mark(self, key: str) -> None:
        """A person followed an effect's manual steps: the log says so, and by whom."""
        run_id = self.run_id
        if run_id is None or not can_edit():
            return
        by = f"{current_role()} (page)"
        try:
            await asyncio.to_thread(mark_done, self.files.services.engine, run_id, key, by)
        except FlowdeckError as exc:
            ui.notify(f"Not marked: {exc}", type="negative", multi_line=True)
        await self.show(run_id, self.status)

    async def _confirm(self) -> None:
        run_id = self.run_id
        if run_id is None or not can_edit():
            return
        runner = self.files.services.runner
        try:
            run_id, planned = await runner.plan_compensation(run_id)
        except FlowdeckError as exc:
            ui.notify(f"Not compensated: {exc}", type="negative", multi_line=True)
            return
        todo = [p for p in planned if p.handler is not None and not p.undone]
        untrusted = list({p.handler.content_hash(): p.handler for p in todo if p.handler and p.blocked
                          and p.blocked.startswith("untrusted")}.values())  # fmt: skip
        with transient_dialog() as dialog, ui.card().classes("w-full max-w-full gap-3").style("width: 38rem"):
            title = ui.label("Compensate this run?").classes("text-lg font-semibold")
            title.props('role=heading aria-level="2"')
            dialog.props(f"aria-labelledby={title.html_id}")
            if not todo:
                ui.label("Nothing to undo: no handler matches its side effects, or they are undone already.").classes(
                    "text-sm"
                )
            with ui.column().classes("w-full gap-0").props('role=list aria-label="What would be undone"'):
                for p in todo:
                    assert p.handler is not None
                    target = p.effect.detail.get("url") or p.effect.detail.get("path") or p.effect.key
                    line = f"{p.effect.tool} {target} → {p.handler.label or p.handler.id}"
                    if p.blocked:
                        line += f" (will not run: {p.blocked})"
                    ui.label(line).classes("text-sm").props("role=listitem")
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=lambda: dialog.submit("cancel")).props("flat no-caps")
                if untrusted:
                    ui.button("Review handlers…", on_click=lambda: dialog.submit("review")).props("outline no-caps")
                go = ui.button("Undo them", icon="undo", on_click=lambda: dialog.submit("go"))
                go.props("no-caps color=negative").set_enabled(bool(todo))
        dialog.open()
        choice = await dialog
        if choice == "review":
            if await ask_trust(self.files.services, untrusted):
                await self._confirm()  # asked again, now with them approved
            return
        if choice == "go":
            await self._compensate(run_id)

    async def _compensate(self, run_id: str) -> None:
        self.button.props("loading")
        try:
            done = await self.files.services.runner.compensate(run_id)
        except FlowdeckError as exc:
            ui.notify(f"Not compensated: {exc}", type="negative", multi_line=True)
            return
        finally:
            self.button.props(remove="loading")
        counts: dict[str, int] = {}
        for attempt in done.attempts:
            counts[attempt.status] = counts.get(attempt.status, 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in counts.items()) or "nothing to undo"
        ui.notify(f"Compensation: {summary}", type="negative" if done.failed else "positive", multi_line=True)
        await self.show(run_id, self.status)
