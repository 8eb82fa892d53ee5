"""The engine's tool-calling loop, on the scripted model with an in-memory toolbox and journal (tests/toolfakes.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from flowdeck.engine.events import (
    Event,
    Message,
    NodeFailed,
    NodeFinished,
    NodeStarted,
    Token,
    ToolCalled,
    ToolFinished,
    Usage,
)
from flowdeck.engine.llm_types import Completion, ModelRequest, cache_key
from flowdeck.engine.run import Run, drain
from flowdeck.engine.state import RunState, fold
from flowdeck.engine.tool_loop import SKIPPED_UNKNOWN
from flowdeck.engine.tools import MAX_RESULT_CHARS, RecordedEffect, ToolCall, ToolContext
from flowdeck.engine.workflow import Workflow, parse_workflow
from flowdeck.models.scripted import ScriptedCaller
from tests.toolfakes import SPECS, MemoryJournal, MemoryToolbox

WRITE = 'CALL write_file {"path": "report.md", "content": "# Report"}'
FETCH = 'CALL fetch {"url": "https://example.org/a"}'


def agent_workflow(
    *calls: str, tools: tuple[str, ...] = ("fetch", "write_file"), max_tool_calls: int = 10, **config: Any
) -> Workflow:
    system = "\n".join(["You are a careful scout.", *calls])
    node_config = {"system_prompt": system, "tools": list(tools), "max_tool_calls": max_tool_calls, **config}
    return parse_workflow(
        {
            "format": 2,
            "name": "tools",
            "inputs": [{"name": "task", "default": "find the facts"}],
            "nodes": [
                {"id": "scout", "type": "custom", "label": "Scout", "config": node_config},
                {"id": "writer", "type": "custom", "label": "Writer"},
            ],
            "edges": [{"id": "e", "source": "scout", "target": "writer"}],
        }
    )


class Recording(ScriptedCaller):
    """The scripted model, remembering every request it was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[ModelRequest] = []

    async def call(self, request: ModelRequest, on_text: Callable[[str], None]) -> Completion:
        self.requests.append(request)
        return await super().call(request, on_text)


async def run_tools(
    workflow: Workflow, model: str = "scripted", caller: Any = None, run_id: str = "r1", **kwargs: Any
) -> tuple[list[Event], RunState]:
    """Run to the end; the events and the state folded live, event by event, as the app's views do."""
    live = RunState()
    run = Run(workflow, caller=caller or ScriptedCaller(), default_model=model, run_id=run_id, **kwargs)
    events = await drain(run, live.apply)
    return events, live


def of(events: list[Event], kind: type[Any], node: str = "scout") -> list[Any]:
    return [e for e in events if isinstance(e, kind) and e.node_id == node]


async def test_the_model_calls_tools_and_answers_from_their_results() -> None:
    toolbox, journal = MemoryToolbox(), MemoryJournal()
    events, _ = await run_tools(agent_workflow(FETCH, WRITE), toolbox=toolbox, journal=journal)
    called, finished = of(events, ToolCalled), of(events, ToolFinished)
    assert [(c.tool, c.effect, c.key) for c in called] == [
        ("fetch", "read", "r1:scout:1:1"),
        ("write_file", "write", "r1:scout:1:2"),
    ]
    assert [(f.tool, f.ok, f.result, f.artifacts) for f in finished] == [
        ("fetch", True, "Page at https://example.org/a\nsecond line", []),
        ("write_file", True, "wrote report.md", ["report.md"]),
    ]
    assert toolbox.files == {"report.md": "# Report"}
    [done] = of(events, NodeFinished)
    assert done.output.endswith(
        "From the tools:\n- fetch: Page at https://example.org/a\n- write_file: wrote report.md"
    )
    assert not done.cached and done.attempts == 1
    assert len(of(events, NodeStarted)) == 1  # the follow-up turn is the same attempt: the tool events mark it
    streamed = "".join(t.text for t in of(events, Token))
    assert streamed.startswith("Calling fetch, write_file.\n\n") and streamed.endswith(done.output)
    writer = of(events, NodeStarted, "writer")[0]
    assert "From the tools:" in writer.messages[1].content  # the answer, not the tool traffic, is handed on


