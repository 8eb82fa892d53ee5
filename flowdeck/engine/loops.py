"""Loop edges (format 2): which agents each loop repeats, how loops nest, and which edges leave them.

A loop edge goes from an agent back to one upstream of it. Its body is every agent on a path (of ordinary edges)
from its target to its source: the agents that run again, as the next round, when it is taken. The ordinary edges
must form no cycle: a cycle is allowed only through a loop edge, which bounds it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from flowdeck.engine.events import Handoff
from flowdeck.engine.workflow import Edge, Workflow, ancestors
from flowdeck.errors import Problem


@dataclass(frozen=True, kw_only=True, slots=True)
class LoopSpan:
    """One loop edge and the agents it repeats."""

    edge: Edge
    body: frozenset[str]
    max_rounds: int
    fail_when_exhausted: bool

    @property
    def source(self) -> str:
        return self.edge.source

    @property
    def target(self) -> str:
        return self.edge.target


@dataclass(frozen=True, kw_only=True, slots=True)
class Loops:
    """A workflow's loops, worked out once when its graph is built."""

    spans: tuple[LoopSpan, ...] = ()
    by_edge: Mapping[str, LoopSpan] = field(default_factory=dict)
    exits: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # edge id -> loops it leaves, innermost first
    inner: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # loop edge id -> the loops inside its body
    bounds: Mapping[str, int] = field(default_factory=dict)  # node id -> the most executions its loops allow

    def bound(self, node_id: str) -> int:
        """The most times this agent can run in one run: the product of the rounds of the loops around it."""
        return self.bounds.get(node_id, 1)


MAX_NESTED_EXECUTIONS = 100  # how often loops inside loops may run an agent in all (the product of their rounds)


def _deepest(span: LoopSpan, outer: LoopSpan, spans: Sequence[LoopSpan]) -> bool:
    """Whether `span` is on the chain of loops inside `outer` that holds its most deeply nested agent."""
    depth = {node: sum(1 for s in spans if node in s.body and s.body <= outer.body) for node in outer.body}
    deepest = max(depth, key=lambda node: (depth[node], node))
    return deepest in span.body


def find_loops(
    predecessors: Mapping[str, Sequence[str]],
    successors: Mapping[str, Sequence[str]],
    forward: Sequence[Edge],
    loop_edges: Sequence[Edge],
    problems: list[Problem],
) -> Loops:
    """The loops of a graph whose ordinary edges form no cycle; problems found are appended to `problems`."""
    spans: list[LoopSpan] = []
    for edge in loop_edges:
        assert edge.loop is not None
        upstream = ancestors(predecessors, edge.source)
        if edge.target != edge.source and edge.target not in upstream:
            problems.append(
                Problem(
                    f"edge {edge.id}",
                    f"is a loop edge, but '{edge.target}' is not upstream of '{edge.source}': a loop goes back to an "
                    'earlier agent; remove "loop" or connect it back to one',
                )
            )
            continue
        body = {edge.source, edge.target} | (_descendants(successors, edge.target) & upstream)
        spans.append(
            LoopSpan(
                edge=edge,
                body=frozenset(body),
                max_rounds=edge.loop.max_rounds,
                fail_when_exhausted=edge.loop.exhausted == "fail",
            )
        )
    spans.sort(key=lambda span: len(span.body))  # innermost first
    for i, a in enumerate(spans):
        for b in spans[i + 1 :]:
            if a.body & b.body and not a.body <= b.body:
                problems.append(
                    Problem(
                        f"edge {a.edge.id}",
                        f"its loop and the loop of edge {b.edge.id} share agents without one holding the other; "
                        "make one loop hold the other, or separate them",
                    )
                )
    for i, edge in enumerate(loop_edges):  # one answer could send the work back two ways: only one is taken
        for other in loop_edges[i + 1 :]:
            if other.source == edge.source and other.condition == edge.condition:
                problems.append(
                    Problem(
                        f"edge {other.id}",
                        f"loops back from '{edge.source}' on the same condition as edge {edge.id}, so only one of "
                        "them could ever be taken; give each loop its own verdict or condition, or remove one",
                    )
                )
    if not problems:
        problems.extend(_feeding_each_other(spans, successors, predecessors))
    inner = {a.edge.id: tuple(b.edge.id for b in spans if b is not a and b.body < a.body) for a in spans}
    exits = {}
    for edge in forward:
        left = tuple(s.edge.id for s in spans if edge.source in s.body and edge.target not in s.body)
        if left:
            exits[edge.id] = left
    bounds: dict[str, int] = {}
    for span in spans:
        for node in span.body:
            bounds[node] = bounds.get(node, 1) * span.max_rounds
    for span in spans:  # loops inside loops multiply: twenty rounds of twenty rounds is 400 calls of each agent
        most = max(bounds[node] for node in span.body)
        if most > MAX_NESTED_EXECUTIONS and not any(span.body < other.body for other in spans):
            rounds = " × ".join(str(s.max_rounds) for s in spans if s.body <= span.body and _deepest(s, span, spans))
            problems.append(
                Problem(
                    f"edge {span.edge.id}",
                    f"its loop and the loops inside it could run an agent {most:,} times ({rounds}); lower their "
                    f'"max_rounds" so that together they allow at most {MAX_NESTED_EXECUTIONS} (a runaway costs '
                    "money)",
                )
            )
    return Loops(
        spans=tuple(spans),
        by_edge={span.edge.id: span for span in spans},
        exits=exits,
        inner=inner,
        bounds=bounds,
    )


