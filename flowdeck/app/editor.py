"""The editor page: palette, canvas, properties panel and toolbar around one Document per browser tab."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any

from fastapi.responses import RedirectResponse
from nicegui import ui

from flowdeck.app import landmarks
from flowdeck.app.account import can_edit
from flowdeck.app.document import Document
from flowdeck.app.draft import write_draft
from flowdeck.app.edge_panel import edge_panel
from flowdeck.app.keys_dialog import keys_dialog
from flowdeck.app.live import LiveRun
from flowdeck.app.loop_dialog import loop_dialog
from flowdeck.app.model_options import ModelChoices, model_choices
from flowdeck.app.opening import Opening
from flowdeck.app.pin_dialog import pin_output
from flowdeck.app.run_files import RunFiles
from flowdeck.app.run_view import RunView, run_panel
from flowdeck.app.shortcut_list import shortcut_list
from flowdeck.app.theme import page_theme, remember
from flowdeck.app.toolbar import toolbar
from flowdeck.components.canvas import FlowCanvas, payload
from flowdeck.components.notices import notify_done
from flowdeck.components.palette import palette
from flowdeck.components.properties import properties
from flowdeck.components.shortcuts import SHORTCUT_COMMANDS, Shortcuts
from flowdeck.engine.state import RunState
from flowdeck.engine.workflow import Edge, Workflow
from flowdeck.errors import EditRefused, FlowdeckError
from flowdeck.services import Services
from flowdeck.storage.workflows import new_workflow_id
from flowdeck.templates import load_template

FIRST_TEMPLATE = "research-code-review"
DRAFT_SECONDS = 0.5


def register_pages(services: Services, *, startup_workflow: Workflow | None = None) -> None:
    """Add the editor at / to the NiceGUI app."""
    startup_id = new_workflow_id()  # the startup workflow is one workflow for as long as the app runs

    @ui.page("/")
    async def editor_page(run: str = "") -> RedirectResponse | None:
        if not can_edit():
            return RedirectResponse("/runs", status_code=303)  # viewers watch runs; they do not edit
        await Editor(services).build(startup_workflow, startup_id, from_run=run[:64] or None)
        return None


class Editor(Opening):
    """One browser tab's editor. Python owns the workflow; the canvas gets patches."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.doc = Document(
            workflow=load_template(FIRST_TEMPLATE),
            app_model=services.settings.default_model,
            in_use=lambda: self.live.state.nodes,
        )
        # The workflow's identity, which its runs belong to (engine/identity.py): the id it is saved under, or, while
        # it is not saved, the id it will be saved under. So a new workflow from a template, a file or a draft has
        # runs of its own, and keeps them when it is saved.
        self.workflow_id = new_workflow_id()
        self.selected: str | None = None
        self.selected_edge: str | None = None  # a connection selected alone: the panel edits its condition
        self.selection: list[str] = []
        self.clipboard: tuple[list[Any], list[Any]] = ([], [])
        self._draft_due = False
        self.from_run: str | None = None
        self.canvas: FlowCanvas
        self.live: LiveRun
        self.models = ModelChoices({})
        self.cancel_button: ui.button | None = None
        self._panel_run_changed: Callable[[], None] | None = None

    async def build(self, startup: Workflow | None, startup_id: str, *, from_run: str | None = None) -> None:
        """The page; `from_run`: open that past run's workflow (?run=<id>, a run page's "Open in editor")."""
        await self._load_initial(startup, startup_id)
        self.models = await model_choices(self.services.settings, self.services.keys)
        ui.query(".nicegui-content").classes("p-0 gap-0")
        self.host = ui.element()  # where the editor's own questions are made: never inside a dialog that closes
        dark = page_theme()
        self.bar = toolbar(self, dark)
        with ui.left_drawer(value=True, bordered=True).props("width=240").classes("gap-2 p-3"):
            palette(self.add_node)
        with ui.right_drawer(value=True, bordered=True).props("width=340").classes("p-3"):
            self.panel = ui.column().classes("w-full gap-2")
        landmarks.name_drawers(left="Agents", right="Properties")
        with (
            ui.splitter(horizontal=True, value=100, limits=(15, 100))
            .classes("w-full")
            .style("height: calc(100vh - 64px)") as self.splitter
        ):
            with self.splitter.before, ui.column().classes("w-full h-full gap-0 no-wrap"):
                refusals = ui.column().classes("w-full gap-0")  # a refused start says why here, over no control
                self.canvas = FlowCanvas(
                    payload.canvas_nodes(self.doc.workflow, self.doc.default_model),
                    payload.canvas_edges(self.doc.workflow),
                    dark=bool(dark.value),
                )
                self.canvas.classes("w-full grow").style("min-height: 0")
            with self.splitter.after:
                # Built when a run is first shown (_run_panel): a page that only edits does not mount the panel
                # (~0.2 s of the page's first load here).
                self.run_panel = ui.column().classes("w-full h-full gap-0 no-wrap")
        self.run_panel.props.update(role="region")
        self.run_panel.props["aria-label"] = "Run panel"
        self.canvas.on_intent("node_added", lambda a: self.add_node(str(a.get("type")), a.get("x"), a.get("y")))
        self.canvas.on_intent("edge_connected", lambda a: self.connect(str(a.get("source")), str(a.get("target"))))
        self.canvas.on_intent("nodes_moved", self._moved)
        self.canvas.on_intent("deleted", self._deleted)
        self.canvas.on_intent("selection_change", self._selection)
        self.canvas.on_intent("approval_review", lambda a: self.live.review(a.get("id")))  # a waiting card's Review…
        pin = partial(pin_output, self)
        self.live = LiveRun(
            self.services.runner,
            self._run_panel,
            self._run_changed,
            lambda: self.doc.workflow,
            pin,
            identity=lambda: self.workflow_id,
            refusals=refusals,
        )
        self._run_changed()
        Shortcuts(**{command: getattr(self, command) for command in SHORTCUT_COMMANDS})  # each the method so named
        self._refresh()
        ui.timer(DRAFT_SECONDS, self._write_draft)
        # A run of this workflow still going (the page was reloaded, or opened in a second browser): shown in the
        # page itself, so that the agents' states are there when the canvas first draws.
        with self.canvas.preloading():
            self.live.watch_active(self.workflow_id)
        await ui.context.client.connected()
        restored = startup is None and await self._restore_draft()
        if from_run is not None:
            ui.run_javascript("history.replaceState(null, '', '/')")  # a reload shows the draft, not a second fork
            if await self.open_run(from_run):
                return
        if restored:
            return  # the draft shown brings its own workflow's runs (_show)
        await self._show_runs()  # no run going: the last one

    def _run_panel(self) -> RunView:
        with self.run_panel:
            view, self.cancel_button = run_panel(
                self.canvas,
                title="Run",
                on_select=self._select_from_panel,
                on_cancel=self.live.cancel,
                files=RunFiles(self.services),
            )
        view.name_of = self.doc.name
        return view

    async def _show_runs(self) -> None:
        with self.run_panel:
            await self.live.show_latest(self.workflow_id, fallback=self.from_run)

    # -- intents and commands ---------------------------------------------------------------------------

    def add_node(self, agent_type: str, x: Any = None, y: Any = None) -> None:
        dropped = isinstance(x, int | float) and isinstance(y, int | float)
        if not dropped:
            x, y = self.doc.free_spot()
        try:
            node = self.doc.add_node(agent_type, float(x), float(y))
        except EditRefused as exc:
            ui.notify(str(exc), type="warning")
            return
        self.canvas.patch(payload.add_node(payload.canvas_node(node, self.doc.default_model)))
        if not dropped:
            self.canvas.patch(payload.reveal(node.position.x, node.position.y))
        self.selected = node.id
        self._refresh()

    def connect(self, source: str, target: str) -> None:
        """A connection drawn on the canvas; one back to an earlier agent asks how the loop it makes repeats."""
        if self.doc.needs_loop(source, target):
            with self.host:
                loop_dialog(self.doc, source, target, self._edge_added)
            return
        try:
            edge = self.doc.connect(source, target)
        except EditRefused as exc:
            ui.notify(f"Connection refused: {exc}", type="warning")
            return
        self._edge_added(edge)

    def _edge_added(self, edge: Edge) -> None:
        self.canvas.patch(payload.add_edge(self._canvas_edge(edge)))
        self._refresh()

    def _edge_changed(self, edge: Edge) -> None:
        self.canvas.patch(payload.update_edge(self._canvas_edge(edge)))
        self._refresh(panel=False)  # the cursor stays in the field it was in

    def _canvas_edge(self, edge: Edge) -> payload.CanvasEdge:
        return payload.canvas_edge(edge, {end: self.doc.name(end) for end in (edge.source, edge.target)})

    def undo(self) -> None:
        self._restore(self.doc.undo)

    def redo(self) -> None:
        self._restore(self.doc.redo)

    async def save(self) -> None:
        # Every field has applied its value by now: each keystroke reached the server before the click or key.
        workflow = self.doc.workflow
        try:
            self.workflow_id = await asyncio.to_thread(
                self.services.workflows.save, workflow, workflow_id=self.workflow_id
            )
        except FlowdeckError as exc:
            ui.notify(f"Not saved: {exc}", type="negative")
            return
        self.doc.saved = workflow
        self._draft_due = False
        write_draft(None, None)
        notify_done(f"Saved “{workflow.name}”")
        self._refresh(panel=False)  # the cursor stays in the field it was in

    def run(self) -> None:
        workflow = self.doc.workflow
        agents = [(self.doc.name(n.id), n.config.model or self.doc.default_model) for n in workflow.nodes]
        self.live.ask(workflow, self.models.suggestions, agents=agents, problem=self._model_problem)

    def _model_problem(self, model: str) -> str | None:
        """What the Model box would say of this model: a provider nobody knows, or a key it needs."""
        if (unknown := self.models.unknown_provider(model)) is not None:
            return unknown
        if (missing := self.models.missing_key(model)) is not None:
            return f"{model} needs {missing.variable}, the {missing.label} API key (⋮ → API keys…): it would be refused"
        return None

    def _run_changed(self) -> None:
        running = self.live.running
        self.bar.run_button.set_enabled(not running)
        if self.cancel_button is not None:
            self.cancel_button.set_visibility(self.live.cancellable)
        if (running or self.live.run_id is not None) and self.splitter.value >= 100:
            self.splitter.set_value(58)  # open the run panel the first time a run is shown
            ui.timer(0.3, lambda: self.canvas.patch(payload.fit()), once=True)
        elif self.live.run_id is None and not running and self.splitter.value < 100:
            self.splitter.set_value(100)  # the workflow shown has no run (or its first start was refused)
            ui.timer(0.3, lambda: self.canvas.patch(payload.fit()), once=True)  # the agents fill the room given back
        if self.live.shown:
            self.live.view.select(self.selected)
        if self._panel_run_changed is not None:
            self._panel_run_changed()  # the prompt's preview shows the run's values

    def _select_from_panel(self, node_id: str) -> None:
        self.canvas.patch(payload.select([node_id]))
        self.selected = node_id
        self.selection = [node_id]
        self._refresh_panel()

    def paste(self) -> None:
        if not self.clipboard[0]:
            return
        added = self.doc.paste(*self.clipboard)
        self.canvas.patch(*[payload.add_node(payload.canvas_node(n, self.doc.default_model)) for n in added])
        new_ids = {n.id for n in added}
        self.canvas.patch(
            *[payload.add_edge(e) for e in payload.canvas_edges(self.doc.workflow) if e["source"] in new_ids],
            payload.select(sorted(new_ids)),
        )
        # Pasting again pastes next to the copies, not on top of them.
        self.clipboard = (added, [e for e in self.doc.workflow.edges if e.source in new_ids])
        self._refresh()

    def layout(self) -> None:
        """Arrange the agents (dagre, in the canvas: it knows each card's size); the canvas sends the new
        positions back as one move, which Undo reverts."""
        self.canvas.patch(payload.layout())

    def export(self) -> None:
        workflow = self.doc.workflow
        filename = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in workflow.name.lower()).strip("-")
        ui.download.content(workflow.to_json(), f"{filename or 'workflow'}.json", "application/json")

    async def save_as_template(self) -> None:
        workflow = self.doc.workflow
        await asyncio.to_thread(self.services.workflows.save, workflow, is_template=True)
        notify_done(f"“{workflow.name}” is now one of your templates")

    # -- handlers -----------------------------------------------------------------------------------------

    def _moved(self, args: dict[str, Any]) -> None:
        positions = {
            str(item["id"]): (float(item["x"]), float(item["y"]))
            for item in args.get("nodes", [])
            if isinstance(item, dict)
            and isinstance(item.get("x"), int | float)
            and isinstance(item.get("y"), int | float)
        }
        if positions:
            self.doc.move(positions)
            self._refresh(panel=False)

    def _deleted(self, args: dict[str, Any]) -> None:
        nodes, edges = self.doc.delete(set(map(str, args.get("nodes", []))), set(map(str, args.get("edges", []))))
        if edges:
            self.canvas.patch(payload.remove_edges(sorted(edges)))
        if nodes:
            self.canvas.patch(payload.remove_nodes(sorted(nodes)))
        if self.selected in nodes:
            self.selected = None
        if self.selected_edge in edges:
            self.selected_edge = None
        self._refresh()

    def _selection(self, args: dict[str, Any]) -> None:
        nodes = [str(n) for n in args.get("nodes", [])]
        edges = [str(e) for e in args.get("edges", [])]
        self.selection = nodes
        selected = nodes[0] if len(nodes) == 1 else None
        edge = edges[0] if len(edges) == 1 and not nodes else None
        if selected != self.selected or edge != self.selected_edge:
            self.selected = selected
            self.selected_edge = edge
            self._refresh_panel()
            if selected is not None and self.live.run_id is not None:
                self.live.view.tabs.set_value("Inspector")  # what this agent did in the run shown

    def _edit(self, node_id: str, changes: dict[str, Any]) -> None:
        label = changes.pop("label", None)
        shown = payload.canvas_node(self.doc.workflow.node(node_id), self.doc.default_model)
        node = self.doc.update_node(node_id, label=label, **changes)
        card = payload.canvas_node(node, self.doc.default_model)
        if card != shown:  # a prompt typed changes nothing the card shows
            self.canvas.patch(payload.update_node(card))
        self._refresh(panel=False)

    def rename(self, name: str) -> None:
        """The workflow's name as typed (each keystroke); an empty or too long one is shown as refused."""
        if name.strip() == self.doc.workflow.name:
            self.bar.show_name_error(None)
            return
        try:
            self.doc.rename(name)
        except EditRefused as exc:
            self.bar.show_name_error(str(exc))
            return
        self.bar.show_name_error(None)
        self._refresh(panel=False)

    def name_left(self) -> None:
        """Leaving the name field with a name refused puts the workflow's name back, and says so."""
        name = self.doc.workflow.name
        if (self.bar.name.value or "").strip() != name:
            ui.notify(f"{self.bar.name.error or 'Name refused'}: it stays “{name}”", type="warning")
            self.bar.name.set_value(name)

    def copy(self) -> None:
        if self.selection:
            self.clipboard = self.doc.copy(set(self.selection))

    def _restore(self, step: Any) -> None:
        before = self.doc.workflow
        if step():
            self.changed_since(before)

    def changed_since(self, before: Workflow) -> None:
        """Bring the canvas, the name and the panel up to the document after a change of more than one agent."""
        self.canvas.patch(*payload.patches_between(before, self.doc.workflow, self.doc.app_model))
        self.bar.name.set_value(self.doc.workflow.name)
        if self.selected not in {n.id for n in self.doc.workflow.nodes}:
            self.selected = None
        self._refresh()

    def shortcuts(self) -> None:
        with self.host:
            shortcut_list()

    async def keys(self, focus: str | None = None) -> None:
        """⋮ → API keys…; the Model box's suggestions and hints follow each key saved or removed."""
        with self.host:
            await keys_dialog(self.services.keys, self._keys_changed, focus)

    async def _keys_changed(self) -> None:
        self.models = await model_choices(self.services.settings, self.services.keys)
        self._refresh_panel()

    def toggle_theme(self, dark: Any) -> None:
        dark.toggle()
        remember(bool(dark.value))
        self.canvas.patch(payload.theme(bool(dark.value)))

    # -- helpers -------------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Show what changed in the workflow (save state, draft, properties panel)."""
        self._refresh()

    def _refresh(self, panel: bool = True) -> None:
        self.bar.show_save_state(self.doc.save_state)
        self._draft_due = True
        if panel:
            self._refresh_panel()

    def _last_run(self) -> RunState | None:
        """The run shown with the workflow (its latest, or the one going on), if there is one."""
        return self.live.state if self.live.run_id is not None else None

    def _refresh_panel(self) -> None:
        self.panel.clear()
        if self.selected is None and self.selected_edge is not None:
            with self.panel:
                edge_panel(self.doc, self.selected_edge, self._edge_changed)
            return
        with self.panel:
            self._panel_run_changed = properties(
                self.doc, self.selected, self.models, self._edit, self.keys, self._last_run
            )
        if self.live.shown and self.live.view.selected != self.selected:
            self.live.view.select(self.selected)
