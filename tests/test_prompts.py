from __future__ import annotations

import tracemalloc

import pytest
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

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
        "{{ [1, 2]|wordwrap }}",  # AttributeError inside the filter
        "{{ '%(x)s' % {} }}",  # KeyError
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


# -- attacks: templates that loop without printing, and that grow inside one expression (issue 20) ---------------

LOOPS_WITHOUT_PRINTING = [
    ("nested ranges", "{% for i in range(100000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}done"),
    ("two full ranges", "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"),
    ("loop over text", "{% for c in 'x' * 400000 %}{% for j in range(2) %}{% endfor %}{% endfor %}"),
    (
        "recursive loop",
        "{% for x in [1] recursive %}{% if loop.depth < 12 %}{{ loop(range(10)) }}{% endif %}{% endfor %}",
    ),
    ("loop with a filter", "{% for i in range(100000) if i < 0 %}{% endfor %}{% for i in range(100000) %}{% endfor %}"),
    (
        "macro that doubles",
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}",
    ),
    ("an attribute path for every item", "{{ range(100000)|map(attribute='real.' * 999 ~ 'real')|list|length }}"),
    ("calls in a loop", "{% for i in range(90000) %}{% set a = ''.strip() %}{% set b = ''.strip() %}{% endfor %}"),
]


@pytest.mark.parametrize(("case", "template"), LOOPS_WITHOUT_PRINTING, ids=[c for c, _ in LOOPS_WITHOUT_PRINTING])
def test_a_template_that_loops_without_printing_is_stopped_with_a_clear_error(case: str, template: str) -> None:
    with pytest.raises(PromptError) as info:
        render_prompt(template, {"task": "t"}, UP, {"r": "notes"}, agent="Coder")
    message = str(info.value)
    assert message.startswith("the prompt template of agent 'Coder' "), message
    assert any(
        fragment in message
        for fragment in ("loops more than 100,000 times", "more than 100,000 calls", "took longer than 2 s")
    ), message


GROWTH = [
    ("center", "{{ 'a'|center(400000000) }}", "width of 400,000,000"),
    ("join of a big list", "{{ range(100000)|join('x' * 1000) }}", "|join"),
    ("join of a generator", "{{ range(1000)|map('string')|join('x' * 1000) }}", "|join"),
    ("format filter", "{{ '%300000000s'|format('x') }}", "width of 300,000,000"),
    ("% operator", "{{ '%300000000s' % 'x' }}", "width of 300,000,000"),
    ("% operator, * width", "{{ '%*s' % (300000000, 'x') }}", "width of 300,000,000"),
    ("% precision", "{{ '%.300000000f' % 1.5 }}", "width of 300,000,000"),
    ("str.format width", "{{ '{:>300000000}'.format('x') }}", "width of 300,000,000"),
    ("str.format nested width", "{{ '{:>{w}}'.format('x', w=300000000) }}", "width of 300,000,000"),
    ("format_map", "{{ '{x:>300000000}'.format_map({'x': 1}) }}", "width of 300,000,000"),
    ("ljust", "{{ 'a'.ljust(400000000) }}", "ljust()"),
    ("rjust", "{{ inputs.task.rjust(400000000, '-') }}", "rjust()"),
    ("zfill", "{{ '1'.zfill(400000000) }}", "zfill()"),
    ("center method", "{{ 'a'.center(400000000) }}", "center()"),
    ("expandtabs", "{{ ('\t' * 1000).expandtabs(1000000) }}", "expandtabs()"),
    ("replace filter", "{{ ('a' * 10000)|replace('a', 'b' * 10000) }}", "|replace"),
    ("replace method", "{{ ('a' * 10000).replace('', 'b' * 10000) }}", "replace()"),
    ("translate", "{{ ('a' * 1000).translate({97: 'x' * 100000}) }}", "translate()"),
    ("join method", "{{ ('x' * 100000).join(['a'] * 100000) }}", "join()"),
    ("indent", "{{ ('a\n' * 10000)|indent(100000) }}", "|indent"),
    ("indent by a string", "{{ ('a\n' * 10000)|indent('x' * 100000) }}", "|indent"),
    ("wordwrap", "{{ ('a ' * 10000)|wordwrap(1, wrapstring='x' * 100000) }}", "|wordwrap"),
    ("batch", "{{ [1]|batch(400000000, 'x')|list }}", "|batch"),
    ("slice", "{{ [1]|slice(400000000)|list }}", "|slice"),
    ("list", "{{ ('x' * 300000 + 'y' * 100001)|list|length }}", "+"),
    ("lipsum", "{{ lipsum(100000000) }}", "lipsum()"),
    ("repetition", "{{ 'x' * 400000000 }}", "with *"),
    (
        "~ doubling",
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "~",
    ),
    (
        "+ doubling",
        "{% set ns = namespace(s=[1]) %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
        "+",
    ),
    ("extend itself", "{% set l = [1] %}{% for i in range(40) %}{% set _ = l.extend(l) %}{% endfor %}", "extend()"),
    ("a list of one big list", "{% set a = range(100000)|list %}{{ ([a] * 100000)|string|length }}", "|string"),
    (
        "a list literal of big lists",
        "{% set a = range(100000)|list %}{% set b = [a, a, a, a, a, a, a, a] %}{{ b }}",
        "{{ }}",
    ),
    ("tojson of big lists", "{% set a = range(100000)|list %}{{ [a, a, a, a, a, a, a, a]|tojson|length }}", "|tojson"),
    ("format argument", "{% set a = range(100000)|list %}{{ '%s'|format([a, a, a, a, a, a, a]) }}", "a % format"),
    ("constants folded while compiling", "{{ ('ab'|batch(99999, 0)|list) ~ ('ab'|batch(99999, 0)|list) }}", "~"),
    ("many constant outputs", "{{ 'x'|center(399999) }}" * 200, "renders more than 400,000 characters"),
    (
        "a namespace of big strings",
        "{% set x = 'x' * 300000 %}{{ namespace(" + ", ".join(f"k{i}=x" for i in range(200)) + ") }}",
        "{{ }}",
    ),
    (
        "dict.items()",
        "{% set x = 'x' * 300000 %}{{ {" + ", ".join(f"{i}: x" for i in range(200)) + "}.items() }}",
        "{{ }}",
    ),
    (
        "a tower of powers",
        "{{ ((((10 ** 64) ** 64) ** 64) ** 64) ** 64 }}",
        "computes with ** a number of more than 65,536 bits",
    ),
    (
        "squaring",
        "{% set ns = namespace(x=10 ** 60) %}{% for i in range(40) %}{% set ns.x = ns.x * ns.x %}{% endfor %}",
        "computes with * a number of more than 65,536 bits",
    ),
    ("a list that holds itself", "{% set l = [1] %}{% set _ = l.append(l) %}{{ l }}", "{{ }}"),
]


