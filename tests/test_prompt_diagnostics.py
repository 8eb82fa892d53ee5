"""Where the prompt editor underlines a template's problems (components.prompt_editor.diagnostics), and what its
preview renders (components.prompt_editor.preview): the run's own checks, placed on the text they are about."""

from __future__ import annotations

from flowdeck.components.prompt_editor.diagnostics import MAX_DIAGNOSTICS, Scope, diagnose
from flowdeck.components.prompt_editor.preview import preview_values, render_preview
from flowdeck.engine.state import RunState
from flowdeck.templates import load_template

SCOPE = Scope(inputs={"task"}, upstream={"coder", "researcher"}, agents={"coder": "Coder", "reviewer": "Reviewer"})


def underlined(source: str) -> list[tuple[str, str]]:
    return [(source[d.start : d.end], d.message) for d in diagnose(source, SCOPE)]


def test_a_template_a_run_accepts_has_nothing_underlined() -> None:
    source = "Review {{ outputs.coder | code_block }} for {{ inputs.task }} {% for u in upstream %}{% endfor %}"
    assert underlined(source) == []


def test_syntax_errors_are_placed_on_the_block_that_has_them() -> None:
    assert underlined("Hi\n  {{ x + }} there") == [
        ("{{ x + }}", "syntax error on line 2: unexpected 'end of print statement'")
    ]
    assert underlined("ok {{ inputs.task }} then {{ broken")[0][0] == "{{ broken"
    assert underlined("{% for u in upstream %}\nno end")[0][0] == "{% for u in upstream %}"  # the block left open
    assert underlined("{{ 'abc }}")[0][0] == "'"  # the lexer names the character


def test_unknown_names_references_and_filters_are_placed_on_themselves() -> None:
    source = "{{ foo }} {{ outputs.reviewer }} {{ outputs['nobody'] }} {{ inputs.topic }} {{ inputs.task | codeblock }}"
    found = underlined(source)
    assert [text for text, _ in found] == [
        "foo",
        "outputs.reviewer",
        "outputs['nobody']",
        "inputs.topic",
        "| codeblock",
    ]
    messages = [message for _, message in found]
    assert messages[1] == (
        "reads outputs.reviewer, but Reviewer is not upstream of this agent; "
        "connect it upstream or remove the reference"
    )
    assert messages[2] == "reads outputs.nobody, but no agent has the id 'nobody'"
    assert messages[3] == "reads inputs.topic, which the workflow does not declare (declared: task)"
    assert messages[4].startswith("no filter named 'codeblock'; the prompt filters are first_lines, code_block")


def test_a_private_attribute_is_placed_on_itself() -> None:
    assert underlined("{{ inputs.task.__class__ }}") == [
        (".__class__", "'__class__' is a private attribute; templates can read only inputs, outputs and upstream")
    ]


def test_positions_count_as_the_browser_does() -> None:
    source = "😀 line\r\n{{ foo }}"  # an emoji is two UTF-16 units; the editor holds \r\n as \n
    (found,) = diagnose(source, SCOPE)
    assert (found.start, found.end) == (len("😀 line\n{{ ") + 1, len("😀 line\n{{ foo") + 1)


def test_at_most_so_many_problems_are_sent() -> None:
    assert len(diagnose("{{ x }}" * (MAX_DIAGNOSTICS + 50), SCOPE)) == MAX_DIAGNOSTICS


async def test_the_preview_has_placeholders_before_a_run_and_a_runs_values_after() -> None:
    workflow = load_template("research-code-review")
    template = "{{ inputs.task }} / {{ outputs.coder | first_lines(1) }} / {{ outputs.nobody }}"
    before = await render_preview(preview_values(workflow, "reviewer", None), template)
    assert before.text == "⟨Input: Task⟩ / ⟨Output of Coder⟩ / ⟨outputs.nobody: not upstream⟩"
    assert before.note.startswith("No run of this workflow yet")

    run = RunState(status="succeeded", inputs={"task": "Sort a list"})
    run._execution("coder", 0).output = "def sort():\n    pass"
    after = await render_preview(preview_values(workflow, "reviewer", run), template)
    assert after.text == "Sort a list / def sort(): / ⟨outputs.nobody: not upstream⟩"
    assert after.note == (
        "With the values of the last run (succeeded). It has no value for Researcher: a ⟨placeholder⟩ stands in."
    )

    pinned = workflow.model_copy(
        update={"nodes": [n.model_copy(update={"pinned_output": "pinned"}) for n in workflow.nodes]}
    )
    partial = await render_preview(preview_values(pinned, "reviewer", RunState(status="failed")), "{{ outputs.coder }}")
    assert partial.text == "pinned"  # a pinned output stands where the run has none
    assert (
        partial.note == "With the values of the last run (failed). It has no value for Task: a ⟨placeholder⟩ stands in."
    )


async def test_a_template_that_fails_to_render_says_why_in_the_preview() -> None:
    workflow = load_template("research-code-review")
    failed = await render_preview(preview_values(workflow, "reviewer", None), "{{ outputs.coder | json_field('a') }}")
    assert failed.text == ""
    assert failed.error is not None and "json_field: the text is not JSON" in failed.error


async def test_a_preview_refuses_a_costly_template_as_a_run_does() -> None:
    workflow = load_template("research-code-review")
    template = "{% for i in range(100000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}done"
    preview = await render_preview(preview_values(workflow, "reviewer", None), template)
    assert preview.error is not None and "loops more than 100,000 times" in preview.error