async def test_every_model_turn_is_sent_the_tool_traffic_so_far() -> None:
    caller = Recording()
    await run_tools(agent_workflow(FETCH), caller=caller, toolbox=MemoryToolbox())
    first, second = [r for r in caller.requests if r.tools]
    assert [t.name for t in first.tools] == ["fetch", "write_file"]
    assert [m.role for m in first.messages] == ["system", "user"]
    assert [m.role for m in second.messages] == ["system", "user", "assistant", "tool"]
    asked, result = second.messages[2], second.messages[3]
    assert asked.tool_calls == (ToolCall(id="call_1_1", name="fetch", arguments='{"url": "https://example.org/a"}'),)
    assert result.tool_call_id == "call_1_1" and result.content.startswith("Page at")


async def test_usage_and_cost_add_up_over_every_turn() -> None:
    class TwoTurns:
        async def prepare(self, models: set[str]) -> None:
            return None

        async def call(self, request: ModelRequest, on_text: Callable[[str], None]) -> Completion:
            on_text("turn")
            if request.tools and len(request.messages) == 2:
                call = ToolCall(id="c1", name="fetch", arguments='{"url": "https://example.org"}')
                return Completion(
                    text="", usage=Usage(prompt_tokens=10, completion_tokens=1), cost=0.5, tool_calls=(call,)
                )
            return Completion(text="answer", usage=Usage(prompt_tokens=20, completion_tokens=3), cost=0.25)

    events, state = await run_tools(agent_workflow(), caller=TwoTurns(), toolbox=MemoryToolbox())
    [done] = of(events, NodeFinished)
    assert done.usage == Usage(prompt_tokens=30, completion_tokens=4) and done.cost == 0.75
    assert state.nodes["scout"].latest is not None and state.nodes["scout"].latest.usage.total_tokens == 34


async def test_the_limit_is_told_to_the_model_which_then_answers() -> None:
    caller = Recording()
    events, _ = await run_tools(
        agent_workflow(FETCH, max_tool_calls=2), "scripted/tool_rounds=2", caller=caller, toolbox=MemoryToolbox()
    )
    assert len(of(events, ToolCalled)) == 2
    last = caller.requests[-2]  # the scout's last turn (the writer's request comes after)
    assert last.messages[-1].role == "user" and "all 2 tool calls" in last.messages[-1].content
    assert of(events, NodeFinished)


async def test_asking_again_after_the_limit_fails_with_the_field_to_raise() -> None:
    events, state = await run_tools(
        agent_workflow(FETCH, max_tool_calls=2), "scripted/tool_rounds=9", toolbox=MemoryToolbox()
    )
    [failed] = of(events, NodeFailed)
    assert failed.error_kind == "tool_limit" and not failed.retryable
    assert "all 2 tool calls" in failed.message and '"max_tool_calls"' in failed.message
    assert state.status == "failed"


async def test_calls_past_the_limit_in_one_turn_are_answered_not_run() -> None:
    caller, toolbox = Recording(), MemoryToolbox()
    events, _ = await run_tools(agent_workflow(FETCH, FETCH, FETCH, max_tool_calls=2), caller=caller, toolbox=toolbox)
    assert len(toolbox.calls) == 2 and len(of(events, ToolCalled)) == 2
    tool_messages = [m for m in caller.requests[1].messages if m.role == "tool"]
    assert [m.tool_call_id for m in tool_messages] == ["call_1_1", "call_1_2", "call_1_3"]
    assert "limit of 2 tool calls was reached" in tool_messages[2].content


