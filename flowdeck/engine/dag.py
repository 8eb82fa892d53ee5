"""The workflow as a validated graph: every problem is found and reported before anything runs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from flowdeck.engine.agents import PRESETS, ResolvedAgent, decisions_of, display_name, is_known_type, resolve
from flowdeck.engine.conditions import expression_problems
from flowdeck.engine.loops import NO_LOOPS, Loops, find_loops
from flowdeck.engine.prompts import check_template
from flowdeck.engine.workflow import APPROVAL, Edge, Expression, Node, VerdictIs, Workflow, ancestors
from flowdeck.errors import Problem, WorkflowError

if TYPE_CHECKING:
    import networkx as nx


Mode = Literal["run", "reuse", "skip"]


@dataclass(frozen=True, slots=True)
class Dag:
    """A workflow's graph with what the scheduler needs precomputed."""

    workflow: Workflow
    graph: nx.DiGraph[str]
    order: tuple[str, ...]
    predecessors: dict[str, tuple[str, ...]]
    successors: dict[str, tuple[str, ...]]
    ancestors: Mapping[str, frozenset[str]]
    in_edges: dict[str, tuple[Edge, ...]]  # ordinary edges (not loop edges) into each node
    out_edges: dict[str, tuple[Edge, ...]]  # ordinary edges out of each node
    nodes: dict[str, Node]
    labels: dict[str, str]  # each node's display name
    data: dict[str, Any]  # the workflow as its file holds it (what run_started records); do not modify
    readable: Mapping[str, frozenset[str]] = field(default_factory=dict)  # outputs a template may read: upstream, or
    # sent back to it by a loop
    loop_out: dict[str, tuple[Edge, ...]] = field(default_factory=dict)  # loop edges out of each node
    loops: Loops = NO_LOOPS
    deciders: frozenset[str] = frozenset()  # agents with an edge out that routes on their verdict
    plain: bool = True  # no conditions, loops or verdicts: every agent runs once, when all its inputs have arrived
    approvals: frozenset[str] = frozenset()  # the approval steps (a person decides; no model)
    _agents: dict[tuple[str, str | None], dict[str, ResolvedAgent]] = field(default_factory=dict, compare=False)

    def agents(self, default_model: str, override: str | None) -> dict[str, ResolvedAgent]:
        """Each node's effective settings for runs with this default model and override (worked out once). The
        workflow's own default model, if it names one, beats `default_model` (the app's)."""
        key = (default_model, override)
        found = self._agents.get(key)
        if found is None:
            default = self.workflow.default_model or default_model
            deciders = self.deciders
            agents = [n for n in self.workflow.nodes if n.type != APPROVAL]  # a person has no model settings
            if deciders:
                found = {n.id: resolve(n, default, override, routes_by_verdict=n.id in deciders) for n in agents}
            else:
                found = {n.id: resolve(n, default, override) for n in agents}
            self._agents[key] = found
        return found

    def descendants(self, node_id: str) -> set[str]:
        """Every node downstream of this one."""
        import networkx as nx

        return set(nx.descendants(self.graph, node_id))

    def plan(
        self, scope: set[str] | None, reusable: set[str], pinned: AbstractSet[str] = frozenset()
    ) -> dict[str, Mode]:
        """How a run handles each node: "run" (call the model), "reuse" (a recorded output) or "skip".

        A partial run executes only `scope`; outside it, a node reuses its recorded output unless it is
        downstream of the scope (its recorded output would be stale), in which case it is skipped. A pinned node
        (in `reusable` too) always reuses its pinned output, in the scope or not.
        """
        if scope is None:
            return {n: "reuse" if n in reusable else "run" for n in self.order}
        unknown = sorted(scope - set(self.order))
        if unknown:
            raise WorkflowError([Problem(f"node {n}", "no agent with this id in the workflow") for n in unknown])
        below = set().union(*(self.descendants(n) for n in scope)) - scope
        mode: dict[str, Mode] = {
            n: "reuse"
            if n in pinned
            else "run"
            if n in scope
            else "reuse"
            if n in reusable and n not in below
            else "skip"
            for n in self.order
        }
        missing = sorted({a for n in scope for a in self.ancestors[n] if mode[a] == "skip"}, key=self.order.index)
        if missing and self.plain:  # with conditions, an agent on a path not taken has no output, and needs none
            names = {node.id: display_name(node) for node in self.workflow.nodes}
            raise WorkflowError(
                [
                    Problem(f"node {a}", f"'{names[a]}' has no recorded output to reuse; run from it instead")
                    for a in missing
                ]
            )
        return mode


