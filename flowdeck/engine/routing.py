"""Routing (format 2): which agents run, in which round, and which are skipped and why, in a workflow with
conditions or loops. Pure bookkeeping: the run tells it what each agent did, it answers with what happens next.

Each ordinary edge is pending, delivered, dead (its condition did not hold, or its source was skipped) or failed
(its source failed). An agent is decided once none of its incoming edges is pending: it runs if one was delivered
(or it has none), and is skipped, with the reason that killed its first edge, if all are dead or one failed.

A loop edge that is taken starts the next round of its body: the body's agents are undecided again, the edges
among them pending, and the loop's target runs at once (its other inputs are outside the body, so still there).
Edges that leave a loop's body are held until the loop ends (its source takes no loop edge back), so that
nothing after a loop sees a round that was sent back."""

from __future__ import annotations

from dataclasses import dataclass

from flowdeck.engine.conditions import Answer, taken
from flowdeck.engine.dag import Dag
from flowdeck.engine.workflow import Contains, Edge, Expression, VerdictIs
from flowdeck.errors import RoutingError

DELIVERED, DEAD, FAILED = "delivered", "dead", "failed"
_DELIVERED = (DELIVERED, "")


@dataclass(slots=True)  # not frozen: a frozen dataclass is slower to make, and the router makes several an agent
class Launch:
    """Run this agent now, as its execution `execution`; `via`: the loop edge that sent it back, if any."""

    node_id: str
    execution: int
    via: Edge | None = None


@dataclass(slots=True)
class Skip:
    node_id: str
    execution: int
    reason: str


@dataclass(slots=True)
class Deliver:
    """Hand the source's output of this execution along this edge (a loop edge too, when it is taken)."""

    edge: Edge
    execution: int


@dataclass(slots=True)
class Note:
    node_id: str
    execution: int
    level: str
    text: str


@dataclass(slots=True)
class Fail:
    """The agent, which has finished, fails the run: its condition could not be decided, or its loop ran out of
    rounds and is set to fail then."""

    node_id: str
    execution: int
    kind: str
    message: str


Action = Launch | Skip | Deliver | Note | Fail


