"""The properties panel of a selected connection: its condition, and for a loop edge its rounds and what happens
when they run out. Each change applies at once; a refused one is explained under the fields and not applied."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from flowdeck.app.document import Document
from flowdeck.app.edge_rules import condition_from, loop_from, verdict_choices
from flowdeck.components.condition_fields import ConditionFields
from flowdeck.engine.workflow import Edge
from flowdeck.errors import EditRefused


def edge_panel(doc: Document, edge_id: str, on_changed: Callable[[Edge], None]) -> None:
    """Controls for one edge; `on_changed(edge)` is told of each change applied."""
    ui.label("Properties").classes("text-xs font-semibold uppercase tracking-wide text-gray-500")
    edge = next((e for e in doc.workflow.edges if e.id == edge_id), None)
    if edge is None:  # deleted, or undone
        ui.label("Select an agent on the canvas to configure it.").classes("text-sm text-gray-500")
        return
    with ui.row().classes("items-center gap-2"):
        ui.icon("repeat" if edge.loop is not None else "arrow_forward").classes("text-indigo-500")
        kind = "Loop back" if edge.loop is not None else "Connection"
        ui.label(f"{kind}: {doc.name(edge.source)} to {doc.name(edge.target)}").classes("text-sm text-gray-600")
    ui.label(
        "Taken when its condition holds; an “otherwise” connection when no other one out of the agent is."
        if edge.loop is None
        else "Sends the work back while its condition holds, at most this many rounds."
    ).classes("text-xs text-gray-500")
    fields: ConditionFields

    def apply() -> None:
        try:
            condition, loop = fields.read(condition_from, loop_from)
            changed = doc.update_edge(edge_id, condition=condition, loop=loop)
        except EditRefused as exc:
            doc.edge_drafts[edge_id] = fields.values()  # bad input loses nothing: shown again with its error
            fields.show_error(exc)
            return
        doc.edge_drafts.pop(edge_id, None)
        fields.show_error(None)
        on_changed(changed)

    fields = ConditionFields(
        verdicts=verdict_choices(doc.workflow.node(edge.source)),
        source_name=doc.name(edge.source),
        condition=edge.condition,
        loop=edge.loop,
        is_loop=edge.loop is not None,
        on_change=apply,
    )
    if edge_id in doc.edge_drafts:  # typed before and refused: back, with its error
        fields.restore(doc.edge_drafts[edge_id])
        apply()
        if edge_id in doc.edge_drafts:
            ui.label(
                "Not applied: the connection keeps the condition drawn on the canvas until this is fixed."
            ).classes("text-xs text-gray-500")
