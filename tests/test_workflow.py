from __future__ import annotations

import json
from pathlib import Path

import pytest

import flowdeck
from flowdeck.engine.inputs import check_inputs
from flowdeck.engine.workflow import MAX_INPUT_CHARS, parse_workflow, read_workflow, workflow_json_schema
from flowdeck.errors import WorkflowError
from flowdeck.templates import load_template, template_names

MINIMAL = {"format": 1, "name": "w", "nodes": [{"id": "a", "type": "coder"}]}


def problems_of(data: object) -> list[str]:
    with pytest.raises(WorkflowError) as info:
        parse_workflow(data if isinstance(data, str | bytes) else json.dumps(data))
    return [str(p) for p in info.value.problems]


def test_builtin_templates_load_and_validate() -> None:
    names = template_names()
    assert {"research-code-review", "fan-out-review", "spec-code-tests", "review-loop", "triage"} <= set(names)
    for name in names:
        workflow = load_template(name)
        assert workflow.description
        flowdeck.engine.build(workflow)


def test_saved_file_is_small_with_fixed_key_order() -> None:
    workflow = load_template("research-code-review")
    text = workflow.to_json()
    assert list(json.loads(text)) == ["format", "name", "description", "inputs", "nodes", "edges"]
    assert '"config"' not in text  # defaults are left out
    assert parse_workflow(text) == workflow
    assert len(text) < 2_000


def test_a_default_model_is_optional_and_saved_after_the_description() -> None:
    old = load_template("research-code-review")
    assert old.default_model is None and "default_model" not in old.to_json()  # files without it load as before
    own = old.model_copy(update={"default_model": "gpt-4o-mini"})
    text = own.to_json()
    assert list(json.loads(text))[:4] == ["format", "name", "description", "default_model"]
    assert parse_workflow(text) == own
    assert problems_of(MINIMAL | {"default_model": ""})[0].startswith("default_model:")


def test_malformed_json_names_line_and_column() -> None:
    [problem] = problems_of('{"format": 1,\n "name": }')
    assert "line 2" in problem and "not valid JSON" in problem


def test_newer_format_version_says_upgrade() -> None:
    [problem] = problems_of(MINIMAL | {"format": 3})
    assert problem.startswith("format:") and "upgrade flowdeck" in problem


def test_missing_format_says_what_to_add() -> None:
    data = dict(MINIMAL)
    del data["format"]
    assert problems_of(data) == ['format: missing; add "format": 2']


def test_unknown_fields_are_refused_by_path() -> None:
    data = MINIMAL | {"nodes": [{"id": "a", "type": "coder", "config": {"api_base": "http://x", "code": "rm"}}]}
    found = problems_of(data)
    assert any(p.startswith("nodes[0].config.api_base:") and "remove this field" in p for p in found)
    assert any(p.startswith("nodes[0].config.code:") for p in found)


def test_every_bad_field_is_listed_at_once() -> None:
    data = {"format": 1, "nodes": [{"id": "1bad", "type": "coder", "config": {"temperature": 3}}]}
    found = problems_of(data)
    assert any(p.startswith("name:") and "required" in p for p in found)
    assert any(p.startswith("nodes[0].id:") for p in found)
    assert any(p.startswith("nodes[0].config.temperature:") and "2" in p for p in found)


def test_field_errors_and_graph_errors_are_listed_together() -> None:
    data = {
        "format": 1,
        "name": "w",
        "nodes": [
            {"id": "a", "type": "coder", "config": {"temperature": 5}},
            {"id": "b", "type": "wizard"},
            {"id": "c", "type": "reviewer", "colour": "red"},
        ],
        "edges": [
            {"id": "a->c", "source": "a", "target": "c"},
            {"id": "c->a", "source": "c", "target": "a"},
            {"id": "a->zz", "source": "a", "target": "zz"},
        ],
    }
    found = problems_of(data)
    assert any(p.startswith("nodes[0].config.temperature:") for p in found)
    assert any(p.startswith("nodes[2].colour:") for p in found)
    assert any(p.startswith("node b:") and "unknown node type 'wizard'" in p for p in found)
    assert any(p.startswith("edge a->zz:") and "'zz'" in p for p in found)
    assert any("cycle" in p and "a -> c -> a" in p for p in found)
    # The nodes with bad settings exist: no edge is said to point at a missing node because of them.
    assert not any("'a', which does not exist" in p or "'c', which does not exist" in p for p in found)


def test_huge_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    path.write_bytes(b'{"format": 1, "name": "' + b"x" * (50 * 1024 * 1024) + b'"}')
    with pytest.raises(WorkflowError, match="the limit is 5,242,880 bytes"):
        read_workflow(path)


def test_too_many_nodes_is_one_clear_problem() -> None:
    data = {"format": 1, "name": "big", "nodes": [{"id": f"n{i}", "type": "coder"} for i in range(100_000)]}
    with pytest.raises(WorkflowError) as info:
        parse_workflow(data)
    assert [str(p) for p in info.value.problems] == ["nodes: 100,000 entries; the limit is 5,000"]


def test_deeply_nested_json_is_refused() -> None:
    text = '{"format": 1, "name": "x", "description": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert problems_of(text)


