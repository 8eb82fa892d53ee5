"""Ending a stored run that cannot go on: its process died, or its events could not be stored."""

from __future__ import annotations

import time
from collections.abc import Sequence

from flowdeck.engine.events import Event, RunInterrupted
from flowdeck.engine.state import TERMINAL_NODE, fold
from flowdeck.storage.runs import RunLog


def interruption(run_id: str, events: Sequence[Event], *, last_seq: int = 0, reason: str | None = None) -> RunInterrupted:
    """The run_interrupted event that ends a run whose events so far are `events` (`last_seq` if there are none)."""
    state = fold(events)
    active_nodes = [
        node_id for node_id, node in state.nodes.items() if node.latest is not None and node.status not in TERMINAL_NODE
    ]
    last = events[-1].seq if events else last_seq
    ran = events[-1].ts - state.started_at if events and state.started_at is not None else None
    return RunInterrupted(
        run_id=run_id, seq=last + 1, ts=time.time(), running=active_nodes, duration=ran, reason=reason
    )


def mark_interrupted(log: RunLog, run_id: str, *, reason: str | None = None) -> RunInterrupted | None:
    """Store the end of a run still marked running, read back from the log; None if it has ended meanwhile.
    Blocking; raises StorageError (or the driver's error) if the log cannot be read or written."""
    summary = log.get(run_id)
    if summary.status != "running":
        return None
    events = log.events(summary.id)
    end = interruption(summary.id, events, last_seq=summary.last_seq, reason=reason)
    log.append([end])
    return end
