"""The Runner: starts runs on the server, persists every event, then fans it out to subscribers."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from flowdeck.engine.dag import Dag, build
from flowdeck.engine.events import (
    ApprovalDecided,
    ApprovalRequested,
    Event,
    RunFinished,
    RunInterrupted,
    RunOrigin,
    RunWaiting,
)
from flowdeck.engine.identity import IDENTITY_LIMIT
from flowdeck.engine.llm_types import Completion, ModelCaller, OutputCache
from flowdeck.engine.run import Run, new_run_id
from flowdeck.engine.state import RunState, fold
from flowdeck.engine.strict_json import text_problem
from flowdeck.engine.workflow import Workflow
from flowdeck.errors import ModelsNotReady, Problem, StorageError, WorkflowError
from flowdeck.runner.compensating import Compensating
from flowdeck.runner.decisions import Decisions
from flowdeck.runner.reruns import Reruns
from flowdeck.runner.tooling import RunTools, Tooling, UnknownChoice
from flowdeck.storage.faults import is_storage_fault
from flowdeck.storage.interruptions import UnstoredEnds, interruption, mark_interrupted
from flowdeck.storage.runs import RunLog, RunSummary, StoredBatch
from flowdeck.storage.writer import BatchWriter

log = logging.getLogger("flowdeck.runner")

_OWNER = f"{socket.gethostname()}:{os.getpid()}:{time.time():.0f}"
TAIL_SECONDS = 0.25  # how often a run of another process is read for new events
FIRST_WRITE_LINGER = 0.002


@dataclass(eq=False)
class ActiveRun:
    run: Run
    workflow_id: str | None
    events: list[Event] = field(default_factory=list)
    subscribers: set[asyncio.Queue[list[Event] | None]] = field(default_factory=set)
    task: asyncio.Task[None] | None = None


class Runner(Decisions, Reruns, Tooling, Compensating):
    """Owns the runs of this process. A run goes on whoever watches it; watchers attach and detach freely."""

    def __init__(
        self,
        log: RunLog,
        caller: ModelCaller,
        *,
        default_model: str,
        cache: OutputCache | None = None,
        max_retry_wait: float = 60.0,
        check_models: Callable[[set[str], frozenset[str]], Awaitable[dict[str, str]]] | None = None,
        tools: RunTools | None = None,
    ) -> None:
        """`tools`: workspaces, side-effect log and secrets for runs whose agents have tools (runner/tooling.py)."""
        self._log = log
        self._tools = tools
        self._check_models = check_models
        self._caller = caller
        self._default_model = default_model
        self._cache = cache
        self._max_retry_wait = max_retry_wait
        self._active: dict[str, ActiveRun] = {}
        self._writer = BatchWriter(log)
        self._unstored = UnstoredEnds(log, _OWNER)  # runs whose storage failed, with their ends
        self._owner = _OWNER
        self._timers: dict[tuple[str, str, int], asyncio.TimerHandle] = {}  # approvals that decide by themselves
        self._deciding: dict[str, asyncio.Lock] = {}  # a waiting run's decisions and cancel, one at a time
        self._watching_requests: asyncio.Task[None] | None = None  # requests of other processes to runs of this one
        self._answering: set[asyncio.Task[None]] = set()
        self._compensations: dict[str, asyncio.Task[object]] = {}  # runner/compensating.py
        self._compensation_locks: dict[str, asyncio.Lock] = {}

    async def start(
        self,
        workflow: Workflow | Dag,
        inputs: Mapping[str, str] | None = None,
        *,
        model: str | None = None,
        use_cache: bool = False,
        workflow_id: str | None = None,
        reuse: Mapping[str, Completion] | None = None,
        scope: Iterable[str] | None = None,
        origin: RunOrigin | None = None,
        recorded: Mapping[tuple[str, int], Completion] | None = None,
        approve_all: str | None = None,
        decisions: Mapping[tuple[str, int], ApprovalDecided] | None = None,
        on_unknown_effect: UnknownChoice = "fail",
    ) -> str:
        """Validate and start a run; return its id. Raises WorkflowError before anything is written.

        `workflow_id`: the workflow the run belongs to (engine/identity.py). With `scope`, only those nodes execute;
        the others reuse `reuse` (see Run). `origin`: the recorded run that this one continues, and how.
        `on_unknown_effect`: what a resume does with a tool call whose outcome is unknown (runner/reruns.py).
        """
        if self._log.read_only:
            raise self._log.fault("the database was opened read-only", doing="starting a run")
        if workflow_id is not None and not 0 < len(workflow_id) <= IDENTITY_LIMIT:
            raise WorkflowError(
                [Problem("workflow_id", f"give 1 to {IDENTITY_LIMIT} characters, not {len(workflow_id)}")]
            )
        # Refused now, not acknowledged as a run whose first event cannot be stored (inputs: check_inputs).
        for name, text in (("model", model), ("workflow_id", workflow_id)):
            if text is not None and (problem := text_problem(text)) is not None:
                raise WorkflowError([Problem(name, problem)])
        if isinstance(workflow, Workflow):  # checking its templates can take seconds: not on the event loop
            workflow = await asyncio.to_thread(build, workflow)
        run_id = new_run_id()
        tools = await self._tools_for(workflow.workflow, run_id, origin, on_unknown_effect, continued=False)
        try:
            run = Run(
                workflow,
                inputs,
                caller=self._caller,
                default_model=self._default_model,
                model_override=model,
                cache=self._cache if use_cache else None,
                reuse=reuse,
                scope=scope,
                max_retry_wait=self._max_retry_wait,
                origin=origin,
                workflow_id=workflow_id,
                recorded=recorded,
                approve_all=approve_all,
                decisions=decisions,
                run_id=run_id,
                **tools,
            )
            if self._check_models is not None:
                await self._refuse_unusable_models(run)
            await self._caller.prepare(run.models())
        except BaseException:
            if tools:
                await asyncio.to_thread(self._discard_workspace, run_id)  # made for a run that did not start
            raise
        self._activate(run, workflow_id)
        return run.run_id

    def _activate(self, run: Run, workflow_id: str | None, prior: Sequence[Event] = ()) -> None:
        """Drive the run in this process: its events are stored, then told to its watchers. `prior`: the events its
        log holds already (a run continued from its log), which watchers get first."""
        self._unstored.wake()  # a run starting is a good moment to try storing the ends still owed
        active = ActiveRun(run=run, workflow_id=workflow_id, events=list(prior))
        self._active[run.run_id] = active
        active.task = asyncio.get_running_loop().create_task(self._pump(active), name=f"flowdeck-run:{run.run_id}")
        self._watch_requests()

    async def _refuse_unusable_models(self, run: Run) -> None:
        """Missing keys and unreachable servers, found before anything runs, naming the agents affected."""
        assert self._check_models is not None
        calls = run.callers_of()
        tooled = run.callers_of(with_tools=True)
        found = await self._check_models(set(calls), frozenset(tooled))
        if found:
            raise ModelsNotReady(
                [
                    Problem(", ".join(tooled.get(model) or calls[model]), f"{model}: {problem}")
                    for model, problem in sorted(found.items())
                ]
            )

    async def prepare(self, models: set[str]) -> None:
        """Get the model caller ready for these models now (import libraries, start local servers), so that
        the first run does not wait for it."""
        await self._caller.prepare(models)

    async def subscribe(self, run_id: str, after_seq: int = 0) -> AsyncIterator[Event]:
        """Every event of the run with seq > after_seq, then the live ones: no gap, no duplicate."""
        async for batch in self.subscribe_batches(run_id, after_seq):
            for event in batch:
                yield event

    async def subscribe_batches(self, run_id: str, after_seq: int = 0) -> AsyncIterator[list[Event]]:
        """The same events as subscribe(), in batches: first everything already recorded (one batch), then
        each batch as it is stored. A page coming back to a run shows the backlog in one go."""
        active = self._active.get(run_id)
        if active is None and (ended := self._unstored.get(run_id)) is not None:
            events, end = ended
            if backlog := [event for event in [*events, end] if event.seq > after_seq]:
                yield backlog
            return
        if active is None:
            async for stored in self._tail(run_id, after_seq):
                yield stored
            return
        queue: asyncio.Queue[list[Event] | None] = asyncio.Queue()
        active.subscribers.add(queue)
        try:
            first = active.events[0].seq if active.events else 1  # a continued run's start from its log at seq > 1
            backlog = active.events[max(0, after_seq - first + 1) :]
            last = backlog[-1].seq if backlog else after_seq
            if backlog:
                yield backlog
            while (batch := await queue.get()) is not None:
                fresh = [event for event in batch if event.seq > last]
                if fresh:
                    last = fresh[-1].seq
                    yield fresh
        finally:
            active.subscribers.discard(queue)

    def stored(self, run_id: str) -> list[Event]:
        """Every event the log holds for a run, whichever process ran it (blocking: call it in a thread)."""
        return self._log.events(run_id)

    def recorded_so_far(self, run_id: str) -> list[Event]:
        """The events of a run going on in this process, up to now (empty for any other run)."""
        active = self._active.get(run_id)
        if active is None and (ended := self._unstored.get(run_id)) is not None:
            return [*ended[0], ended[1]]
        return list(active.events) if active is not None else []

    async def _tail(self, run_id: str, after_seq: int) -> AsyncIterator[list[Event]]:
        """A run of another process (the CLI, another server on this database): its stored events, then the new
        ones as they are stored, polled, while that process is alive and the run goes on."""
        last = after_seq
        while True:
            events = await asyncio.to_thread(self._log.events, run_id, last)
            if events:
                yield events
                last = events[-1].seq
            if events and isinstance(events[-1], RunFinished | RunInterrupted | RunWaiting):
                return
            if not await asyncio.to_thread(self._live_elsewhere, run_id):
                # It ended between the two reads, or its process died: what it stored is all there is.
                if rest := await asyncio.to_thread(self._log.events, run_id, last):
                    yield rest
                return
            await asyncio.sleep(TAIL_SECONDS)

    def _live_elsewhere(self, run_id: str) -> bool:
        return self.live_elsewhere(self._log.get(run_id))

    def live_elsewhere(self, summary: RunSummary) -> bool:
        """Whether a stored run is going on in another process that is still alive (watchable, not cancellable)."""
        return (
            summary.status == "running"
            and summary.id not in self._active
            and summary.id not in self._unstored
            and _owner_alive(summary.owner)
        )

    def unstored_end(self, run_id: str) -> RunInterrupted | None:
        """The end of a run of this process that its storage failed to record (yet): the log still says running."""
        ended = self._unstored.get(run_id)
        return ended[1] if ended is not None else None

    async def wait(self, run_id: str) -> RunState:
        """Wait for a run to end and return its final state."""
        state = RunState()
        async for batch in self.subscribe_batches(run_id):
            fold(batch, state)
        return state

    def cancel(self, run_id: str) -> bool:
        active = self._active.get(run_id)
        if active is None:
            return False
        active.run.cancel()
        return True

    def active_runs(self, workflow_id: str | None = None) -> list[str]:
        """Ids of the runs going on now (newest first), optionally only those of one workflow (by identity)."""
        return [
            run_id
            for run_id, active in reversed(self._active.items())
            if workflow_id is None or active.workflow_id == workflow_id
        ]

    def is_active(self, run_id: str) -> bool:
        """Whether the run goes on in this process (and can be cancelled here)."""
        return run_id in self._active

    def latest(self, workflow_id: str) -> str | None:
        """The id of the most recent run, going on or ended, of any process, of the workflow with this identity
        (engine/identity.py; never by name: another workflow may have the same). Blocking."""
        found = self._log.recent(limit=1, workflow_id=workflow_id)
        return found[0].id if found else None

    def models_of(self, run_id: str) -> set[str]:
        """The models an active run calls (empty once it has ended)."""
        active = self._active.get(run_id)
        return active.run.models() if active is not None else set()

    async def close(self) -> None:
        """Cancel the runs still going and wait until their last events are stored."""
        self._stop_timers()
        await self._stop_requests()
        for active in list(self._active.values()):
            active.run.cancel()
        tasks = [a.task for a in self._active.values() if a.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await self._close_compensations()
        await self._unstored.close()
        self._writer.close()

    async def _pump(self, active: ActiveRun) -> None:
        run = active.run
        run.start()
        await _linger(run)
        try:
            while batch := await run.next_batch():
                # Agents that the events just taken made ready (their inputs all arrived) start first, and their
                # starts join this batch: storing it (its JSON is made here) would otherwise delay them.
                await asyncio.sleep(0)
                if run.queued:
                    batch += await run.next_batch()
                # Stored before anyone is told: what a watcher sees is already durable.
                try:
                    await self._writer.store(StoredBatch.of(batch), owner=_OWNER)
                except Exception as exc:
                    end = await self._storage_failed(active, exc)
                    active.events.append(end)
                    batch = [end]
                else:
                    active.events.extend(batch)
                for queue in active.subscribers:
                    queue.put_nowait(batch)
                if run.asks:  # (not every event of every run looked at: most runs have no approval)
                    for event in batch:
                        if type(event) is ApprovalRequested:
                            self._time_out(event)
                if isinstance(batch[-1], RunFinished):  # stored and told: undoing its effects waits on nothing
                    self._compensate_after(run.run_id, run.workflow, batch[-1].status)
                if isinstance(batch[-1], RunInterrupted):
                    return
        finally:
            self._active.pop(run.run_id, None)
            for queue in active.subscribers:
                queue.put_nowait(None)
            closer = getattr(run.toolbox, "close", None)  # MCP servers stop with the run (or its wait)
            if closer is not None:
                await closer()

    async def _storage_failed(self, active: ActiveRun, exc: Exception) -> RunInterrupted:
        """End a run whose events cannot be stored: stop its agents, and end it as interrupted, saying why, in the
        log if the log takes it (else later: see UnstoredEnds), and to its watchers at once."""
        run, stored = active.run, active.events
        fault = exc if isinstance(exc, StorageError) else self._log.fault(exc, doing="storing the run's events")
        if is_storage_fault(exc):
            log.error("run %s: storing its events failed, the run is interrupted: %s", run.run_id, fault)
        else:
            log.exception("run %s: storing its events failed, the run is interrupted", run.run_id)
        run.cancel()
        while await run.next_batch():  # its agents stop; what they still say cannot be stored
            pass
        if not stored:
            end = interruption(run.run_id, [], reason=f"{fault}. Nothing of this run was stored: start it again.")
            self._unstored.add([], end)
            return end
        reason = f"{fault}. What was stored is kept: resume the run once the database works again."
        end = interruption(run.run_id, stored, reason=reason)
        try:
            await asyncio.to_thread(self._log.append, [end], owner=_OWNER)
        except Exception as again:
            log.warning("run %s: its end could not be stored either (%s); trying again later", run.run_id, again)
            self._unstored.add(list(stored), end)
        return end


async def _linger(run: Run) -> None:
    """Before the first write: while the run makes progress without waiting on anything (agents that reuse an
    output, a cached or instant model), let it go on for a few turns of the loop, at most FIRST_WRITE_LINGER, so
    that what it does goes in one transaction with run_started rather than in a second one. Later batches group
    by themselves: they collect while the previous one is being written."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FIRST_WRITE_LINGER
    queued = -1
    while run.queued != queued and not run.finished and loop.time() < deadline:
        queued = run.queued
        await asyncio.sleep(0)


def recover_interrupted(log: RunLog) -> list[str]:
    """Mark runs left 'running' by a process that no longer exists as interrupted. Blocking."""
    recovered = []
    for summary in log.running():
        if _owner_alive(summary.owner):
            continue
        try:
            if mark_interrupted(log, summary.id) is not None:
                recovered.append(summary.id)
        except Exception as exc:
            # Runs can still be read: the next start that can write marks them.
            fault = exc if isinstance(exc, StorageError) else log.fault(exc, doing="marking runs of stopped processes")
            logging.getLogger("flowdeck.runner").warning("runs left running are not marked interrupted yet: %s", fault)
            break
    return recovered


def _owner_alive(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname():
        return True  # another machine's run: only that machine can tell whether it is alive
    if not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return owner == _OWNER
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