def _feeding_each_other(
    spans: list[LoopSpan], successors: Mapping[str, Sequence[str]], predecessors: Mapping[str, Sequence[str]]
) -> list[Problem]:
    """Loops side by side (at the top, or inside the same loop) must not feed each other: what leaves a loop waits
    until it ends, so a loop that needs what another sends out, while that one needs what it sends out, would wait
    for ever. Each loop counts as one agent: the graph they make with the other agents must have no cycle."""
    import networkx as nx  # lazily: its import slows start-up (bench/README.md)

    problems = []
    levels: list[tuple[frozenset[str] | None, list[LoopSpan]]] = [(None, [])]
    for span in spans:
        levels.append((span.body, []))
    for span in spans:  # each loop joins the level of the smallest loop around it (or the top)
        around = [body for body, _ in levels[1:] if body is not None and span.body < body]
        smallest = min(around, key=len, default=None)
        next(children for body, children in levels if body == smallest).append(span)
    every = set(successors) | set(predecessors)
    for body, children in levels:
        if len(children) < 2:
            continue
        members = every if body is None else set(body)
        group = {node: span.edge.id for span in children for node in span.body}
        graph: nx.DiGraph[str] = nx.DiGraph()
        for node in members:
            for target in successors.get(node, ()):
                a, b = group.get(node, node), group.get(target, target)
                if target in members and a != b:
                    graph.add_edge(a, b)
        try:
            cycle = nx.find_cycle(graph)
        except nx.NetworkXNoCycle:
            continue
        loops = sorted({u for u, _ in cycle} & {span.edge.id for span in children})
        problems.append(
            Problem(
                f"edge {loops[0]}",
                f"the loops of edges {' and '.join(loops)} feed each other (what one sends out goes into the other, "
                "and the other way round), so neither could end; connect them one after the other",
            )
        )
    return problems


def _descendants(successors: Mapping[str, Sequence[str]], node_id: str) -> set[str]:
    seen: set[str] = set()
    todo = list(successors.get(node_id, ()))
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(successors.get(node, ()))
    return seen


NO_LOOPS = Loops()


def loop_bounds(workflow: Workflow) -> dict[str, int]:
    """The most executions of each agent that loops repeat (agents outside loops are left out): the product of the
    rounds of the loops around it. {} for a workflow whose loops are not valid (build() says why)."""
    found = _loops_of(workflow)
    return dict(found.bounds) if found is not None else {}


