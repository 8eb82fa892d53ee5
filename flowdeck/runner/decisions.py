"""Deciding the approvals of runs that wait: the Runner's half that takes a decision, from any process, and continues
the run from its log (a waiting run is a state in the log, not a coroutine: see engine/approvals.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from flowdeck.engine.approvals import Continue, Decision, check_decision, decided_event
from flowdeck.engine.dag import build
from flowdeck.engine.events import ApprovalRequested, Event, NodeFinished, RunOrigin, RunStarted
from flowdeck.engine.llm_types import Completion, ModelCaller
from flowdeck.engine.run import Run
from flowdeck.engine.state import fold
from flowdeck.engine.workflow import Workflow, parse_workflow
from flowdeck.errors import NotFoundError, NotWaitingError

if TYPE_CHECKING:
    from flowdeck.runner import ActiveRun
    from flowdeck.runner.tooling import ToolArguments, UnknownChoice
    from flowdeck.storage.runs import RunLog

log = logging.getLogger("flowdeck.runner")


class Decisions:
    """The Runner's approvals: it sets every attribute declared here."""

    _log: RunLog
    _caller: ModelCaller
    _default_model: str
    _max_retry_wait: float
    _active: dict[str, ActiveRun]
    _owner: str
    _timers: dict[tuple[str, str, int], asyncio.TimerHandle]
    _deciding: dict[str, asyncio.Lock]
    _check_models: Callable[[set[str]], Awaitable[dict[str, str]]] | None

    if TYPE_CHECKING:  # defined by Runner

        def _activate(self, run: Run, workflow_id: str | None, prior: Sequence[Event] = ()) -> None: ...

        async def _refuse_unusable_models(self, run: Run) -> None: ...

        async def _tools_for(
            self, workflow: Workflow, run_id: str, origin: RunOrigin | None, unknown: UnknownChoice, *, continued: bool
        ) -> ToolArguments: ...

    async def decide(self, run_id: str, node_id: str | None, decision: Decision) -> str:
        """Take a person's decision on an approval that waits, and continue the run; returns the node decided.

        A run going on in this process takes it at once. A run that waits (stopped, in the log) is continued here,
        whichever process started it and whether or not the server restarted since: the decision is stored first,
        which claims it (a second decision of the same wait finds its place taken), then the run replays its log,
        calling no model for what it holds. NotWaitingError if nothing waits there; WorkflowError for a bad field."""
        check_decision(decision)
        run_id = (await asyncio.to_thread(self._log.get, run_id)).id
        async with self._deciding.setdefault(run_id, asyncio.Lock()):  # a cancel or another decision: one wins
            active = self._active.get(run_id)
            if active is not None:
                run = active.run
                if not run.suspended:
                    node_id = node_id or _only(run.waiting, run_id)
                    run.decide(node_id, decision)
                    return node_id
                if active.task is not None:
                    await asyncio.shield(active.task)  # its last events (run_waiting) are being stored
            return await self._continue(run_id, node_id, decision, "wait")

    async def cancel_waiting(self, run_id: str) -> bool:
        """Cancel a run that waits for approval (stopped, in the log): its approvals are skipped, and it ends as
        cancelled (a decision that came first and continued it: that run is cancelled). False if it does not wait."""
        async with self._deciding.setdefault(run_id, asyncio.Lock()):
            active = self._active.get(run_id)
            if active is not None and not active.run.suspended:  # a decision just continued it: stop it now
                active.run.cancel()
                return True
            if active is not None and active.task is not None:
                await asyncio.shield(active.task)
            events = await asyncio.to_thread(self._log.events, run_id)
            if fold(events).status != "waiting":
                return False
            await self._continue(run_id, None, None, "cancel", events)
            return True

    async def _continue(
        self,
        run_id: str,
        node_id: str | None,
        decision: Decision | None,
        on_wait: Continue,
        events: list[Event] | None = None,
    ) -> str:
        if events is None:
            events = await asyncio.to_thread(self._log.events, run_id)
        decided = decided_event(events, node_id, decision) if decision is not None else None
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
            on_wait=on_wait,
            **tools,
        )
        if self._check_models is not None and decided is not None:
            await self._refuse_unusable_models(run)  # before the decision is stored: it would be left half taken
        if decided is not None:
            try:
                await asyncio.to_thread(self._log.append, [decided], owner=self._owner)
            except Exception:
                again = fold(await asyncio.to_thread(self._log.events, run_id))
                if again.last_seq >= decided.seq:
                    raise NotWaitingError(f"run {run_id} was decided or went on meanwhile; reload it") from None
                raise
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


def _only(waiting: dict[str, int], run_id: str) -> str:
    if len(waiting) == 1:
        return next(iter(waiting))
    if not waiting:
        raise NotWaitingError(f"run {run_id} is still running, not waiting for approval")
    raise NotWaitingError(f"several approvals wait ({', '.join(waiting)}); say which with its node id")
