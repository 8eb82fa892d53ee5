"""Executing a workflow with conditions or loops: the half of Run (engine/run.py) that follows the Router's answers
(engine/routing.py). A workflow without either takes Run's own path, which is as cheap as it was before them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flowdeck.engine.agents import ResolvedAgent
from flowdeck.engine.conditions import Answer
from flowdeck.engine.dag import Dag, Mode
from flowdeck.engine.events import Handoff, Log, NodeFailed, NodeSkipped
from flowdeck.engine.llm_types import Completion
from flowdeck.engine.outbox import Outbox
from flowdeck.engine.routing import Action, Deliver, Launch, Note, Router, Skip
from flowdeck.engine.verdicts import Verdict, read_verdict
from flowdeck.engine.workflow import Edge

PARTIAL = "not part of this partial run"
INLINE_LIMIT = 32  # agents executed one after the other in one task before it lets the event loop run


class Rounds:
    """Run's routed path; Run sets every attribute declared here."""

    dag: Dag
    inputs: dict[str, str]
    _router: Router | None
    _agents: dict[str, ResolvedAgent]
    _outbox: Outbox
    _outputs: dict[str, str]
    _history: dict[str, list[tuple[str, Verdict | None, int]]]  # each agent's outputs, round by round
    _running: dict[str, asyncio.Task[None]]
    _mode: dict[str, Mode]
    _pinned: set[str]
    _reuse: dict[str, Completion]
    _recorded: dict[tuple[str, int], Completion]
    _failures: dict[tuple[str, int], NodeFailed]  # failures the log of a continued run holds
    _cancelled: bool
    _stop_reason: str
    _failed: bool
    _executors: set[asyncio.Task[None]]  # the tasks executing agents of this run
    _calls_only: frozenset[str]  # agents that always call their model: run, neither pinned nor an approval
    _follow: dict[asyncio.Task[None], Launch]  # what each of them executes next

    if TYPE_CHECKING:  # defined by Run

        def _fail(
            self, node_id: str, execution: int, kind: str, message: str, retryable: bool, attempts: int
        ) -> None: ...

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
        ) -> None: ...

        async def _call_model(self, node_id: str, execution: int, via: Edge | None = None) -> bool: ...

        def _maybe_finish(self) -> None: ...

        def _skip_remaining(self, reason: str) -> None: ...

        def _approval_reached(self, node_id: str, execution: int, via: Edge | None) -> bool: ...

        def _replays(self, node_id: str, execution: int) -> bool: ...

    def _apply(self, actions: Iterable[Action]) -> None:
        """Do what the router said, in its order. The first agent it launches from within an agent's task runs next
        in that task, as Run does on its own path (bench/README.md); the others get tasks of their own."""
        outbox = self._outbox
        current: asyncio.Task[None] | None = None
        for action in actions:
            if isinstance(action, Launch):
                if self._cancelled and not self._replays(action.node_id, action.execution):
                    outbox.put(
                        NodeSkipped, node_id=action.node_id, execution=action.execution, reason=self._stop_reason
                    )
                    continue
                if current is None:
                    current = asyncio.current_task()
                if current is not None and current in self._executors and current not in self._follow:
                    self._follow[current] = action
                    self._running[action.node_id] = current
                    continue
                task = asyncio.get_running_loop().create_task(
                    self._execute_routed(action), name=f"flowdeck:{action.node_id}"
                )
                self._executors.add(task)
                task.add_done_callback(self._executors.discard)
                self._running[action.node_id] = task
            elif isinstance(action, Skip):
                outbox.put(NodeSkipped, node_id=action.node_id, execution=action.execution, reason=action.reason)
            elif isinstance(action, Deliver):
                self._handoff(action.edge, action.execution)
            elif isinstance(action, Note):
                outbox.put(
                    Log, level=action.level, text=action.text, node_id=action.node_id, execution=action.execution
                )
            else:
                self._failed = True
                self._fail(action.node_id, action.execution, action.kind, action.message, False, 0)

    def _handoff(self, edge: Edge, execution: int) -> None:
        text = next(text for text, _, index in reversed(self._history[edge.source]) if index == execution)
        self._outbox.put(
            Handoff, node_id=edge.source, execution=execution, target=edge.target, edge_id=edge.id, message=text
        )

    async def _execute_routed(self, launch: Launch) -> None:
        """Execute the agent, then, in this same task, the first one it made ready, and so on."""
        task = asyncio.current_task()
        assert task is not None
        follow: Launch | None = launch
        inline = 0
        while follow is not None:
            inline += 1
            if inline % INLINE_LIMIT == 0:
                await asyncio.sleep(0)  # let the rest of the loop run now and then, in a chain that never waits
            await self._execute_routed_one(follow, task)
            follow = self._follow.pop(task, None)

    async def _execute_routed_one(self, launch: Launch, task: asyncio.Task[None]) -> None:
        node_id, execution = launch.node_id, launch.execution
        router = self._router
        assert router is not None
        ok = False
        try:
            if node_id in self._calls_only and not self._failures and not self._recorded:
                ok = await self._call_model(node_id, execution, launch.via)  # (most agents: nothing else to check)
            elif self._mode[node_id] == "skip":
                self._apply(router.skip(node_id, execution, PARTIAL))
                ok = True
            elif self._failures and (failure := self._failures.get((node_id, execution))) is not None:
                self._fail(node_id, execution, failure.error_kind, failure.message, failure.retryable, failure.attempts)
            elif node_id in self.dag.approvals and not self._reused_approval(node_id, execution):
                ok = self._approval_reached(node_id, execution, launch.via)
                if not ok:  # it waits: not a failure, and nothing it leads to is decided yet
                    self._routed_done(node_id, True, task, waiting=True)
                    return
            elif (reused := self._reused(node_id, execution)) is not None:
                completion, pinned = reused
                if node_id in self.dag.approvals:
                    verdict: Verdict | None = Verdict("approved", "", completion.text)
                else:
                    agent = self._agents[node_id]
                    verdict = read_verdict(completion.text, agent.verdicts) if agent.decides else None
                self._finish_node(
                    node_id,
                    execution,
                    completion,
                    duration=0.0,
                    cached=True,
                    attempts=0,
                    pinned=pinned,
                    verdict=verdict,
                )
                ok = True
            else:
                ok = await self._call_model(node_id, execution, launch.via)
        except asyncio.CancelledError:
            self._fail(node_id, execution, "cancelled", "the run was cancelled while this agent was working", True, 0)
        except Exception as exc:  # a bug in flowdeck must fail the node, not hang the run
            self._fail(node_id, execution, "internal", f"internal error: {type(exc).__name__}: {exc}", False, 0)
        except BaseException:
            self._routed_done(node_id, False, task)
            raise
        self._routed_done(node_id, ok, task)

    def _routed_done(self, node_id: str, ok: bool, task: asyncio.Task[None] | None, *, waiting: bool = False) -> None:
        assert self._router is not None
        follow = self._follow.get(task) if task is not None else None
        if self._running.get(node_id) is task and (follow is None or follow.node_id != node_id):
            del self._running[node_id]  # (a loop back to itself launched its next round in this task)
        if waiting:
            self._maybe_finish()
            return
        if not ok:
            self._failed = True
            if not self._cancelled:
                self._apply(self._router.failed(node_id))
        if self._cancelled and not self._running:
            self._skip_remaining(self._stop_reason)
        self._maybe_finish()

    def _reused_approval(self, node_id: str, execution: int) -> bool:
        """An approval outside a partial run (Run from here after it) reuses what was approved then, without asking
        again: it goes on as approved."""
        return execution == 1 and self._mode[node_id] == "reuse" and node_id not in self._pinned

    def _reused(self, node_id: str, execution: int) -> tuple[Completion, bool] | None:
        """The output this execution uses instead of calling the model, and whether it is a pin: a pin always; a
        resumed run's recorded one; else an agent outside a partial run reuses its output in its first round only
        (a loop that sends work back to it wants new work)."""
        if node_id in self._pinned:
            return self._reuse[node_id], True
        recorded = self._recorded.get((node_id, execution)) if self._recorded else None
        if recorded is not None:
            return recorded, False
        if execution == 1 and self._mode[node_id] == "reuse":
            return self._reuse[node_id], False
        return None

    def _finish_routed(
        self,
        node_id: str,
        execution: int,
        completion: Completion,
        verdict: Verdict | None,
        duration: float,
        cached: bool,
        attempts: int,
        pinned: bool,
    ) -> None:
        assert self._router is not None
        history = self._history.get(node_id)
        if history is None:
            history = self._history[node_id] = []
        history.append((completion.text, verdict, execution))
        chosen = verdict.verdict if verdict is not None else None
        router = self._router
        answer = Answer(completion.text, chosen, execution, self.inputs) if router.reads_answers(node_id) else None
        own, actions = router.finished(node_id, answer)
        self._outbox.node_finished(
            node_id,
            execution,
            completion,
            own,
            duration=duration,
            cached=cached,
            attempts=attempts,
            pinned=pinned,
            verdict=chosen,
        )
        if actions:
            self._apply(actions)