class Router:
    """The routing state of one run of a workflow with conditions or loops."""

    def __init__(self, dag: Dag) -> None:
        self._dag = dag
        self._labels = dag.labels
        self._executions: dict[str, int] = {}
        self._decided: set[str] = set()
        self._edges: dict[str, tuple[str, str]] = {}  # edge id -> (state, reason); absent: pending
        self._held: dict[str, list[tuple[Edge, str, str]]] = {}  # loop edge id -> exits held until it ends
        self._rounds: dict[str, int] = {}  # loop edge id -> the round its body is in (absent: 1)
        self._via: dict[str, Edge] = {}  # loop target -> the loop edge that sent it back, until it launches
        # An edge without a condition out of an approval is taken when it is approved.
        self._approvals = dag.approvals
        self._unconditional = frozenset(
            n
            for n in dag.order
            if not dag.loop_out[n] and all(e.condition is None for e in dag.out_edges[n]) and n not in self._approvals
        )
        # Of those, the ones none of whose edges leave a loop: their edges are committed at once (most agents).
        exits = dag.loops.exits
        self._direct = frozenset(n for n in self._unconditional if not any(e.id in exits for e in dag.out_edges[n]))
        self._own: list[Edge] | None = None  # while an agent's edges are taken: those along which it hands over now
        self._finishing: str | None = None

    # -- what the run asks --------------------------------------------------------------------------------

    def start(self) -> list[Action]:
        actions: list[Action] = []
        for node_id in self._dag.order:
            if not self._dag.in_edges[node_id]:
                self._decide(node_id, actions)
        return actions

    @property
    def done(self) -> bool:
        """Every agent is decided in its current round: nothing more will run."""
        return len(self._decided) == len(self._dag.order)

    def execution(self, node_id: str) -> int:
        """The agent's latest execution index (0 before its first)."""
        return self._executions.get(node_id, 0)

    def round_of(self, loop_edge_id: str) -> int:
        return self._rounds.get(loop_edge_id, 1)

    def received_from(self, node_id: str) -> list[str]:
        """The agents whose edges into this one were delivered in its current round."""
        edges = self._edges
        return [e.source for e in self._dag.in_edges[node_id] if edges.get(e.id, ("",))[0] == DELIVERED]

    def undecided(self) -> list[tuple[str, int]]:
        """The agents not yet decided in their current round, each with the execution index it would have."""
        return [(n, self.execution(n) + 1) for n in self._dag.order if n not in self._decided]

    def abandon(self, node_id: str) -> int:
        """Mark an undecided agent decided without routing anything (a cancelled run skips it); its index."""
        self._decided.add(node_id)
        index = self._executions[node_id] = self.execution(node_id) + 1
        return index

    def reads_answers(self, node_id: str) -> bool:
        """Whether the agent's edges look at its answer (conditions, loops, an approval's decision): if not, finished()
        takes None for it, and no Answer is made."""
        return node_id not in self._unconditional

    def finished(self, node_id: str, answer: Answer | None) -> tuple[list[Edge], list[Action]]:
        """The agent finished with this answer: take its edges. Returns the edges along which its output is handed
        over now, and what else happens."""
        actions: list[Action] = []
        own: list[Edge] = []
        if node_id in self._direct:  # (most agents: each edge is delivered, along with its node_finished)
            edges, delivered = self._edges, _DELIVERED
            for edge in self._dag.out_edges[node_id]:
                edges[edge.id] = delivered
                own.append(edge)
                self._decide(edge.target, actions)
            return own, actions
        self._own, self._finishing = own, node_id
        try:
            self._take(node_id, answer, actions)
        finally:
            self._own, self._finishing = None, None
        return own, actions

    def _take(self, node_id: str, answer: Answer | None, actions: list[Action]) -> None:
        dag = self._dag
        edges, loops = dag.out_edges[node_id], dag.loop_out[node_id]
        if node_id in self._unconditional:
            self._route([(edge, DELIVERED, "") for edge in edges], actions)
            return
        assert answer is not None
        try:
            takes = {e.id: taken(e, answer) for e in (*edges, *loops) if e.condition != "otherwise"}
            if node_id in self._approvals:
                for e in (*edges, *loops):
                    if e.condition is None:
                        takes[e.id] = answer.verdict == "approved"
        except RoutingError as exc:
            actions.append(Fail(node_id, answer.round, "condition", str(exc)))
            self._route_all(node_id, FAILED, f"upstream agent '{self._labels[node_id]}' failed", actions)
            return
        fired, exhausted = self._loop_choice(loops, takes)
        if exhausted is not None and fired is None:
            span = dag.loops.by_edge[exhausted.id]
            target = self._labels[exhausted.target]
            if span.fail_when_exhausted:
                message = (
                    f"still sent the work back after {span.max_rounds} rounds, the most the loop back to "
                    f"'{target}' allows; raise its max rounds or change what it checks"
                )
                actions.append(Fail(node_id, answer.round, "loop_exhausted", message))
                self._route_all(node_id, FAILED, f"upstream agent '{self._labels[node_id]}' failed", actions)
                return
            chose = f"{self._labels[node_id]} still chose {answer.verdict}" if answer.verdict else "it went round"
            otherwise = any(e.condition == "otherwise" for e in edges)
            actions.append(
                Note(
                    node_id,
                    answer.round,
                    "warning",
                    f"stopped after {span.max_rounds} rounds: {chose}, and the loop back to '{target}' allows no "
                    f"more{'; following the otherwise path' if otherwise else ''}",
                )
            )
        chose_one = any(takes.values())
        routed = []
        for edge in edges:
            go = takes[edge.id] if edge.condition != "otherwise" else not chose_one
            routed.append((edge, DELIVERED if go else DEAD, "" if go else self._why_not(edge, answer)))
        self._route(routed, actions)
        if fired is not None:
            self._fire(fired, answer, actions)
        else:
            for loop in loops:
                self._settle(loop.id, actions)

    def failed(self, node_id: str) -> list[Action]:
        """The agent failed: everything that needs it is skipped."""
        actions: list[Action] = []
        self._route_all(node_id, FAILED, f"upstream agent '{self._labels[node_id]}' failed", actions)
        return actions

    def stop(self, node_id: str, reason: str) -> list[Action]:
        """The agent finished but hands nothing on (a rejected approval with no path for it): its edges die."""
        actions: list[Action] = []
        self._route_all(node_id, DEAD, reason, actions)
        return actions

    def skip(self, node_id: str, execution: int, reason: str) -> list[Action]:
        """Skip a decided agent (a partial run leaves it out): its edges die with this reason."""
        actions: list[Action] = [Skip(node_id, execution, reason)]
        self._route_all(node_id, DEAD, reason, actions)
        return actions

    # -- bookkeeping -------------------------------------------------------------------------------------

    def _decide(self, node_id: str, actions: list[Action]) -> None:
        if node_id in self._decided:
            return
        edges = self._edges
        delivered = node_id in self._via  # a loop sent work back to it: that is its input, whatever else died
        failed = dead = None
        in_edges = self._dag.in_edges[node_id]
        for edge in in_edges:
            state = edges.get(edge.id)
            if state is None:
                return
            kind = state[0]
            if kind is DELIVERED:
                delivered = True
            elif kind is FAILED:
                failed = failed or state[1]
            elif dead is None:
                dead = state[1]
        self._decided.add(node_id)
        index = self._executions[node_id] = self._executions.get(node_id, 0) + 1
        if failed is not None:
            actions.append(Skip(node_id, index, failed))
            self._route_all(node_id, FAILED, failed, actions)
        elif delivered or not in_edges:
            actions.append(Launch(node_id, index, self._via.pop(node_id, None) if self._via else None))
        else:
            reason = dead or ""
            actions.append(Skip(node_id, index, reason))
            self._route_all(node_id, DEAD, reason, actions)

    def _route_all(self, node_id: str, state: str, reason: str, actions: list[Action]) -> None:
        self._route([(edge, state, reason) for edge in self._dag.out_edges[node_id]], actions)
        for loop in self._dag.loop_out[node_id]:
            self._settle(loop.id, actions)  # it takes no loop edge back: its loops end here

    def _route(self, routed: list[tuple[Edge, str, str]], actions: list[Action]) -> None:
        """Hold the edges that leave a loop, then commit the others: a commit can end a loop (its source decided),
        which must find every edge it holds."""
        exits = self._dag.loops.exits
        done = []
        for edge, state, reason in routed:
            left = exits.get(edge.id)
            if left:
                self._held.setdefault(left[0], []).append((edge, state, reason))
            else:
                done.append((edge, state, reason))
        for edge, state, reason in done:
            self._commit(edge, state, reason, actions)

    def _commit(self, edge: Edge, state: str, reason: str, actions: list[Action]) -> None:
        self._edges[edge.id] = (state, reason)
        if state is DELIVERED:
            if self._own is not None and edge.source == self._finishing:
                self._own.append(edge)
            else:  # an edge a loop held: its source may run again before this is applied, so its index now
                actions.append(Deliver(edge, self._executions.get(edge.source, 0)))
        self._decide(edge.target, actions)

    def _settle(self, loop_id: str, actions: list[Action]) -> None:
        """The loop ends: what its body sent out goes on, to the next loop out or to its targets."""
        exits = self._dag.loops.exits
        done = []
        for edge, state, reason in self._held.pop(loop_id, ()):
            left = exits[edge.id]
            outer = left.index(loop_id) + 1
            if outer < len(left):
                self._held.setdefault(left[outer], []).append((edge, state, reason))
            else:
                done.append((edge, state, reason))
        # Committed only once every edge bound for an outer loop is with it: a commit can end that loop.
        for edge, state, reason in done:
            self._commit(edge, state, reason, actions)

    def _loop_choice(self, loops: tuple[Edge, ...], takes: dict[str, bool]) -> tuple[Edge | None, Edge | None]:
        """The loop edge to take (the first taken one with rounds left) and the first taken one without any; a loop
        edge not taken is recorded as such in `takes`."""
        fired = exhausted = None
        spans = self._dag.loops.by_edge
        for loop in loops:
            if not takes[loop.id]:
                continue
            if fired is None and self.round_of(loop.id) < spans[loop.id].max_rounds:
                fired = loop
                continue
            if fired is None and exhausted is None:
                exhausted = loop
            takes[loop.id] = False
        return fired, exhausted

    def _fire(self, loop: Edge, answer: Answer, actions: list[Action]) -> None:
        dag = self._dag
        span = dag.loops.by_edge[loop.id]
        body = span.body
        self._rounds[loop.id] = self.round_of(loop.id) + 1
        self._decided -= body
        for node_id in body:
            for edge in dag.in_edges[node_id]:
                if edge.source in body:
                    self._edges.pop(edge.id, None)
        self._held.pop(loop.id, None)
        for inner in dag.loops.inner[loop.id]:
            self._held.pop(inner, None)
            self._rounds.pop(inner, None)
        chose = f"{self._labels[loop.source]} chose {answer.verdict}" if answer.verdict else self._labels[loop.source]
        actions.append(
            Note(
                loop.source,
                answer.round,
                "info",
                f"{chose}: round {self._rounds[loop.id]} of {span.max_rounds}, back to '{self._labels[loop.target]}'",
            )
        )
        if self._own is not None:
            self._own.append(loop)  # handed over with the node_finished of the agent that sends the work back
        self._via[loop.target] = loop
        self._decide(loop.target, actions)

    def _why_not(self, edge: Edge, answer: Answer) -> str:
        name = self._labels[edge.source]
        condition = edge.condition
        if isinstance(condition, VerdictIs | type(None)) or condition == "otherwise":
            return f"{name} chose {answer.verdict}" if answer.verdict else f"{name} took another path"
        if isinstance(condition, Contains):
            return f"{name}'s answer does not contain '{condition.contains}'"
        assert isinstance(condition, Expression)
        return f"{name}'s answer does not meet {condition.expression}"
