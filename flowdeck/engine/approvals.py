"""Approval nodes within a run (format 2): the run asks a person, waits (as a state in its log, not a suspended
coroutine: see Run's suspension), and goes on with the decision, along the approved or the rejected path."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flowdeck.engine.dag import Dag
from flowdeck.engine.events import (
    ApprovalDecided,
    ApprovalRequested,
    Event,
    Log,
    NodeFailed,
    NodeSkipped,
    Usage,
)
from flowdeck.engine.llm_types import Completion
from flowdeck.engine.outbox import Outbox
from flowdeck.engine.prompts import inputs_text, join_prompt
from flowdeck.engine.replay import Continue, recorded_of, waits_of
from flowdeck.engine.routing import Action, Router
from flowdeck.engine.strict_json import text_problem
from flowdeck.engine.verdicts import Verdict
from flowdeck.engine.workflow import MAX_PROMPT_CHARS, Edge, VerdictIs
from flowdeck.errors import NotWaitingError, Problem, WorkflowError

MAX_NOTE_CHARS = 20_000


@dataclass(frozen=True, kw_only=True, slots=True)
class Decision:
    """A person's decision on an approval: approve (maybe with an edited text) or reject (with a note)."""

    approve: bool
    by: str
    note: str = ""
    text: str | None = None  # the edited text to approve instead of the one asked about
    timed_out: bool = False
    execution: int | None = None  # the round the person saw: a decision for an earlier one is stale (refused)

    def problems(self) -> list[Problem]:
        """What is wrong with it, each naming the field and the fix."""
        found = []
        if len(self.note) > MAX_NOTE_CHARS:
            found.append(Problem("note", f"{len(self.note):,} characters; the limit is {MAX_NOTE_CHARS:,}: shorten it"))
        elif (problem := text_problem(self.note)) is not None:
            found.append(Problem("note", problem))
        if self.text is not None:
            if not self.approve:
                found.append(Problem("text", "an edited text goes with approve; to reject, give a note instead"))
            elif not self.text.strip():
                found.append(
                    Problem("text", "the edited text is empty; give the text to approve, or approve without editing")
                )
            elif len(self.text) > MAX_PROMPT_CHARS:
                found.append(
                    Problem("text", f"{len(self.text):,} characters; the limit is {MAX_PROMPT_CHARS:,}: shorten it")
                )
            elif (problem := text_problem(self.text)) is not None:
                found.append(Problem("text", problem))
        return found


def check_decision(decision: Decision) -> None:
    """Raise WorkflowError naming every bad field of a decision."""
    if problems := decision.problems():
        raise WorkflowError(problems)


