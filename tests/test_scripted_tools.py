"""The scripted model's tool calls (models/scripted.py): scripted from a workflow file alone, deterministic; and a
property of the tool loop over random scripts and limits."""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowdeck.engine.events import Message, NodeFailed, NodeFinished, ToolCalled, ToolFinished
from flowdeck.engine.llm_types import ModelRequest
from flowdeck.engine.run import Run, drain
from flowdeck.engine.state import RunState, fold
from flowdeck.engine.workflow import parse_workflow
from flowdeck.errors import BadRequest
from flowdeck.models.scripted import ScriptedCaller, parse_spec
from tests.toolfakes import SPECS, MemoryToolbox

SYSTEM = 'You write reports.\nCALL write_file {"path": "r.md", "content": "# R"}\nCALL list_files\nnot CALL fetch {}'


def turn(messages: list[Message], model: str = "scripted") -> ModelRequest:
    return ModelRequest(
        model=model, messages=messages, temperature=0, max_tokens=200, timeout=5, tools=tuple(SPECS.values())
    )


async def test_call_lines_become_calls_in_order_in_the_first_turn_only() -> None:
    asked = [Message(role="system", content=SYSTEM), Message(role="user", content="go")]
    chunks: list[str] = []
    first = await ScriptedCaller().call(turn(asked), chunks.append)
    assert [(c.id, c.name, c.arguments) for c in first.tool_calls] == [
        ("call_1_1", "write_file", '{"path": "r.md", "content": "# R"}'),
        ("call_1_2", "list_files", "{}"),
    ]
    assert first.text == "Calling write_file, list_files." == "".join(chunks)
    answered = [
        *asked,
        Message(role="assistant", content=first.text, tool_calls=first.tool_calls),
        Message(role="tool", content="wrote r.md\nmore", tool_call_id="call_1_1"),
        Message(role="tool", content="r.md", tool_call_id="call_1_2"),
    ]
    second = await ScriptedCaller().call(turn(answered), lambda _: None)
    assert second.tool_calls == ()
    assert second.text.endswith("From the tools:\n- write_file: wrote r.md\n- list_files: r.md")
    again = await ScriptedCaller().call(turn(answered), lambda _: None)
    assert again.text == second.text  # deterministic


@pytest.mark.parametrize("option", ["tool_rounds=x", "tool_rounds=-1"])
def test_a_bad_tool_rounds_option_is_named(option: str) -> None:
    with pytest.raises(BadRequest, match=f"'{option}' is not a scripted model option.*tool_rounds=N"):
        parse_spec(f"scripted/{option}")


async def test_a_workflow_file_alone_scripts_the_calls() -> None:
    text = json.dumps(
        {
            "format": 2,
            "name": "report",
            "nodes": [
                {
                    "id": "w",
                    "type": "custom",
                    "config": {"system_prompt": SYSTEM, "tools": ["write_file", "list_files"]},
                }
            ],
        }
    )
    toolbox = MemoryToolbox()
    events = await drain(Run(parse_workflow(text), caller=ScriptedCaller(), default_model="scripted", toolbox=toolbox))
    assert toolbox.files == {"r.md": "# R"}
    assert [e.tool for e in events if isinstance(e, ToolCalled)] == ["write_file", "list_files"]


def expected(lines: int, rounds: int, limit: int) -> tuple[int, bool]:
    """How many calls run, and whether the agent ends failed (tool_limit), by the loop's rules."""
    made, told = 0, False
    for number in range(1, 1000):
        if number > rounds or lines == 0:
            return made, False
        if told:
            return made, True
        made = min(limit, made + lines)
        told = made >= limit
    raise AssertionError("unreachable")


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 4), st.integers(1, 4), st.integers(1, 6))
def test_calls_run_within_the_limit_and_fold_as_they_stream(lines: int, rounds: int, limit: int) -> None:
    system = "\n".join(["Scout.", *[f'CALL fetch {{"url": "https://example.org/{i}"}}' for i in range(lines)]])
    config = {"system_prompt": system, "tools": ["fetch"], "max_tool_calls": limit}
    workflow = parse_workflow({"format": 2, "name": "p", "nodes": [{"id": "a", "type": "custom", "config": config}]})
    live = RunState()
    run = Run(
        workflow, caller=ScriptedCaller(), default_model=f"scripted/tool_rounds={rounds}", toolbox=MemoryToolbox()
    )
    events = asyncio.run(drain(run, live.apply))
    made, fails = expected(lines, rounds, limit)
    called = [e for e in events if isinstance(e, ToolCalled)]
    assert len(called) == made <= limit
    assert [e.key.rsplit(":", 1)[1] for e in called] == [str(n) for n in range(1, made + 1)]
    assert len([e for e in events if isinstance(e, ToolFinished)]) == made
    failed = [e.error_kind for e in events if isinstance(e, NodeFailed)]
    assert (
        failed == (["tool_limit"] if fails else [])
        and bool([e for e in events if isinstance(e, NodeFinished)]) != fails
    )
    assert fold(events) == live
