from __future__ import annotations

from dataclasses import replace

import pytest

from flowdeck.app.document import Document, blank_workflow
from flowdeck.app.workflow_settings import InputDraft, SettingsDraft, problems
from flowdeck.components.canvas.payload import patches_between
from flowdeck.engine.dag import build
from flowdeck.errors import EditRefused
from flowdeck.templates import load_template


@pytest.fixture
def doc() -> Document:
    return Document(workflow=load_template("research-code-review"), app_model="scripted")


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


def test_invalid_config_is_refused_in_words_naming_the_field_and_changes_nothing(doc: Document) -> None:
    before = doc.workflow
    refusals = {
        "temperature": (3, "Temperature must be between 0 and 2"),
        "retries": (1.5, "Retries must be a whole number from 0 to 10"),
        "max_tokens": (None, "Max tokens must be a whole number from 1 to 200,000"),
        "timeout": (0, "Timeout must be more than 0 and at most 3600 seconds"),
        "label": ("x" * 201, "Name must be at most 200 characters"),
    }
    for field, (value, message) in refusals.items():
        with pytest.raises(EditRefused) as refused:
            doc.update_node("coder", **{field: value})
        assert (str(refused.value), refused.value.field) == (message, field)
    assert doc.workflow == before


def test_a_model_name_with_spaces_is_refused(doc: Document) -> None:
    before = doc.workflow
    with pytest.raises(EditRefused, match="“Default \\(embedded\\)scripted” is not a model name") as refused:
        doc.update_node("coder", model="Default (embedded)scripted")
    assert refused.value.field == "model"
    assert doc.workflow == before
    assert doc.update_node("coder", model="ollama_chat/llama3.2:1b").config.model == "ollama_chat/llama3.2:1b"


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
    ops = patches_between(before, doc.workflow, doc.app_model)
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
    doc = Document(workflow=workflow, app_model="scripted", in_use=lambda: shown)
    assert doc.add_node("coder", 0, 0).id == "coder_2"


def test_workflow_settings_are_one_undo_step_and_renamed_inputs_follow_into_prompts(doc: Document) -> None:
    doc.update_node("coder", prompt_template="Build {{ inputs.task }} for {{ inputs.audience }}")
    doc.update_node("reviewer", prompt_template="Check it against {{ inputs['task'] }}")
    before = doc.workflow
    draft = SettingsDraft.of(before)
    [task] = draft.inputs
    applied = doc.apply_settings(
        replace(
            draft,
            name="Spec to code",
            description="From a spec.",
            default_model="scripted/chunks=2",
            inputs=(
                InputDraft(name="audience", label="Audience", default="beginners"),
                replace(task, name="spec", label="Spec"),
            ),
        )
    )
    workflow = doc.workflow
    assert (workflow.name, workflow.description, workflow.default_model) == (
        "Spec to code",
        "From a spec.",
        "scripted/chunks=2",
    )
    assert [(i.name, i.label, i.default) for i in workflow.inputs] == [
        ("audience", "Audience", "beginners"),
        ("spec", "Spec", task.default),
    ]
    assert workflow.node("coder").config.prompt_template == "Build {{ inputs.spec }} for {{ inputs.audience }}"
    assert workflow.node("reviewer").config.prompt_template == "Check it against {{ inputs['spec'] }}"
    assert (applied.renamed, applied.rewritten, applied.dangling) == ({"task": "spec"}, ("Coder", "Reviewer"), {})
    build(workflow)
    assert doc.undo() and doc.workflow == before


def test_removing_an_input_a_prompt_reads_says_which_agents_read_it(doc: Document) -> None:
    doc.update_node("coder", prompt_template="{{ inputs.task }}")
    applied = doc.apply_settings(replace(SettingsDraft.of(doc.workflow), inputs=()))
    assert doc.workflow.inputs == [] and applied.dangling == {"task": ("Coder",)}


def test_bad_settings_are_named_by_field_and_change_nothing(doc: Document) -> None:
    before = doc.workflow
    draft = SettingsDraft(
        name=" ",
        default_model="gpt 4",
        inputs=(InputDraft(name="2nd"), InputDraft(name="a"), InputDraft(name="a"), InputDraft(name="")),
    )
    assert problems(draft) == {
        "name": "Name must not be empty",
        "default_model": "“gpt 4” is not a model name: model names have no spaces",
        "inputs.0.name": "Input name must start with a letter or underscore, then letters, digits or underscores "
        "(at most 64 characters), e.g. task or source_text",
        "inputs.2.name": "Input name “a” is taken by another input; each needs its own",
        "inputs.3.name": "Input name must not be empty",
    }
    with pytest.raises(EditRefused) as refused:
        doc.apply_settings(draft)
    assert (str(refused.value), refused.value.field) == ("Name must not be empty", "name")
    assert doc.workflow == before


def test_the_workflows_default_model_is_shown_on_the_agents_that_name_none(doc: Document) -> None:
    doc.update_node("coder", model="scripted/own")
    before = doc.workflow
    doc.apply_settings(replace(SettingsDraft.of(before), default_model="gpt-4o-mini"))
    assert doc.default_model == "gpt-4o-mini"
    updated = {op["node"]["id"]: op["node"]["model"] for op in patches_between(before, doc.workflow, doc.app_model)}
    assert updated == {"researcher": "gpt-4o-mini", "reviewer": "gpt-4o-mini"}
    doc.undo()
    assert doc.default_model == "scripted"


def test_a_blank_workflow_has_a_free_name_a_task_and_no_agents() -> None:
    blank = blank_workflow({"Untitled workflow", "Untitled workflow 2"})
    assert (blank.name, [i.name for i in blank.inputs], blank.nodes) == ("Untitled workflow 3", ["task"], [])
