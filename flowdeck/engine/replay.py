"""Continuing a run from its log (a run that waited for approval, continued under the same id): what its replay makes
again and the log holds already is dropped, and what the log holds is used instead of calling a model."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Literal

import msgspec

from flowdeck.engine.events import (
    ApprovalDecided,
    ApprovalRequested,
    Event,
    Handoff,
    Log,
    NodeFailed,
    NodeFinished,
    NodeSkipped,
    RunStarted,
)
from flowdeck.engine.llm_types import Completion
from flowdeck.engine.outbox import Outbox

ReplayKey = tuple[object, ...]


def replay_key(event: Event) -> ReplayKey | None:
    """What identifies an event that a replay of the run's routing makes again (None: an event it never repeats)."""
    kind = type(event)
    if kind is RunStarted:
        return ("run_started",)
    if kind is NodeFinished or kind is NodeSkipped or kind is NodeFailed:
        assert isinstance(event, NodeFinished | NodeSkipped | NodeFailed)
        return (event.type, event.node_id, event.execution)
    if kind is ApprovalRequested or kind is ApprovalDecided:
        assert isinstance(event, ApprovalRequested | ApprovalDecided)
        return (event.type, event.node_id, event.execution)
    if kind is Handoff:
        assert isinstance(event, Handoff)
        return ("handoff", event.node_id, event.execution, event.edge_id)
    if kind is Log:
        assert isinstance(event, Log)
        return ("log", event.node_id, event.execution, event.text)
    return None


class ReplayOutbox(Outbox):
    """The outbox of a run continued from its log (same run id): what the replay makes again and the log holds
    already is dropped, and the rest is numbered on from the log's last event."""

    __slots__ = ("_known", "_last")

    def __init__(self, run_id: str, prior: Sequence[Event]) -> None:
        super().__init__(run_id)
        self._known = Counter(key for e in prior if (key := replay_key(e)) is not None)
        self._last = prior[-1].seq if prior else 0

    async def take(self) -> list[Event]:
        while True:
            batch = await super().take()
            if not batch:
                return []
            fresh: list[Event] = []
            known = self._known
            for event in batch:
                key = replay_key(event)
                if key is not None and known[key] > 0:
                    known[key] -= 1
                    continue
                self._last += 1
                fresh.append(msgspec.structs.replace(event, seq=self._last))
            if fresh:
                return fresh


Continue = Literal["wait", "cancel"]


def waits_of(prior: Sequence[Event]) -> set[tuple[str, int]]:
    """The approvals that a run's log `prior` leaves waiting: asked in their latest execution, neither decided nor
    skipped since."""
    asked: dict[str, int] = {}
    ended: set[tuple[str, int]] = set()
    for event in prior:
        kind = type(event)
        if kind is ApprovalRequested:
            assert isinstance(event, ApprovalRequested)
            asked[event.node_id] = event.execution
        elif kind is ApprovalDecided or kind is NodeSkipped:
            assert isinstance(event, ApprovalDecided | NodeSkipped)
            ended.add((event.node_id, event.execution))
    return {(node_id, execution) for node_id, execution in asked.items() if (node_id, execution) not in ended}


def recorded_of(prior: Sequence[Event]) -> tuple[dict[tuple[str, int], Completion], dict[tuple[str, int], NodeFailed]]:
    """The outputs and failures a run's log holds, by (node, execution), for a replay to use instead of a call."""
    outputs: dict[tuple[str, int], Completion] = {}
    failures: dict[tuple[str, int], NodeFailed] = {}
    for event in prior:
        if isinstance(event, NodeFinished):
            # Its usage and cost count again: the same run goes on, and its end sums all of it (it said 0 tokens)
            outputs[(event.node_id, event.execution)] = Completion(
                text=event.output, usage=event.usage, cost=event.cost, cut=event.cut
            )
        elif isinstance(event, NodeFailed):
            failures[(event.node_id, event.execution)] = event
    return outputs, failures
