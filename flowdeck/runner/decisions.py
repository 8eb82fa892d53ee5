"""Deciding the approvals of runs that wait: the Runner's half that takes a decision, from any process, and continues
the run from its log (a waiting run is a state in the log, not a coroutine: see engine/approvals.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Literal

from flowdeck.engine.approvals import Decision, check_decision, decided_event
from flowdeck.engine.dag import build
from flowdeck.engine.events import ApprovalDecided, ApprovalRequested, Event, NodeFinished, RunOrigin, RunStarted
from flowdeck.engine.llm_types import Completion, ModelCaller
from flowdeck.engine.run import Run
from flowdeck.engine.state import fold
from flowdeck.engine.workflow import Workflow, parse_workflow
from flowdeck.errors import NotFoundError, NotWaitingError
from flowdeck.runner.requests import CancelOutcome, Requests
from flowdeck.storage.runs import StoredBatch

if TYPE_CHECKING:
    from flowdeck.runner import ActiveRun
    from flowdeck.runner.tooling import ToolArguments, UnknownChoice
    from flowdeck.storage.runs import RunLog

log = logging.getLogger("flowdeck.runner")


class Decisions(Requests):
    """The Runner's approvals: it sets every attribute declared here."""

    _log: RunLog
    _caller: ModelCaller
    _default_model: str
    _max_retry_wait: float
    _active: dict[str, ActiveRun]
    _owner: str
    _timers: dict[tuple[str, str, int], asyncio.TimerHandle]
    _deciding: dict[str, asyncio.Lock]
    _check_models: Callable[[set[str], frozenset[str]], Awaitable[dict[str, str]]] | None

    if TYPE_CHECKING:  # defined by Runner

        def _activate(self, run: Run, workflow_id: str | None, prior: Sequence[Event] = ()) -> None: ...

        async def _refuse_unusable_models(self, run: Run) -> None: ...

        async def _tools_for(
            self, workflow: Workflow, run_id: str, origin: RunOrigin | None, unknown: UnknownChoice, *, continued: bool
        ) -> ToolArguments: ...

    async def decide(self, run_id: str, node_id: str | None, decision: Decision) -> str:
        """Take a person's decision on an approval that waits, and continue the run; returns the node decided.

        A run going on in this process takes it at once (once its replay of its log reaches the approval). A run that
        waits (stopped, in the log) is continued here, whichever process started it and whether or not the server
        restarted since: taking it (its row goes from waiting to running) and storing the decision are one
        transaction, so exactly one process continues it; then the run replays its log, calling no model for what it
        holds. A run that another process drives (it continued the run with another decision) is asked to take this
        one. NotWaitingError if nothing waits there; WorkflowError for a bad field."""
        check_decision(decision)
        run_id = (await asyncio.to_thread(self._log.get, run_id)).id
        while True:
            async with self._deciding.setdefault(run_id, asyncio.Lock()):  # a cancel or another decision: one wins
                taken = await self._decide_here(run_id, node_id, decision)
            if taken is not None:
                return taken
            if (answered := await self._ask_driver(run_id, "decide", node_id, decision)) is not None:
                return answered

    async def _decide_here(self, run_id: str, node_id: str | None, decision: Decision) -> str | None:
        """The decision taken in this process; None if another process drives the run (or took it meanwhile)."""
        active = self._active.get(run_id)
        if active is not None:
            run = active.run
            await _replayed(run, node_id)
            if not run.suspended:
                node_id = node_id or _only(run.waiting, run_id)
                run.decide(node_id, decision)
                return node_id
            if active.task is not None:
                await asyncio.shield(active.task)  # its last events (run_waiting) are being stored
        events = await asyncio.to_thread(self._log.events, run_id)
        if fold(events).status == "running":
            return None  # another process drives it
        return await self._continue(run_id, events, decided_event(events, node_id, decision))

    async def cancel_anywhere(self, run_id: str) -> CancelOutcome | None:
        """Cancel a run wherever it goes on: "cancelled" if it goes on in this process, or waits for approval (stopped,
        in the log: its approvals are skipped, and it ends as cancelled here); "cancelling" if another process drives
        it (asked to cancel it: it does within REQUEST_POLL seconds); None if there is nothing to cancel."""
        while True:
            async with self._deciding.setdefault(run_id, asyncio.Lock()):
                outcome = await self._cancel_here(run_id)
            if outcome != "elsewhere":
                return outcome
            if await self._ask_driver(run_id, "cancel") is not None:
                return "cancelling"

    async def cancel_waiting(self, run_id: str) -> bool:
        """Cancel a run that waits for approval, or that another process drives (see cancel_anywhere); False if there
        is nothing to cancel."""
        return await self.cancel_anywhere(run_id) is not None

    async def _cancel_here(self, run_id: str) -> CancelOutcome | Literal["elsewhere"] | None:
        active = self._active.get(run_id)
        if active is not None and not active.run.suspended:  # a decision just continued it: stop it now
            active.run.cancel()
            return "cancelled"
        if active is not None and active.task is not None:
            await asyncio.shield(active.task)
        events = await asyncio.to_thread(self._log.events, run_id)
        status = fold(events).status
        if status == "running":
            return "elsewhere"
        if status != "waiting":
            return None
        return "cancelled" if await self._continue(run_id, events, None) is not None else "elsewhere"

    async def _continue(self, run_id: str, events: list[Event], decided: ApprovalDecided | None) -> str | None:
        """Take the run that waits (its log: `events`) and continue it here with the decision, or, with none, cancel it
        where it would wait again. The node decided ("" for a cancel); None if another process took it first."""
        started = events[0] if events else None
        if not isinstance(started, RunStarted):
            raise NotFoundError(f"run '{run_id}' has no recorded start; it cannot go on")
        workflow = parse_workflow(started.workflow, source=f"the workflow of run {run_id}")
        dag = await asyncio.to_thread(build, workflow)
        prior = [*events, decided] if decided is not None else events
        first = set(started.reused)
        reuse = {
            e.node_id: Completion(text=e.output, usage=e.usage, cost=0.0)
            for e in events
            if isinstance(e, NodeFinished) and e.node_id in first and e.execution == 1
        }
        tools = await self._tools_for(workflow, started.run_id, started.origin, "fail", continued=True)
        run = Run(
            dag,
            started.inputs,
            caller=self._caller,
            default_model=self._default_model,
            model_override=started.model,
            reuse=reuse,
            scope=started.scope,
            run_id=started.run_id,
            max_retry_wait=self._max_retry_wait,
            origin=started.origin,
            workflow_id=started.workflow_id,
            prior=prior,
            on_wait="wait" if decided is not None else "cancel",
            **tools,
        )
        if self._check_models is not None and decided is not None:
            await self._refuse_unusable_models(run)  # before the decision is stored: it would be left half taken
        batch = StoredBatch.of([decided]) if decided is not None else None
        claim = self._log.claim_waiting
        if not await asyncio.to_thread(claim, run_id, events[-1].seq, owner=self._owner, batch=batch):
            return None
        await self._caller.prepare(run.models())
        self._activate(run, started.workflow_id, prior)
        return decided.node_id if decided is not None else ""

    # -- approvals that decide by themselves ------------------------------------------------------------------

    def _time_out(self, asked: ApprovalRequested) -> None:
        """Decide the approval by itself when its timeout passes, if no one has by then."""
        if asked.timeout is None:
            return
        key = (asked.run_id, asked.node_id, asked.execution)
        if key in self._timers:
            return
        delay = max(0.0, asked.ts + asked.timeout - time.time())
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(delay, lambda: loop.create_task(self._timed_out(asked)))

    async def _timed_out(self, asked: ApprovalRequested) -> None:
        self._timers.pop((asked.run_id, asked.node_id, asked.execution), None)
        approve = asked.on_timeout == "approve"
        decision = Decision(
            approve=approve,
            by="timeout",
            note=f"no decision within {asked.timeout:g} s: {'approved' if approve else 'rejected'} by itself",
            timed_out=True,
        )
        events = await asyncio.to_thread(self._log.events, asked.run_id)
        state = fold(events)
        latest = state.nodes[asked.node_id].latest if asked.node_id in state.nodes else None
        if latest is None or latest.index != asked.execution or latest.status != "waiting":
            active = self._active.get(asked.run_id)
            if active is None or asked.node_id not in active.run.waiting:
                return  # decided (or cancelled) meanwhile
        with contextlib.suppress(NotWaitingError):
            try:
                await self.decide(asked.run_id, asked.node_id, decision)
            except Exception:
                log.exception("run %s: the approval %s could not decide by itself", asked.run_id, asked.node_id)

    async def watch_waiting(self, every: float | None = None) -> int:
        """Start the timeouts of every run that waits in the log; how many runs wait. With `every` (a server), look
        again every so many seconds for good: a run that another process stopped to wait (`flowdeck run` with
        --no-input) times out here too."""
        count = await self._watch_waiting_once()
        while every is not None:
            await asyncio.sleep(every)
            try:
                count = await self._watch_waiting_once()
            except Exception as exc:  # a database fault now and then must not end the watch
                log.warning("runs waiting for approval could not be read: %s", exc)
        return count

    async def _watch_waiting_once(self) -> int:
        waiting = await asyncio.to_thread(self._log.waiting)
        for summary in waiting:
            state = fold(await asyncio.to_thread(self._log.events, summary.id))
            for node_id in state.waiting():
                latest = state.nodes[node_id].latest
                if latest is not None and latest.approval is not None:
                    self._time_out(latest.approval)
        return len(waiting)

    def _stop_timers(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()


async def _replayed(run: Run, node_id: str | None) -> None:
    """Wait while a run continued from its log replays it up to the approval decided (or, with no node named, up to
    every approval its log says waits): replaying calls no model, so this takes milliseconds."""
    while not run.finished and (node_id in run.replaying if node_id is not None else run.replaying):  # noqa: ASYNC110
        await asyncio.sleep(0.002)  # (a few turns of the loop at most: an event to set would cost every run)


def _only(waiting: dict[str, int], run_id: str) -> str:
    if len(waiting) == 1:
        return next(iter(waiting))
    if not waiting:
        raise NotWaitingError(f"run {run_id} is still running, not waiting for approval")
    raise NotWaitingError(f"several approvals wait ({', '.join(waiting)}); say which with its node id")
