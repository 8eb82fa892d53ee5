"""Property tests (hypothesis) of runs of random workflows with conditions and loops: every run ends, no agent runs
more often than its loops allow, joins and skips follow the edges that were delivered, handoffs follow the
conditions, and the state folded from the events equals the state folded from the stored log."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from flowdeck.engine.dag import Dag, build
from flowdeck.engine.events import (
    Event,
    Handoff,
    NodeFailed,
    NodeFinished,
    NodeSkipped,
    NodeStarted,
    RunFinished,
    Usage,
    event_from_dict,
    event_to_dict,
)
from flowdeck.engine.llm_types import Completion, ModelRequest
from flowdeck.engine.run import Run
from flowdeck.engine.state import fold
from flowdeck.engine.workflow import Contains, Edge, Expression, VerdictIs, Workflow, parse_workflow
from flowdeck.errors import BadRequest, WorkflowError
from flowdeck.storage.codec import batch_from_json, batch_to_json

VERDICTS: dict[str, tuple[str, str]] = {}  # each node's verdicts, in the workflow being drawn
PROPERTIES = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CONDITIONS: list[Any] = [
    None,
    None,
    {"contains": "x"},
    {"contains": "y"},
    {"expression": "round > 1"},
    {"expression": "'z' in output"},
    "verdict",
    "otherwise",
]


@st.composite
def workflows(draw: st.DrawFn, approvals: bool = False) -> Workflow:
    """`approvals`: some agents are approval steps (their verdicts: approved, rejected)."""
    count = draw(st.integers(1, 7))
    ids = [f"n{i}" for i in range(count)]
    person = {i: approvals and draw(st.integers(0, 3)) == 0 for i in ids}
    deciding = {i: person[i] or draw(st.booleans()) for i in ids}
    nodes = [
        {"id": i, "type": "approval"}
        if person[i]
        else {
            "id": i,
            "type": "custom",
            "config": {"system_prompt": f"agent {i}"} | ({"verdicts": ["yes", "no"]} if deciding[i] else {}),
        }
        for i in ids
    ]
    VERDICTS.update({i: ("approved", "rejected") if person[i] else ("yes", "no") for i in ids})
    edges: list[dict[str, Any]] = []
    preds: dict[str, set[str]] = {i: set() for i in ids}
    for j in range(1, count):
        for i in range(j):
            if draw(st.integers(0, 2)) == 0:
                edges.append(
                    {"id": f"{ids[i]}-{ids[j]}", "source": ids[i], "target": ids[j]}
                    | _condition(draw, deciding[ids[i]], source=ids[i])
                )
                preds[ids[j]].add(ids[i])
    for _ in range(draw(st.sampled_from([0, 1, 1, 2, 2]))):
        j = draw(st.integers(0, count - 1))
        upstream = _ancestors(preds, ids[j])
        target = draw(st.sampled_from(sorted({ids[j], *upstream})))
        loop = {"max_rounds": draw(st.integers(1, 3)), "exhausted": draw(st.sampled_from(["otherwise", "fail"]))}
        condition = _condition(draw, deciding[ids[j]], allow_otherwise=False, source=ids[j])
        edges.append({"id": f"{ids[j]}-back-{target}", "source": ids[j], "target": target, "loop": loop} | condition)
    sources_with_conditions = {
        e["source"] for e in edges if e.get("condition") not in (None, "otherwise") or "loop" in e
    }
    for e in edges:  # an "otherwise" needs a sibling with a condition
        if e.get("condition") == "otherwise" and e["source"] not in sources_with_conditions:
            del e["condition"]
    data = {"format": 2, "name": "random", "inputs": [{"name": "task", "default": "t"}], "nodes": nodes, "edges": edges}
    try:
        wf = parse_workflow(data)
        build(wf)
    except WorkflowError:
        assume(False)  # duplicate loop edges, or loops that overlap without nesting
        raise
    return wf


def _condition(draw: st.DrawFn, deciding: bool, allow_otherwise: bool = True, source: str = "") -> dict[str, Any]:
    choice = draw(st.sampled_from(CONDITIONS if allow_otherwise else CONDITIONS[:-1]))
    if choice is None or (choice == "verdict" and not deciding):
        return {}
    if choice == "verdict":
        return {"condition": {"verdict": draw(st.sampled_from(VERDICTS.get(source, ("yes", "no"))))}}
    return {"condition": choice}


def _ancestors(preds: dict[str, set[str]], node: str) -> set[str]:
    seen: set[str] = set()
    todo = list(preds[node])
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(preds[n])
    return seen


class RandomModel:
    """Answers by a seeded draw per (agent, round, attempt): some words among x, y, z; a verdict for an agent that
    decides (now and then none, or an error)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    async def prepare(self, models: set[str]) -> None:
        return None

    async def call(self, request: ModelRequest, on_text: Callable[[str], None]) -> Completion:
        agent = request.messages[0].content.split()[1]
        rng = random.Random(f"{self.seed}:{agent}:{request.round}:{len(request.messages)}")
        for _ in range(rng.randint(0, 3)):
            await asyncio.sleep(0)
        if rng.random() < 0.04:
            raise BadRequest("refused", model=request.model)
        text = " ".join(rng.choice("xyz") for _ in range(rng.randint(1, 3)))
        if request.structured and rng.random() > 0.1:
            text += f"\nVerdict: {rng.choice(request.verdicts)}"
        on_text(text)
        return Completion(text=text, usage=Usage(prompt_tokens=1, completion_tokens=1), cost=0.0)


