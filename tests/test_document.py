from __future__ import annotations

import pytest

from flowdeck.app.document import Document
from flowdeck.components.canvas.payload import patches_between
from flowdeck.engine.dag import build
from flowdeck.errors import EditRefused
from flowdeck.templates import load_template


@pytest.fixture
def doc() -> Document:
    return Document(workflow=load_template("research-code-review"), default_model="scripted")


def test_added_agents_get_unique_ids_and_names(doc: Document) -> None:
    first = doc.add_node("coder", 10, 20)
    second = doc.add_node("coder", 30, 40)
    assert (first.id, first.label) == ("coder_1", "Coder 2")
    assert (second.id, second.label) == ("coder_2", "Coder 3")
    build(doc.workflow)


def test_connections_that_break_the_graph_are_refused_with_the_reason(doc: Document) -> None:
    with pytest.raises(EditRefused, match="would make a loop"):
        doc.connect("reviewer", "researcher")
    with pytest.raises(EditRefused, match="already connected"):
        doc.connect("researcher", "coder")
    with pytest.raises(EditRefused, match="itself"):
        doc.connect("coder", "coder")
    edge = doc.connect("researcher", "reviewer")
    assert edge.id == "researcher->reviewer"


def test_invalid_config_is_refused_naming_the_field_and_changes_nothing(doc: Document) -> None:
    before = doc.workflow
    with pytest.raises(EditRefused, match="temperature"):
        doc.update_node("coder", temperature=3)
    assert doc.workflow == before


def test_typing_in_one_field_is_one_undo_step(doc: Document) -> None:
    for text in ("S", "Se", "Senior"):
        doc.update_node("coder", label=text)
    doc.update_node("coder", temperature=1.0)
    assert doc.undo()
    assert doc.workflow.node("coder").label == "Senior"
    assert doc.undo()
    assert doc.workflow.node("coder").label == "Coder"
    assert doc.redo()
    assert doc.workflow.node("coder").label == "Senior"


def test_deleting_a_node_removes_its_edges_and_undo_brings_both_back(doc: Document) -> None:
    before = doc.workflow
    nodes, edges = doc.delete({"coder"}, set())
    assert nodes == {"coder"}
    assert edges == {"researcher->coder", "coder->reviewer"}
    doc.undo()
    assert doc.workflow == before


def test_patches_turn_one_version_into_the_next(doc: Document) -> None:
    before = doc.workflow
    doc.delete({"reviewer"}, set())
    doc.add_node("custom", 0, 0)
    ops = patches_between(before, doc.workflow, doc.default_model)
    kinds = [op["op"] for op in ops]
    assert kinds == ["remove_edges", "remove_nodes", "add_node"]
    assert ops[1]["ids"] == ["reviewer"]


def test_dirty_until_saved(doc: Document) -> None:
    assert doc.dirty
    doc.saved = doc.workflow
    assert not doc.dirty
    doc.move({"coder": (1.0, 2.0)})
    assert doc.dirty


def test_save_state_tells_a_workflow_never_saved_from_unsaved_edits(doc: Document) -> None:
    assert doc.save_state == "new"  # a template as opened: nothing to lose yet
    doc.move({"coder": (1.0, 2.0)})
    assert doc.save_state == "changed"
    doc.undo()
    assert doc.save_state == "new"
    doc.move({"coder": (1.0, 2.0)})
    doc.saved = doc.workflow
    assert doc.save_state == "saved"
    doc.undo()
    assert doc.save_state == "changed"  # saved once: any difference from the saved version is a change
    doc.replace(load_template("fan-out-review"))
    assert doc.save_state == "new"
    doc.replace(load_template("fan-out-review"), saved=True)
    assert doc.save_state == "saved"
    doc.replace(load_template("spec-code-tests"), edited=True)  # a restored draft
    assert doc.save_state == "changed"


def test_a_new_agent_never_takes_the_id_of_one_deleted(doc: Document) -> None:
    doc.delete({"coder"}, set())
    added = doc.add_node("coder", 0, 0)
    assert added.id != "coder"  # the run shown may hold what "coder" did: the new agent must not inherit it
    doc.delete({added.id}, set())
    pasted = doc.paste(*doc.copy({"researcher"}))
    assert {added.id, "coder", "researcher"}.isdisjoint(n.id for n in pasted)
    assert doc.add_node("coder", 0, 0).id not in {added.id, "coder"}


def test_a_new_agent_never_takes_the_id_of_one_in_the_run_shown() -> None:
    workflow = load_template("research-code-review")
    shown = {"researcher", "coder", "reviewer", "coder_1"}  # a run of an earlier version had a second coder
    doc = Document(workflow=workflow, default_model="scripted", in_use=lambda: shown)
    assert doc.add_node("coder", 0, 0).id == "coder_2"
