"""The runs pages: the history of runs (filter, pick two to compare) and one run, read-only, with all the
run panel's tabs and a replay control that steps through its events in time."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from nicegui import ui
from nicegui.events import GenericEventArguments, ValueChangeEventArguments

from flowdeck.app.account import account_controls, can_edit
from flowdeck.app.compare import compare_page
from flowdeck.app.landmarks import page_heading
from flowdeck.app.live import LiveRun
from flowdeck.app.refusal import show_refusal
from flowdeck.app.replay import Replay
from flowdeck.app.run_files import RunFiles
from flowdeck.app.run_view import run_panel
from flowdeck.app.theme import chosen_dark, page_theme, remember
from flowdeck.components.canvas import FlowCanvas, payload
from flowdeck.engine.events import RunStarted
from flowdeck.engine.state import RunState, fold
from flowdeck.engine.workflow import Workflow, parse_workflow
from flowdeck.errors import FlowdeckError
from flowdeck.services import Services
from flowdeck.storage.runs import RunSummary

REFRESH_SECONDS = 2.0
LIVE_CHECK_SECONDS = 1.0
PAGE_SIZES = [25, 50, 100, 200]  # runs a page of the history shows; 50 at first
PAGE_SIZE = PAGE_SIZES[1]
MAX_SELECTED = 1000  # runs picked to compare (kept across pages): more is not a person picking
MAX_RUN_ID = 100  # characters
STATUSES = ["succeeded", "failed", "cancelled", "interrupted", "running", "waiting", "rejected"]


def register_runs_pages(services: Services) -> None:
    @ui.page("/runs")
    async def runs_page(workflow: str = "", status: str = "") -> None:
        header("Runs")
        await runs_list(services, workflow, status)

    @ui.page("/runs/compare")
    async def compare(a: str = "", b: str = "") -> None:
        header("Compare runs")
        await compare_page(services, a, b)

    @ui.page("/live")
    async def live_page() -> None:
        header("Live")
        await follow_latest(services)

    @ui.page("/runs/{run_id}")
    async def run_page(run_id: str) -> None:
        header("Run")
        await run_detail(services, run_id)


async def follow_latest(services: Services) -> None:
    """The newest run, live while it goes; the page moves on to each new run by itself (a team's screen)."""
    note = ui.label("").classes("px-4 pt-2 text-sm text-gray-500")
    area = ui.column().classes("w-full gap-0")
    shown: str | None = None
    following: LiveRun | None = None

    async def check() -> None:
        nonlocal shown, following
        active = services.runner.active_runs()
        recent: list[RunSummary] = []
        if active:
            newest_id: str | None = active[0]
        else:
            recent = await asyncio.to_thread(services.runs.recent, limit=1)
            newest_id = recent[0].id if recent else None
            if recent and services.runner.live_elsewhere(recent[0]):
                active = [recent[0].id]  # a run of the CLI or another server, followed as it is stored
        waiting = not active and bool(recent) and recent[0].status == "waiting"
        note.set_text(
            "Showing the run going now; the next run will replace it."
            if active
            else "Showing the latest run: it waits for a person's approval; the next run will appear here by itself."
            if waiting
            else "No run is going. Showing the latest; the next run will appear here by itself."
            if newest_id
            else "No runs yet. The next run will appear here by itself."
        )
        if newest_id is None or newest_id == shown:
            return
        if following is not None:
            following.stop()
        area.clear()
        shown = newest_id
        with area:
            following = await run_detail(services, newest_id)

    await check()
    ui.timer(LIVE_CHECK_SECONDS, check)


def header(title: str) -> None:
    ui.query(".nicegui-content").classes("p-0 gap-0")
    dark = page_theme()

    def toggle_theme() -> None:
        remember(not dark.value)
        ui.navigate.reload()  # the canvas and charts of a run are drawn again in the other theme

    with ui.header().classes("items-center gap-3 no-wrap bg-slate-900 py-2"):
        ui.label("flowdeck").classes("text-lg font-bold")
        page_heading(title, "text-base font-normal")
        ui.space()
        if can_edit():
            ui.link("Editor", "/").classes("text-white")
        ui.link("Runs", "/runs").classes("text-white")
        ui.link("Live", "/live").classes("text-white")
        theme = ui.button(icon="dark_mode", on_click=toggle_theme)
        theme.props('flat dense color=white aria-label="Toggle dark theme"')
        account_controls()


async def runs_list(services: Services, workflow: str, status: str) -> None:
    names = await asyncio.to_thread(services.runs.workflow_names)
    with ui.column().classes("w-full p-4 gap-3"):
        with ui.row().classes("items-end gap-3"):
            workflow_filter = ui.select(names, value=workflow if workflow in names else None, label="Workflow")
            workflow_filter.props("clearable options-dense").classes("w-72")
            status_filter = ui.select(STATUSES, value=status if status in STATUSES else None, label="Status")
            status_filter.props("clearable options-dense").classes("w-48")
            compare = ui.button("Compare selected", icon="compare_arrows").props("outline no-caps color=indigo")
        columns: list[dict[str, Any]] = [
            {"name": "workflow", "label": "Workflow", "field": "workflow", "align": "left"},
            {"name": "ran", "label": "What ran", "field": "ran", "align": "left"},
            {"name": "status", "label": "Status", "field": "status", "align": "left"},
            {"name": "started", "label": "Started", "field": "started", "align": "left"},
            {"name": "duration", "label": "Duration", "field": "duration", "align": "right"},
            {"name": "tokens", "label": "Tokens", "field": "tokens", "align": "right"},
            {"name": "cost", "label": "Cost", "field": "cost", "align": "right"},
            {"name": "id", "label": "Run", "field": "id", "align": "left"},
        ]
        # Paged on the server: a page of runs is read at a time, however long the history.
        pagination = {"page": 1, "rowsPerPage": PAGE_SIZE, "rowsNumber": 0}
        table = ui.table(columns=columns, rows=[], row_key="id", selection="multiple", pagination=pagination)
        table.classes("w-full").props(
            f'flat bordered dense hide-no-data aria-label="Runs" :rows-per-page-options="{PAGE_SIZES}" '
            'rows-per-page-label="Runs per page:"'
        )
        # Quasar's selection checkboxes have no names of their own.
        ui.add_body_html(_NAME_PAGE_SIZE)
        table.add_slot(
            "header-selection",
            '<q-checkbox v-model="props.selected" dense aria-label="Select every run on this page" />',
        )
        table.add_slot(
            "body-selection",
            '<q-checkbox v-model="props.selected" dense :aria-label="\'Select run \' + props.row.id" />',
        )
        table.add_slot(
            "body-cell-status",
            '<q-td :props="props"><span v-if="props.value === \'waiting\'">Waiting for approval '
            '<q-btn dense outline no-caps color="indigo" label="Review" :href="\'/runs/\' + props.row.id" '
            ":aria-label=\"'Review run ' + props.row.id\" /></span><span v-else>{{ props.value }}</span></q-td>",
        )
        table.add_slot(
            "body-cell-id",
            '<q-td :props="props"><a :href="\'/runs/\' + props.value" class="text-indigo-600 underline">'
            "Open run {{ props.value }}</a></q-td>",
        )
        empty = ui.label("No runs match. Start one from the editor, or with `flowdeck run`.").classes(
            "text-sm text-gray-500"
        )
    going: dict[str, RunState] = {}  # the runs shown that are still going, folded as far as read

    async def load(*, keep_selection: bool = False) -> None:
        """The page of runs the table shows, read again (every REFRESH_SECONDS: new runs, status changes)."""
        workflow = workflow_filter.value if workflow_filter.value in names else None
        status = status_filter.value if status_filter.value in STATUSES else None
        asked, size = paging_asked(table.pagination)
        total = await asyncio.to_thread(services.runs.count, workflow=workflow, status=status)
        page = max(1, min(asked, -(-total // size)))  # the last page, if it shrank
        found = await asyncio.to_thread(
            services.runs.recent, limit=size, offset=(page - 1) * size, workflow=workflow, status=status
        )
        await _follow_tokens(services, [r.id for r in found if r.status == "running"], going)
        rows = [_row(r, going.get(r.id)) for r in found]
        paging = {"page": page, "rowsPerPage": size, "rowsNumber": total}
        if keep_selection and rows == table.rows and paging == table.pagination:
            return  # nothing changed: leave the page alone
        table.rows = rows
        table.pagination = paging
        if not keep_selection:
            table.selected = []  # kept across pages and refreshes: two runs to compare may be pages apart
        table.update()
        empty.set_visibility(not total)

    async def turn_page(event: GenericEventArguments) -> None:
        asked = event.args.get("pagination") if isinstance(event.args, dict) else None
        if isinstance(asked, dict):
            page, size = paging_asked(asked)
            table.pagination = {**table.pagination, "page": page, "rowsPerPage": size}
            await load(keep_selection=True)

    def hold_paging(event: ValueChangeEventArguments[Any]) -> None:
        """What a page event set the table's paging to (NiceGUI takes it as sent), held to what the page offers."""
        page, size = paging_asked(table.pagination)
        counted = event.previous_value.get("rowsNumber", 0) if isinstance(event.previous_value, dict) else 0
        table.pagination = {"page": page, "rowsPerPage": size, "rowsNumber": counted}

    def hold_selection() -> None:
        """The runs picked, as sent by the page (NiceGUI keeps the rows it is sent): only their ids, each once."""
        picked: dict[str, dict[str, str]] = {}
        for row in table.selected:
            run_id = row.get("id") if isinstance(row, dict) else None
            if isinstance(run_id, str) and len(run_id) <= MAX_RUN_ID and len(picked) < MAX_SELECTED:
                picked.setdefault(run_id, {"id": run_id})
        table.selected = list(picked.values())

    async def refilter() -> None:
        table.pagination = {**table.pagination, "page": 1}
        await load()

    def open_compare() -> None:
        picked = [row["id"] for row in table.selected]
        if len(picked) != 2:
            ui.notify("Select exactly two runs to compare", type="warning")
            return
        ui.navigate.to("/runs/compare?" + urlencode({"a": picked[0], "b": picked[1]}))

    workflow_filter.on_value_change(refilter)
    status_filter.on_value_change(refilter)
    table.on("request", turn_page)
    table.on_pagination_change(hold_paging)
    table.on_select(hold_selection)
    compare.on_click(open_compare)
    await load()
    ui.timer(REFRESH_SECONDS, lambda: load(keep_selection=True))  # new runs and status changes show up by themselves


# Quasar's page-size select takes no attributes: it is named, each time it is drawn, by the words before it.
_NAME_PAGE_SIZE = """<script>
new MutationObserver(() =>
  document.querySelectorAll(".q-table__select [role=combobox]:not([aria-label])").forEach(
    (box) => box.setAttribute("aria-label", "Runs per page"))
).observe(document.documentElement, {childList: true, subtree: true});
</script>"""


def paging_asked(asked: object) -> tuple[int, int]:
    """The page and page size a page event asks for, held to what the page offers: a size of PAGE_SIZES (else
    the default), a page from 1 on (the last page is found when the runs are counted)."""
    fields = asked if isinstance(asked, dict) else {}
    size, page = fields.get("rowsPerPage"), fields.get("page")
    size = size if type(size) is int and size in PAGE_SIZES else PAGE_SIZE
    page = page if type(page) is int and page >= 1 else 1
    return page, size


async def _follow_tokens(services: Services, run_ids: list[str], going: dict[str, RunState]) -> None:
    """Fold what the runs still going have done since the last look: their tokens are estimated, as in the run
    panel, until their agents finish (providers report usage at the end of each call)."""
    for run_id in list(going):
        if run_id not in run_ids:
            del going[run_id]
    for run_id in run_ids:
        state = going.setdefault(run_id, RunState())
        fold(await asyncio.to_thread(services.runs.events, run_id, state.last_seq), state)


def _row(r: RunSummary, going: RunState | None) -> dict[str, Any]:
    tokens, estimated = going.tokens() if going is not None else (r.prompt_tokens + r.completion_tokens, False)
    return {
        "id": r.id,
        "workflow": r.workflow_name,
        "ran": r.label or "All agents",
        "status": r.status,
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.started_at)),
        "duration": f"{r.duration:.1f} s" if r.duration is not None else "–",
        "tokens": f"~{tokens}" if estimated else f"{tokens}",
        "cost": f"${r.cost:.4f}",
    }


async def run_detail(services: Services, run_id: str) -> LiveRun | None:
    """A recorded run, read-only: live if it is going in this process, else with replay. Returns the LiveRun
    following it, if any (whoever clears the page must stop it)."""
    try:
        summary = await asyncio.to_thread(services.runs.get, run_id)
        events = await asyncio.to_thread(services.runs.events, summary.id)
        if (end := services.runner.unstored_end(summary.id)) is not None:  # its storage failed: the log lags
            events, summary = [*events, end], replace(summary, status="interrupted")
    except FlowdeckError as exc:
        ui.label(str(exc)).classes("p-4 text-negative")
        return None
    first = events[0] if events else None
    if not isinstance(first, RunStarted):
        ui.label(f"Run {run_id} has no recorded events.").classes("p-4 text-negative")
        return None
    workflow = parse_workflow(first.workflow, source=f"the workflow of run {summary.id}")
    model = first.model or workflow.default_model or services.settings.default_model
    with ui.row().classes("w-full items-center gap-3 px-4 py-2 no-wrap"):
        ui.label(f"{workflow.name}").classes("text-base font-semibold")
        ui.label(f"run {summary.id} · read-only").classes("text-sm text-gray-500")
        if first.origin is not None:
            ui.link(f"continues run {first.origin.run_id}", f"/runs/{first.origin.run_id}").classes("text-sm")
        ui.space()
        controls = ui.row().classes("items-center gap-2 no-wrap")
    with (
        ui.splitter(horizontal=True, value=45, limits=(15, 85))
        .classes("w-full")
        .style("height: calc(100vh - 112px)") as splitter
    ):
        with splitter.before:
            canvas = FlowCanvas(
                payload.canvas_nodes(workflow, model), payload.canvas_edges(workflow), dark=chosen_dark(), readonly=True
            )
            canvas.classes("w-full h-full")
        with splitter.after, ui.column().classes("w-full h-full gap-0 no-wrap") as panel:
            view, _ = run_panel(canvas, on_select=lambda node_id: None, files=RunFiles(services))
    panel.props["role"] = "region"
    panel.props["aria-label"] = "Run panel"
    canvas.on_intent("selection_change", lambda a: view.select(_one_agent(a.get("nodes"), workflow)))

    here = summary.id in services.runner.active_runs()
    waiting = summary.status == "waiting"  # a state in the log: decided here, it goes on here
    if here or waiting or services.runner.live_elsewhere(summary):
        with controls:
            badge = ui.label("Live").classes("text-sm text-positive font-semibold")
            if not here and not waiting:
                ui.label("started by another process").classes("text-sm text-gray-500")
            cancel = ui.button("Cancel run", icon="stop").props("dense flat no-caps color=negative")
            cancel.set_visibility(can_edit())  # a run another process drives is asked to stop there

        def changed() -> None:
            status = live.state.status
            if status == "waiting":
                badge.set_text("Waiting for approval")
            elif not live.running and status not in ("pending", "running"):
                badge.set_text("Finished")
                badge.classes(remove="text-positive", add="text-gray-500")
                cancel.set_visibility(False)
            elif status == "running":
                badge.set_text("Live")

        live = LiveRun(services.runner, lambda: view, changed, lambda: None)
        cancel.on_click(live.cancel)
        canvas.on_intent("approval_review", lambda a: live.review(a.get("id")))  # refused there for a viewer
        live.watch(summary.id)
        return live

    async def resume(button: ui.button) -> None:
        if not can_edit():
            return
        button.props("loading")  # the models may take seconds to get ready (the first run after a start)
        try:
            new_id = await services.runner.resume(summary.id)
        except FlowdeckError as exc:
            button.props(remove="loading")
            show_refusal(f"Not resumed: {exc}")
            return
        ui.navigate.to(f"/runs/{new_id}")

    with controls:
        if summary.status in ("interrupted", "failed", "cancelled"):
            stopped = fold(events)
            if stopped.interrupted_nodes:
                names = ", ".join(stopped.labels.get(n, n) for n in stopped.interrupted_nodes)
                ui.label(
                    f"Interrupted while {names} {'was' if len(stopped.interrupted_nodes) == 1 else 'were'} working"
                )
            if stopped.interrupted_reason:
                ui.label(stopped.interrupted_reason).classes("text-negative")
            if can_edit():
                ui.button("Resume", icon="restart_alt", on_click=lambda e: resume(e.sender)).props(
                    "dense outline no-caps color=indigo"
                ).tooltip("Run the agents that have no output yet; the others keep theirs (no model call is repeated)")
        if can_edit():
            ui.button("Open in editor", icon="edit_note", on_click=lambda: ui.navigate.to(f"/?run={summary.id}")).props(
                "dense outline no-caps color=indigo"
            ).tooltip(
                "Its workflow as it ran, as a new workflow, with this run on it: edit an agent, then Run from here"
            )
        Replay(view, events).controls()
    return None


def _one_agent(picked: object, workflow: Workflow) -> str | None:
    """The first agent of a selection the canvas sent, if it is one of the workflow's."""
    first = next(iter(picked), None) if isinstance(picked, list) else None
    return first if isinstance(first, str) and first in {node.id for node in workflow.nodes} else None
