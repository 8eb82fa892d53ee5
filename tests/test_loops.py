"""Workflow format 2: conditions, loop edges and verdicts, from the file to the events of a run."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from flowdeck.engine.dag import build
from flowdeck.engine.events import Event, Handoff, Log, NodeFailed, NodeFinished, NodeSkipped, NodeStarted
from flowdeck.engine.run import Run, drain
from flowdeck.engine.state import fold
from flowdeck.engine.workflow import Workflow, parse_workflow, workflow_json_schema
from flowdeck.errors import WorkflowError
from flowdeck.models.scripted import ScriptedCaller
from flowdeck.templates import load_template


def workflow(nodes: list[dict[str, Any]], edges: list[dict[str, Any]], **extra: Any) -> Workflow:
    return parse_workflow(
        {"format": 2, "name": "t", "inputs": [{"name": "task", "default": "do it"}], "nodes": nodes, "edges": edges}
        | extra
    )


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(WorkflowError) as info:
        build(parse_workflow(data))
    return [str(p) for p in info.value.problems]


def edge(source: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"id": f"{source}->{target}", "source": source, "target": target} | extra


LOOP = {"condition": {"verdict": "revise"}, "loop": {"max_rounds": 3}}
REVIEW = [{"id": "c", "type": "coder"}, {"id": "r", "type": "reviewer"}]


async def run(wf: Workflow, model: str, **kwargs: Any) -> list[Event]:
    kwargs.setdefault("approve_all", "test")  # review-loop ends with a person's sign-off
    return await drain(Run(wf, caller=ScriptedCaller(), default_model=model, **kwargs))


def executions(events: list[Event], node: str) -> list[int]:
    return [e.execution for e in events if isinstance(e, NodeFinished | NodeSkipped | NodeFailed) and e.node_id == node]


# -- the file ------------------------------------------------------------------------------------------------------


def test_a_format_2_file_reads_back_as_written() -> None:
    wf = load_template("review-loop")
    again = parse_workflow(wf.to_json())
    assert again == wf
    saved = json.loads(wf.to_json())["edges"][2]
    assert saved == {
        "id": "reviewer->coder",
        "source": "reviewer",
        "target": "coder",
        "condition": {"verdict": "revise"},
        "loop": {"max_rounds": 3},
    }


def test_format_1_files_refuse_format_2_fields_and_say_which_format_they_need() -> None:
    data = {"format": 1, "name": "t", "nodes": REVIEW, "edges": [edge("c", "r", condition="otherwise")]}
    found = problems(data)
    assert found[0] == 'edge c->r uses "condition": these need "format": 2; set "format": 2'
    assert "no other edge out of 'Coder' has a condition" in found[1]  # the graph is checked too, all at once


def test_a_condition_of_an_unknown_kind_says_which_kinds_exist() -> None:
    data = {"format": 2, "name": "t", "nodes": REVIEW, "edges": [edge("c", "r", condition={"matches": "x"})]}
    [problem] = problems(data)
    assert problem.startswith("edges[0].condition: use") and '{"contains": "..."}' in problem


def test_the_schema_knows_conditions_loops_and_verdicts() -> None:
    text = json.dumps(workflow_json_schema())
    assert all(word in text for word in ('"max_rounds"', '"verdict"', '"contains"', '"expression"', '"otherwise"'))
    assert '"verdicts"' in text


def test_an_unbounded_cycle_is_refused_naming_its_agents() -> None:
    data = {"format": 2, "name": "t", "nodes": REVIEW, "edges": [edge("c", "r"), edge("r", "c")]}
    [problem] = problems(data)
    assert "cycle (c -> r -> c)" in problem and "loop edge" in problem


def test_a_loop_edge_bounds_the_cycle() -> None:
    dag = build(workflow(REVIEW, [edge("c", "r"), edge("r", "c", **LOOP)]))
    assert dag.loops.bound("c") == 3 and dag.loops.bound("r") == 3 and not dag.plain


def test_every_problem_of_conditions_and_loops_is_listed_at_once() -> None:
    nodes = [*REVIEW, {"id": "x", "type": "custom"}, {"id": "y", "type": "custom"}]
    found = problems(
        {
            "format": 2,
            "name": "t",
            "nodes": nodes,
            "edges": [
                edge("c", "r"),
                edge("r", "c", condition={"verdict": "maybe"}, loop={"max_rounds": 21}),
                edge("r", "x", condition={"expression": "output ~~ 1"}),
                edge("x", "y", condition={"verdict": "yes"}),
                edge("c", "x", condition="otherwise"),
                edge("c", "y", condition={"expression": "secret.value and inputs.nope"}),
            ],
        }
    )
    text = "\n".join(found)
    assert "21 rounds; a loop runs 1 to 20 rounds (the cap)" in text
    assert "edge r->x: the expression does not parse" in text
    assert "edge x->y: routes on a verdict, but 'Custom agent' gives none" in text
    assert "unknown name 'secret'" in text and "reads inputs.nope" in text
    assert len(found) >= 5


def test_verdicts_and_otherwise_are_checked_before_running() -> None:
    found = problems(
        {
            "format": 2,
            "name": "t",
            "nodes": REVIEW,
            "edges": [edge("c", "r"), edge("r", "c", condition={"verdict": "maybe"}, loop={"max_rounds": 2})],
        }
    )
    assert found == [
        "edge r->c: routes on verdict 'maybe', which 'Reviewer' does not give (its verdicts: approve, revise); "
        "use one of those"
    ]
    [alone] = problems({"format": 2, "name": "t", "nodes": REVIEW, "edges": [edge("c", "r", condition="otherwise")]})
    assert "no other edge out of 'Coder' has a condition" in alone


def test_a_loop_edge_must_go_back_upstream() -> None:
    found = problems({"format": 2, "name": "t", "nodes": REVIEW, "edges": [edge("c", "r", **LOOP)]})
    assert "edge c->r: is a loop edge, but 'r' is not upstream of 'c'" in found[0]


def test_loops_that_share_agents_must_nest() -> None:
    nodes = [{"id": n, "type": "custom", "config": {"verdicts": ["again", "done"]}} for n in "abcd"]
    again = {"condition": {"verdict": "again"}, "loop": {"max_rounds": 2}}
    found = problems(
        {
            "format": 2,
            "name": "t",
            "nodes": nodes,
            "edges": [edge("a", "b"), edge("b", "c"), edge("c", "d"), edge("c", "a", **again), edge("d", "b", **again)],
        }
    )
    assert any("share agents without one holding the other" in p for p in found)


# -- running -------------------------------------------------------------------------------------------------------


async def test_the_reviewer_sends_the_work_back_until_it_approves() -> None:
    events = await run(load_template("review-loop"), "scripted/verdicts=revise,revise,approve")
    state = fold(events)
    assert state.status == "succeeded"
    assert executions(events, "coder") == [1, 2, 3] and executions(events, "reviewer") == [1, 2, 3]
    assert executions(events, "researcher") == [1]
    verdicts = [e.verdict for e in events if isinstance(e, NodeFinished) and e.node_id == "reviewer"]
    assert verdicts == ["revise", "revise", "approve"]
    assert [ex.verdict for ex in state.nodes["reviewer"].executions] == verdicts
    back = [e for e in events if isinstance(e, Handoff) and e.edge_id == "reviewer->coder"]
    assert [e.execution for e in back] == [1, 2]
    # Round 2 sees its own previous answer, then the feedback that sent it back.
    second = next(e for e in events if isinstance(e, NodeStarted) and e.node_id == "coder" and e.execution == 2)
    user = second.messages[1].content
    assert "## Your previous answer\nImplementation for:" in user
    assert user.index("## Your previous answer") < user.index("## From Reviewer\nReview of the work")
    assert second.received_from == ["researcher", "reviewer"]
    notes = [e.text for e in events if isinstance(e, Log)]
    assert "Reviewer chose revise: round 2 of 3, back to 'Coder'" in notes


async def test_when_rounds_run_out_the_run_says_so_and_goes_on() -> None:
    events = await run(load_template("review-loop"), "scripted/verdicts=revise")
    state = fold(events)
    assert state.status == "succeeded"
    assert executions(events, "coder") == [1, 2, 3]
    assert any("stopped after 3 rounds: Reviewer still chose revise" in e.text for e in events if isinstance(e, Log))


async def test_when_rounds_run_out_the_otherwise_path_is_followed() -> None:
    wf = workflow(
        [*REVIEW, {"id": "w", "type": "custom", "label": "Writer"}, {"id": "p", "type": "custom", "label": "Pub"}],
        [
            edge("c", "r"),
            edge("r", "c", condition={"verdict": "revise"}, loop={"max_rounds": 2}),
            edge("r", "p", condition={"verdict": "approve"}),
            edge("r", "w", condition="otherwise"),
        ],
    )
    events = await run(wf, "scripted/verdicts=revise")
    assert executions(events, "w") == [1] and executions(events, "r") == [1, 2]
    skipped = next(e for e in events if isinstance(e, NodeSkipped) and e.node_id == "p")
    assert skipped.reason == "Reviewer chose revise"
    # Nothing after the loop started before the loop ended.
    first_w = next(i for i, e in enumerate(events) if getattr(e, "node_id", None) == "w")
    last_r = max(i for i, e in enumerate(events) if isinstance(e, NodeFinished) and e.node_id == "r")
    assert first_w > last_r
    # Approved at once: the writer is skipped, the publisher runs.
    events = await run(wf, "scripted/verdicts=approve")
    assert executions(events, "p") == [1] and executions(events, "r") == [1]
    assert next(e for e in events if isinstance(e, NodeSkipped)).reason == "Reviewer chose approve"


async def test_a_loop_set_to_fail_fails_the_run_when_rounds_run_out() -> None:
    wf = workflow(REVIEW, [edge("c", "r"), edge("r", "c", **LOOP | {"loop": {"max_rounds": 2, "exhausted": "fail"}})])
    state = fold(await run(wf, "scripted/verdicts=revise"))
    assert state.status == "failed"
    reviewer = state.nodes["r"].latest
    assert reviewer is not None and reviewer.index == 2 and reviewer.status == "failed"
    assert reviewer.error_kind == "loop_exhausted" and "after 2 rounds" in (reviewer.error or "")


async def test_triage_routes_to_one_specialist_and_the_join_writes_the_answer() -> None:
    events = await run(load_template("triage"), "scripted/verdicts=technical")
    state = fold(events)
    assert state.status == "succeeded"
    assert {n: state.nodes[n].status for n in state.nodes} == {
        "triage": "succeeded",
        "billing": "skipped",
        "technical": "succeeded",
        "general": "skipped",
        "writer": "succeeded",
    }
    assert state.nodes["billing"].summary() == "skipped: Triage chose technical"
    writer = next(e for e in events if isinstance(e, NodeStarted) and e.node_id == "writer")
    assert writer.received_from == ["technical"]
    assert "## From Technical specialist" in writer.messages[1].content
    assert "Billing" not in writer.messages[1].content


async def test_otherwise_takes_what_no_verdict_claims() -> None:
    state = fold(await run(load_template("triage"), "scripted/verdicts=general"))
    assert [state.nodes[n].status for n in ("billing", "technical", "general", "writer")] == [
        "skipped",
        "skipped",
        "succeeded",
        "succeeded",
    ]


async def test_a_join_whose_every_input_died_is_skipped_with_the_reason() -> None:
    nodes = [{"id": n, "type": "custom", "label": n.upper()} for n in "abcj"]
    wf = workflow(
        nodes,
        [
            edge("a", "b", condition={"contains": "no such words"}),
            edge("a", "c", condition={"expression": "round > 1"}),
            edge("b", "j"),
            edge("c", "j"),
        ],
    )
    events = await run(wf, "scripted")
    state = fold(events)
    assert state.status == "succeeded"
    assert state.nodes["b"].summary() == "skipped: A's answer does not contain 'no such words'"
    assert state.nodes["c"].summary() == "skipped: A's answer does not meet round > 1"
    assert state.nodes["j"].summary() == "skipped: A's answer does not contain 'no such words'"


async def test_expressions_read_output_round_and_inputs() -> None:
    nodes = [{"id": n, "type": "custom"} for n in "abc"]
    wf = workflow(
        nodes,
        [
            edge("a", "b", condition={"expression": "inputs.task == 'do it' and 'answer' in output.lower()"}),
            edge("a", "c", condition="otherwise"),
        ],
    )
    state = fold(await run(wf, "scripted"))
    assert state.nodes["b"].status == "succeeded" and state.nodes["c"].status == "skipped"


async def test_an_expression_that_fails_fails_its_agent_and_says_why() -> None:
    nodes = [{"id": n, "type": "custom"} for n in "ab"]
    wf = workflow(nodes, [edge("a", "b", condition={"expression": "(output * 100000) != ''"})])  # too large a text
    state = fold(await run(wf, "scripted"))
    assert state.status == "failed"
    a = state.nodes["a"].latest
    assert a is not None and a.error_kind == "condition" and "sandbox forbids" in (a.error or "")
    assert state.nodes["b"].summary() == "skipped: upstream agent 'Custom agent' failed"


@pytest.mark.parametrize(
    "expression",
    [
        "99999999**64**64**64**64 > 0",  # jinja groups ** left to right: each step passes an exponent check
        " * ".join(["(9**64)"] * 25) + " > 0",  # past 4,096 bits, multiplied step by step
        "2.0**64**64 > 0",  # a float that overflows
    ],
)
async def test_a_condition_that_builds_a_huge_number_fails_its_agent_at_once(expression: str) -> None:
    nodes = [{"id": n, "type": "custom"} for n in "abc"]
    wf = workflow(nodes, [edge("a", "b", condition={"expression": expression}), edge("a", "c", condition="otherwise")])
    state = fold(await asyncio.wait_for(run(wf, "scripted"), timeout=10))
    a = state.nodes["a"].latest
    assert state.status == "failed" and a is not None and a.error_kind == "condition", a


async def test_a_partial_run_from_the_reviewer_sends_work_back_to_a_reused_coder() -> None:
    wf = load_template("review-loop")
    first = fold(await run(wf, "scripted/verdicts=approve"))
    reuse = {n: _completion(text) for n, text in first.outputs().items() if n != "reviewer"}
    events = await run(wf, "scripted/verdicts=revise,approve", scope=["reviewer"], reuse=reuse)
    coder = [e for e in events if isinstance(e, NodeFinished) and e.node_id == "coder"]
    assert [(e.execution, e.cached) for e in coder] == [(1, True), (2, False)]


def _completion(text: str) -> Any:
    from flowdeck.engine.events import Usage
    from flowdeck.engine.llm_types import Completion

    return Completion(text=text, usage=Usage(), cost=0.0)


def test_loops_that_feed_each_other_are_refused() -> None:
    # What leaves a loop waits until it ends: two loops each needing what the other sends out would wait for ever.
    nodes = [{"id": n, "type": "custom"} for n in ("a1", "a2", "b1", "b2")]
    again = {"condition": {"contains": "again"}, "loop": {"max_rounds": 2}}
    edges = [edge("a1", "a2"), edge("b1", "b2"), edge("a1", "b2"), edge("b1", "a2")]
    found = problems(
        {
            "format": 2,
            "name": "t",
            "nodes": nodes,
            "edges": [*edges, edge("a2", "a1", **again), edge("b2", "b1", **again)],
        }
    )
    assert found == [
        "edge a2->a1: the loops of edges a2->a1 and b2->b1 feed each other (what one sends out goes into the other, "
        "and the other way round), so neither could end; connect them one after the other"
    ]
    # One after the other is fine.
    build(workflow(nodes, [*edges[:3], edge("a2", "a1", **again), edge("b2", "b1", **again)]))


async def test_the_triage_template_runs_offline_on_the_embedded_model() -> None:
    from flowdeck.models.llm import LiteLLMCaller

    events = await drain(Run(load_template("triage"), caller=LiteLLMCaller(), default_model="embedded"))
    state = fold(events)
    assert state.status == "succeeded", [n.summary() for n in state.nodes.values()]
    chosen = state.nodes["triage"].latest
    assert chosen is not None and chosen.verdict in ("billing", "technical", "general")
    specialists = [state.nodes[n] for n in ("billing", "technical", "general")]
    assert [n.node_id for n in specialists if n.status == "succeeded"] == [chosen.verdict]
    skipped = {n.latest.skip_reason for n in specialists if n.status == "skipped" and n.latest is not None}
    assert skipped == {f"Triage chose {chosen.verdict}"}
    assert state.nodes["writer"].status == "succeeded"


def test_two_loops_back_from_one_agent_on_the_same_condition_are_refused() -> None:
    # A new user drew Reviewer -> Researcher and Reviewer -> Coder, both "revise": the run only ever took one.
    nodes = [{"id": "a", "type": "researcher"}, *REVIEW]
    edges = [edge("a", "c"), edge("c", "r"), edge("r", "a", **LOOP), edge("r", "c", **LOOP)]
    with pytest.raises(WorkflowError) as caught:
        build(workflow(nodes, edges))
    assert "loops back from 'r' on the same condition as edge" in str(caught.value)
