"""The palette of agent types: drag one onto the canvas, or click it (or press Enter on it) to add one; Enter in
the search box adds the first agent it shows. An agent added by a click or a key goes where the canvas finds room
in view (next to the selected agent, or near the centre), so the view does not move."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui
from nicegui.events import GenericEventArguments

from flowdeck.engine.agents import PRESETS
from flowdeck.engine.workflow import APPROVAL

AGENT_MIME = "application/x-flowdeck-agent"
# Sends the spot the canvas picks for a new agent ({x, y}, or null when nothing in view is free).
_ASK_CANVAS = "() => emit({spot: document.querySelector('.flowdeck-canvas')?.flowdeckSpot?.() ?? null})"

Add = Callable[[str, float | None, float | None], None]


def palette(on_add: Add) -> None:
    """Agent cards with a search box; `on_add(type, x, y)` is called for click and keyboard adds, with the spot the
    canvas found in view (None, None: no room in view)."""
    cards: dict[str, ui.element] = {}

    entries = [(p.type, p.title, p.icon, p.description) for p in PRESETS.values()]
    entries.append((APPROVAL, "Approval", "person", "A person approves, edits or rejects the work; no model."))
    described = {kind: f"{title} {description}".lower() for kind, title, _, description in entries}

    def filter_cards(text: str) -> None:
        needle = text.strip().lower()
        for agent_type, card in cards.items():
            card.set_visibility(not needle or needle in described[agent_type])

    ui.label("Agents").classes("text-xs font-semibold uppercase tracking-wide text-gray-500")

    def add_first_match(event: GenericEventArguments) -> None:
        shown = [agent_type for agent_type, card in cards.items() if card.visible]
        if shown:
            on_add(shown[0], *_spot(event))

    search = ui.input(label="Search agents", on_change=lambda e: filter_cards(e.value or ""))
    search.props("dense outlined clearable").classes("w-full").tooltip("Enter adds the first agent shown")
    search.on("keydown.enter", add_first_match, js_handler=_ASK_CANVAS)
    for kind, title, icon, description in entries:
        with (
            ui.element("div")
            .classes("w-full cursor-grab rounded-lg border border-gray-300 p-2 hover:border-indigo-400")
            .props(f'draggable=true role=button tabindex=0 aria-label="Add {title}"') as card
        ):
            with ui.row().classes("items-center gap-2 no-wrap"):
                ui.icon(icon).classes("text-indigo-500 text-lg")
                ui.label(title).classes("font-medium")
            ui.label(description).classes("text-xs text-gray-500")
        card.on("dragstart", js_handler=f'(e) => e.dataTransfer.setData("{AGENT_MIME}", "{kind}")')
        card.on("click", lambda e, t=kind: on_add(t, *_spot(e)), js_handler=_ASK_CANVAS)
        card.on("keydown.enter", lambda e, t=kind: on_add(t, *_spot(e)), js_handler=_ASK_CANVAS)
        cards[kind] = card
    ui.label("Drag an agent onto the canvas, or click it to add it.").classes("text-xs text-gray-500")


def _spot(event: GenericEventArguments) -> tuple[float | None, float | None]:
    args: Any = event.args
    spot = args.get("spot") if isinstance(args, dict) else None
    if isinstance(spot, dict):
        x, y = spot.get("x"), spot.get("y")
        if isinstance(x, int | float) and isinstance(y, int | float):
            return float(x), float(y)
    return None, None