@pytest.mark.parametrize(("case", "template", "fragment"), GROWTH, ids=[c for c, _, _ in GROWTH])
def test_a_template_that_grows_inside_one_expression_is_refused_before_memory_balloons(
    case: str, template: str, fragment: str
) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(PromptError) as info:
            render_prompt(template, {"task": "t"}, UP, {"r": "notes"}, agent="Coder")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert message.startswith("the prompt template of agent 'Coder' ") and fragment in message, message
    assert any(bound in message for bound in ("400,000", "65,536")), message
    assert any(fix in message for fix in ("smaller", "slice", "print less")), message
    assert peak < 40 << 20, f"{case}: {peak >> 20} MB allocated on the way"


# What a prompt template does for real: each renders as jinja2's own sandbox renders it.
LEGIT = [
    "{% for u in upstream %}## {{ u.label }} ({{ loop.index }}/{{ loop.length }})\n{{ u.output }}\n{% endfor %}",
    "{{ outputs.r|upper }} {{ outputs.r|length }} {{ outputs.r|truncate(9) }} {{ outputs.r|wordcount }}",
    "{{ 'Task'|center(20) }}|{{ '%-8s|%5.2f'|format('a', 3.14159) }}|{{ '{:>6}'.format(inputs.task) }}",
    "{{ '%s and %s' % (inputs.task, outputs.r) }} {{ '{x}!'.format_map({'x': 1}) }} {{ [[1, 2], [3]]|sum(start=[]) }}",
    "{{ upstream|map(attribute='label')|join(', ') }} {{ [3, 1, 2]|sort|join }} {{ range(5)|list }}",
    "{{ outputs.r|indent(4, first=True) }}\n{{ outputs.r|wordwrap(3) }}\n{{ outputs.r|replace('o', '0') }}",
    "{% for row in range(7)|batch(3, '-') %}{{ row }}{% endfor %}{% for c in range(7)|slice(3) %}{{ c }}{% endfor %}",
    "{% set ns = namespace(items=[]) %}{% for line in outputs.r.splitlines() %}"
    "{% set _ = ns.items.append(line.strip()) %}{% endfor %}{{ ns.items|join(' / ') }} {{ ns.items }}",
    "{% macro item(u) %}- {{ u.label }}: {{ u.output[:3] }}{% endmacro %}{% for u in upstream %}{{ item(u) }}"
    "{% endfor %}",
    "{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }}{{ '' if loop.last else ', ' }}{% endfor %}{{ '-' * 9 }}",
    "{{ inputs.task ~ ' ' ~ outputs.r }} {{ [1, 2] + [3] }} {{ 2 ** 10 }} {{ inputs.task.title().ljust(8, '.') }}",
    "{% for x in [[1, [2]], [3]] recursive %}{% if x is iterable %}{{ loop(x) }}{% else %}{{ x }}{% endif %}"
    "{% endfor %}",
    "{{ {'a': 1}|tojson }} {{ upstream }} {{ {'a': [1, 2]}|pprint }} {{ 'a\tb'.expandtabs(4) }} {{ '7'.zfill(3) }}",
]


@pytest.mark.parametrize("template", LEGIT)
def test_legitimate_templates_render_as_jinja2_renders_them(template: str) -> None:
    upstream = [*UP, UpstreamOutput(id="c", label="Coder", output="def f():\n    return 1")]
    context = {"inputs": {"task": "build it"}, "outputs": {"r": "notes\nmore notes"}, "upstream": upstream}
    expected = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True).from_string(template)
    assert render_prompt(template, context["inputs"], upstream, context["outputs"]) == expected.render(context)


def test_a_template_nested_too_deeply_is_reported_not_raised() -> None:
    deep = "{{ " + "(" * 30_000 + "inputs.task" + ")" * 30_000 + " }}"
    assert check_template(deep).problems == ("nests brackets or blocks too deeply; nest fewer",)
    with pytest.raises(PromptError, match="the prompt template of agent 'Coder' failed to render: RecursionError"):
        render_prompt(deep, {"task": "t"}, [], {}, agent="Coder")


def test_adding_up_many_lists_takes_one_pass() -> None:
    # sum() copies the whole list once per item: 8-40 s of C for this, where the sandbox cannot stop it.
    assert render_prompt("{{ ([[1] * 4] * 100000)|sum(start=[])|length }}", {}, [], {}) == "400000"
    assert render_prompt("{{ upstream|map(attribute='label')|map('list')|sum(start=[])|join }}", {}, UP, {}) == (
        "Researcher"
    )
