"""RunState = fold(events): the one reducer behind every view of a run (live, reloaded, history, replay)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from flowdeck.engine.agents import display_name
from flowdeck.engine.events import (
    ApprovalDecided,
    ApprovalRequested,
    Event,
    Handoff,
    Log,
    NodeFailed,
    NodeFinished,
    NodeRetrying,
    NodeSkipped,
    NodeStarted,
    RunFinished,
    RunInterrupted,
    RunOrigin,
    RunStarted,
    RunWaiting,
    Token,
    ToolCalled,
    ToolFinished,
    Usage,
)
from flowdeck.engine.node_state import (
    TERMINAL_NODE,
    Execution,
    NodeState,
    NodeStatus,
    ToolCallState,
)
from flowdeck.engine.workflow import ancestors, parse_workflow, predecessors
from flowdeck.errors import WorkflowError

__all__ = [  # the node's part lives in engine/node_state.py; readers import it from here
    "TERMINAL_NODE",
    "Execution",
    "NodeState",
    "NodeStatus",
    "RunPhase",
    "RunState",
    "ToolCallState",
    "fold",
    "run_label",
]

RunPhase = Literal["pending", "running", "waiting", "succeeded", "failed", "cancelled", "interrupted", "rejected"]
CHARS_PER_TOKEN = 4  # a common rule of thumb for English text and code; only for estimates while agents stream


@dataclass(kw_only=True, slots=True)
class RunState:
    run_id: str = ""
    status: RunPhase = "pending"
    workflow_name: str = ""
    workflow_id: str | None = None  # which workflow the run belongs to (engine/identity.py)
    workflow: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # node id -> the name shown, for every node of the run
    reused: list[str] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)  # the agents this run executes (a partial run: not all of them)
    origin: RunOrigin | None = None
    label: str = ""  # what a partial run is, e.g. "Retry of Coder"; "" for a run of the whole workflow
    inputs: dict[str, str] = field(default_factory=dict)
    nodes: dict[str, NodeState] = field(default_factory=dict)
    handoffs: list[Handoff] = field(default_factory=list)
    logs: list[Log] = field(default_factory=list)
    last_seq: int = 0
    last_ts: float | None = None
    gaps: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    duration: float | None = None
    usage: Usage = field(default_factory=Usage)
    cost: float = 0.0
    interrupted_nodes: list[str] = field(default_factory=list)
    interrupted_reason: str | None = None  # why it was interrupted, when known (RunInterrupted.reason)

    def apply(self, event: Event) -> None:
        """Fold one event in. Events at or below last_seq are ignored, so replays never double-count."""
        seq, last = event.seq, self.last_seq
        if seq <= last:
            return
        if seq != last + 1:
            self.gaps += 1
        self.last_seq = seq
        _APPLY[type(event)](self, event)
        self.last_ts = event.ts

    def _execution(self, node_id: str, index: int) -> Execution:
        node = self.nodes.get(node_id)
        if node is None:
            node = self.nodes[node_id] = NodeState(node_id=node_id)
        return node.execution(index)

    def upstream(self, node_id: str) -> frozenset[str]:
        """The nodes upstream of this one in the run's workflow."""
        edges = self.workflow.get("edges", [])
        return ancestors(predecessors((str(e.get("source")), str(e.get("target"))) for e in edges), node_id)

    def tokens(self) -> tuple[int, bool]:
        """The tokens used so far, and whether that is an estimate: providers report usage when a call ends, so
        while agents stream, what they were sent and have written counts at about CHARS_PER_TOKEN a token; so does a
        call stopped before it reported any (cancelled, failed, interrupted), which a provider bills all the same."""
        total = self.usage.total_tokens
        chars = 0
        for node in self.nodes.values():
            for ex in node.executions:
                unreported = (
                    ex.status in ("running", "cancelled", "failed", "interrupted") and not ex.usage.total_tokens
                )
                if unreported and (ex.text or ex.status == "running"):
                    chars += len(ex.text) + sum(len(message.content) for message in ex.messages)
        if not chars:
            return total, False
        return total + -(-chars // CHARS_PER_TOKEN), True

    def waiting(self) -> list[str]:
        """The approval nodes waiting for a decision now, in run order."""
        return [node_id for node_id, node in self.nodes.items() if node.status == "waiting"]

    def outputs(self) -> dict[str, str]:
        """The latest committed output of every node that has one."""
        result = {}
        for node_id, node in self.nodes.items():
            for ex in reversed(node.executions):
                if ex.output is not None:
                    result[node_id] = ex.output
                    break
        return result


# -- how each kind of event changes the state (looked up by type: a run folds thousands of events) -------------


def _token(state: RunState, event: Token) -> None:
    ex = state._execution(event.node_id, event.execution)
    if event.attempt == ex.attempt or ex.attempt == 0:
        ex.text += event.text


def _node_started(state: RunState, event: NodeStarted) -> None:
    ex = state._execution(event.node_id, event.execution)
    ex.status = "running"
    ex.attempt = event.attempt
    ex.model = event.model
    ex.messages = event.messages
    ex.parameters = event.parameters
    ex.received_from = event.received_from
    ex.text = ""
    ex.retry_wait = None
    if ex.started_at is None:
        ex.started_at = event.ts


def _node_finished(state: RunState, event: NodeFinished) -> None:
    ex = state._execution(event.node_id, event.execution)
    ex.status = "succeeded"
    ex.output = event.output
    ex.text = event.output
    ex.usage = event.usage
    ex.cost = event.cost
    ex.duration = event.duration
    ex.cached = event.cached
    ex.cut = event.cut
    ex.pinned = event.pinned
    ex.verdict = event.verdict
    ex.finished_at = event.ts
    ex.error_kind = ex.error = None
    state.usage = state.usage + event.usage
    state.cost += event.cost


def _handoff(state: RunState, event: Handoff) -> None:
    state.handoffs.append(event)


def _log(state: RunState, event: Log) -> None:
    state.logs.append(event)


def _node_retrying(state: RunState, event: NodeRetrying) -> None:
    ex = state._execution(event.node_id, event.execution)
    ex.status = "retrying"
    ex.error_kind = event.error_kind
    ex.error = event.message
    ex.retry_wait = event.wait
    ex.max_attempts = event.max_attempts


def _node_failed(state: RunState, event: NodeFailed) -> None:
    ex = state._execution(event.node_id, event.execution)
    ex.status = "cancelled" if event.error_kind == "cancelled" else "failed"
    ex.error_kind = event.error_kind
    ex.error = event.message
    ex.finished_at = event.ts
    if ex.started_at is not None:
        ex.duration = event.ts - ex.started_at


def _node_skipped(state: RunState, event: NodeSkipped) -> None:
    ex = state._execution(event.node_id, event.execution)
    ex.status = "skipped"
    ex.skip_reason = event.reason


def _approval_requested(state: RunState, event: ApprovalRequested) -> None:
    ex = state._execution(event.node_id, event.execution)
    ex.status = "waiting"
    ex.approval = event
    ex.decision = None
    ex.text = event.text
    ex.received_from = event.received_from
    if ex.started_at is None:
        ex.started_at = event.ts


def _approval_decided(state: RunState, event: ApprovalDecided) -> None:
    ex = state._execution(event.node_id, event.execution)
    ex.decision = event
    if state.status == "waiting":
        state.status = "running"  # a decision continues the run; its node finishes with the next events


def _run_waiting(state: RunState, event: RunWaiting) -> None:
    state.status = "waiting"


def _run_started(state: RunState, event: RunStarted) -> None:
    state.run_id = event.run_id
    state.status = "running"
    state.workflow_name = event.workflow_name
    state.workflow_id = event.workflow_id
    state.workflow = event.workflow
    state.labels = dict(event.labels) or _labels_of(event)
    state.reused = list(event.reused)
    reused = set(event.reused)
    state.ran = list(event.scope) if event.scope is not None else [n for n in event.node_ids if n not in reused]
    state.origin = event.origin
    state.label = run_label(event)
    state.inputs = dict(event.inputs)
    state.started_at = event.ts
    for node_id in event.node_ids:
        state.nodes.setdefault(node_id, NodeState(node_id=node_id))


def _labels_of(event: RunStarted) -> dict[str, str]:
    """Names for a run recorded before RunStarted carried them: from its workflow, else the node ids."""
    try:
        workflow = parse_workflow(event.workflow, source=f"the workflow of run {event.run_id}")
    except WorkflowError:
        return {node_id: node_id for node_id in event.node_ids}
    names = {node.id: display_name(node) for node in workflow.nodes}
    return {node_id: names.get(node_id, node_id) for node_id in event.node_ids}


def _run_finished(state: RunState, event: RunFinished) -> None:
    state.status = event.status
    state.finished_at = event.ts
    state.duration = event.duration


def _run_interrupted(state: RunState, event: RunInterrupted) -> None:
    state.status = "interrupted"
    # It stopped at its last event; this one was written when the server came back, perhaps hours later.
    state.finished_at = state.last_ts if state.last_ts is not None else event.ts
    if state.started_at is not None:
        state.duration = event.duration if event.duration is not None else state.finished_at - state.started_at
    state.interrupted_nodes = list(event.running)
    state.interrupted_reason = event.reason
    for node in state.nodes.values():
        latest = node.latest
        if latest is not None and latest.status not in TERMINAL_NODE:
            latest.status = "interrupted"


def _tool_called(state: RunState, event: ToolCalled) -> None:
    ex = state._execution(event.node_id, event.execution)
    ex.tool_calls.append(ToolCallState(call=event))


def _tool_finished(state: RunState, event: ToolFinished) -> None:
    ex = state._execution(event.node_id, event.execution)
    for made in reversed(ex.tool_calls):
        if made.call.call_id == event.call_id and made.finished is None:
            made.finished = event
            return


_APPLY: dict[type[Event], Callable[[RunState, Any], None]] = {
    Token: _token,
    NodeStarted: _node_started,
    NodeFinished: _node_finished,
    Handoff: _handoff,
    Log: _log,
    NodeRetrying: _node_retrying,
    NodeFailed: _node_failed,
    NodeSkipped: _node_skipped,
    RunStarted: _run_started,
    RunFinished: _run_finished,
    RunInterrupted: _run_interrupted,
    ApprovalRequested: _approval_requested,
    ApprovalDecided: _approval_decided,
    RunWaiting: _run_waiting,
    ToolCalled: _tool_called,
    ToolFinished: _tool_finished,
}


def run_label(event: RunStarted) -> str:
    """What a run is, in a few words: "" for a run of the whole workflow, else e.g. "Run from Coder", "Retry of
    Reviewer", "Only Coder" or "Resume of <run id>" ("Partial run" in logs that did not record which)."""
    origin = event.origin
    if origin is None:
        pinned = set(event.pinned)  # a pin is part of the workflow: a run that uses one is still whole
        return "Partial run" if any(n not in pinned for n in event.reused) or event.scope is not None else ""
    if origin.kind == "resume":
        return f"Resume of {origin.run_id}"
    agent = origin.node_label or origin.node_id
    return {"from": f"Run from {agent}", "retry": f"Retry of {agent}", "only": f"Only {agent}"}[origin.kind]


def fold(events: Iterable[Event], state: RunState | None = None) -> RunState:
    """Apply events in order to a new (or the given) RunState."""
    state = state if state is not None else RunState()
    for event in events:
        state.apply(event)
    return state
