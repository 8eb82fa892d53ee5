"""Loops and conditions in the editor's document (issue 21): connecting back makes a loop edge, conditions are set
and cleared, refusals use the engine's words, and the workflow keeps all of it through a save's JSON."""

from __future__ import annotations

import pytest

from flowdeck.app.document import Document
from flowdeck.app.edge_rules import condition_from, loop_from, verdict_choices
from flowdeck.app.run_rounds import RoundBounds
from flowdeck.components.canvas.payload import canvas_edges, canvas_node, patches_between
from flowdeck.engine.dag import build
from flowdeck.engine.workflow import FORMAT_VERSION, Contains, Expression, Loop, Node, VerdictIs, parse_workflow
from flowdeck.errors import EditRefused
from flowdeck.templates import load_template


@pytest.fixture
def doc() -> Document:
    return Document(workflow=load_template("research-code-review"), app_model="scripted")


def test_a_connection_back_needs_a_loop_and_a_plain_one_is_refused_naming_the_cycle(doc: Document) -> None:
    assert doc.needs_loop("reviewer", "coder")
    assert not doc.needs_loop("researcher", "reviewer")
    with pytest.raises(EditRefused, match=r"would make a loop \(Coder -> Reviewer -> Coder\) that no loop edge"):
        doc.connect("reviewer", "coder")
    assert len(doc.workflow.edges) == 2


def test_a_loop_edge_is_added_labelled_and_runs(doc: Document) -> None:
    edge = doc.connect("reviewer", "coder", condition=VerdictIs(verdict="revise"), loop=Loop(max_rounds=3))
    assert edge.loop == Loop(max_rounds=3)
    build(doc.workflow)  # the engine accepts it
    drawn = next(e for e in canvas_edges(doc.workflow) if e["id"] == edge.id)
    assert drawn["caption"] == "revise · ≤ 3"
    assert drawn["condition"] == {"verdict": "revise"}
    assert drawn["loop"] == {"max_rounds": 3, "exhausted": "otherwise"}
    assert not doc.needs_loop("reviewer", "coder")  # already connected: a second drag changes nothing
    assert doc.undo() and len(doc.workflow.edges) == 2


def test_max_rounds_over_the_cap_is_refused_naming_the_cap_and_the_field() -> None:
    with pytest.raises(EditRefused, match="1 to 20 rounds") as refused:
        loop_from(21, "otherwise")
    assert refused.value.field == "max_rounds"
    with pytest.raises(EditRefused, match="whole number") as refused:
        loop_from("three", "otherwise")
    assert refused.value.field == "max_rounds"
    assert loop_from(20.0, "fail") == Loop(max_rounds=20, exhausted="fail")


def test_a_loop_that_breaks_another_is_refused_in_the_engines_words(doc: Document) -> None:
    doc.connect("reviewer", "coder", loop=Loop(max_rounds=2))
    before = doc.workflow
    # The loop Coder..Reviewer and a loop Researcher..Coder would share Coder, neither holding the other.
    with pytest.raises(EditRefused, match="share agents without one holding the other"):
        doc.connect("coder", "researcher", loop=Loop(max_rounds=2))
    assert doc.workflow == before


def test_conditions_are_set_and_cleared_and_a_bad_one_names_its_field(doc: Document) -> None:
    doc.connect("reviewer", "coder", condition=VerdictIs(verdict="revise"), loop=Loop(max_rounds=3))
    edge = doc.update_edge("coder->reviewer", condition=Contains(contains="def "), loop=None)
    assert edge.condition == Contains(contains="def ")
    assert next(e for e in canvas_edges(doc.workflow) if e["id"] == edge.id)["caption"] == "contains: def "
    with pytest.raises(EditRefused, match="'Reviewer' does not give") as refused:
        doc.update_edge("reviewer->coder", condition=VerdictIs(verdict="maybe"), loop=Loop(max_rounds=3))
    assert refused.value.field == "verdict"
    with pytest.raises(EditRefused, match="ends too early") as refused:
        doc.update_edge("coder->reviewer", condition=Expression(expression="round >"), loop=None)
    assert refused.value.field == "expression"
    assert not str(refused.value).startswith("edge")  # the person is looking at the edge: its id is not repeated
    with pytest.raises(EditRefused, match="needs one") as refused:
        condition_from("contains", "")
    assert refused.value.field == "contains"
    with pytest.raises(EditRefused) as refused:
        condition_from("verdict", "two words")
    assert refused.value.field == "verdict"
    assert doc.update_edge("coder->reviewer", condition=None, loop=None).condition is None
    with pytest.raises(EditRefused, match="loop edge"):
        doc.update_edge("coder->reviewer", condition=None, loop=Loop(max_rounds=2))