def test_not_an_object_is_refused() -> None:
    assert problems_of("[1, 2]") == ["a workflow file must be a JSON object ({...})"]


def test_json_schema_describes_the_format() -> None:
    schema = workflow_json_schema()
    assert schema["title"] == "Workflow"
    assert {"format", "name", "nodes", "edges", "inputs"} <= set(schema["properties"])
    assert schema["$defs"]["AgentConfig"]["additionalProperties"] is False


def test_load_accepts_template_name_path_and_text(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_text(json.dumps(MINIMAL))
    assert flowdeck.load(str(path)).name == "w"
    assert flowdeck.load(path).name == "w"
    assert flowdeck.load(json.dumps(MINIMAL)).name == "w"
    assert flowdeck.load("research-code-review").name == "Research, code, review"
    with pytest.raises(flowdeck.NotFoundError, match="research-code-review"):
        flowdeck.load("no-such-template")


SURROGATE_HINT = "lone surrogate (\\ud800)"


def test_values_json_lets_through_are_refused_each_by_its_field() -> None:
    """NaN, Infinity, 1e999, a 5,000-digit integer and lone surrogates (in a value and in a key) are listed at once,
    with the file's other problems, each by where it is."""
    text = (
        '{"format": 1, "name": "\\ud800", "nodes": [{"id": "a", "type": "coder", "label": "ok\\udfff",'
        ' "position": {"x": NaN, "y": -Infinity}, "config": {"max_tokens": ' + "9" * 5000 + ", "
        '"timeout": 1e999, "temperature": 7}, "\\ud800key": 1}]}'
    )
    found = problems_of(text)
    assert found == [
        f"name: holds a {SURROGATE_HINT}, which is not a character; remove it (an escape \\ud800-\\udbff must be "
        "followed by its pair \\udc00-\\udfff)",
        "nodes[0].\\ud800key: the key holds a lone surrogate (\\ud800), which is not a character; remove it (an "
        "escape \\ud800-\\udbff must be followed by its pair \\udc00-\\udfff)",
        "nodes[0].label: holds a lone surrogate (\\udfff), which is not a character; remove it (an escape "
        "\\ud800-\\udbff must be followed by its pair \\udc00-\\udfff)",
        "nodes[0].position.x: NaN is not a number JSON allows; give a finite number",
        "nodes[0].position.y: -Infinity is not a number JSON allows; give a finite number",
        "nodes[0].config.max_tokens: a number of 5,000 digits; give one of at most 30 digits",
        "nodes[0].config.timeout: 1e999 is too large to be a number; give a finite number",
        "nodes[0].config.temperature: Input should be less than or equal to 2",
    ]
    for problem in found:
        problem.encode()  # every message can be printed and stored


def test_a_huge_integer_anywhere_is_a_problem_not_a_crash() -> None:
    for where in ('"format": {}', '"name": "w", "format": 1, "inputs": [{}]', '"format": 1, "name": [{}]'):
        text = "{" + where.format("1" * 5000) + "}"
        found = problems_of(text)
        assert any("a number of 5,000 digits" in p for p in found), found


def test_a_lone_surrogate_in_a_workflow_built_in_python_is_refused() -> None:
    data = {**MINIMAL, "description": "\udc80"}
    with pytest.raises(WorkflowError) as info:
        parse_workflow(data)
    assert [str(p) for p in info.value.problems] == [
        "description: holds a lone surrogate (\\udc80), which is not a character; remove it (an escape "
        "\\ud800-\\udbff must be followed by its pair \\udc00-\\udfff)"
    ]


def test_a_file_not_utf8_names_the_field_holding_the_bad_bytes(tmp_path: Path) -> None:
    path = tmp_path / "cesu.json"
    path.write_bytes(b'{"format": 1, "name": "caf\xed\xa0\x80", "nodes": [{"id": "a", "type": "coder"}]}')
    with pytest.raises(WorkflowError) as info:
        read_workflow(path)
    assert [p.where for p in info.value.problems] == ["name"]
    assert "lone surrogate (\\ud800)" in info.value.problems[0].message  # the bytes ED A0 80 are U+D800 in CESU-8


def test_run_inputs_are_text_of_a_bounded_size() -> None:
    workflow = parse_workflow(json.dumps({**MINIMAL, "inputs": [{"name": "task"}, {"name": "notes", "default": ""}]}))
    with pytest.raises(WorkflowError) as info:
        check_inputs(workflow, {"task": "x" * (MAX_INPUT_CHARS + 1), "notes": "a\ud800", "\udcff": "y"})
    assert [str(p) for p in info.value.problems] == [
        "input \\udcff: the workflow has no such input (declared: task, notes)",
        f"input task: {MAX_INPUT_CHARS + 1:,} characters; the limit is {MAX_INPUT_CHARS:,}: shorten it",
        "input notes: holds a lone surrogate (\\ud800), which is not a character; remove it (an escape "
        "\\ud800-\\udbff must be followed by its pair \\udc00-\\udfff)",
    ]
    assert check_inputs(workflow, {"task": "x" * MAX_INPUT_CHARS, "notes": "naïve 🙂"})["notes"] == "naïve 🙂"