async def test_a_side_effect_is_journaled_around_its_run_in_order() -> None:
    journal = MemoryJournal()
    seen: list[str] = []
    called = asyncio.Event()

    def watch(event: Event) -> None:
        if isinstance(event, ToolCalled | ToolFinished):
            phases = journal.phases("r1:scout:1:1")
            seen.append(f"{event.type} after {phases}")
            if isinstance(event, ToolCalled):
                called.set()

    async def before_run(call: ToolCall, context: ToolContext) -> None:
        await asyncio.wait_for(called.wait(), 5)  # the tool runs only once ToolCalled is out
        seen.append(f"run after {journal.phases(context.key)}")

    toolbox = MemoryToolbox(before_run=before_run)
    run = Run(
        agent_workflow(WRITE),
        caller=ScriptedCaller(),
        default_model="scripted",
        run_id="r1",
        toolbox=toolbox,
        journal=journal,
    )
    await drain(run, watch)
    assert seen == [
        "tool_called after ['intent']",
        "run after ['intent']",
        "tool_finished after ['intent', 'outcome']",
    ]


async def test_read_only_calls_leave_the_journal_alone() -> None:
    journal = MemoryJournal()
    events, _ = await run_tools(agent_workflow(FETCH), toolbox=MemoryToolbox(), journal=journal)
    assert journal.rows == [] and len(of(events, ToolFinished)) == 1


async def test_a_recorded_outcome_is_reused_not_repeated() -> None:
    toolbox, journal = MemoryToolbox(), MemoryJournal()
    journal.rows += [("intent", "old:scout:1:1", "write_file", "{}"), ("outcome", "old:scout:1:1", "ok", "wrote it")]
    events, _ = await run_tools(
        agent_workflow(WRITE), run_id="new", toolbox=toolbox, journal=journal, effects_run_id="old"
    )
    assert toolbox.calls == [] and len(journal.rows) == 2
    [called] = of(events, ToolCalled)
    [finished] = of(events, ToolFinished)
    assert called.key == "old:scout:1:1"
    assert finished.reused and finished.ok and finished.result == "wrote it"
    assert of(events, NodeFinished)[0].output.endswith("- write_file: wrote it")


async def test_an_unknown_outcome_fails_the_agent_by_default() -> None:
    toolbox, journal = MemoryToolbox(), MemoryJournal([("intent", "r1:scout:1:1", "write_file", "{}")])
    events, _ = await run_tools(agent_workflow(WRITE), toolbox=toolbox, journal=journal)
    [failed] = of(events, NodeFailed)
    assert failed.error_kind == "effect_unknown" and "write_file" in failed.message
    assert "retry" in failed.message and "skip" in failed.message
    assert toolbox.calls == [] and of(events, ToolCalled) == []


async def test_an_unknown_outcome_is_run_again_when_told_to_retry() -> None:
    toolbox, journal = MemoryToolbox(), MemoryJournal([("intent", "r1:scout:1:1", "write_file", "{}")])
    events, _ = await run_tools(agent_workflow(WRITE), toolbox=toolbox, journal=journal, on_unknown_effect="retry")
    assert len(toolbox.calls) == 1 and journal.phases("r1:scout:1:1") == ["intent", "intent", "outcome"]
    assert not of(events, ToolFinished)[0].reused


async def test_an_unknown_outcome_is_skipped_when_told_to() -> None:
    toolbox, journal = MemoryToolbox(), MemoryJournal([("intent", "r1:scout:1:1", "write_file", "{}")])
    events, _ = await run_tools(agent_workflow(WRITE), toolbox=toolbox, journal=journal, on_unknown_effect="skip")
    assert toolbox.calls == [] and journal.phases("r1:scout:1:1") == ["intent"]
    [finished] = of(events, ToolFinished)
    assert finished.result == SKIPPED_UNKNOWN and not finished.ok and finished.reused
    assert of(events, NodeFinished)[0].output.endswith(f"- write_file: {SKIPPED_UNKNOWN}")


async def test_a_retried_model_turn_does_not_repeat_a_tool_call() -> None:
    toolbox, journal = MemoryToolbox(), MemoryJournal()
    # Every distinct request fails once: both the first turn and the turn after the tool result are retried.
    events, _ = await run_tools(
        agent_workflow(WRITE, retries=2),
        "scripted/fault=server_error,times=1",
        toolbox=toolbox,
        journal=journal,
        max_retry_wait=0.01,
    )
    assert len(toolbox.calls) == 1 and journal.phases("r1:scout:1:1") == ["intent", "outcome"]
    [done] = of(events, NodeFinished)
    assert done.attempts == 3  # the first turn, its retry, and the retry of the turn after the tool result
    started = of(events, NodeStarted)
    assert [s.attempt for s in started] == [1, 2, 3]
    assert [m.role for m in started[-1].messages][-2:] == ["assistant", "tool"]  # the retried turn's conversation