class Approvals:
    """The approval half of Run (engine/run.py), which sets every attribute declared here."""

    dag: Dag
    inputs: dict[str, str]
    _router: Router | None
    _outbox: Outbox
    _outputs: dict[str, str]
    _labels: dict[str, str]
    _headings: dict[str, str]
    _history: dict[str, list[tuple[str, Verdict | None, int]]]
    _waiting: dict[str, tuple[int, str]]  # approval node -> (its execution, the text asked about)
    _decisions: dict[tuple[str, int], ApprovalDecided]  # decisions the log holds (a continued run replays them)
    _rejected: bool
    _finished: bool
    _cancelled: bool
    _stop_reason: str  # why nothing more starts once the run is cancelled (or ended by a rejection)
    _running: dict[str, asyncio.Task[None]]
    _approve_all: str | None  # approve every approval at once, by this name (`flowdeck run --approve`, tests)
    _recorded: dict[tuple[str, int], Completion]
    _on_wait: Continue
    _asks: bool
    _suspended: bool
    _since: float

    if TYPE_CHECKING:  # defined by Run and Rounds

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

        def _apply(self, actions: Iterable[Action]) -> None: ...

        def _maybe_finish(self) -> None: ...

        def _skip_remaining(self, reason: str) -> None: ...

    def _start_approvals(
        self,
        prior: Sequence[Event] | None,
        decisions: Mapping[tuple[str, int], ApprovalDecided] | None,
        on_wait: Continue,
        approve_all: str | None,
    ) -> None:
        """The approval state of a new Run (see its arguments); a run continued from its log (`prior`) replays the
        outputs, failures and decisions the log holds."""
        self._failures: dict[tuple[str, int], NodeFailed] = {}
        self._waiting = {}
        self._decisions = dict(decisions or {})
        self._rejected = False
        self._on_wait = on_wait
        self._approve_all = approve_all
        self._asks = bool(self.dag.approvals)
        self._suspended = False
        self._since = 0.0  # how long the run had gone on before this process continued it
        self._log_waits: set[tuple[str, int]] = set()  # approvals its log says wait, until its replay reaches them
        self._unasked: str | None = None  # why approvals are no longer asked (another was rejected: the run ended)
        if prior:
            self._log_waits = waits_of(prior)
            outputs, self._failures = recorded_of(prior)
            self._recorded.update(outputs)
            self._decisions = {(e.node_id, e.execution): e for e in prior if isinstance(e, ApprovalDecided)}
            self._since = max(0.0, time.time() - prior[0].ts)

    @property
    def waiting(self) -> dict[str, int]:
        """The approval nodes waiting for a decision now, with their execution index."""
        return {node_id: execution for node_id, (execution, _) in self._waiting.items()}

    @property
    def replaying(self) -> frozenset[str]:
        """The approvals that wait in the log this run continues, which its replay has not reached yet: a decision on
        one of them waits for the replay (see `waiting`)."""
        return frozenset(node_id for node_id, _ in self._log_waits) if not self._finished else frozenset()

    def decide(self, node_id: str, decision: Decision) -> None:
        """A person's decision on an approval of this run that waits; NotWaitingError if none does."""
        check_decision(decision)
        found = self._waiting.get(node_id) if not self._finished else None
        if found is None:
            name = self._labels.get(node_id, node_id)
            raise NotWaitingError(f"'{name}' is not waiting for approval in this run")
        execution, text = found
        if decision.execution is not None and decision.execution != execution:
            raise NotWaitingError(stale(self._labels.get(node_id, node_id), decision.execution, execution))
        del self._waiting[node_id]
        self._take_decision(node_id, execution, text, decision)
        self._maybe_finish()

    def _take_decision(self, node_id: str, execution: int, text: str, decision: Decision) -> None:
        self._outbox.put(
            ApprovalDecided,
            node_id=node_id,
            execution=execution,
            decision="approved" if decision.approve else "rejected",
            by=decision.by,
            note=decision.note,
            text=decision.text,
            timed_out=decision.timed_out,
        )
        self._approval_decided(node_id, execution, text, decision)

    def _approval_reached(self, node_id: str, execution: int, via: Edge | None) -> bool:
        """Ask for the approval; True if the log already holds its decision (applied now), else it waits."""
        self._log_waits.discard((node_id, execution))
        if self._unasked is not None and (node_id, execution) not in self._decisions:  # another's rejection ended it
            self._outbox.put(NodeSkipped, node_id=node_id, execution=execution, reason=self._unasked)
            return True
        node = self.dag.nodes[node_id]
        config = node.approval
        assert config is not None
        assert self._router is not None
        preds = [*self._router.received_from(node_id), *((via.source,) if via is not None else ())]
        if len(preds) == 1:
            text = self._outputs[preds[0]]
        elif preds:
            text = join_prompt("", [self._headings[p] + self._outputs[p] for p in preds])
        else:
            text = inputs_text(self.inputs)
        self._outbox.put(
            ApprovalRequested,
            node_id=node_id,
            execution=execution,
            text=text,
            label=config.label,
            received_from=preds,
            timeout=config.timeout,
            on_timeout=config.on_timeout,
        )
        recorded = self._decisions.get((node_id, execution))
        if recorded is not None:  # (emitted again: a continued run's outbox drops it, a resumed run's keeps it)
            decision = Decision(
                approve=recorded.decision == "approved",
                by=recorded.by,
                note=recorded.note,
                text=recorded.text,
                timed_out=recorded.timed_out,
            )
            self._take_decision(node_id, execution, text, decision)
            return True
        if self._approve_all is not None:
            self._take_decision(node_id, execution, text, Decision(approve=True, by=self._approve_all))
            return True
        self._waiting[node_id] = (execution, text)
        return False

    def _approval_decided(self, node_id: str, execution: int, text: str, decided: Decision) -> None:
        """The node finishes with the decision: approved, its (edited) text goes on; rejected, its note goes along a
        "rejected" path, or, with none to take, the run ends rejected."""
        router = self._router
        assert router is not None
        name = self._labels[node_id]
        if decided.approve:
            output = decided.text if decided.text is not None else text
            verdict = Verdict("approved", decided.note, output)
            self._finish_node(
                node_id, execution, _completion(output), duration=0.0, cached=False, attempts=0, verdict=verdict
            )
            return
        output = decided.note or f"{name} was rejected by {decided.by}"
        verdict = Verdict("rejected", output, output)
        if self._rejected_path(node_id):
            self._finish_node(
                node_id, execution, _completion(output), duration=0.0, cached=False, attempts=0, verdict=verdict
            )
            return
        self._rejected = True
        history = self._history.setdefault(node_id, [])
        history.append((output, verdict, execution))
        self._outputs[node_id] = output
        self._outbox.node_finished(
            node_id,
            execution,
            _completion(output),
            (),
            duration=0.0,
            cached=False,
            attempts=0,
            verdict="rejected",
        )
        self._outbox.put(
            Log, level="warning", text=f"{name} was rejected: the run ends", node_id=node_id, execution=execution
        )
        self._apply(router.stop(node_id, f"{name} was rejected"))
        self._end_rejected(name)

    def _end_rejected(self, name: str) -> None:
        """A rejection with no path to take ends the run at once (issue 21: "else the run ends rejected"): the other
        approvals that wait are no longer asked, nothing more starts (an agent at work finishes its call), and the run
        ends rejected, never running a join on half its inputs."""
        self._unasked = f"{name} was rejected, so the run ended: this approval is no longer asked"
        self._cancelled = True  # the cancel's machinery stops the run; its status says rejected
        self._stop_reason = f"{name} was rejected: the run ended"
        for other, (execution, _) in self._waiting.items():
            self._outbox.put(NodeSkipped, node_id=other, execution=execution, reason=self._unasked)
        self._waiting.clear()
        if not self._running:
            self._skip_remaining(self._stop_reason)

    def _replays(self, node_id: str, execution: int) -> bool:
        """Whether a run that a rejection ended still replays this execution: the log it continues holds it (a replay
        takes its branches in another order than the run it replays, and what the log holds happened)."""
        if self._unasked is None:
            return False
        key = (node_id, execution)
        return key in self._recorded or key in self._failures or key in self._decisions or key in self._log_waits

    def _rejected_path(self, node_id: str) -> bool:
        """Whether a rejection has a path to take: an edge on verdict "rejected", or a loop edge with rounds left."""
        router = self._router
        assert router is not None
        dag = self.dag
        for edge in dag.out_edges[node_id]:
            if _on_rejected(edge):
                return True
        for loop in dag.loop_out[node_id]:
            if _on_rejected(loop) and router.round_of(loop.id) < dag.loops.by_edge[loop.id].max_rounds:
                return True
        return False


