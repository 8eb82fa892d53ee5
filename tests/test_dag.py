from __future__ import annotations

import pytest

from flowdeck.engine.dag import build
from flowdeck.engine.workflow import parse_workflow
from flowdeck.errors import WorkflowError


def problems(
    nodes: list[dict[str, object]], edges: list[tuple[str, str, str]], inputs: tuple[str, ...] = ("task",)
) -> str:
    workflow = parse_workflow(
        {
            "format": 1,
            "name": "t",
            "inputs": [{"name": name} for name in inputs],
            "nodes": nodes,
            "edges": [{"id": i, "source": s, "target": t} for i, s, t in edges],
        }
    )
    with pytest.raises(WorkflowError) as info:
        build(workflow)
    return "\n".join(str(p) for p in info.value.problems)


A = {"id": "a", "type": "researcher"}
B = {"id": "b", "type": "coder"}
C = {"id": "c", "type": "reviewer"}


def test_structural_problems_are_all_listed_with_their_node_or_edge() -> None:
    text = problems(
        [A, B, {"id": "b", "type": "coder"}, {"id": "x", "type": "wizard"}],
        [("e1", "a", "ghost"), ("e2", "a", "a"), ("e3", "a", "b"), ("e4", "a", "b"), ("e3", "b", "x")],
    )
    assert "node b: the id is used by 2 nodes" in text
    assert "node x: unknown node type 'wizard'; use one of: researcher, coder, reviewer, custom" in text
    assert "edge e1: connects to node 'ghost', which does not exist" in text
    assert "edge e2: connects node 'a' to itself" in text
    assert "edge e4: duplicates another edge a -> b" in text
    assert "edge e3: the id is used by 2 edges" in text


def test_cycle_is_refused_naming_the_path() -> None:
    text = problems([A, B, C], [("e1", "a", "b"), ("e2", "b", "c"), ("e3", "c", "a")])
    assert "form a cycle (a -> b -> c -> a)" in text


def test_empty_workflow_is_refused() -> None:
    assert "no agents" in problems([], [])


def test_template_references_are_checked_against_inputs_and_upstream() -> None:
    template = "{{ inputs.topic }} {{ outputs.c }} {{ outputs.ghost }} {{ outputs.a }}"
    text = problems(
        [A, {"id": "b", "type": "coder", "config": {"prompt_template": template}}, C],
        [("e1", "a", "b")],
    )
    assert "node b (Coder) prompt template: reads inputs.topic, which the workflow does not declare" in text
    assert "reads outputs.c, but node 'c' is not upstream of this agent" in text
    assert "reads outputs.ghost, but node 'ghost' does not exist" in text
    assert "outputs.a" not in text


@pytest.mark.parametrize(
    "payload",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ inputs.__class__ }}",
        "{{ inputs['__class__'] }}",
        "{% for x in ().__class__.__base__.__subclasses__() %}{{ x }}{% endfor %}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ self._TemplateReference__context }}",
    ],
)
def test_template_injection_is_refused_before_anything_runs(payload: str) -> None:
    text = problems([{"id": "a", "type": "coder", "config": {"prompt_template": payload}}], [])
    assert "node a (Coder) prompt template:" in text


def test_template_syntax_error_names_the_line() -> None:
    text = problems([{"id": "a", "type": "coder", "config": {"prompt_template": "ok\n{{ inputs.task "}}], [])
    assert "syntax error on line 2" in text


def test_valid_graph_orders_nodes_topologically() -> None:
    workflow = parse_workflow(
        {
            "format": 1,
            "name": "t",
            "nodes": [C, B, A],
            "edges": [{"id": "1", "source": "a", "target": "b"}, {"id": "2", "source": "b", "target": "c"}],
        }
    )
    dag = build(workflow)
    assert dag.order == ("a", "b", "c")
    assert dag.ancestors["c"] == {"a", "b"}


def test_ancestors_of_each_node_in_a_diamond_with_a_tail() -> None:
    nodes = [{"id": i, "type": "custom"} for i in "sabtxz"]
    edges = [("1", "s", "a"), ("2", "s", "b"), ("3", "a", "t"), ("4", "b", "t"), ("5", "t", "z"), ("6", "x", "z")]
    dag = build(
        parse_workflow(
            {
                "format": 1,
                "name": "t",
                "nodes": nodes,
                "edges": [{"id": i, "source": s, "target": t} for i, s, t in edges],
            }
        )
    )
    expected = {"s": set(), "a": {"s"}, "b": {"s"}, "t": {"s", "a", "b"}, "x": set(), "z": {"s", "a", "b", "t", "x"}}
    assert {n: set(dag.ancestors[n]) for n in dag.ancestors} == expected
    assert "t" in dag.ancestors and "nope" not in dag.ancestors and len(dag.ancestors) == 6
