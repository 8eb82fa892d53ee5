"""A run of a workflow: an async iterator of events. Each node starts as soon as its inputs are ready."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Protocol

from flowdeck.engine.dag import Dag, build
from flowdeck.engine.events import (
    Event,
    Message,
    NodeFailed,
    NodeRetrying,
    NodeSkipped,
    RunFinished,
    RunStarted,
    RunStatus,
    Usage,
)
from flowdeck.engine.llm_types import Completion, ModelCaller, ModelRequest, cache_key
from flowdeck.engine.outbox import Outbox
from flowdeck.engine.prompts import UpstreamOutput, default_prompt, render_prompt
from flowdeck.engine.retry import call_with_retries
from flowdeck.engine.tokens import TokenBuffer, TokenFlusher
from flowdeck.engine.workflow import Workflow, check_inputs
from flowdeck.errors import ModelError, PromptError


class OutputCache(Protocol):
    """Where node outputs are remembered between runs (storage provides one backed by diskcache)."""

    def get(self, key: str) -> Completion | None: ...

    def set(self, key: str, value: Completion) -> None: ...


class Run:
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
    ) -> None:
        self.dag = workflow if isinstance(workflow, Dag) else build(workflow)
        self.workflow = self.dag.workflow
        self.inputs = check_inputs(self.workflow, inputs or {})
        self.run_id = run_id or new_run_id()
        self._caller = caller
        self._default_model = default_model
        self._override = model_override
        self._cache = cache
        self._reuse = dict(reuse or {})
        self._labels = self.dag.labels
        self._agents = self.dag.agents(default_model, model_override)
        self._mode = self.dag.plan(None if scope is None else set(scope), set(self._reuse))
        self._max_retry_wait = max_retry_wait
        self._outbox = Outbox(self.run_id)
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
        self._t0 = time.monotonic()
        self._outbox.put(
            RunStarted,
            workflow_name=self.workflow.name,
            workflow=self.dag.data,
            inputs=dict(self.inputs),
            node_ids=list(self.dag.order),
            reused=[n for n in self.dag.order if self._mode[n] == "reuse"],
            model=self._override,
        )
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
        for task in list(self._running.values()):
            task.cancel()
        if not self._running:
            self._skip_remaining("the run was cancelled")
            self._maybe_finish()

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def queued(self) -> int:
        """How many events wait to be taken."""
        return self._outbox.queued

    def models(self) -> set[str]:
        """The models this run will call (for the caller to prepare before it starts)."""
        return {agent.model for agent in self._agents.values()}

    def callers_of(self) -> dict[str, list[str]]:
        """Each model this run will call, with the names of the agents that call it (reused ones do not)."""
        calls: dict[str, list[str]] = {}
        for node in self.workflow.nodes:
            if self._mode[node.id] == "run":
                calls.setdefault(self._agents[node.id].model, []).append(self._labels[node.id])
        return calls

    # -- scheduling -------------------------------------------------------------------------------

    def _launch(self, node_id: str) -> None:
        self._state[node_id] = "running"
        task = asyncio.get_running_loop().create_task(self._execute(node_id), name=f"flowdeck:{node_id}")
        self._running[node_id] = task

    def _node_done(self, node_id: str, ok: bool) -> None:
        self._running.pop(node_id, None)
        if self._state.get(node_id) != "skipped":
            self._state[node_id] = "succeeded" if ok else "failed"
        if self._cancelled:
            if not self._running:
                self._skip_remaining("the run was cancelled")
        elif ok:
            for succ in self.dag.successors[node_id]:
                self._pending[succ] -= 1
                if self._pending[succ] == 0 and succ not in self._state:
                    self._launch(succ)
        else:
            import networkx as nx  # lazily: it costs ~0.4 s of start-up

            self._failed = True
            label = self._labels[node_id]
            for descendant in nx.topological_sort(self.dag.graph.subgraph(nx.descendants(self.dag.graph, node_id))):
                if descendant not in self._state:
                    self._skip(descendant, f"upstream agent '{label}' failed")
        self._maybe_finish()

    def _skip_remaining(self, reason: str) -> None:
        for node_id in self.dag.order:
            if node_id not in self._state:
                self._skip(node_id, reason)

    def _skip(self, node_id: str, reason: str) -> None:
        self._state[node_id] = "skipped"
        self._outbox.put(NodeSkipped, node_id=node_id, execution=1, reason=reason)

    def _maybe_finish(self) -> None:
        if self._finished or len(self._state) < len(self.dag.order) or self._running:
            return
        status: RunStatus = "cancelled" if self._cancelled else "failed" if self._failed else "succeeded"
        usage = Usage(prompt_tokens=self._prompt_tokens, completion_tokens=self._completion_tokens)
        self._outbox.put(RunFinished, status=status, duration=time.monotonic() - self._t0, usage=usage, cost=self._cost)
        self._finished = True
        self._flusher.close()
        self._outbox.close()

    # -- one node ----------------------------------------------------------------------------------

    async def _execute(self, node_id: str) -> None:
        ok = False
        execution = 1
        try:
            mode = self._mode[node_id]
            if mode == "skip":
                self._skip(node_id, "not part of this partial run")
                ok = True  # nothing downstream waits for it: its successors are outside the run too
                return
            if mode == "reuse":
                self._finish_node(node_id, execution, self._reuse[node_id], duration=0.0, cached=True, attempts=0)
                ok = True
                return
            ok = await self._call_model(node_id, execution)
        except asyncio.CancelledError:
            self._fail(node_id, execution, "cancelled", "the run was cancelled while this agent was working", True, 0)
        except Exception as exc:  # a bug in flowdeck must fail the node, not hang the run
            self._fail(node_id, execution, "internal", f"internal error: {type(exc).__name__}: {exc}", False, 0)
        finally:
            self._node_done(node_id, ok)

    async def _call_model(self, node_id: str, execution: int) -> bool:
        agent = self._agents[node_id]
        preds = self.dag.predecessors[node_id]
        outputs, labels = self._outputs, self._labels
        if agent.prompt_template is None:
            user = default_prompt(self.inputs, [(labels[p], outputs[p]) for p in preds])
        else:
            try:
                user = render_prompt(
                    agent.prompt_template,
                    self.inputs,
                    [UpstreamOutput(id=p, label=labels[p], output=outputs[p]) for p in preds],
                    {a: outputs[a] for a in self.dag.ancestors[node_id]},
                )
            except PromptError as exc:
                self._fail(node_id, execution, exc.kind, str(exc), False, 0)
                return False
        request = ModelRequest(
            model=agent.model,
            messages=[Message(role="system", content=agent.system_prompt), Message(role="user", content=user)],
            temperature=agent.temperature,
            max_tokens=agent.max_tokens,
            timeout=agent.timeout,
        )
        key = ""
        if self._cache is not None:
            key = cache_key(request)
            hit = await asyncio.to_thread(self._cache.get, key)
            if hit is not None:
                self._outbox.node_started(node_id, execution, 1, request, preds)
                self._finish_node(node_id, execution, hit, duration=0.0, cached=True, attempts=1)
                return True

        tokens = TokenBuffer(self._outbox, node_id, execution)
        flusher = self._flusher
        t0 = time.monotonic()
        max_attempts = agent.retries + 1
        attempts = 0

        async def attempt() -> Completion:
            nonlocal attempts
            attempts += 1
            tokens.attempt = attempts
            self._outbox.node_started(node_id, execution, attempts, request, preds)
            flusher.attach(tokens)
            try:
                return await self._caller.call(request, tokens.add)
            finally:
                tokens.flush()
                flusher.detach(tokens)

        def on_retry(error: ModelError, next_attempt: int, wait: float) -> None:
            self._outbox.put(
                NodeRetrying,
                node_id=node_id,
                execution=execution,
                attempt=next_attempt,
                max_attempts=max_attempts,
                error_kind=error.kind,
                message=str(error),
                wait=wait,
            )

        try:
            completion = await call_with_retries(
                attempt, max_attempts=max_attempts, max_wait=self._max_retry_wait, on_retry=on_retry
            )
        except ModelError as exc:
            self._fail(node_id, execution, exc.kind, str(exc), exc.retryable, attempts)
            return False
        if self._cache is not None:
            await asyncio.to_thread(self._cache.set, key, completion)
        self._finish_node(
            node_id, execution, completion, duration=time.monotonic() - t0, cached=False, attempts=attempts
        )
        return True

    def _finish_node(
        self,
        node_id: str,
        execution: int,
        completion: Completion,
        *,
        duration: float,
        cached: bool,
        attempts: int,
    ) -> None:
        usage = completion.usage
        self._outputs[node_id] = completion.text
        self._prompt_tokens += usage.prompt_tokens
        self._completion_tokens += usage.completion_tokens
        self._cost += completion.cost
        self._outbox.node_finished(
            node_id,
            execution,
            completion,
            self.dag.out_edges[node_id],
            duration=duration,
            cached=cached,
            attempts=attempts,
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
