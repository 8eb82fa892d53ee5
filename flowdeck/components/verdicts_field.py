"""An agent's verdicts in the properties panel (format 2): the labels it chooses from, e.g. approve / revise, that
its outgoing connections can route on. Add and remove them; a label refused is explained and not applied."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from flowdeck.engine.agents import decisions_of
from flowdeck.engine.workflow import Node
from flowdeck.errors import EditRefused

Apply = Callable[[list[str]], None]  # sets the agent's verdicts; EditRefused if invalid


def verdicts_field(node: Node, apply: Apply) -> None:
    current = list(decisions_of(node))
    ui.label("Verdicts").classes("text-sm")
    ui.label("The answers this agent chooses from; connections out of it can route on them.").classes(
        "text-xs text-gray-500"
    )
    chips = ui.row().classes("w-full items-center gap-1").props('role=list aria-label="Verdicts"')
    with ui.row().classes("w-full items-center no-wrap gap-2"):
        new = ui.input("New verdict").props("dense outlined").classes("grow").without_auto_validation()
        add_button = ui.button("Add verdict", icon="add").props("flat dense no-caps color=indigo")
    error = ui.label().classes("text-xs text-negative").props("role=alert")
    error.set_visibility(False)

    def show(message: str | None) -> None:
        error.set_text(message or "")
        error.set_visibility(message is not None)
        new.props["error"] = message is not None
        new.props["aria-invalid"] = "true" if message is not None else "false"
        new.update()

    def change(verdicts: list[str]) -> bool:
        try:
            apply(verdicts)
        except EditRefused as exc:
            show(str(exc))
            return False
        show(None)
        current[:] = verdicts
        draw()
        return True

    def add() -> None:
        label = (new.value or "").strip()
        if not label:
            show("Verdicts: type a verdict to add, e.g. approve")
            return
        if change([*current, label]):
            new.set_value("")

    def draw() -> None:
        chips.clear()
        chips.props["role"] = "list" if current else "none"  # a list of no items is an ARIA error (axe: critical)
        chips.update()
        with chips:
            if not current:
                ui.label("None: this agent gives no verdict.").classes("text-xs text-gray-500")
            for verdict in current:
                chip = ui.element("span").props("role=listitem").style(_CHIP)
                with chip:
                    ui.label(verdict)
                    ui.button(icon="close", on_click=lambda v=verdict: change([x for x in current if x != v])).props(
                        f'flat dense round size=xs aria-label="Remove verdict {verdict}"'
                    )

    add_button.on_click(add)
    new.on("keydown.enter", add)
    draw()


_CHIP = (
    "display: inline-flex; align-items: center; gap: 2px; padding: 0 2px 0 8px; border: 1px solid #a5b4fc; "
    "border-radius: 12px"
)