async def test_an_agent_with_tools_bypasses_the_output_cache() -> None:
    class Cache:
        def __init__(self) -> None:
            self.data: dict[str, Completion] = {}

        def get(self, key: str) -> Completion | None:
            return self.data.get(key)

        def set(self, key: str, value: Completion) -> None:
            self.data[key] = value

    cache, toolbox = Cache(), MemoryToolbox()
    for again in (False, True):
        events, _ = await run_tools(agent_workflow(FETCH), toolbox=toolbox, cache=cache)
        assert not of(events, NodeFinished)[0].cached
        assert of(events, NodeFinished, "writer")[0].cached == again  # the plain agent is cached as before
    assert len(toolbox.calls) == 2 and len(cache.data) == 1


async def test_the_reducer_keeps_each_call_and_folds_as_live() -> None:
    events, live = await run_tools(agent_workflow(FETCH, WRITE), toolbox=MemoryToolbox(), journal=MemoryJournal())
    folded = fold(events)
    assert folded == live
    ex = folded.nodes["scout"].latest
    assert ex is not None and ex.status == "succeeded"
    assert [(c.call.tool, c.finished is not None and c.finished.ok) for c in ex.tool_calls] == [
        ("fetch", True),
        ("write_file", True),
    ]


async def test_an_agent_with_tools_and_no_toolbox_fails_clearly() -> None:
    events, _ = await run_tools(agent_workflow(FETCH))
    [failed] = of(events, NodeFailed)
    assert failed.error_kind == "tools_unavailable" and "'Scout' uses tools (fetch, write_file)" in failed.message


async def test_a_made_up_tool_is_refused_to_the_model() -> None:
    events, _ = await run_tools(agent_workflow("CALL rm_rf {}"), toolbox=MemoryToolbox())
    [finished] = of(events, ToolFinished)
    assert not finished.ok and "no tool named 'rm_rf'" in finished.result and "fetch, write_file" in finished.result
    assert of(events, NodeFinished)


async def test_a_failing_toolbox_is_a_failed_result_with_its_outcome() -> None:
    toolbox, journal = MemoryToolbox(fail_with=RuntimeError("boom")), MemoryJournal()
    events, _ = await run_tools(agent_workflow(WRITE), toolbox=toolbox, journal=journal)
    [finished] = of(events, ToolFinished)
    assert not finished.ok and "RuntimeError: boom" in finished.result
    assert journal.rows[-1][:3] == ("outcome", "r1:scout:1:1", "failed")
    assert of(events, NodeFinished)


async def test_long_results_and_arguments_are_capped() -> None:
    huge = json.dumps({"url": "x" * (MAX_RESULT_CHARS * 2)})
    events, _ = await run_tools(agent_workflow(f"CALL fetch {huge}"), toolbox=MemoryToolbox())
    [called] = of(events, ToolCalled)
    [finished] = of(events, ToolFinished)
    assert len(called.arguments) == MAX_RESULT_CHARS and called.arguments.endswith("characters in all]")
    assert len(finished.result) == MAX_RESULT_CHARS


async def test_a_deciding_agent_with_tools_gives_its_verdict() -> None:
    workflow = agent_workflow(FETCH, verdicts=["approve", "revise"])
    events, _ = await run_tools(workflow, "scripted/verdicts=revise", toolbox=MemoryToolbox())
    [done] = of(events, NodeFinished)
    assert done.verdict == "revise" and len(of(events, ToolCalled)) == 1


