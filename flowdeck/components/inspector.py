"""What an agent did in the run shown: the exact messages sent, parameters, output, usage, attempts, errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from nicegui import ui

from flowdeck.components.markup import render_markdown
from flowdeck.engine.state import NodeState


@dataclass(frozen=True, slots=True)
class NodeAction:
    """A button under the inspector, e.g. "Run from here"."""

    label: str
    icon: str
    run: Callable[[], Awaitable[None] | None]
    tooltip: str = ""


def inspector(label: str, node: NodeState | None, actions: list[NodeAction], names: Mapping[str, str]) -> None:
    """The latest execution of one node, as folded from the run's events. Model text is sanitized markdown."""
    ui.label(label).classes("text-base font-semibold")
    with ui.row().classes("gap-1"):
        for action in actions:
            button = ui.button(action.label, icon=action.icon, on_click=action.run).props("dense outline no-caps")
            if action.tooltip:
                button.tooltip(action.tooltip)
    ex = node.latest if node else None
    if node is None or ex is None:
        ui.label("This agent has not run in the run shown.").classes("text-sm text-gray-500")
        return
    ui.label(node.summary()).classes("text-sm font-medium")
    attempts = f"attempt {ex.attempt}" + (f" of {ex.max_attempts}" if ex.max_attempts else "")
    timing = f" · {ex.duration:.2f} s" if ex.duration is not None else ""
    cost = f" · ${ex.cost:.4f}" if ex.cost else ""
    ui.label(f"{ex.model or 'no model call'} · {attempts}{timing}{cost}").classes("text-xs text-gray-500")
    if ex.received_from:
        ui.label(f"Received the output of: {', '.join(names.get(n, n) for n in ex.received_from)}").classes(
            "text-xs text-gray-500"
        )
    if ex.error:
        ui.label(f"{ex.error_kind}: {ex.error}").classes("text-sm text-negative")
    if ex.messages:
        with ui.expansion("Messages sent", value=True).classes("w-full").props("dense"):
            for message in ex.messages:
                ui.label(message.role).classes("text-xs font-semibold uppercase text-gray-500")
                ui.label(message.content).classes("text-sm").style("white-space: pre-wrap")
            params = ", ".join(f"{key} {value}" for key, value in ex.parameters.items())
            ui.label(f"Parameters: {params}").classes("text-xs text-gray-500")
    text = ex.output if ex.output is not None else ex.text
    if text:
        with ui.expansion("Output", value=True).classes("w-full").props("dense"):
            ui.html(render_markdown(text)).classes("w-full text-sm fd-output")  # cleaned here; DOMPurify again there
    if ex.usage.total_tokens:
        ui.label(f"{ex.usage.prompt_tokens} prompt + {ex.usage.completion_tokens} completion tokens").classes(
            "text-xs text-gray-500"
        )