def _on_rejected(edge: Edge) -> bool:
    return isinstance(edge.condition, VerdictIs) and edge.condition.verdict.casefold() == "rejected"


def _completion(text: str) -> Completion:
    return Completion(text=text, usage=Usage(), cost=0.0)


def stale(name: str, seen: int, waiting: int) -> str:
    """Why a decision taken on an earlier round of an approval is refused."""
    return (
        f"'{name}' now waits in round {waiting}, not round {seen}: the work changed since it was shown; "
        "reload it and decide again"
    )


def decided_event(prior: Sequence[Event], node_id: str | None, decision: Decision) -> ApprovalDecided:
    """The event that records a decision on a run that waits, numbered next in its log `prior` (storing it claims the
    decision: a second one for the same wait finds its seq taken). `node_id` None: the one approval that waits.
    NotWaitingError if the run does not wait there; WorkflowError naming a bad field of the decision."""
    from flowdeck.engine.state import fold

    check_decision(decision)
    state = fold(prior)
    waiting = state.waiting()
    if state.status != "waiting" or not waiting:
        said = {"running": "still running", "pending": "not started"}.get(state.status, state.status)
        raise NotWaitingError(f"run {state.run_id} is {said}, not waiting for approval")
    if node_id is None:
        if len(waiting) > 1:
            names = ", ".join(f"{n} ({state.labels.get(n, n)})" for n in waiting)
            raise NotWaitingError(f"several approvals wait ({names}); say which with its node id")
        node_id = waiting[0]
    if node_id not in waiting:
        name = state.labels.get(node_id)
        if name is None:
            raise NotWaitingError(f"run {state.run_id} has no node '{node_id}'; waiting: {', '.join(waiting)}")
        raise NotWaitingError(f"'{name}' is not waiting for approval; waiting: {', '.join(waiting)}")
    latest = state.nodes[node_id].latest
    assert latest is not None
    if decision.execution is not None and decision.execution != latest.index:
        raise NotWaitingError(stale(state.labels.get(node_id, node_id), decision.execution, latest.index))
    return ApprovalDecided(
        run_id=state.run_id,
        seq=state.last_seq + 1,
        ts=time.time(),
        node_id=node_id,
        execution=latest.index,
        decision="approved" if decision.approve else "rejected",
        by=decision.by,
        note=decision.note,
        text=decision.text,
        timed_out=decision.timed_out,
    )