async def test_a_recorded_outcome_survives_a_cancelled_call_as_unknown() -> None:
    journal = MemoryJournal()

    async def hang(call: ToolCall, context: ToolContext) -> None:
        await asyncio.sleep(3600)

    run = Run(
        agent_workflow(WRITE),
        caller=ScriptedCaller(),
        default_model="scripted",
        run_id="r1",
        toolbox=MemoryToolbox(before_run=hang),
        journal=journal,
    )

    def cancel_when_called(event: Event) -> None:
        if isinstance(event, ToolCalled):
            run.cancel()

    await drain(run, cancel_when_called)
    assert journal.recorded("r1:scout:1:1") == RecordedEffect(key="r1:scout:1:1", status="unknown")


@pytest.mark.parametrize("tools", [(), ("fetch",)])
async def test_call_lines_are_only_text_without_tools(tools: tuple[str, ...]) -> None:
    events, _ = await run_tools(agent_workflow(FETCH, tools=tools), toolbox=MemoryToolbox())
    assert len(of(events, ToolCalled)) == len(tools)


async def test_a_resumed_agent_reuses_what_its_first_run_did_and_retries_only_the_unknown() -> None:
    journal = MemoryJournal()
    second = 'CALL write_file {"path": "b.md", "content": "B"}'
    workflow = agent_workflow(WRITE, second)

    async def hang_on_b(call: ToolCall, context: ToolContext) -> None:
        if "b.md" in call.arguments:
            await asyncio.sleep(3600)  # the process "dies" here: its intent is written, its outcome never

    first = Run(
        workflow,
        caller=ScriptedCaller(),
        default_model="scripted",
        run_id="r1",
        toolbox=MemoryToolbox(before_run=hang_on_b),
        journal=journal,
    )
    await drain(first, lambda e: first.cancel() if isinstance(e, ToolCalled) and e.key.endswith(":2") else None)
    assert journal.phases("r1:scout:1:1") == ["intent", "outcome"] and journal.phases("r1:scout:1:2") == ["intent"]

    toolbox = MemoryToolbox()
    events, _ = await run_tools(
        workflow, run_id="r2", toolbox=toolbox, journal=journal, effects_run_id="r1", on_unknown_effect="retry"
    )
    assert [c[2] for c in toolbox.calls] == ["r1:scout:1:2"] and toolbox.files == {"b.md": "B"}
    assert [(f.tool, f.reused) for f in of(events, ToolFinished)] == [("write_file", True), ("write_file", False)]
    assert journal.phases("r1:scout:1:2") == ["intent", "intent", "outcome"]
    assert of(events, NodeFinished)


def test_the_cache_key_tells_requests_apart_by_their_tools() -> None:
    plain = ModelRequest(
        model="m", messages=[Message(role="user", content="hi")], temperature=0, max_tokens=5, timeout=1
    )
    fetch = msgspec.structs.replace(plain, tools=(SPECS["fetch"],))
    write = msgspec.structs.replace(plain, tools=(SPECS["write_file"],))
    assert len({cache_key(plain), cache_key(fetch), cache_key(write)}) == 3
    assert cache_key(msgspec.structs.replace(plain, tools=())) == cache_key(plain)


async def test_a_journal_that_cannot_write_the_intent_stops_the_call() -> None:
    toolbox, journal = MemoryToolbox(), MemoryJournal(broken="intent")
    events, _ = await run_tools(agent_workflow(WRITE), toolbox=toolbox, journal=journal)
    [failed] = of(events, NodeFailed)
    assert failed.error_kind == "effect_log" and "No space left on device" in failed.message
    assert "the call was not made" in failed.message
    assert toolbox.calls == [] and of(events, ToolCalled) == []


async def test_a_journal_that_cannot_write_the_outcome_fails_the_agent_after_the_call() -> None:
    toolbox, journal = MemoryToolbox(), MemoryJournal(broken="outcome")
    events, _ = await run_tools(agent_workflow(WRITE), toolbox=toolbox, journal=journal)
    [failed] = of(events, NodeFailed)
    assert failed.error_kind == "effect_log" and "ran, but its outcome could not be recorded" in failed.message
    assert len(toolbox.calls) == 1 and journal.recorded("r1:scout:1:1") == RecordedEffect(
        key="r1:scout:1:1", status="unknown"
    )
    assert [f.ok for f in of(events, ToolFinished)] == [True]
