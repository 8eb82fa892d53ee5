"""Ending a stored run that cannot go on: its process died, or its events could not be stored."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from flowdeck.engine.events import Event, RunInterrupted
from flowdeck.engine.state import TERMINAL_NODE, fold
from flowdeck.storage.runs import RunLog, StoredBatch

log = logging.getLogger("flowdeck.storage")


def interruption(
    run_id: str, events: Sequence[Event], *, last_seq: int = 0, reason: str | None = None
) -> RunInterrupted:
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


class UnstoredEnds:
    """The ends of runs that stopped because their events could not be stored, while the log does not say so.

    Each is kept with the run's events (all of them stored) to tell watchers why it ended. An end that is owed (the
    run has a start in the log) is stored as soon as the database takes it, tried with growing waits; the runs that
    stored nothing at all are only remembered, the last LOST_KEPT of them."""

    LOST_KEPT = 100
    RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)

    def __init__(self, log: RunLog, owner: str) -> None:
        self._log = log
        self._owner = owner
        self._ends: dict[str, tuple[list[Event], RunInterrupted]] = {}
        self._owed: set[str] = set()
        self._retrying: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._ends

    def get(self, run_id: str) -> tuple[list[Event], RunInterrupted] | None:
        """The run's stored events and its end, if it is one of these runs."""
        return self._ends.get(run_id)

    def add(self, events: list[Event], end: RunInterrupted) -> None:
        """Remember a run's end; store it later if the run has `events` in the log. Call on the event loop."""
        self._ends[end.run_id] = (events, end)
        if not events:
            for lost in [r for r in self._ends if r not in self._owed][: -self.LOST_KEPT]:
                del self._ends[lost]
            return
        self._owed.add(end.run_id)
        if self._retrying is None or self._retrying.done():
            self._retrying = asyncio.get_running_loop().create_task(self._retry(), name="flowdeck-store-ends")

    def wake(self) -> None:
        """Try storing the owed ends now (e.g. a run starts: the database may work again)."""
        self._wake.set()

    async def close(self) -> None:
        """Stop retrying; one last try for each owed end that never waits for a lock. What is still owed then, the
        next start finds (recover_interrupted), without its reason."""
        if self._retrying is not None:
            self._retrying.cancel()
            await asyncio.gather(self._retrying, return_exceptions=True)
        for run_id in list(self._owed):
            try:
                if self._log.write_now(StoredBatch.of([self._ends[run_id][1]]), owner=self._owner):
                    self._settled(run_id)
            except Exception as exc:
                log.warning("run %s: its end could not be stored (%s)", run_id, exc)

    async def _retry(self) -> None:
        attempt = 0
        while self._owed:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                wait = self.RETRY_SECONDS[min(attempt, len(self.RETRY_SECONDS) - 1)]
                await asyncio.wait_for(self._wake.wait(), wait)
            attempt += 1
            for run_id in list(self._owed):
                try:
                    await asyncio.to_thread(mark_interrupted, self._log, run_id, reason=self._ends[run_id][1].reason)
                except Exception as exc:
                    log.info("run %s: its end still cannot be stored (%s)", run_id, exc)
                    break
                self._settled(run_id)
                log.info("run %s: its end is stored now", run_id)

    def _settled(self, run_id: str) -> None:
        self._owed.discard(run_id)
        self._ends.pop(run_id, None)
