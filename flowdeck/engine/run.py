"""A run of a workflow: an async iterator of events. Each node starts as soon as its inputs are ready."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence

from flowdeck.engine.approvals import Approvals, Continue, ReplayOutbox
from flowdeck.engine.calls import ModelCalls
from flowdeck.engine.dag import Dag, build
from flowdeck.engine.events import (
    ApprovalDecided,
    Event,
    NodeFailed,
    NodeSkipped,
    RunFinished,
    RunOrigin,
    RunStarted,
    RunStatus,
    RunWaiting,
    Usage,
)
from flowdeck.engine.inputs import check_inputs
from flowdeck.engine.llm_types import Completion, ModelCaller, OutputCache
from flowdeck.engine.outbox import Outbox
from flowdeck.engine.prompts import inputs_text, upstream_heading
from flowdeck.engine.rounds import INLINE_LIMIT, Rounds
from flowdeck.engine.routing import Launch, Router
from flowdeck.engine.tokens import TokenFlusher
from flowdeck.engine.tool_loop import UnknownEffect
from flowdeck.engine.tools import EffectJournal, Toolbox
from flowdeck.engine.verdicts import Verdict
from flowdeck.engine.workflow import Workflow

__all__ = ["OutputCache", "Run", "drain", "new_run_id"]


class Run(Rounds, ModelCalls, Approvals):
    """One execution of a workflow. Iterate it (`async for event in run`) to drive it and see every event."""

    def __init__(
        self,
        workflow: Workflow | Dag,
        inputs: Mapping[str, str] | None = None,
        *,
        caller: ModelCaller,
        default_model: str = "embedded",
        model_override: str | None = None,
        cache: OutputCache | None = None,
        reuse: Mapping[str, Completion] | None = None,
        scope: Iterable[str] | None = None,
        run_id: str | None = None,
        max_retry_wait: float = 60.0,
        origin: RunOrigin | None = None,
        workflow_id: str | None = None,
        recorded: Mapping[tuple[str, int], Completion] | None = None,
        prior: Sequence[Event] | None = None,
        on_wait: Continue = "wait",
        approve_all: str | None = None,
        decisions: Mapping[tuple[str, int], ApprovalDecided] | None = None,
        toolbox: Toolbox | None = None,
        journal: EffectJournal | None = None,
        on_unknown_effect: UnknownEffect = "fail",
        effects_run_id: str | None = None,
    ) -> None:
        """`reuse`: outputs to use instead of calling the model, by agent (for its first execution, or every one if
        it is pinned); `recorded`: by (agent, execution), as a resumed run replays the rounds its original ran.

        `prior`: the log of a run that waited for approval, which this one continues under the same id: it replays
        what the log holds (outputs, failures, decisions) without calling a model, and the events that replay makes
        again are not emitted twice. `on_wait`: "cancel" cancels the run where it would wait again. `approve_all`:
        every approval is approved at once, in this name (headless runs that are told to, and tests). `decisions`: by
        (approval, execution), as a resumed run replays the decisions its original took.

        `toolbox` runs the tools agents list, `journal` records their side effects (engine/tool_loop.py);
        `on_unknown_effect`: what to do with a call whose intent is recorded without an outcome ("fail" the agent,
        "retry" the call, "skip" it). `effects_run_id`: the run whose side effects this one continues (a resume:
        the first run's id), whose calls' keys it uses so that it finds their recorded outcomes; default this run."""
        self.dag = workflow if isinstance(workflow, Dag) else build(workflow)
        self.workflow = self.dag.workflow
        self.inputs = check_inputs(self.workflow, inputs or {})
        self.run_id = run_id or new_run_id()
        self._caller = caller
        self._default_model = default_model
        self._override = model_override
        self._cache = cache
        pins = {
            n.id: Completion(text=n.pinned_output, usage=Usage(), cost=0.0)
            for n in self.workflow.nodes
            if n.pinned_output is not None
        }
        self._pinned = set(pins)
        self._reuse = {**(reuse or {}), **pins}
        self._labels = self.dag.labels
        self._inputs_text = inputs_text(self.inputs)
        self._headings = {node_id: upstream_heading(label) for node_id, label in self._labels.items()}
        self._agents = self.dag.agents(default_model, model_override)
        self._mode = self.dag.plan(None if scope is None else set(scope), set(self._reuse), self._pinned)
        self._partial = scope is not None
        self._origin = origin
        self._workflow_id = workflow_id
        self._max_retry_wait = max_retry_wait
        self._outbox = Outbox(self.run_id) if prior is None else ReplayOutbox(self.run_id, prior)
        self._started = False
        self._finished = False
        self._cancelled = False
        self._t0 = 0.0
        self._pending = {node: len(preds) for node, preds in self.dag.predecessors.items()}
        self._outputs: dict[str, str] = {}
        self._state: dict[str, str] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._prompt_tokens = 0
        self._completion_tokens = 0
        self._cost = 0.0
        self._failed = False
        self._flusher = TokenFlusher()
        self._router = None if self.dag.plain else Router(self.dag)
        self._history: dict[str, list[tuple[str, Verdict | None, int]]] = {}
        self._recorded = dict(recorded or {})
        self._toolbox = toolbox
        self._journal = journal
        self._on_unknown_effect = on_unknown_effect
        self._effects_run_id = effects_run_id or self.run_id
        self._start_approvals(prior, decisions, on_wait, approve_all)
        self._executors: set[asyncio.Task[None]] = set()
        self._follow: dict[asyncio.Task[None], Launch] = {}

    async def __aiter__(self) -> AsyncIterator[Event]:
        while batch := await self.next_batch():
            for event in batch:
                yield event

    async def next_batch(self) -> list[Event]:
        """Every event queued so far, waiting for at least one; [] once the run has finished and all were taken."""
        self.start()
        return await self._outbox.take()

    def start(self) -> None:
        """Start the run; events queue up until someone iterates the run."""
        if self._started:
            return
        self._started = True
        self._t0 = time.monotonic() - self._since
        self._outbox.put(
            RunStarted,
            workflow_name=self.workflow.name,
            workflow=self.dag.data,
            inputs=dict(self.inputs),
            node_ids=list(self.dag.order),
            reused=[n for n in self.dag.order if self._mode[n] == "reuse"],
            model=self._override,
            labels=self.dag.labels,
            pinned=[n for n in self.dag.order if n in self._pinned],
            scope=[n for n in self.dag.order if self._mode[n] == "run"] if self._partial else None,
            origin=self._origin,
            workflow_id=self._workflow_id,
        )
        if self._router is not None:
            self._apply(self._router.start())
        else:
            for node_id in self.dag.order:
                if self._pending[node_id] == 0:
                    self._launch(node_id)
        self._maybe_finish()

    def cancel(self) -> None:
        """Stop the run: running nodes are cancelled, queued ones skipped, and the run ends as cancelled."""
        if self._finished or self._cancelled:
            return
        self._cancelled = True
        if not self._started:
            self.start()
        for node_id, (execution, _) in self._waiting.items():
            reason = "the run was cancelled while this approval waited"
            self._outbox.put(NodeSkipped, node_id=node_id, execution=execution, reason=reason)
        self._waiting.clear()
        for task in set(self._running.values()):
            task.add_done_callback(self._never_ran)
            task.cancel()
        if not self._running:
            self._skip_remaining("the run was cancelled")
            self._maybe_finish()

    def _never_ran(self, task: asyncio.Task[None]) -> None:
        """A task cancelled before its first step never runs its agent's own ending: end its agents here."""
        if not task.cancelled():
            return
        for node_id in [n for n, t in self._running.items() if t is task]:
            del self._running[node_id]
            execution = self._router.execution(node_id) if self._router is not None else 1
            if self._router is None:
                self._state[node_id] = "skipped"
            reason = "the run was cancelled before this agent started"
            self._outbox.put(NodeSkipped, node_id=node_id, execution=execution, reason=reason)
        if not self._running:
            self._skip_remaining("the run was cancelled")
        self._maybe_finish()

    @property
    def finished(self) -> bool:
        """The run has ended, or waits for a person (`suspended`): it emits nothing more."""
        return self._finished

    @property
    def asks(self) -> bool:
        """Whether the workflow has approval steps (the run may ask a person)."""
        return self._asks

    @property
    def suspended(self) -> bool:
        """The run stopped to wait for approval; a decision continues it from its log (see `prior`)."""
        return self._suspended

    @property
    def toolbox(self) -> Toolbox | None:
        """The tools its agents call (whoever drives the run closes it when the run lets go: MCP servers stop)."""
        return self._toolbox

    @property
    def queued(self) -> int:
        """How many events wait to be taken."""
        return self._outbox.queued

    def models(self) -> set[str]:
        """The models this run will call (for the caller to prepare before it starts)."""
        return {self._agents[node_id].model for node_id in self._calling()}

    def callers_of(self) -> dict[str, list[str]]:
        """Each model this run will call, with the names of the agents that call it (reused ones do not)."""
        calls: dict[str, list[str]] = {}
        calling = self._calling()
        for node in self.workflow.nodes:
            if node.id in calling:
                calls.setdefault(self._agents[node.id].model, []).append(self._labels[node.id])
        return calls

    def _calling(self) -> set[str]:
        """The agents that may call their model: those the run executes, and a loop's agents, which a later round
        runs again even when their first one reuses an output."""
        looping = set().union(*(span.body for span in self.dag.loops.spans)) - self._pinned
        agents = self._agents  # not an approval: a person, no model
        return {
            n for n, mode in self._mode.items() if n in agents and (mode == "run" or (mode == "reuse" and n in looping))
        }

    # -- scheduling -------------------------------------------------------------------------------

    def _launch(self, node_id: str) -> None:
        self._state[node_id] = "running"
        task = asyncio.get_running_loop().create_task(self._execute(node_id), name=f"flowdeck:{node_id}")
        self._running[node_id] = task

    def _node_done(self, node_id: str, ok: bool, task: asyncio.Task[None] | None = None) -> str | None:
        """Record the node's end and start the successors it made ready. With `task` (the one that executed the
        node), the first of them is handed back to be executed next in that task instead of in a new one."""
        running = self._running
        running.pop(node_id, None)
        if self._state.get(node_id) != "skipped":
            self._state[node_id] = "succeeded" if ok else "failed"
        follow: str | None = None
        if self._cancelled:
            if not running:
                self._skip_remaining("the run was cancelled")
        elif ok:
            pending, state = self._pending, self._state
            for succ in self.dag.successors[node_id]:
                pending[succ] -= 1
                if pending[succ] == 0 and succ not in state:
                    if task is not None and follow is None:
                        follow = succ
                        state[succ] = "running"
                        running[succ] = task
                    else:
                        self._launch(succ)
        else:
            import networkx as nx  # lazily: its import slows start-up (bench/README.md)

            self._failed = True
            label = self._labels[node_id]
            for descendant in nx.topological_sort(self.dag.graph.subgraph(nx.descendants(self.dag.graph, node_id))):
                if descendant not in self._state:
                    self._skip(descendant, f"upstream agent '{label}' failed")
        if follow is None:
            self._maybe_finish()
        return follow

    def _skip_remaining(self, reason: str) -> None:
        if self._router is not None:
            for node_id, execution in self._router.undecided():
                self._router.abandon(node_id)
                self._outbox.put(NodeSkipped, node_id=node_id, execution=execution, reason=reason)
            return
        for node_id in self.dag.order:
            if node_id not in self._state:
                self._skip(node_id, reason)

    def _skip(self, node_id: str, reason: str) -> None:
        self._state[node_id] = "skipped"
        self._outbox.put(NodeSkipped, node_id=node_id, execution=1, reason=reason)

    def _maybe_finish(self) -> None:
        if self._finished or self._running:
            return
        if self._waiting and not self._cancelled:
            if self._on_wait == "cancel":
                self.cancel()
                return
            # Nothing runs until a person decides: the run stops here, stored as waiting (not a coroutine that a
            # restart would lose), and a decision continues it from its log.
            self._outbox.put(RunWaiting, waiting=list(self._waiting))
            self._finished = self._suspended = True
            self._flusher.close()
            self._outbox.close()
            return
        if not self._router.done if self._router is not None else len(self._state) < len(self.dag.order):
            return
        status: RunStatus = (
            "cancelled"
            if self._cancelled
            else "failed"
            if self._failed
            else "rejected"
            if self._rejected
            else "succeeded"
        )
        usage = Usage(prompt_tokens=self._prompt_tokens, completion_tokens=self._completion_tokens)
        self._outbox.put(RunFinished, status=status, duration=time.monotonic() - self._t0, usage=usage, cost=self._cost)
        self._finished = True
        self._flusher.close()
        self._outbox.close()

    # -- one node ----------------------------------------------------------------------------------

    async def _execute(self, node_id: str | None) -> None:
        """Execute the node, then, in this same task, a successor it made ready, and so on: an agent whose
        inputs all came from the agent that just finished starts at once, without the cost of a task of its own
        (bench/README.md). Other successors made ready at the same time get their own."""
        task = asyncio.current_task()
        inline = 0
        while node_id is not None:
            inline += 1
            node_id = await self._execute_one(node_id, task, pause=inline % INLINE_LIMIT == 0)

    async def _execute_one(self, node_id: str, task: asyncio.Task[None] | None, *, pause: bool) -> str | None:
        """Execute one node; return the successor to execute next in this task, if any."""
        ok = False
        execution = 1
        try:
            if pause:
                await asyncio.sleep(0)  # let the rest of the loop run now and then, in a chain that never waits
            mode = self._mode[node_id]
            if mode == "skip":
                self._skip(node_id, "not part of this partial run")
                ok = True  # nothing downstream waits for it: its successors are outside the run too
            elif mode == "reuse":
                reused = self._reuse[node_id]
                pinned = node_id in self._pinned
                self._finish_node(node_id, execution, reused, duration=0.0, cached=True, attempts=0, pinned=pinned)
                ok = True
            else:
                ok = await self._call_model(node_id, execution)
        except asyncio.CancelledError:
            self._fail(node_id, execution, "cancelled", "the run was cancelled while this agent was working", True, 0)
            task = None  # the task is being cancelled: it executes nothing more
        except Exception as exc:  # a bug in flowdeck must fail the node, not hang the run
            self._fail(node_id, execution, "internal", f"internal error: {type(exc).__name__}: {exc}", False, 0)
        except BaseException:  # KeyboardInterrupt, SystemExit: the node ends as failed on the way out
            self._node_done(node_id, False)
            raise
        return self._node_done(node_id, ok, task)

    def _finish_node(
        self,
        node_id: str,
        execution: int,
        completion: Completion,
        *,
        duration: float,
        cached: bool,
        attempts: int,
        pinned: bool = False,
        verdict: Verdict | None = None,
    ) -> None:
        usage = completion.usage
        self._outputs[node_id] = completion.text
        self._prompt_tokens += usage.prompt_tokens
        self._completion_tokens += usage.completion_tokens
        self._cost += completion.cost
        if self._router is not None:
            self._finish_routed(node_id, execution, completion, verdict, duration, cached, attempts, pinned)
            return
        self._outbox.node_finished(
            node_id,
            execution,
            completion,
            self.dag.out_edges[node_id],
            duration=duration,
            cached=cached,
            attempts=attempts,
            pinned=pinned,
        )

    def _fail(self, node_id: str, execution: int, kind: str, message: str, retryable: bool, attempts: int) -> None:
        self._outbox.put(
            NodeFailed,
            node_id=node_id,
            execution=execution,
            error_kind=kind,
            message=message,
            retryable=retryable,
            attempts=attempts,
        )


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


async def drain(run: Run, on_event: Callable[[Event], None] | None = None) -> list[Event]:
    """Run to completion and return every event."""
    events: list[Event] = []
    while batch := await run.next_batch():
        events.extend(batch)
        if on_event is not None:
            for event in batch:
                on_event(event)
    return events
