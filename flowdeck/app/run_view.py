"""Everything shown about one run, folded from its events: canvas status and handoffs, progress, and the
run panel's tabs (Output, Log, Handoffs, Timeline, Inspector, Artifacts, Side effects).

The live editor, a page reloaded mid-run, and the replay of a past run all feed events into a RunView;
it keeps no state that the events do not have (RunState is the one reducer).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from nicegui import ui

from flowdeck.app.file_tabs import FileTabs
from flowdeck.app.run_files import RunFiles
from flowdeck.app.run_rounds import RoundBounds
from flowdeck.components import handoffs, log, outputs, timeline
from flowdeck.components.boundary import Boundary
from flowdeck.components.canvas import FlowCanvas, payload
from flowdeck.components.handoffs import HandoffsTab
from flowdeck.components.inspector import NodeAction, inspector
from flowdeck.components.log import LogView, as_text, log_line
from flowdeck.components.outputs import OutputsTab
from flowdeck.components.timeline import TimelineTab
from flowdeck.engine.events import Event, Handoff, NodeFailed, NodeFinished, NodeSkipped, NodeStarted, RunStarted
from flowdeck.engine.state import TERMINAL_NODE, RunState

Actions = Callable[[str, RunState], list[NodeAction]]
TIMELINE_SECONDS = 1.0
STATUS_CHARS = 400


def add_run_panel_styles() -> None:
    """The style sheets of the run panel's parts, for every page. The editor builds its run panel after the
    page has loaded (when a run is first shown); a style sheet added then would reach only later pages."""
    for add in (log.add_styles, outputs.add_styles, handoffs.add_styles, timeline.add_styles):
        add()


def run_panel(
    canvas: FlowCanvas,
    *,
    on_select: Callable[[str], None],
    title: str | None = None,
    on_cancel: Callable[[], object] | None = None,
    files: RunFiles | None = None,
) -> tuple[RunView, ui.button | None]:
    """Build the run panel's content where the caller is: a header line (progress, elapsed time, tokens, and a
    Cancel button when `on_cancel` is given) above the RunView's tabs. `files`: where the Artifacts and Side effects
    tabs read what the events lack (without it they show the events' alone)."""
    cancel = None
    with Boundary("row").classes("w-full items-center gap-3 no-wrap px-2 pt-1"):  # updated at each flush
        if title:
            ui.label(title).classes("text-sm font-semibold")
        kind = ui.label("").classes("text-sm font-medium text-indigo-500 whitespace-nowrap")
        progress = ui.label("").classes("text-sm whitespace-nowrap")
        bar = ui.linear_progress(value=0, show_value=False).classes("w-40")
        bar.props('rounded animation-speed=150 aria-label="Run progress"')
        if on_cancel is not None:
            ui.space()
            cancel = ui.button("Cancel run", icon="stop", on_click=on_cancel)
            cancel.props("dense flat no-caps color=negative")
    approvals = ui.column().classes("w-full gap-0")  # the approvals the run waits for (app/approval.py)
    view = RunView(canvas, progress, bar, kind=kind, on_select=on_select, files=files)
    view.approvals_slot = approvals
    return view, cancel


class RunView:
    """Build it inside the run panel's container (see run_panel); feed() events, flush() at most every ~50 ms."""

    def __init__(
        self,
        canvas: FlowCanvas,
        progress: ui.label,
        bar: ui.linear_progress,
        *,
        on_select: Callable[[str], None],
        kind: ui.label | None = None,
        actions: Actions | None = None,
        files: RunFiles | None = None,
    ) -> None:
        self.canvas = canvas
        self.progress = progress
        self.bar = bar
        self.kind = kind  # what a partial run is, e.g. "Only Coder"
        self.on_select = on_select
        self.actions = actions
        self.name_of: Callable[[str], str] | None = None  # names of agents the run shown did not have (the editor's)
        self.approvals_slot: ui.element | None = None  # where the cards of approvals that wait go (run_panel's)
        self.state = RunState()
        self.labels: dict[str, str] = {}
        self.selected: str | None = None
        self.animate = True
        self.recorded = False  # a replay: its clock is the last event shown, not the time of day
        self._changed: set[str] = set()
        self._lines: list[dict[str, Any]] = []
        self._delivered: dict[str, int] = {}
        self._rounds = RoundBounds()
        self._edges_changed: set[str] = set()
        self._timeline_due = False
        self._timeline_at = 0.0
        self._since: float | None = None  # the time of the oldest event not yet shown
        # Only the tab in view is kept up to date; the others catch up when shown (the Log always is).
        self._tab = "Output"
        self._outputs_due: set[str] = set()
        with ui.tabs(on_change=lambda e: self._show_tab(e.value)).props(
            "dense inline-label align=left no-caps"
        ) as tabs:
            self.tabs = tabs.classes("w-full")
            self.output_tab = ui.tab("Output", icon="article")
            self.log_tab = ui.tab("Log", icon="list")
            self.handoffs_tab = ui.tab("Handoffs", icon="swap_horiz")
            self.timeline_tab = ui.tab("Timeline", icon="view_timeline")
            self.inspector_tab = ui.tab("Inspector", icon="manage_search")
            self.artifacts_tab = ui.tab("Artifacts", icon="folder_open")
            self.effects_tab = ui.tab("Side effects", icon="history_edu")
        # Panels stay in the page while hidden (not Quasar's tab panels, which mount only the active one):
        # the log receives its lines whether or not it is being looked at. Each is a Boundary: a card that
        # changes re-renders its own panel, not the others.
        area = "w-full grow p-2 overflow-auto"
        with Boundary().classes(area).style("min-height: 0") as output_panel:
            self.outputs = OutputsTab()
        log_panel = self._log_panel = Boundary().classes("w-full grow p-2 gap-1 no-wrap").style("min-height: 0")
        self._log: LogView | None = None  # made when the Log tab is first shown (its filters cost ~0.1 s)
        self.log_lines: list[dict[str, Any]] = []  # every line so far: the download, and the Log when made
        with Boundary().classes(area).style("min-height: 0") as handoffs_panel:
            self.handoffs = HandoffsTab(self._pick_handoff)
        with Boundary().classes(area).style("min-height: 0") as timeline_panel:
            self.timeline = TimelineTab()
        with Boundary().classes(area).style("min-height: 0") as inspector_panel:
            self.inspector = ui.column().classes("w-full gap-1")
        with Boundary().classes(area).style("min-height: 0") as artifacts_panel:
            self.file_tabs = FileTabs(files, lambda: (self.state, self.labels))
        with Boundary().classes(area).style("min-height: 0") as effects_panel:
            self.file_tabs.build_effects()
        self._panels = {
            "Output": output_panel,
            "Log": log_panel,
            "Handoffs": handoffs_panel,
            "Timeline": timeline_panel,
            "Inspector": inspector_panel,
            "Artifacts": artifacts_panel,
            "Side effects": effects_panel,
        }
        for panel in self._panels.values():
            panel.props["role"] = "tabpanel"
        self.tabs.set_value("Output")
        self._show_tab("Output")
        self._show_inspector()

    # -- events in ----------------------------------------------------------------------------------

    def reset(self) -> None:
        self.state = RunState()
        if self.kind is not None:
            self.kind.set_text("")
        self._since = None
        self.labels = {}
        self._changed.clear()
        self._outputs_due.clear()
        self._lines = []
        self.log_lines = []
        self._delivered = {}
        self._rounds = RoundBounds()
        self._edges_changed.clear()
        self.canvas.patch(payload.clear_status())
        if self._log is not None:
            self._log.reset()
        self.outputs.reset({})
        self.handoffs.reset({}, None)
        self.timeline.reset({})
        self.file_tabs.due("Artifacts", "Side effects")
        self.file_tabs.refresh(self._tab, self._refresh_tab)  # emptied, if one of them is in view
        self._show_inspector()

    def feed(self, events: Iterable[Event]) -> None:
        for event in events:
            if event.seq <= self.state.last_seq:
                continue  # already shown: a watcher that re-attaches never duplicates a line
            self.state.apply(event)
            if isinstance(event, RunStarted):
                self._started(event)
            node_id = getattr(event, "node_id", None)
            if node_id is not None:
                self._changed.add(node_id)
            if isinstance(event, Handoff):
                self._delivered[event.edge_id] = self._delivered.get(event.edge_id, 0) + 1
                self._edges_changed.add(event.edge_id)
            if isinstance(event, NodeStarted | NodeFinished | NodeFailed | NodeSkipped):
                self._timeline_due = True
            self.file_tabs.saw(event)
            self._lines.append(log_line(event, self.labels, self.state.started_at))
            if self._since is None:
                self._since = event.ts

    def flush(self, *, panels: bool = True) -> None:
        """Send what changed since the last flush: one canvas patch, new log lines, changed cards. Without
        `panels`, only the canvas and the progress: the rest waits for the next flush."""
        changed, self._changed = self._changed, set()
        patches: list[payload.Patch] = []
        updates = {n: self._status(n) for n in changed}
        if self._edges_changed:
            delivered = {edge: self._delivered[edge] for edge in self._edges_changed}
            patches.append(payload.handoffs(delivered, self.animate))
            self._edges_changed.clear()
            for edge, count in delivered.items():  # a loop edge taken shows the round it sent the work into
                if (marks := self._rounds.edge_round(edge, count)) is not None:
                    updates[f"edge:{edge}"] = {"state": "delivered", "text": "", **marks}
        if updates:
            patches.append(payload.status(updates, self._since))
        self._since = None
        self.canvas.patch(*patches)
        self._outputs_due |= changed
        if not panels:
            self.show_progress()
            return
        lines, self._lines = self._lines, []
        self.log_lines.extend(lines)
        if self._log is not None:
            self._log.append(lines)
        self._refresh_tab(inspected=self.selected in changed)
        self.show_progress()

    def _refresh_tab(self, *, inspected: bool = True) -> None:
        """Bring the tab in view up to date."""
        if self._tab == "Output":
            self.outputs.update(self.state, self._outputs_due)
            self._outputs_due.clear()
        elif self._tab == "Handoffs":
            self.handoffs.update(self.state.handoffs, self.state)
        elif self._tab == "Timeline":
            running = self.state.status in ("pending", "running", "waiting")
            now = time.monotonic()
            if self._timeline_due or (running and now - self._timeline_at >= TIMELINE_SECONDS):
                self._timeline_due = False
                self._timeline_at = now
                self.timeline.update(self.state)
        elif self._tab == "Inspector" and inspected:
            self._show_inspector()
        elif self._tab in ("Artifacts", "Side effects"):
            self.file_tabs.refresh(self._tab, self._refresh_tab)

    # -- selection and inspector ------------------------------------------------------------------

    def select(self, node_id: str | None) -> None:
        self.selected = node_id
        if self._tab == "Inspector":
            self._show_inspector()

    def _pick_handoff(self, handoff: Handoff) -> None:
        self.on_select(handoff.target)
        self.select(handoff.target)
        self.tabs.set_value("Inspector")

    def _show_tab(self, name: object) -> None:
        for key, panel in self._panels.items():
            panel.set_visibility(key == name)
        self._tab = str(name)
        self._timeline_due = True
        self.file_tabs.due("Artifacts", "Side effects")
        self._refresh_tab()
        # A hidden list is neither re-rendered nor scrolled; shown again, it catches up and follows the newest.
        if name == "Log":
            self._log_view().run_method("reveal")
        elif self._log is not None:
            self._log.run_method("conceal")

    def _show_inspector(self) -> None:
        self.inspector.clear()
        with self.inspector:
            if self.selected is None or self.state.run_id == "":
                ui.label("Select an agent on the canvas, or a handoff, to inspect what it received and did.").classes(
                    "text-sm text-gray-500"
                )
                return
            node = self.state.nodes.get(self.selected)
            actions = self.actions(self.selected, self.state) if self.actions and node else []
            name = self.labels.get(self.selected) or (self.name_of or str)(self.selected)
            inspector(name, node, actions, self.labels)

    def download_log(self) -> None:
        name = f"run-{self.state.run_id or 'log'}.log"
        ui.download.content(as_text(self.log_lines), name, "text/plain")

    def _log_view(self) -> LogView:
        if self._log is None:
            with self._log_panel:
                self._log = LogView().classes("w-full grow").style("min-height: 0")
                ui.button("Download log", icon="download", on_click=self.download_log).props("flat dense no-caps")
            self._log.append(self.log_lines)
        return self._log

    def upstream(self, node_id: str) -> frozenset[str]:
        """The agents upstream of this one in the run's workflow."""
        return self.state.upstream(node_id)

    # -- helpers ----------------------------------------------------------------------------------

    def _started(self, event: RunStarted) -> None:
        self.labels = {node_id: self.state.labels.get(node_id, node_id) for node_id in event.node_ids}
        self._rounds = RoundBounds.of(event.workflow)
        if self.kind is not None:
            self.kind.set_text(self.state.label)
        self._changed.update(event.node_ids)
        self.outputs.reset(self.labels)
        self.handoffs.reset(self.labels, event.ts)
        self.timeline.reset(self.labels)

    def _status(self, node_id: str) -> payload.NodeStatus:
        node = self.state.nodes.get(node_id)
        if node is None or node.status == "queued":
            if self.state.ran and node_id not in self.state.ran and node_id not in self.state.reused:
                return {"state": "skipped", "text": "not part of this partial run"}  # from its start, not its end
            if node is None:
                return {"state": "queued", "text": "queued"}
        # The card shows a line of it and the rest on hover: a provider's error, with what to do, in full.
        # tool_calls always: the card of an agent whose new round has made no call yet loses the last round's badge
        calls = len(node.latest.tool_calls) if node.latest is not None else 0
        marks = self._rounds.agent_round(node, node_id)
        return {"state": node.status, "text": node.summary()[:STATUS_CHARS], "tool_calls": calls, **marks}

    def show_progress(self) -> None:
        """The header line: the run's status, its agents' progress, time, tokens and cost."""
        state = self.state
        self.progress.set_text(progress_text(state, state.last_ts if self.recorded else None))
        total = len(state.ran)
        # Going: how far it has got. Ended: how much of it succeeded (a run cancelled at 0/3 is not a full bar).
        ended = state.status not in ("pending", "running", "waiting")
        counted = ("succeeded",) if ended else TERMINAL_NODE
        done = sum(1 for n in state.ran if n in state.nodes and state.nodes[n].status in counted)
        self.bar.set_value(done / total if total else 0)


_ENDED = (("failed", "failed"), ("cancelled", "cancelled"), ("interrupted", "interrupted"), ("skipped", "skipped"))


def progress_text(state: RunState, now: float | None = None) -> str:
    """E.g. "Running: 1/3 agents done · 2.1 s · ~310 tokens", "Failed: 1/3 agents succeeded, 1 failed, 1 skipped
    · 4.0 s · 512 tokens · ended 14:02". Only the agents the run executes count: a partial run's reused agents
    are a number apart. Tokens marked ~ are estimated from the text streamed so far."""
    counts: Counter[str] = Counter(state.nodes[n].status if n in state.nodes else "queued" for n in state.ran)
    total = len(state.ran)
    agents = f"{total} agent" if total == 1 else f"{total} agents"
    if state.status in ("pending", "running", "waiting"):
        done = sum(counts[status] for status in TERMINAL_NODE)
        head = f"{'Starting' if state.status == 'pending' else state.status.capitalize()}: {done}/{agents} done"
        latest = max((len(node.executions) for node in state.nodes.values()), default=1)
        head += f" · round {latest}" if latest > 1 else ""  # "2/3 done" alone reads as stuck while a loop goes on
    elif state.status == "succeeded" and counts["succeeded"] == total:
        head = f"Succeeded: {total}/{agents}"
        stopped = next((log.text.split(":")[0] for log in state.logs if log.text.startswith("stopped after ")), None)
        head += f" · a loop {stopped}" if stopped else ""  # went on without the verdict it looped for: say so
    else:
        others = [f", {counts[status]} {word}" for status, word in _ENDED if counts[status]]
        unstarted = total - counts["succeeded"] - sum(counts[status] for status, _ in _ENDED)
        others += [f", {unstarted} not started"] if unstarted else []
        head = f"{state.status.capitalize()}: {counts['succeeded']}/{agents} succeeded{''.join(others)}"
    reused = f" · {len(state.reused)} reused" if state.reused else ""
    elapsed = state.duration
    if elapsed is None and state.started_at is not None:
        elapsed = (state.finished_at or now or time.time()) - state.started_at
    tokens, estimated = state.tokens()
    cost = f" · ${state.cost:.4f}" if state.cost else ""
    ended = f" · ended {_when(state.finished_at)}" if state.finished_at is not None else ""
    return f"{head}{reused} · {elapsed or 0:.1f} s · {'~' if estimated else ''}{tokens} tokens{cost}{ended}"


def _when(ts: float) -> str:
    """A time of day, with the date unless it is today (a page may show a run of days ago: the last one)."""
    moment = time.localtime(ts)
    return time.strftime("%H:%M" if moment[:3] == time.localtime()[:3] else "%Y-%m-%d %H:%M", moment)