def _loops_of(workflow: Workflow) -> Loops | None:
    loop_edges = [e for e in workflow.edges if e.loop is not None]
    if not loop_edges:
        return None
    forward = [e for e in workflow.edges if e.loop is None]
    problems: list[Problem] = []
    preds: dict[str, list[str]] = {}
    succs: dict[str, list[str]] = {}
    for edge in forward:
        preds.setdefault(edge.target, []).append(edge.source)
        succs.setdefault(edge.source, []).append(edge.target)
    found = find_loops(preds, succs, forward, loop_edges, problems)
    return None if problems else found


@dataclass(frozen=True, kw_only=True, slots=True)
class AgentRound:
    """Where an execution of an agent stands in its loops: `round` of `rounds` of its innermost loop, in `outer` (the
    round of the loop around that one; 1 without one)."""

    round: int
    rounds: int
    outer: int = 1
    nested: bool = False  # whether a loop holds its innermost one

    def __str__(self) -> str:
        shown = f"round {self.round}/{self.rounds}"
        return f"{shown} · pass {self.outer}" if self.nested and self.outer > 1 else shown


class LoopRounds:
    """The round that each execution of an agent is in, and that each loop edge sent the work into, read from the loop
    edges a run took (its handoffs along them, in log order). The bound shown is the innermost loop's, not the product
    of the loops around the agent ("round 2/9" on review-loop's coder, issue 21).

    An agent runs once a round of its innermost loop, and each loop edge taken around it (its own or an outer one, which
    starts the inner one again at round 1) makes its next execution: its n-th execution is the run's start (n = 1) or
    the (n - 1)-th of those edges taken."""

    def __init__(self, loops: Loops | None) -> None:
        spans = loops.spans if loops is not None else ()
        self._chains: dict[str, tuple[LoopSpan, ...]] = {}
        for span in spans:  # innermost first
            for node in span.body:
                self._chains[node] = (*self._chains.get(node, ()), span)
        self._spans = {span.edge.id: span for span in spans}
        self._inner = dict(loops.inner) if loops is not None else {}
        self._fired: list[str] = []
        self._seen = 0

    @classmethod
    def of(cls, workflow: Workflow) -> LoopRounds:
        return cls(_loops_of(workflow))

    def agent(self, node_id: str, execution: int, handoffs: Sequence[Handoff]) -> AgentRound | None:
        """The round of this execution of the agent (None for an agent no loop repeats)."""
        chain = self._chains.get(node_id)
        if not chain:
            return None
        around = {span.edge.id for span in chain}
        rounds: dict[str, int] = {}
        made = 1
        for edge_id in self._taken(handoffs):
            if made >= execution:
                break
            if edge_id in around:
                made += 1
                self._take(edge_id, rounds)
        innermost, outer = chain[0], chain[1] if len(chain) > 1 else None
        return AgentRound(
            round=rounds.get(innermost.edge.id, 1),
            rounds=innermost.max_rounds,
            outer=rounds.get(outer.edge.id, 1) if outer is not None else 1,
            nested=outer is not None,
        )

    def edge(self, edge_id: str, handoffs: Sequence[Handoff]) -> tuple[int, int] | None:
        """The round a loop edge sent the work into the last time it was taken, and its bound (None: not a loop, or
        not taken in these handoffs)."""
        span = self._spans.get(edge_id)
        if span is None:
            return None
        rounds: dict[str, int] = {}
        last = None
        for taken in self._taken(handoffs):
            self._take(taken, rounds)
            if taken == edge_id:
                last = rounds[edge_id]
        return (last, span.max_rounds) if last is not None else None

    def _take(self, edge_id: str, rounds: dict[str, int]) -> None:
        rounds[edge_id] = rounds.get(edge_id, 1) + 1
        for inner in self._inner.get(edge_id, ()):  # an outer loop's next round starts its inner loops again
            rounds.pop(inner, None)

    def _taken(self, handoffs: Sequence[Handoff]) -> list[str]:
        """The loop edges taken, in order (read on from where the last call stopped: a run's handoffs only grow)."""
        if len(handoffs) < self._seen:  # another run's
            self._fired, self._seen = [], 0
        spans = self._spans
        self._fired.extend(h.edge_id for h in handoffs[self._seen :] if h.edge_id in spans)
        self._seen = len(handoffs)
        return self._fired
