"""Property-based fuzzing (hypothesis): the workflow loader, the event reducer and prompt templates never crash or
hang, and templates stay within their bounds."""

from __future__ import annotations

import json
import sys
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowdeck.engine.dag import build
from flowdeck.engine.events import event_from_dict, event_to_dict
from flowdeck.engine.prompts import MAX_RENDERED_CHARS, UpstreamOutput, render_prompt
from flowdeck.engine.state import RunState, fold
from flowdeck.engine.workflow import parse_workflow
from flowdeck.errors import PromptError, WorkflowError

FAST = settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)
ids = st.sampled_from(["a", "b", "c", "d", "../x", "", "a b", "<s>"])
nodes = st.fixed_dictionaries(
    {"id": ids, "type": st.sampled_from(["researcher", "coder", "reviewer", "custom", "shell", ""])},
    optional={
        "label": st.text(max_size=50),
        "position": st.fixed_dictionaries({"x": st.floats(), "y": st.floats()}),
        "config": st.fixed_dictionaries(
            {},
            optional={
                "temperature": st.floats() | st.text(max_size=5),
                "prompt_template": st.text(max_size=80) | st.sampled_from(["{{ inputs.task }}", "{% for %}"]),
                "max_tokens": st.integers(),
                "model": st.text(max_size=20),
                "api_base": st.text(max_size=10),
            },
        ),
        "extra": json_values,
    },
)
workflows = st.fixed_dictionaries(
    {"format": st.sampled_from([1, 1, 1, 2, "1", None]), "name": st.text(max_size=40)},
    optional={
        "nodes": st.lists(nodes, max_size=6),
        "edges": st.lists(st.fixed_dictionaries({"id": st.text(max_size=5), "source": ids, "target": ids}), max_size=8),
        "inputs": st.lists(st.fixed_dictionaries({"name": st.sampled_from(["task", "x", "1bad"])}), max_size=3),
        "code": json_values,
    },
)


@FAST
@given(workflows)
def test_loader_accepts_or_refuses_clearly_structured_input(data: dict[str, Any]) -> None:
    problems = []
    try:
        build(parse_workflow(json.dumps(data)))
    except WorkflowError as exc:
        problems = [str(problem) for problem in exc.problems] or ["(no problem listed)"]
    assert "(no problem listed)" not in problems and all(problems)


@FAST
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300), json_values.map(json.dumps)))
def test_loader_never_crashes_on_arbitrary_text(raw: str | bytes) -> None:
    listed = True
    try:
        parse_workflow(raw)
    except WorkflowError as exc:
        listed = bool(exc.problems)
    assert listed


# What json.dumps writes and json.loads takes back that nothing after can keep: lone surrogates (in keys and values),
# NaN, Infinity and integers past int()'s 4,300 digits.
odd_text = st.text(st.characters(codec=None, categories=["Cs", "Ll", "Nd"]), max_size=8)
odd_values = st.recursive(
    st.none() | odd_text | st.floats() | st.integers() | st.integers(10**4300, 10**4400),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(odd_text, children, max_size=3),
    max_leaves=10,
)


@FAST
@given(
    st.fixed_dictionaries(
        {"format": st.sampled_from([1, float("nan"), 10**5000]), "name": odd_text},
        optional={
            "description": odd_text,
            "nodes": st.lists(
                st.fixed_dictionaries({"id": odd_text, "type": st.just("coder")}, optional={"config": odd_values}),
                max_size=2,
            ),
            "extra": odd_values,
        },
    )
)
def test_loader_lists_values_json_cannot_keep_as_printable_problems(data: dict[str, Any]) -> None:
    with _int_digits_unlimited():
        text = json.dumps(data)
    try:
        written = parse_workflow(text).to_json()
    except WorkflowError as exc:
        written = str(exc) if exc.problems else ""
    assert written
    written.encode()  # what is kept or said can be printed and stored: no lone surrogate in it


@contextmanager
def _int_digits_unlimited() -> Iterator[None]:
    """json.dumps of an integer past 4,300 digits: such files exist, written by other tools."""
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(limit)


