"""What an agent did in the run shown: the exact messages sent, parameters, output, verdict, usage, attempts,
errors. An agent that ran more than once (a loop) has a round picker; it shows the latest round until one is
picked."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from nicegui import Client, ui
from nicegui.element import Element

from flowdeck.components.markup import render_markdown
from flowdeck.components.rounds import feedback
from flowdeck.engine.state import Execution, NodeState, ToolCallState

# The round picked per inspector (the element it is drawn in, which lasts while its page does) and agent, with the
# agent's state then: a new run, or a replay folded again, has new states, and shows the latest round again.
_PICKED: WeakKeyDictionary[Element, dict[str, tuple[NodeState, int]]] = WeakKeyDictionary()
# A round asked for by another panel (a handoff clicked), per page, for the next time that agent is inspected.
_ASKED: WeakKeyDictionary[Client, tuple[str, int]] = WeakKeyDictionary()


def show_round(node_id: str, index: int) -> None:
    """Have this page's inspector show this round of the agent the next time it shows the agent."""
    _ASKED[ui.context.client] = (node_id, index)


@dataclass(frozen=True, slots=True)
class NodeAction:
    """A button under the inspector, e.g. "Run from here"."""

    label: str
    icon: str
    run: Callable[[], Awaitable[None] | None]
    tooltip: str = ""


def inspector(label: str, node: NodeState | None, actions: list[NodeAction], names: Mapping[str, str]) -> None:
    """One execution of one node (the latest, or the round picked), as folded from the run's events. Model text
    is sanitized markdown."""
    ui.label(label).classes("text-base font-semibold")
    with ui.row().classes("gap-1"):
        for action in actions:
            button = ui.button(action.label, icon=action.icon, on_click=action.run).props("dense outline no-caps")
            if action.tooltip:
                button.tooltip(action.tooltip)
    latest = node.latest if node else None
    asked = _ASKED.pop(ui.context.client, None)
    if node is None or latest is None:
        ui.label("This agent has not run in the run shown.").classes("text-sm text-gray-500")
        return
    if len(node.executions) == 1:
        execution(node, latest, names)
        return
    picks = _PICKED.setdefault(ui.context.slot.parent, {})
    rounds = {ex.index: ex for ex in node.executions}
    if asked is not None and asked[0] == node.node_id and asked[1] in rounds:
        picks[node.node_id] = (node, asked[1])
    kept = picks.get(node.node_id)
    shown = kept[1] if kept is not None and kept[0] is node and kept[1] in rounds else latest.index
    options = {index: f"Round {index} of {len(rounds)}" for index in rounds}
    picker = ui.select(options, value=shown, label="Round").props("dense outlined options-dense").classes("w-48")
    body = ui.column().classes("w-full gap-1")

    def show(index: int) -> None:
        body.clear()
        with body:
            execution(node, rounds[index], names)

    def picked(event: object) -> None:
        index = getattr(event, "value", None)
        if isinstance(index, int) and index in rounds:
            picks[node.node_id] = (node, index)
            show(index)

    picker.on_value_change(picked)
    show(shown)


def execution(node: NodeState, ex: Execution, names: Mapping[str, str]) -> None:
    """One execution: its state, model, what it received and was sent, its output, verdict and feedback."""
    ui.label(NodeState(node_id=node.node_id, executions=[ex]).summary()).classes("text-sm font-medium")
    if ex.status == "skipped":
        return
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
    if ex.verdict is not None:
        ui.label(f"Its verdict: {ex.verdict}").classes("text-sm font-semibold")
        said = feedback(ex)
        if said:
            with ui.expansion("Feedback", value=True).classes("w-full").props("dense"):
                ui.label(said).classes("text-sm").style("white-space: pre-wrap")
    if ex.messages:
        with ui.expansion("Messages sent", value=True).classes("w-full").props("dense"):
            for message in ex.messages:
                ui.label(message.role).classes("text-xs font-semibold uppercase text-gray-500")
                ui.label(message.content).classes("text-sm").style("white-space: pre-wrap")
            params = ", ".join(f"{key} {value}" for key, value in ex.parameters.items())
            ui.label(f"Parameters: {params}").classes("text-xs text-gray-500")
    if ex.tool_calls:
        tool_calls(ex)
    text = ex.output if ex.output is not None else ex.text
    if text:
        with ui.expansion("Output", value=True).classes("w-full").props("dense"):
            ui.html(render_markdown(text)).classes("w-full text-sm fd-output")  # cleaned here; DOMPurify again there
    if ex.usage.total_tokens:
        ui.label(f"{ex.usage.prompt_tokens} prompt + {ex.usage.completion_tokens} completion tokens").classes(
            "text-xs text-gray-500"
        )


def tool_calls(ex: Execution) -> None:
    """The tools an execution called, in order, one collapsible row each: arguments and result as text."""
    count = len(ex.tool_calls)
    with ui.expansion(f"Tool calls ({count})", value=True).classes("w-full").props("dense"):
        for n, made in enumerate(ex.tool_calls, start=1):
            with ui.expansion(f"{n}. {tool_call_title(made, ex.status)}").classes("w-full").props("dense"):
                ui.label("Arguments").classes("text-xs font-semibold uppercase text-gray-500")
                ui.label(pretty_json(made.call.arguments)).classes("text-xs font-mono whitespace-pre-wrap")
                ui.label("Result").classes("text-xs font-semibold uppercase text-gray-500")
                result = made.finished.result if made.finished is not None else "(no result yet)"
                ui.label(result).classes("text-xs font-mono whitespace-pre-wrap")
                if made.finished is not None and made.finished.artifacts:
                    ui.label(f"Wrote: {', '.join(made.finished.artifacts)}").classes("text-xs text-gray-600")


def tool_call_title(made: ToolCallState, status: str) -> str:
    """E.g. "write_file · ok · 0.12 s · side effect", "fetch · failed · 1.50 s", "write_file · reused · side effect"."""
    done = made.finished
    if done is None:
        how = "running" if status == "running" else "no outcome"
    elif done.reused:
        how = f"{'ok' if done.ok else 'failed'} · reused"
    else:
        how = f"{'ok' if done.ok else 'failed'} · {done.duration:.2f} s"
    effect = " · side effect" if made.call.effect == "write" else ""
    return f"{made.call.tool} · {how}{effect}"


def pretty_json(text: str) -> str:
    """Arguments as the model wrote them, indented when they are JSON (they may be cut, or not JSON at all)."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text
