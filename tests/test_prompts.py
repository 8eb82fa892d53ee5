from __future__ import annotations

import pytest

from flowdeck.engine.prompts import UpstreamOutput, check_template, rename_inputs, render_prompt
from flowdeck.errors import PromptError

UP = [UpstreamOutput(id="r", label="Researcher", output="notes")]


def test_default_prompt_is_the_task_then_each_upstream_output_labelled() -> None:
    text = render_prompt(None, {"task": "build it"}, UP, {"r": "notes"})
    assert text == "build it\n\n## From Researcher\nnotes"


def test_template_reads_inputs_outputs_and_upstream() -> None:
    template = "{{ inputs.task }}|{{ outputs.r }}|{% for u in upstream %}{{ u.label }}{% endfor %}"
    assert render_prompt(template, {"task": "t"}, UP, {"r": "notes"}) == "t|notes|Researcher"


def test_check_template_reports_what_it_reads() -> None:
    refs = check_template("{{ inputs.task }} {{ outputs['coder'] }} {{ upstream|length }}")
    assert refs.inputs == {"task"} and refs.outputs == {"coder"} and not refs.problems


def test_renaming_inputs_renames_their_references_and_nothing_else() -> None:
    template = (
        "Task: {{ inputs.task }} / {{ inputs [ 'task' ] }} / {{inputs[\"topic\"]|upper}}\n"
        "{% if inputs.task_list %}{{ inputs.task_list }}{% endif %}{{ outputs.task }}{{ x.inputs.task }}\n"
        "The inputs.task in prose, {# inputs.task #} and {% raw %}{{ inputs.task }}{% endraw %} stay."
    )
    renamed = rename_inputs(template, {"task": "topic", "topic": "task"})  # a swap
    assert renamed == (
        "Task: {{ inputs.topic }} / {{ inputs [ 'topic' ] }} / {{inputs[\"task\"]|upper}}\n"
        "{% if inputs.task_list %}{{ inputs.task_list }}{% endif %}{{ outputs.task }}{{ x.inputs.task }}\n"
        "The inputs.task in prose, {# inputs.task #} and {% raw %}{{ inputs.task }}{% endraw %} stay."
    )
    assert check_template(renamed).inputs == {"topic", "task", "task_list"}
    assert rename_inputs(template, {}) is template


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'x' * 100000000 }}",
        "{{ 9 ** 999999 }}",
        "{% for i in range(100000) %}{% for j in range(100000) %}xxxxxxxx{% endfor %}{% endfor %}",
        "{{ inputs.task.__class__ }}",
    ],
)
def test_runaway_or_unsafe_templates_fail_with_a_prompt_error(template: str) -> None:
    with pytest.raises(PromptError):
        render_prompt(template, {"task": "t"}, [], {})


def test_model_output_is_data_not_template() -> None:
    hostile = "{{ ''.__class__.__mro__ }}"
    assert render_prompt("{{ outputs.r }}", {}, [], {"r": hostile}) == hostile


def test_default_prompt_lists_several_inputs_and_leaves_out_an_empty_one() -> None:
    two = render_prompt(None, {"task": "build it", "language": "Go"}, UP, {"r": "notes"})
    assert two == "task: build it\n\nlanguage: Go\n\n## From Researcher\nnotes"
    assert render_prompt(None, {"task": ""}, UP, {"r": "notes"}) == "## From Researcher\nnotes"
    assert render_prompt(None, {}, [], {}) == ""