@PROPERTIES
@given(wf=workflows(), seed=st.integers(0, 10_000), cancel_after=st.none() | st.integers(1, 30))
def test_random_runs_end_and_follow_their_edges(wf: Workflow, seed: int, cancel_after: int | None) -> None:
    dag = build(wf)
    events = asyncio.run(asyncio.wait_for(_drive(dag, seed, cancel_after), 3))
    assert isinstance(events[-1], RunFinished)
    event(f"status {events[-1].status}")
    event(f"rounds: {'more than one' if any(getattr(e, 'execution', 1) > 1 for e in events) else 'one'}")
    event(f"skips: {'some' if any(isinstance(e, NodeSkipped) for e in events) else 'none'}")
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    _every_agent_is_decided_within_its_bound(dag, events)
    _handoffs_follow_conditions(dag, events)
    _joins_run_and_skips_are_right(dag, events, cancelled=events[-1].status == "cancelled")
    _the_log_folds_to_the_same_state(events)


async def _drive(dag: Dag, seed: int, cancel_after: int | None) -> list[Event]:
    run = Run(dag, caller=RandomModel(seed), default_model="random")
    events: list[Event] = []
    while batch := await run.next_batch():
        events.extend(batch)
        if cancel_after is not None and len(events) >= cancel_after:
            run.cancel()
    return events


def _every_agent_is_decided_within_its_bound(dag: Dag, events: list[Event]) -> None:
    ends: dict[str, list[int]] = {n: [] for n in dag.order}
    for e in events:
        if isinstance(e, NodeFinished | NodeSkipped) or (isinstance(e, NodeFailed) and e.error_kind not in _AFTER):
            ends[e.node_id].append(e.execution)
    for node, indexes in ends.items():
        assert indexes == list(range(1, len(indexes) + 1)), (node, indexes)  # one end per execution, in order
        assert 1 <= len(indexes) <= dag.loops.bound(node), (node, indexes, dag.loops.bound(node))


_AFTER = ("condition", "loop_exhausted")  # failures that follow the agent's own node_finished


def _handoffs_follow_conditions(dag: Dag, events: list[Event]) -> None:
    finished = {(e.node_id, e.execution): e for e in events if isinstance(e, NodeFinished)}
    edges = {e.id: e for e in dag.workflow.edges}
    sent: dict[tuple[str, int], set[str]] = {}
    for e in events:
        if isinstance(e, Handoff):
            source = finished[(e.node_id, e.execution)]
            assert source.seq < e.seq and e.message == source.output
            edge = edges[e.edge_id]
            assert edge.target == e.target
            sent.setdefault((e.node_id, e.execution), set()).add(edge.id)
            if edge.condition != "otherwise":
                assert _holds(edge, source), (edge, source.output, source.verdict)
    for (node, _), ids in sent.items():
        siblings = [edges[i] for i in ids]
        if any(s.condition == "otherwise" for s in siblings):
            chosen = [s for s in siblings if s.condition not in (None, "otherwise")]
            assert not chosen, (node, ids)


def _holds(edge: Edge, source: NodeFinished) -> bool:
    condition = edge.condition
    if condition is None:
        return True
    if isinstance(condition, VerdictIs):
        return source.verdict == condition.verdict
    if isinstance(condition, Contains):
        return condition.contains in source.output.lower()
    assert isinstance(condition, Expression)
    return {"round > 1": source.execution > 1, "'z' in output": "z" in source.output}[condition.expression]


def _joins_run_and_skips_are_right(dag: Dag, events: list[Event], *, cancelled: bool) -> None:
    """An agent that runs received something since its last end, or earlier from outside the loops it is in (a
    round repeats only what is inside); an agent skipped because its inputs died received nothing since then."""
    received: dict[str, set[str]] = {}
    ever: set[str] = set()
    edges = {e.id: e for e in dag.workflow.edges}
    repeated: dict[str, frozenset[str]] = {}  # for each agent, the agents the last loop that repeated it repeats
    for e in events:
        if isinstance(e, Handoff):
            received.setdefault(e.target, set()).add(e.edge_id)
            ever.add(e.edge_id)
            if e.edge_id in dag.loops.by_edge:
                body = dag.loops.by_edge[e.edge_id].body
                repeated.update(dict.fromkeys(body, body))
        elif isinstance(e, NodeStarted) and e.attempt == 1:
            node = e.node_id
            if dag.in_edges[node] or e.execution > 1:
                body = repeated.get(node, frozenset())
                outside = {i for i in ever if edges[i].target == node and edges[i].source not in body}
                assert received.get(node) or outside, (node, e.execution, "ran without input")
        elif isinstance(e, NodeSkipped):
            reason = e.reason
            assert reason
            ended = "was rejected" in reason and "the run ended" in reason  # a rejection with no path ends the run
            if not cancelled and "failed" not in reason and not ended:
                assert not received.get(e.node_id), (e.node_id, reason, "skipped although something arrived")
        if isinstance(e, NodeFinished | NodeSkipped | NodeFailed) and getattr(e, "error_kind", "") not in _AFTER:
            received.pop(e.node_id, None)


def _the_log_folds_to_the_same_state(events: list[Event]) -> None:
    live = fold(events)
    stored = fold(
        event for i in range(0, len(events), 7) for event in batch_from_json(batch_to_json(events[i : i + 7]))
    )
    assert stored == live
    assert fold(event_from_dict(event_to_dict(e)) for e in events) == live
    ran = {(e.node_id, e.execution) for e in events if isinstance(e, NodeFinished | NodeSkipped | NodeFailed)}
    assert {(n, ex.index) for n, node in live.nodes.items() for ex in node.executions} == ran