def build(workflow: Workflow) -> Dag:
    """Validate a workflow's graph and prompt references; raise one WorkflowError listing every problem."""
    import networkx as nx  # lazily: its import slows start-up (bench/README.md)

    problems: list[Problem] = []
    if not workflow.nodes:
        problems.append(Problem("nodes", "the workflow has no agents; add at least one"))
    ids = Counter(node.id for node in workflow.nodes)
    for node_id, count in ids.items():
        if count > 1:
            problems.append(Problem(f"node {node_id}", f"the id is used by {count} nodes; give each node its own id"))
    for node in workflow.nodes:
        if not is_known_type(node.type):
            known = ", ".join([*PRESETS, APPROVAL])
            problems.append(Problem(f"node {node.id}", f"unknown node type '{node.type}'; use one of: {known}"))

    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(ids)
    edge_ids: Counter[str] = Counter(edge.id for edge in workflow.edges)
    for edge_id, count in edge_ids.items():
        if count > 1:
            problems.append(Problem(f"edge {edge_id}", f"the id is used by {count} edges; give each edge its own id"))
    pairs: set[tuple[str, str]] = set()
    in_edges: dict[str, list[Edge]] = {node_id: [] for node_id in ids}
    out_edges: dict[str, list[Edge]] = {node_id: [] for node_id in ids}
    loop_edges: list[Edge] = []
    for edge in workflow.edges:
        where = f"edge {edge.id}"
        dangling = [end for end in (edge.source, edge.target) if end not in ids]
        if dangling:
            for end in dangling:
                problems.append(Problem(where, f"connects to node '{end}', which does not exist; remove the edge"))
            continue
        if edge.source == edge.target and edge.loop is None:
            problems.append(
                Problem(where, f"connects node '{edge.source}' to itself; remove the edge, or make it a loop edge")
            )
            continue
        if (edge.source, edge.target) in pairs:
            problems.append(Problem(where, f"duplicates another edge {edge.source} -> {edge.target}; remove one"))
            continue
        pairs.add((edge.source, edge.target))
        if edge.loop is not None:
            loop_edges.append(edge)
            continue
        graph.add_edge(edge.source, edge.target)
        in_edges[edge.target].append(edge)
        out_edges[edge.source].append(edge)

    # A topological order exists exactly when there is no cycle and is much cheaper to find than a cycle
    # (bench/README.md): a cycle is looked for only to name it.
    try:
        order = tuple(nx.topological_sort(graph))
        cycle = []
    except nx.NetworkXUnfeasible:
        cycle = nx.find_cycle(graph)
    if cycle:
        path = " -> ".join([str(u) for u, _ in cycle] + [str(cycle[0][0])])
        problems.append(
            Problem(
                "edges",
                f"they form a cycle ({path}) that no loop edge bounds; make the edge back a loop edge with at most "
                "a few rounds, or remove an edge",
            )
        )
        raise WorkflowError(problems)

    predecessors = {n: tuple(e.source for e in in_edges[n]) for n in graph}
    successors = {n: tuple(e.target for e in out_edges[n]) for n in graph}
    ancestors = Ancestors(predecessors)
    loops = find_loops(predecessors, successors, workflow.edges, loop_edges, problems) if loop_edges else NO_LOOPS
    loop_out: dict[str, list[Edge]] = {node_id: [] for node_id in ids}
    for span in loops.spans:  # innermost first: an agent's inner loop ends before its outer one
        loop_out[span.source].append(span.edge)
    readable: Mapping[str, frozenset[str]] = ancestors
    if loop_edges:
        back = {n: tuple(e.source for e in loop_edges if e.target == n) for n in graph}
        readable = Ancestors({n: predecessors[n] + back[n] for n in graph})
    declared_inputs = {item.name for item in workflow.inputs}
    problems.extend(_condition_problems(workflow, ids, frozenset(declared_inputs)))
    for node in workflow.nodes:
        template = node.config.prompt_template
        if template is None or node.id not in ancestors:
            continue
        refs = check_template(template)
        name = display_name(node)
        where = f"node {node.id} ({name}) prompt template" if name != node.id else f"node {node.id} prompt template"
        problems.extend(Problem(where, text) for text in refs.problems)
        for name in sorted(refs.inputs - declared_inputs):
            declared = ", ".join(sorted(declared_inputs)) or "none"
            problems.append(
                Problem(where, f"reads inputs.{name}, which the workflow does not declare (declared: {declared})")
            )
        for name in sorted(refs.outputs - readable[node.id]):
            reason = "does not exist" if name not in ids else "is not upstream of this agent"
            problems.append(
                Problem(
                    where,
                    f"reads outputs.{name}, but node '{name}' {reason}; connect it upstream or remove it",
                )
            )
    if problems:
        raise WorkflowError(problems)

    return Dag(
        workflow=workflow,
        graph=graph,
        order=order,
        predecessors=predecessors,
        successors=successors,
        ancestors=ancestors,
        in_edges={n: tuple(edges) for n, edges in in_edges.items()},
        out_edges={n: tuple(edges) for n, edges in out_edges.items()},
        nodes={node.id: node for node in workflow.nodes},
        labels={node.id: display_name(node) for node in workflow.nodes},
        data=workflow.to_dict(),
        readable=readable,
        loop_out={n: tuple(edges) for n, edges in loop_out.items()},
        loops=loops,
        deciders=frozenset(e.source for e in workflow.edges if isinstance(e.condition, VerdictIs)),
        approvals=frozenset(n.id for n in workflow.nodes if n.type == APPROVAL),
        plain=not loop_edges
        and all(e.condition is None for e in workflow.edges)
        and not any(n.config.verdicts or n.type == APPROVAL for n in workflow.nodes),
    )


