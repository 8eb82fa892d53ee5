"""The filters a prompt template can transform what it reads with (first lines, a code block, a JSON field,
join), through render_prompt as a run renders them: what they give, and a clear error for what they cannot."""

from __future__ import annotations

import re

import pytest

from flowdeck.engine.dag import build
from flowdeck.engine.prompts import MAX_JSON_CHARS, check_template, render_prompt
from flowdeck.errors import PromptError, WorkflowError
from flowdeck.templates import load_template

CODER = "Here is the fix:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\nAnd a test:\n```js\nadd(1, 2)\n```\n"


def render(template: str, output: str) -> str:
    return render_prompt(template, {"task": "t"}, [], {"coder": output})


def test_first_lines_keeps_that_many_lines() -> None:
    assert render("{{ outputs.coder | first_lines(2) }}", "one\ntwo\nthree") == "one\ntwo"
    assert render("{{ outputs.coder | first_lines }}", "one\ntwo") == "one"
    assert render("{{ outputs.coder | first_lines(10) }}", "one\ntwo") == "one\ntwo"
    assert render("[{{ outputs.coder | first_lines(0) }}]", "one") == "[]"


@pytest.mark.parametrize("count", ["-1", "'3'", "1.5", "true"])
def test_first_lines_refuses_a_count_that_is_not_a_whole_number(count: str) -> None:
    with pytest.raises(PromptError, match="first_lines needs a whole number of lines"):
        render(f"{{{{ outputs.coder | first_lines({count}) }}}}", "one")


def test_code_block_extracts_the_first_block_or_the_one_in_a_language() -> None:
    assert render("{{ outputs.coder | code_block }}", CODER) == "def add(a, b):\n    return a + b"
    assert render("{{ outputs.coder | code_block('js') }}", CODER) == "add(1, 2)"
    assert render("{{ outputs.coder | code_block('JS') }}", CODER) == "add(1, 2)"
    # A block that holds a fence of another kind, a longer closing fence, a block cut off at the end.
    assert render("{{ outputs.coder | code_block }}", "~~~md\n```\nx\n```\n~~~~\n") == "```\nx\n```"
    assert render("{{ outputs.coder | code_block }}", "```sql\nselect 1") == "select 1"


def test_code_block_gives_the_whole_text_when_there_is_no_block() -> None:
    assert render("{{ outputs.coder | code_block }}", "print('hi')") == "print('hi')"
    assert render("{{ outputs.coder | code_block('rust') }}", CODER) == CODER


def test_code_block_is_linear_on_many_unclosed_fences() -> None:
    hostile = "```\n" * 200_000  # would be quadratic for a regex that looks for each fence's end
    assert render("{{ outputs.coder | code_block | length }}", hostile) == "0"


def test_json_field_reads_a_field_by_path() -> None:
    answer = '{"verdict": "approve", "score": 7, "items": [{"name": "a"}, {"name": "b"}], "meta": {"n": null}}'
    assert render("{{ outputs.coder | json_field('verdict') }}", answer) == "approve"
    assert render("{{ outputs.coder | json_field('score') }}", answer) == "7"
    assert render("{{ outputs.coder | json_field('items.1.name') }}", answer) == "b"
    assert render("{{ outputs.coder | json_field('meta') }}", answer) == '{"n": null}'
    fenced = 'Sure!\n```json\n{"verdict": "reject"}\n```'
    assert render("{{ outputs.coder | json_field('verdict') }}", fenced) == "reject"


def test_json_field_missing_is_undefined_and_default_stands_in() -> None:
    with pytest.raises(PromptError, match=re.escape("json_field: the JSON has no field 'items.9'")):
        render("{{ outputs.coder | json_field('items.9') }}", '{"items": []}')
    assert render("{{ outputs.coder | json_field('x') | default('none') }}", "{}") == "none"


def test_json_field_refuses_text_that_is_not_json_or_too_large() -> None:
    with pytest.raises(PromptError, match="json_field: the text is not JSON"):
        render("{{ outputs.coder | json_field('a') }}", "no json here")
    with pytest.raises(PromptError, match="json_field reads at most"):
        render("{{ outputs.coder | json_field('a') }}", '"' + "x" * MAX_JSON_CHARS + '"')
    with pytest.raises(PromptError, match="json_field needs a field path"):
        render("{{ outputs.coder | json_field('') }}", "{}")
    with pytest.raises(PromptError, match="failed to render"):  # nested past Python's recursion limit
        render("{{ outputs.coder | json_field('a') }}", "[" * 100_000 + "]" * 100_000)


def test_join_joins_the_upstream_outputs() -> None:
    from flowdeck.engine.prompts import UpstreamOutput

    upstream = [UpstreamOutput(id="a", label="A", output="one"), UpstreamOutput(id="b", label="B", output="two")]
    template = "{{ upstream | map(attribute='output') | join('\\n---\\n') }}"
    assert render_prompt(template, {}, upstream, {}) == "one\n---\ntwo"


def test_filters_chain() -> None:
    assert render("{{ outputs.coder | code_block | first_lines(1) }}", CODER) == "def add(a, b):"


def test_an_unknown_filter_is_a_problem_the_check_reports_and_a_run_refuses() -> None:
    refs = check_template("{{ outputs.coder | codeblock }} {{ inputs.task }}")
    assert refs.outputs == {"coder"} and refs.inputs == {"task"}
    assert refs.problems == (
        "No filter named 'codeblock' on line 1; the filters are first_lines, code_block, json_field and jinja's "
        "own (join, default, trim, …)",
    )
    workflow = load_template("research-code-review")
    nodes = [
        n.model_copy(update={"config": n.config.model_copy(update={"prompt_template": "{{ outputs.coder | nope }}"})})
        if n.id == "reviewer"
        else n
        for n in workflow.nodes
    ]
    with pytest.raises(WorkflowError, match=r"reviewer.*No filter named 'nope'"):
        build(workflow.model_copy(update={"nodes": nodes}))
