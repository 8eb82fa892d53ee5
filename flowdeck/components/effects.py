"""The Side effects tab (issue 22): each call that changed the world (a file written, a request that is not a GET),
with its agent and round, how it ended, its arguments with secrets redacted, and when. Folded from the run's events;
the side-effect log adds only what they lack: its redacted arguments, and the calls whose events were never written
(the process died between an intent and its event)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from nicegui import ui

from flowdeck.components.inspector import pretty_json
from flowdeck.components.rounds import round_name
from flowdeck.engine.state import RunState

EMPTY = (
    "Calls that change the world appear here: files an agent writes, requests other than GET. Each is recorded "
    "before and after it runs."
)


class JournalEntry(Protocol):
    """An entry of the side-effect log as this tab reads it (storage/effects.py's Effect)."""

    @property
    def key(self) -> str: ...
    @property
    def node_id(self) -> str: ...
    @property
    def execution(self) -> int: ...
    @property
    def tool(self) -> str: ...
    @property
    def status(self) -> str: ...  # ok, failed, unknown
    @property
    def arguments(self) -> str: ...  # JSON, secrets redacted
    @property
    def started_at(self) -> float: ...


@dataclass(frozen=True, slots=True)
class EffectRow:
    tool: str
    agent: str  # "Coder", or "Coder · round 2"
    status: str  # ok, failed, outcome unknown, running
    arguments: str
    when: float | None
    reused: bool = False  # not run again: a retried or resumed call found its recorded outcome


def effect_rows(
    state: RunState, labels: Mapping[str, str], journal: Iterable[JournalEntry] = (), *, going: bool = False
) -> list[EffectRow]:
    """The run's side effects in the order they were called. `journal`: the log's entries for this run (may be
    empty: then the events' arguments are shown, which hold secrets only by name); `going`: the run is still going
    (a call without a result is running, not of unknown outcome)."""
    logged: dict[str, list[JournalEntry]] = {}
    for entry in journal:
        logged.setdefault(entry.key, []).append(entry)
    rows: list[tuple[float, EffectRow]] = []
    for node_id, node in state.nodes.items():
        several = len(node.executions) > 1
        for ex in node.executions:
            agent = round_name(labels.get(node_id, node_id), ex.index, several)
            for made in ex.tool_calls:
                if made.call.effect != "write":
                    continue
                pending = logged.get(made.call.key)
                found = pending.pop(0) if pending else None
                done = made.finished
                if done is not None:
                    status = "ok" if done.ok else "failed"
                elif going and ex.status in ("running", "queued"):
                    status = "running"
                else:
                    status = "outcome unknown"
                arguments = found.arguments if found is not None else made.call.arguments
                reused = done is not None and done.reused
                rows.append((made.call.ts, EffectRow(made.call.tool, agent, status, arguments, made.call.ts, reused)))
    for entries in logged.values():  # intents whose call never reached the event log
        for entry in entries:
            agent_state = state.nodes.get(entry.node_id)
            several = agent_state is not None and len(agent_state.executions) > 1
            agent = round_name(labels.get(entry.node_id, entry.node_id), entry.execution, several)
            status = "outcome unknown" if entry.status == "unknown" else entry.status
            rows.append((entry.started_at, EffectRow(entry.tool, agent, status, entry.arguments, entry.started_at)))
    rows.sort(key=lambda item: item[0])
    return [row for _, row in rows]


class EffectsTab:
    """Drawn again when shown, and when the run's side effects change while it is in view."""

    def __init__(self) -> None:
        self.root = ui.column().classes("w-full gap-1")
        self.show([])

    def show(self, rows: list[EffectRow]) -> None:
        self.root.clear()
        with self.root:
            if not rows:
                ui.label(EMPTY).classes("text-sm text-gray-500")
                return
            with ui.element("table").classes("w-full text-sm").props('aria-label="Side effects"'):
                with ui.element("thead"), ui.element("tr"):
                    for heading in ("Tool", "Agent", "Status", "Arguments", "When"):
                        with ui.element("th").props('scope="col"').style(_CELL + "text-align: left"):
                            ui.label(heading)
                with ui.element("tbody"):
                    for row in rows:
                        _row(row)


def _row(row: EffectRow) -> None:
    with ui.element("tr"):
        _cell(row.tool)
        _cell(row.agent)
        status = f"{row.status} · reused" if row.reused else row.status
        cell = _cell(status)
        if row.status in ("failed", "outcome unknown"):
            cell.classes("text-negative font-semibold")
        with ui.element("td").style(_CELL):
            ui.label(pretty_json(row.arguments)).classes("text-xs font-mono whitespace-pre-wrap")
        _cell(time.strftime("%H:%M:%S", time.localtime(row.when)) if row.when is not None else "")


def _cell(text: str) -> ui.element:
    cell = ui.element("td").style(_CELL)
    with cell:
        ui.label(text)
    return cell


_CELL = "padding: 2px 8px; vertical-align: top; border-bottom: 1px solid rgba(127, 127, 127, 0.25); "