def _condition_problems(workflow: Workflow, ids: Counter[str], declared_inputs: frozenset[str]) -> list[Problem]:
    """Conditions checked without running anything: known verdicts, expressions that parse, an "otherwise" beside
    a condition."""
    problems: list[Problem] = []
    nodes = {node.id: node for node in workflow.nodes}
    conditional = {e.source for e in workflow.edges if (e.condition not in (None, "otherwise")) or e.loop is not None}
    for edge in workflow.edges:
        condition = edge.condition
        source = nodes.get(edge.source)
        if condition is None or source is None or edge.target not in ids:
            continue
        where = f"edge {edge.id}"
        if condition == "otherwise":
            if edge.source not in conditional:
                problems.append(
                    Problem(
                        where,
                        f"is an \"otherwise\" edge, but no other edge out of '{display_name(source)}' has a "
                        'condition; give one a condition, or remove "otherwise"',
                    )
                )
        elif isinstance(condition, VerdictIs):
            verdicts = decisions_of(source) if is_known_type(source.type) else ()
            name = display_name(source)
            if not verdicts:
                problems.append(
                    Problem(
                        where,
                        f"routes on a verdict, but '{name}' gives none; declare its verdicts "
                        '(config "verdicts": [...]) or use "contains" or "expression"',
                    )
                )
            elif condition.verdict.casefold() not in {v.casefold() for v in verdicts}:
                problems.append(
                    Problem(
                        where,
                        f"routes on verdict '{condition.verdict}', which '{name}' does not give "
                        f"(its verdicts: {', '.join(verdicts)}); use one of those",
                    )
                )
        elif isinstance(condition, Expression):
            problems.extend(Problem(where, text) for text in expression_problems(condition.expression, declared_inputs))
    return problems


class Ancestors(Mapping[str, frozenset[str]]):
    """Every node upstream of each node, worked out when first asked for (only agents with a prompt template,
    and partial re-runs, ask), not up front for every node, which would delay each run's start (bench/README.md)."""

    def __init__(self, predecessors: Mapping[str, tuple[str, ...]]) -> None:
        self._predecessors = predecessors
        self._found: dict[str, frozenset[str]] = {}

    def __getitem__(self, node_id: str) -> frozenset[str]:
        found = self._found.get(node_id)
        if found is None:
            if node_id not in self._predecessors:
                raise KeyError(node_id)
            found = self._found[node_id] = ancestors(self._predecessors, node_id)
        return found

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._predecessors

    def __iter__(self) -> Iterator[str]:
        return iter(self._predecessors)

    def __len__(self) -> int:
        return len(self._predecessors)
