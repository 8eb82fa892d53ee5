"""Compare two runs: each agent's output side by side, with the differences highlighted word by word."""

from __future__ import annotations

import asyncio
import difflib
import html
import re

from nicegui import ui

from flowdeck.components.css import STATIC, shared_css
from flowdeck.engine.state import RunState, fold
from flowdeck.errors import FlowdeckError
from flowdeck.services import Services


def diff_html(a: str, b: str) -> tuple[str, str]:
    """Both texts as escaped HTML, words only in `a` wrapped in <del>, words only in `b` in <ins>."""
    left_words, right_words = re.split(r"(\s+)", a), re.split(r"(\s+)", b)
    left: list[str] = []
    right: list[str] = []
    matcher = difflib.SequenceMatcher(a=left_words, b=right_words, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        old, new = html.escape("".join(left_words[i1:i2])), html.escape("".join(right_words[j1:j2]))
        if tag == "equal":
            left.append(old)
            right.append(new)
            continue
        if old:
            left.append(f"<del>{old}</del>")
        if new:
            right.append(f"<ins>{new}</ins>")
    return "".join(left), "".join(right)


async def compare_page(services: Services, a: str, b: str) -> None:
    shared_css(STATIC / "compare.css")
    try:
        states = await asyncio.gather(*(asyncio.to_thread(_load, services, run_id) for run_id in (a, b)))
    except FlowdeckError as exc:
        ui.label(str(exc)).classes("p-4 text-negative")
        return
    first, second = states
    names = {**second.labels, **first.labels}
    order = list(first.nodes) + [n for n in second.nodes if n not in first.nodes]
    outputs = first.outputs(), second.outputs()
    differing = sum(1 for n in order if outputs[0].get(n) != outputs[1].get(n))
    with ui.column().classes("w-full p-4 gap-3"):
        ui.label(f"Comparing run {first.run_id} with run {second.run_id}").classes("text-lg font-semibold")
        ui.label(f"{differing} of {len(order)} agents' outputs differ").classes("text-sm")
        with ui.grid(columns=2).classes("w-full gap-3"):
            for state in states:
                with ui.column().classes("gap-0"):
                    ui.link(f"Run {state.run_id}", f"/runs/{state.run_id}").classes("font-semibold")
                    ui.label(
                        f"{state.workflow_name} · {state.status} · {state.duration or 0:.1f} s · "
                        f"{state.usage.total_tokens} tokens"
                    ).classes("text-xs text-gray-500")
            for node_id in order:
                left, right = diff_html(outputs[0].get(node_id, ""), outputs[1].get(node_id, ""))
                same = outputs[0].get(node_id) == outputs[1].get(node_id)
                for state, body in ((first, left), (second, right)):
                    with ui.column().classes("gap-1 min-w-0"):
                        node = state.nodes.get(node_id)
                        summary = node.summary() if node else "not in this run"
                        ui.label(f"{names.get(node_id, node_id)} · {summary}").classes("text-sm font-semibold")
                        if same:
                            ui.label("Same output in both runs").classes("text-xs text-gray-500")
                        box = ui.html(body or "<em>no output</em>").classes("fd-diff w-full")
                        box.props["role"] = "region"
                        box.props["aria-label"] = f"Output of {names.get(node_id, node_id)} in run {state.run_id}"


def _load(services: Services, run_id: str) -> RunState:
    summary = services.runs.get(run_id)
    return fold(services.runs.events(summary.id))
