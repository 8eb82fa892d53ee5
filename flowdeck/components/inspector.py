"""What an agent did in the run being watched: the exact messages sent, parameters, output, usage, errors."""

from __future__ import annotations

from nicegui import ui

from flowdeck.engine.state import NodeState


def inspector(node: NodeState | None) -> None:
    """The latest execution of one node, as folded from the run's events. Model text is sanitized markdown."""
    ui.label("Last run").classes("text-xs font-semibold uppercase tracking-wide text-gray-500")
    ex = node.latest if node else None
    if node is None or ex is None:
        ui.label("This agent has not run in the run shown.").classes("text-sm text-gray-500")
        return
    ui.label(node.summary()).classes("text-sm font-medium")
    if ex.received_from:
        ui.label(f"Received the output of: {', '.join(ex.received_from)}").classes("text-xs text-gray-500")
    if ex.error:
        ui.label(f"{ex.error_kind}: {ex.error}").classes("text-sm text-negative")
    text = ex.output if ex.output is not None else ex.text
    if text:
        with ui.expansion("Output", value=True).classes("w-full").props("dense"):
            ui.markdown(text).classes("w-full text-sm fd-output")
    if ex.messages:
        with ui.expansion("Messages sent").classes("w-full").props("dense"):
            for message in ex.messages:
                ui.label(message.role).classes("text-xs font-semibold uppercase text-gray-500")
                ui.label(message.content).classes("text-sm").style("white-space: pre-wrap")
            params = ", ".join(f"{key} {value}" for key, value in ex.parameters.items())
            ui.label(f"{ex.model} · {params} · attempt {ex.attempt}").classes("text-xs text-gray-500")
    if ex.usage.total_tokens:
        cost = f" · ${ex.cost:.4f}" if ex.cost else ""
        ui.label(f"{ex.usage.prompt_tokens} prompt + {ex.usage.completion_tokens} completion tokens{cost}").classes(
            "text-xs text-gray-500"
        )
