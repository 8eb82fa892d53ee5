"""Executing a workflow with conditions or loops: the half of Run (engine/run.py) that follows the Router's answers
(engine/routing.py). A workflow without either takes Run's own path, which is as cheap as it was before them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flowdeck.engine.agents import ResolvedAgent
from flowdeck.engine.conditions import Answer
from flowdeck.engine.dag import Dag, Mode
from flowdeck.engine.events import Handoff, Log, NodeSkipped
from flowdeck.engine.llm_types import Completion
from flowdeck.engine.outbox import Outbox
from flowdeck.engine.routing import Action, Deliver, Fail, Launch, Note, Router, Skip
from flowdeck.engine.verdicts import Output, Verdict, read_verdict
from flowdeck.engine.workflow import Edge

PARTIAL = "not part of this partial run"


class Rounds:
    """Run's routed path; Run sets every attribute declared here."""

    dag: Dag
    inputs: dict[str, str]
    _router: Router | None
    _agents: dict[str, ResolvedAgent]
    _outbox: Outbox
    _outputs: dict[str, str]
    _history: dict[str, list[Output]]
    _running: dict[str, asyncio.Task[None]]
    _mode: dict[str, Mode]
    _pinned: set[str]
    _reuse: dict[str, Completion]
    _recorded: dict[tuple[str, int], Completion]
    _cancelled: bool
    _failed: bool

    if TYPE_CHECKING:  # defined by Run

        def _fail(self, node_id: str, execution: int, kind: str, message: str, retryable: bool, attempts: int) -> None:
            raise NotImplementedError

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
        raise NotImplementedError

    if TYPE_CHECKING:  # defined by Run

        async def _call_model(self, node_id: str, execution: int, via: Edge | None = None) -> bool:
            raise NotImplementedError

    if TYPE_CHECKING:  # defined by Run

        def _maybe_finish(self) -> None:
            raise NotImplementedError

    if TYPE_CHECKING:  # defined by Run

        def _skip_remaining(self, reason: str) -> None:
            raise NotImplementedError

    def _apply(self, actions: Iterable[Action]) -> None:
        """Do what the router said, in its order."""
        outbox = self._outbox
        for action in actions:
            kind = type(action)
            if kind is Launch:
                assert isinstance(action, Launch)
                if self._cancelled:
                    outbox.put(
                        NodeSkipped, node_id=action.node_id, execution=action.execution, reason="the run was cancelled"
                    )
                    continue
                task = asyncio.get_running_loop().create_task(
                    self._execute_routed(action), name=f"flowdeck:{action.node_id}"
                )
                self._running[action.node_id] = task
            elif kind is Skip:
                assert isinstance(action, Skip)
                outbox.put(NodeSkipped, node_id=action.node_id, execution=action.execution, reason=action.reason)
            elif kind is Deliver:
                assert isinstance(action, Deliver)
                self._handoff(action.edge)
            elif kind is Note:
                assert isinstance(action, Note)
                outbox.put(
                    Log, level=action.level, text=action.text, node_id=action.node_id, execution=action.execution
                )
            else:
                assert isinstance(action, Fail)
                self._failed = True
                self._fail(action.node_id, action.execution, action.kind, action.message, False, 0)

    def _handoff(self, edge: Edge) -> None:
        assert self._router is not None
        self._outbox.put(
            Handoff,
            node_id=edge.source,
            execution=self._router.execution(edge.source),
            target=edge.target,
            edge_id=edge.id,
            message=self._outputs[edge.source],
        )

    async def _execute_routed(self, launch: Launch) -> None:
        node_id, execution = launch.node_id, launch.execution
        router = self._router
        assert router is not None
        task = asyncio.current_task()
        ok = False
        try:
            if self._mode[node_id] == "skip":
                self._apply(router.skip(node_id, execution, PARTIAL))
                ok = True
            elif (reused := self._reused(node_id, execution)) is not None:
                completion, pinned = reused
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

    def _routed_done(self, node_id: str, ok: bool, task: asyncio.Task[None] | None) -> None:
        assert self._router is not None
        if self._running.get(node_id) is task:  # not a new round of this agent, launched by its own loop edge
            del self._running[node_id]
        if not ok:
            self._failed = True
            if not self._cancelled:
                self._apply(self._router.failed(node_id))
        if self._cancelled and not self._running:
            self._skip_remaining("the run was cancelled")
        self._maybe_finish()

    def _reused(self, node_id: str, execution: int) -> tuple[Completion, bool] | None:
        """The output this execution uses instead of calling the model, and whether it is a pin: a pin always; a
        resumed run's recorded one; else an agent outside a partial run reuses its output in its first round only
        (a loop that sends work back to it wants new work)."""
        if node_id in self._pinned:
            return self._reuse[node_id], True
        recorded = self._recorded.get((node_id, execution))
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
        history = self._history.setdefault(node_id, [])
        output = Output(completion.text, verdict, execution)
        output.rounds = [*history, output]
        history.append(output)
        chosen = verdict.verdict if verdict is not None else None
        answer = Answer(output=completion.text, verdict=chosen, round=execution, inputs=self.inputs)
        actions = self._router.finished(node_id, answer)
        own = [a.edge for a in actions if type(a) is Deliver and a.edge.source == node_id]
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
        self._apply(a for a in actions if not (type(a) is Deliver and a.edge.source == node_id))
