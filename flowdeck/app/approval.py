"""Approvals on the pages: a card for each approval a run waits for (the run panel, a run's page, /live), and the
decision dialog (the text to approve, rendered safely; an editable copy; a note; Approve, Reject, Edit and approve).

A viewer sees the cards without their Review button; and every handler that decides asks the page's role again,
so that a viewer's page event (crafted, or from a page made before a role changed) is refused on the server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from nicegui import Client, ui

from flowdeck.app.account import can_edit
from flowdeck.components.markup import render_markdown
from flowdeck.components.notices import notify_done
from flowdeck.engine.approvals import Decision
from flowdeck.engine.state import RunState, fold
from flowdeck.errors import FlowdeckError, NotWaitingError, WorkflowError
from flowdeck.runner import Runner

log = logging.getLogger("flowdeck.app")
VIEWER_REFUSED = "Viewers cannot decide approvals; log in as an editor"

Decided = Callable[[str], None]  # called with the run's id once a decision was taken (the run goes on)


class ApprovalCards:
    """One card per approval the run shown waits for, with a Review… button for editors. Made inside a container;
    update() after each change of the run."""

    def __init__(self, runner: Runner, client: Client, on_decided: Decided) -> None:
        self.runner = runner
        self.client = client
        self.on_decided = on_decided
        self.area = ui.column().classes("w-full gap-1 px-2")
        self.area.props('role=region aria-label="Approvals"')
        self._shown: tuple[object, ...] = ()
        self._state = RunState()

    def update(self, state: RunState) -> None:
        waiting = [(n, _execution(state, n)) for n in state.waiting()]
        key = (state.run_id, state.status, *waiting)
        self._state = state
        if key == self._shown:
            return
        self._shown = key
        self.area.clear()
        if not waiting:
            return
        editable = can_edit(self.client)
        with self.area:
            for node_id, _ in waiting:
                name = state.labels.get(node_id, node_id)
                latest = state.nodes[node_id].latest
                asked = latest.approval if latest is not None else None
                with ui.row().classes("w-full items-center gap-2 no-wrap rounded-lg border border-amber-400 p-2"):
                    ui.icon("person").classes("text-amber-700")
                    ui.label("Waiting for approval").classes("text-sm font-semibold text-amber-700")
                    ui.label(f"{name}: {asked.label}" if asked and asked.label else name).classes("text-sm")
                    ui.space()
                    if editable:
                        review = ui.button("Review…", icon="fact_check", on_click=lambda n=node_id: self.review(n))
                        review.props(f'dense outline no-caps color=indigo aria-label="Review {name}"')
                    else:
                        ui.label("An editor decides").classes("text-xs text-gray-500")

    def review(self, node_id: str) -> None:
        """Open the decision dialog for this approval of the run shown (if it still waits there)."""
        open_decision(self.runner, self.client, self._state, node_id, self.on_decided, lambda: self._state)


def open_decision(
    runner: Runner,
    client: Client,
    state: RunState,
    node_id: object,
    on_decided: Decided,
    now: Callable[[], RunState] | None = None,
) -> None:
    """The decision dialog for an approval that waits in `state`'s run; refused for a viewer's page. `now`: the run
    as the page knows it when a decision is refused (it says what became of the approval meanwhile)."""
    if not can_edit(client):
        log.warning("a viewer's page asked to decide an approval of run %s: refused", state.run_id)
        with client:
            ui.notify(VIEWER_REFUSED, type="warning")
        return
    if not isinstance(node_id, str) or node_id not in state.waiting():
        with client:
            ui.notify("That agent is not waiting for approval", type="info")
        return
    latest = state.nodes[node_id].latest
    asked = latest.approval if latest is not None else None
    text = asked.text if asked is not None else ""
    shown = latest.index if latest is not None else None
    name = state.labels.get(node_id, node_id)
    run_id = state.run_id
    with client, ui.dialog() as dialog, ui.card().classes("w-full gap-2").style("max-width: 56rem"):
        dialog.props(f'aria-label="Approve {name}"')
        ui.label(f"Approve: {name}").classes("text-lg font-semibold")
        if asked is not None and asked.label:
            ui.label(asked.label).classes("text-sm")
        ui.label("To approve").classes("text-xs font-semibold uppercase tracking-wide text-gray-500")
        with (
            ui.element("div")
            .classes("w-full overflow-auto rounded-lg border border-gray-300 p-2")
            .style("max-height: 40vh")
        ):
            ui.html(render_markdown(text)).classes(
                "w-full text-sm fd-output fd-approval-text"
            )  # cleaned: a model wrote it
        edited = ui.textarea("Edited text (for Edit and approve)", value=text).props("outlined autogrow")
        edited.classes("w-full")
        note = ui.input("Note (a rejection hands it on as feedback)").props("outlined").classes("w-full")
        problem = ui.label("").classes("text-sm text-negative").props("role=alert")
        fields = {"text": edited, "note": note}

        async def decide(approve: bool, with_edit: bool) -> None:
            if not can_edit(client):  # asked again: the page event may not come from the page as it was made
                log.warning("a viewer's page sent a decision for run %s: refused", run_id)
                ui.notify(VIEWER_REFUSED, type="warning")
                return
            _mark(fields, {})
            problem.set_text("")
            if with_edit and not (edited.value or "").strip():
                _mark(fields, {"text": EMPTY_EDIT})
                return
            decision = Decision(
                approve=approve,
                by="editor",
                note=note.value or "",
                text=(edited.value or "") if with_edit else None,
                execution=shown,  # the round this dialog shows: a newer one is not decided unseen
            )
            try:
                await runner.decide(run_id, node_id, decision)
            except WorkflowError as exc:  # a field of the decision: said next to it
                _mark(fields, {p.where: p.message for p in exc.problems if p.where in fields})
                problem.set_text(f"Not decided: {exc}" if not any(p.where in fields for p in exc.problems) else "")
                return
            except NotWaitingError as exc:  # decided elsewhere, or it moved on: this dialog's round is gone
                # The log, not this page (whose copy of the run may lag behind the other page's decision), says why.
                stored = fold(await asyncio.to_thread(runner.stored, run_id))
                known = stored if stored.nodes.get(node_id) else (now() if now else state)
                problem.set_text(f"Not decided: {_gone(known, node_id, name, shown, exc)}")
                for button in deciding:
                    button.disable()
                return
            except FlowdeckError as exc:
                problem.set_text(f"Not decided: {exc}")
                return
            dialog.close()
            notify_done(f"{name}: {_what_follows(state, node_id, approve)}")
            on_decided(run_id)

        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
            deciding = [
                ui.button("Reject", icon="block", on_click=lambda: decide(False, False)).props(
                    "outline no-caps color=negative"
                ),
                ui.button("Edit and approve", icon="edit", on_click=lambda: decide(True, True)).props(
                    "outline no-caps color=indigo"
                ),
                ui.button("Approve", icon="check", on_click=lambda: decide(True, False)).props(
                    "no-caps color=positive"
                ),
            ]
    dialog.on("hide", dialog.delete)
    dialog.open()


EMPTY_EDIT = "Edited text is empty: type the text to approve, or use Approve to keep it as it was"


def _mark(fields: dict[str, ui.input | ui.textarea], errors: dict[str, str]) -> None:
    """Each field's refusal under it (Quasar's message has role alert), the field marked invalid; others cleared."""
    for name, field in fields.items():
        message = errors.get(name)
        field.props["error"] = message is not None
        field.props["error-message"] = message or ""
        field.props["aria-invalid"] = "true" if message is not None else "false"
        field.update()


def _gone(state: RunState, node_id: str, name: str, shown: int | None, exc: NotWaitingError) -> str:
    """Why the round this dialog shows can no longer be decided, from the run as the page knows it now."""
    node = state.nodes.get(node_id)
    latest = node.latest if node is not None else None
    if node is None or latest is None or shown is None:
        return str(exc)
    if node_id in state.waiting() and latest.index != shown:
        return f"{exc} (close this, then Review… on its card)"
    decided = next((ex.decision for ex in node.executions if ex.index == shown and ex.decision), None)
    if decided is None:
        return str(exc)
    how = "approved" if decided.decision == "approved" else "rejected"
    after = f"; the run {state.status}" if state.status in ("succeeded", "failed", "cancelled", "rejected") else ""
    return f"{name} was decided already ({how} by {decided.by}, round {shown}){after}. Nothing was changed here"


def _what_follows(state: RunState, node_id: str, approved: bool) -> str:
    """What a decision does to the run, said truly: a rejection with no "rejected" edge ends it."""
    if approved:
        return "approved; the run goes on"
    edges = state.workflow.get("edges", [])
    onward = any(
        isinstance(e, dict) and e.get("source") == node_id and (e.get("condition") or {}) == {"verdict": "rejected"}
        for e in edges
    )
    return "rejected; the work goes back with the note" if onward else "rejected; the run ends rejected"


def _execution(state: RunState, node_id: str) -> int:
    latest = state.nodes[node_id].latest
    return latest.index if latest is not None else 0
