"""Compare two runs: each agent's output side by side, round by round where a loop ran it more than once, with the
differences highlighted word by word."""

from __future__ import annotations

import asyncio
import difflib
import html
import re
from dataclasses import dataclass

from nicegui import ui

from flowdeck.components.css import STATIC, shared_css
from flowdeck.components.rounds import round_name
from flowdeck.engine.state import NodeState, RunState, fold
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
    rows = compare_rows(first, second)
    differing = sum(1 for row in rows if row.outputs[0] != row.outputs[1])
    with ui.column().classes("w-full p-4 gap-3"):
        ui.label(f"Comparing run {first.run_id} with run {second.run_id}").classes("text-lg font-semibold")
        if any(row.execution > 1 for row in rows):
            ui.label(f"{differing} of {len(rows)} outputs differ, agent by agent and round by round").classes("text-sm")
        else:
            ui.label(f"{differing} of {len(rows)} agents' outputs differ").classes("text-sm")
        with ui.grid(columns=2).classes("w-full gap-3"):
            for state in states:
                with ui.column().classes("gap-0"):
                    ui.link(f"Run {state.run_id}", f"/runs/{state.run_id}").classes("font-semibold fd-run-link")
                    ui.label(
                        f"{state.workflow_name} · {state.status} · {state.duration or 0:.1f} s · "
                        f"{state.usage.total_tokens} tokens"
                    ).classes("text-xs text-gray-500")
            for row in rows:
                left, right = diff_html(row.outputs[0] or "", row.outputs[1] or "")
                same = row.outputs[0] == row.outputs[1]
                name = round_name(names.get(row.node_id, row.node_id), row.execution, row.several)
                for state, body, summary in ((first, left, row.summaries[0]), (second, right, row.summaries[1])):
                    with ui.column().classes("gap-1 min-w-0"):
                        ui.label(f"{name} · {summary}").classes("text-sm font-semibold")
                        if same:
                            ui.label("Same output in both runs").classes("text-xs text-gray-500")
                        box = ui.html(body or "<em>no output</em>").classes("fd-diff w-full")
                        box.props["role"] = "region"
                        box.props["aria-label"] = f"Output of {name} in run {state.run_id}"


@dataclass(frozen=True, slots=True)
class Row:
    """One agent's round in both runs: its output and state in each (None, and why, where it has none)."""

    node_id: str
    execution: int
    several: bool  # the agent ran more than once in either run: the row names its round
    outputs: tuple[str | None, str | None]
    summaries: tuple[str, str]


def compare_rows(first: RunState, second: RunState) -> list[Row]:
    """A row per agent and round of either run: the agents in the first run's order, then those only in the second;
    each agent's rounds in order. Round 2 of one run is compared with round 2 of the other."""
    order = list(first.nodes) + [n for n in second.nodes if n not in first.nodes]
    rows = []
    for node_id in order:
        runs = [
            {ex.index: ex for ex in s.nodes[node_id].executions} if node_id in s.nodes else None
            for s in (first, second)
        ]
        indices = sorted({index for run in runs if run for index in run}) or [1]
        several = len(indices) > 1
        for index in indices:
            outputs: list[str | None] = []
            summaries: list[str] = []
            for run in runs:
                ex = run.get(index) if run is not None else None
                outputs.append(ex.output if ex is not None else None)
                if run is None:
                    summaries.append("not in this run")
                elif ex is None:
                    summaries.append(f"no round {index} in this run")
                else:
                    summaries.append(NodeState(node_id=node_id, executions=[ex]).summary())
            rows.append(Row(node_id, index, several, (outputs[0], outputs[1]), (summaries[0], summaries[1])))
    return rows


def _load(services: Services, run_id: str) -> RunState:
    summary = services.runs.get(run_id)
    return fold(services.runs.events(summary.id))