def test_verdicts_are_edited_and_a_duplicate_is_refused_naming_the_field(doc: Document) -> None:
    node = doc.update_node("coder", verdicts=["done", "stuck"])
    assert node.config.verdicts == ["done", "stuck"]
    with pytest.raises(EditRefused, match="listed twice") as refused:
        doc.update_node("coder", verdicts=["done", "Done"])
    assert refused.value.field == "verdicts"
    with pytest.raises(EditRefused, match="Verdicts must be words") as refused:
        doc.update_node("coder", verdicts=["two words"])
    assert refused.value.field == "verdicts"
    assert doc.workflow.node("coder").config.verdicts == ["done", "stuck"]


def test_format_1_loads_and_the_editor_keeps_loops_and_conditions_in_format_2(doc: Document) -> None:
    old = load_template("research-code-review").model_copy(update={"format": 1})
    doc.replace(old)
    assert doc.workflow.format == FORMAT_VERSION == 2
    doc.connect("reviewer", "coder", condition=VerdictIs(verdict="revise"), loop=Loop(max_rounds=4, exhausted="fail"))
    doc.update_node("reviewer", verdicts=["approve", "revise"])
    text = doc.workflow.to_json()
    again = parse_workflow(text)
    assert again == doc.workflow
    assert '"max_rounds": 4' in text and '"exhausted": "fail"' in text and '"verdict": "revise"' in text
    fresh = Document(workflow=again)
    assert sorted(p["op"] for p in patches_between(old, fresh.workflow, "scripted")) == ["add_edge", "update_node"]


def test_pasting_keeps_the_conditions_of_the_edges_between_the_copies(doc: Document) -> None:
    doc.connect("reviewer", "coder", condition=VerdictIs(verdict="revise"), loop=Loop(max_rounds=3))
    added = doc.paste(*doc.copy({"coder", "reviewer"}))
    copies = {n.id for n in added}
    pasted = [e for e in doc.workflow.edges if e.source in copies]
    assert {(e.loop, e.condition) for e in pasted} == {(None, None), (Loop(max_rounds=3), VerdictIs(verdict="revise"))}


def test_an_approval_node_is_drawn_as_a_person_with_no_model_and_routes_on_its_decision() -> None:
    approval = Node(id="sign_off", type="approval", label="Sign-off")
    card = canvas_node(approval, "scripted")
    assert (card["icon"], card["model"], card["typeTitle"]) == ("person", "", "Approval")
    assert verdict_choices(approval) == ("approved", "rejected")  # contract 3


def test_round_marks_for_agents_and_loop_edges() -> None:
    workflow = load_template("review-loop")
    bounds = RoundBounds.of(workflow.to_dict())
    assert bounds.loop_edges == {"reviewer->coder": 3, "approval->coder": 3}
    # the review loop sits inside the sign-off's: the coder runs at most 3 x 3 times
    assert bounds.agents == {"coder": 9, "reviewer": 9, "approval": 3}
    assert bounds.edge_round("reviewer->coder", 1) == {"round": 2, "rounds": 3}
    assert bounds.edge_round("coder->reviewer", 1) is None
    assert RoundBounds.of(load_template("research-code-review").to_dict()) == RoundBounds()
