"""The editor page: palette, canvas, properties panel and toolbar around one Document per browser tab."""

from __future__ import annotations

import asyncio
from typing import Any

from nicegui import ui

from flowdeck.components.canvas import FlowCanvas
from flowdeck.components.palette import palette
from flowdeck.components.properties import properties
from flowdeck.document import Document, EditRefused
from flowdeck.engine.workflow import Workflow
from flowdeck.errors import FlowdeckError
from flowdeck.services import Services
from flowdeck.templates import load_template, template_names

FIRST_TEMPLATE = "research-code-review"


def register_pages(services: Services, *, startup_workflow: Workflow | None = None) -> None:
    """Add the editor at / to the NiceGUI app."""

    @ui.page("/")
    async def editor_page() -> None:
        await Editor(services).build(startup_workflow)


class Editor:
    """One browser tab's editor. Python owns the workflow; the canvas gets patches."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.doc = Document(workflow=load_template(FIRST_TEMPLATE), default_model=services.settings.default_model)
        self.workflow_id: str | None = None
        self.selected: str | None = None
        self.canvas: FlowCanvas

    async def build(self, startup: Workflow | None) -> None:
        await self._load_initial(startup)
        ui.query(".nicegui-content").classes("p-0 gap-0")
        dark = ui.dark_mode(False)
        with ui.header().classes("items-center gap-3 bg-slate-900 py-2"):
            ui.label("flowdeck").classes("text-lg font-bold")
            self.name = (
                ui.input("Workflow name", value=self.doc.workflow.name).props("dense dark standout").classes("w-72")
            )
            self.name.on("blur", self._rename)
            self.dirty = ui.label("Unsaved changes").classes("text-amber-300 text-sm")
            ui.space()
            with ui.button("Templates", icon="dashboard_customize").props("flat color=white"), ui.menu():
                for name in template_names():
                    ui.menu_item(load_template(name).name, lambda _, n=name: self._open_template(n))
            ui.button("Open", icon="folder_open", on_click=self._open_dialog).props("flat color=white")
            ui.button("Save", icon="save", on_click=self.save).props("flat color=white")
            ui.button(icon="undo", on_click=self.undo).props('flat color=white aria-label="Undo"').tooltip(
                "Undo (Ctrl+Z)"
            )
            ui.button(icon="redo", on_click=self.redo).props('flat color=white aria-label="Redo"').tooltip(
                "Redo (Ctrl+Shift+Z)"
            )
            ui.button(icon="fit_screen", on_click=lambda: self.canvas.patch({"op": "fit"})).props(
                'flat color=white aria-label="Show the whole workflow"'
            )
            ui.button(icon="dark_mode", on_click=lambda: self._toggle_theme(dark)).props(
                'flat color=white aria-label="Toggle dark theme"'
            )
        with ui.left_drawer(value=True, bordered=True).props("width=240").classes("gap-2 p-3"):
            palette(self.add_node)
        with ui.right_drawer(value=True, bordered=True).props("width=340").classes("p-3"):
            self.panel = ui.column().classes("w-full gap-2")
        self.canvas = (
            FlowCanvas(self.doc.canvas_nodes(), self.doc.canvas_edges())
            .classes("w-full")
            .style("height: calc(100vh - 64px)")
        )
        self.canvas.on_intent("node_added", lambda a: self.add_node(str(a.get("type")), a.get("x"), a.get("y")))
        self.canvas.on_intent("edge_connected", lambda a: self.connect(str(a.get("source")), str(a.get("target"))))
        self.canvas.on_intent("nodes_moved", self._moved)
        self.canvas.on_intent("deleted", self._deleted)
        self.canvas.on_intent("selection_change", self._selection)
        ui.keyboard(on_key=self._key)
        self._refresh()

    # -- intents and commands ---------------------------------------------------------------------------

    def add_node(self, agent_type: str, x: Any = None, y: Any = None) -> None:
        dropped = isinstance(x, int | float) and isinstance(y, int | float)
        if not dropped:
            x, y = self._free_spot()
        try:
            node = self.doc.add_node(agent_type, float(x), float(y))
        except EditRefused as exc:
            ui.notify(str(exc), type="warning")
            return
        self.canvas.patch({"op": "add_node", "node": self.doc.canvas_node(node)})
        if not dropped:
            self.canvas.patch({"op": "reveal", "x": node.position.x, "y": node.position.y})
        self.selected = node.id
        self._refresh()

    def connect(self, source: str, target: str) -> None:
        try:
            edge = self.doc.connect(source, target)
        except EditRefused as exc:
            ui.notify(f"Connection refused: {exc}", type="warning")
            return
        self.canvas.patch({"op": "add_edge", "edge": next(e for e in self.doc.canvas_edges() if e["id"] == edge.id)})
        self._refresh()

    def undo(self) -> None:
        self._restore(self.doc.undo)

    def redo(self) -> None:
        self._restore(self.doc.redo)

    async def save(self) -> None:
        workflow = self.doc.workflow
        try:
            self.workflow_id = await asyncio.to_thread(
                self.services.workflows.save, workflow, workflow_id=self.workflow_id
            )
        except FlowdeckError as exc:
            ui.notify(f"Not saved: {exc}", type="negative")
            return
        self.doc.saved = workflow
        ui.notify(f"Saved “{workflow.name}”", type="positive")
        self._refresh()

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
            self.canvas.patch({"op": "remove_edges", "ids": sorted(edges)})
        if nodes:
            self.canvas.patch({"op": "remove_nodes", "ids": sorted(nodes)})
        if self.selected in nodes:
            self.selected = None
        self._refresh()

    def _selection(self, args: dict[str, Any]) -> None:
        nodes = [str(n) for n in args.get("nodes", [])]
        selected = nodes[0] if len(nodes) == 1 else None
        if selected != self.selected:
            self.selected = selected
            self._refresh_panel()

    def _edit(self, node_id: str, changes: dict[str, Any]) -> None:
        label = changes.pop("label", None)
        node = self.doc.update_node(node_id, label=label, **changes)
        self.canvas.patch({"op": "update_node", "node": self.doc.canvas_node(node)})
        self._refresh(panel=False)

    def _rename(self) -> None:
        try:
            self.doc.rename(self.name.value or "")
        except EditRefused as exc:
            ui.notify(str(exc), type="warning")
            self.name.set_value(self.doc.workflow.name)
        self._refresh(panel=False)

    async def _key(self, event: Any) -> None:
        if not event.action.keydown or not (event.modifiers.ctrl or event.modifiers.meta):
            return
        key = str(event.key.name).lower()
        if (key == "z" and event.modifiers.shift) or key == "y":
            self.redo()
        elif key == "z":
            self.undo()
        elif key == "s":
            await self.save()

    def _restore(self, step: Any) -> None:
        before = self.doc.workflow
        if not step():
            return
        self.canvas.patch(*self.doc.patches_from(before))
        self.name.set_value(self.doc.workflow.name)
        if self.selected not in {n.id for n in self.doc.workflow.nodes}:
            self.selected = None
        self._refresh()

    def _open_template(self, name: str) -> None:
        self._show(load_template(name), workflow_id=None, saved=False)

    async def _open_dialog(self) -> None:
        saved = await asyncio.to_thread(self.services.workflows.list)
        with ui.dialog() as dialog, ui.card().classes("w-[32rem]"):
            ui.label("Open a saved workflow").classes("text-lg font-semibold")
            if not saved:
                ui.label("Nothing saved yet.").classes("text-gray-500")
            for item in saved:

                def pick(_: Any, item: Any = item) -> None:
                    self._show(item.workflow, workflow_id=item.id, saved=True)
                    dialog.close()

                ui.button(item.name, on_click=pick).props("flat align=left no-caps").classes("w-full")
            ui.button("Cancel", on_click=dialog.close).props("flat")
        dialog.open()

    def _show(self, workflow: Workflow, *, workflow_id: str | None, saved: bool) -> None:
        self.doc.replace(workflow, saved=saved)
        self.workflow_id = workflow_id
        self.selected = None
        self.name.set_value(workflow.name)
        self.canvas.patch(
            {"op": "replace", "nodes": self.doc.canvas_nodes(), "edges": self.doc.canvas_edges()}, {"op": "fit"}
        )
        self._refresh()

    def _toggle_theme(self, dark: Any) -> None:
        dark.toggle()
        self.canvas.patch({"op": "theme", "dark": bool(dark.value)})

    # -- helpers -------------------------------------------------------------------------------------------

    async def _load_initial(self, startup: Workflow | None) -> None:
        if startup is not None:
            self.doc.replace(startup)
            return
        saved = await asyncio.to_thread(self.services.workflows.list)
        if saved:
            self.doc.replace(saved[0].workflow, saved=True)
            self.workflow_id = saved[0].id

    def _free_spot(self) -> tuple[float, float]:
        nodes = self.doc.workflow.nodes
        if not nodes:
            return 0.0, 0.0
        # Below the others, in the middle: close to everything it may be connected to.
        xs = sorted(n.position.x for n in nodes)
        return xs[len(xs) // 2], max(n.position.y for n in nodes) + 140.0

    def _refresh(self, panel: bool = True) -> None:
        self.dirty.set_visibility(self.doc.dirty)
        if panel:
            self._refresh_panel()

    def _refresh_panel(self) -> None:
        self.panel.clear()
        with self.panel:
            properties(self.doc, self.selected, self._models(), self._edit)

    def _models(self) -> dict[str, str]:
        models = {"embedded": "Embedded demo model (offline)", "scripted": "Scripted test model (no LLM)"}
        for model in self.services.settings.suggested_models:
            models.setdefault(model, model)
        return models