node_ids = st.sampled_from(["a", "b", "c"])
common = {"run_id": st.just("r"), "ts": st.floats(min_value=0, max_value=2e9)}
node_common = {**common, "node_id": node_ids, "execution": st.integers(1, 3)}
usage = st.fixed_dictionaries({"prompt_tokens": st.integers(0, 10**6), "completion_tokens": st.integers(0, 10**6)})
messages = st.lists(
    st.fixed_dictionaries({"role": st.sampled_from(["system", "user"]), "content": st.text(max_size=20)}), max_size=2
)
event_data = st.one_of(
    st.fixed_dictionaries(
        {
            **common,
            "type": st.just("run_started"),
            "workflow_name": st.text(max_size=10),
            "workflow": st.just({}),
            "inputs": st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
            "node_ids": st.lists(node_ids, max_size=3),
        }
    ),
    st.fixed_dictionaries(
        {
            **node_common,
            "type": st.just("node_started"),
            "attempt": st.integers(1, 5),
            "model": st.text(max_size=10),
            "messages": messages,
            "parameters": st.just({"temperature": 0.2}),
            "received_from": st.lists(node_ids, max_size=2),
        }
    ),
    st.fixed_dictionaries({**node_common, "type": st.just("token"), "attempt": st.integers(1, 5), "text": st.text()}),
    st.fixed_dictionaries(
        {
            **node_common,
            "type": st.just("node_finished"),
            "output": st.text(max_size=20),
            "usage": usage,
            "cost": st.floats(0, 10),
            "duration": st.floats(0, 100),
            "cached": st.booleans(),
            "attempts": st.integers(0, 5),
        }
    ),
    st.fixed_dictionaries(
        {
            **node_common,
            "type": st.just("node_failed"),
            "error_kind": st.sampled_from(["timeout", "cancelled", "auth"]),
            "message": st.text(max_size=20),
            "retryable": st.booleans(),
            "attempts": st.integers(0, 5),
        }
    ),
    st.fixed_dictionaries(
        {
            **node_common,
            "type": st.just("node_retrying"),
            "attempt": st.integers(1, 5),
            "max_attempts": st.integers(1, 5),
            "error_kind": st.text(max_size=5),
            "message": st.text(max_size=10),
            "wait": st.floats(0, 60),
        }
    ),
    st.fixed_dictionaries({**node_common, "type": st.just("node_skipped"), "reason": st.text(max_size=10)}),
    st.fixed_dictionaries(
        {
            **node_common,
            "type": st.just("handoff"),
            "target": node_ids,
            "edge_id": st.text(max_size=4),
            "message": st.text(max_size=10),
        }
    ),
    st.fixed_dictionaries(
        {
            **common,
            "type": st.just("run_finished"),
            "status": st.sampled_from(["succeeded", "failed", "cancelled"]),
            "duration": st.floats(0, 100),
            "usage": usage,
            "cost": st.floats(0, 10),
        }
    ),
    st.fixed_dictionaries({**common, "type": st.just("run_interrupted"), "running": st.lists(node_ids, max_size=3)}),
)


@FAST
@given(st.lists(event_data, max_size=40), st.randoms())
def test_reducer_folds_any_event_order_without_crashing(items: list[dict[str, Any]], rnd: Any) -> None:
    events = []
    for seq, item in enumerate(items, start=1):
        seq_value = seq if rnd.random() < 0.9 else rnd.randint(0, 50)  # gaps, repeats and reordering too
        events.append(event_from_dict({**item, "seq": seq_value}))
    state = fold(events)
    assert isinstance(state, RunState)
    # Applying the same events again changes nothing (replays never double-count).
    again = fold(events, fold(events))
    assert again.usage == state.usage and again.last_seq == state.last_seq
    for event in events:
        assert event_from_dict(event_to_dict(event)) == event


# Prompt templates that chain what builds strings and lists, with widths and counts from small to huge (issue 20).
sizes = st.sampled_from([0, 3, 1000, 99_999, 400_000, 400_001, 10**6, 3 * 10**8, 10**40])
growth = st.sampled_from(
    [
        "({e})|center({n})",
        "({e}|string).ljust({n})",
        "({e}|string).zfill({n})",
        "({e}|string).expandtabs({n})",
        "({e})|indent({n})",
        "({e})|replace('', 'xy' * ({n} // 100000))",
        "({e})|join('-' * ({n} // 1000))",
        "({e})|wordwrap(40, wrapstring='x' * ({n} // 1000))",
        "({e})|batch({n}, 0)|list",
        "({e})|slice({n})|list",
        "'%{n}s'|format({e})",
        "'%.*f' % ({n}, {e}|length)",
        "'{{:>{n}}}'.format({e})",
        "[{e}] * {n}",
        "({e}|list) + ({e}|list)",
        "({e}) ~ ({e}) ~ ({e})",
        "[{e}, {e}, {e}, {e}]|tojson",
        "({e}|string) * ({n} // 1000)",
    ]
)
UP = [UpstreamOutput(id="r", label="Researcher", output="notes")]
bases = st.sampled_from(["inputs.task", "'a\\tb c'", "range(100)|list", "outputs.r", "'x' * 399999", "upstream"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bases, st.lists(st.tuples(growth, sizes), min_size=1, max_size=4))
def test_a_template_that_builds_is_rendered_within_bounds_or_refused(base: str, steps: list[tuple[str, int]]) -> None:
    expression = base
    for step, size in steps:
        expression = step.format(e=expression, n=size)
    tracemalloc.start()
    try:
        text = render_prompt("{{ " + expression + " }}", {"task": "t"}, UP, {"r": "notes"}, agent="Fuzz")
    except PromptError as exc:
        text = str(exc)
        assert text.startswith("the prompt template of agent 'Fuzz' "), text
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert len(text) <= MAX_RENDERED_CHARS
    assert peak < 64 << 20, f"{expression}: {peak >> 20} MB"
