from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

import pytest

from flowdeck.engine.agents import models_of
from flowdeck.engine.events import Event, NodeFinished, NodeRetrying, NodeStarted, Token, Usage
from flowdeck.engine.llm_types import Completion, ModelRequest
from flowdeck.engine.run import Run, drain
from flowdeck.engine.state import fold
from flowdeck.engine.workflow import AgentConfig, Workflow
from flowdeck.errors import WorkflowError
from flowdeck.models.scripted import ScriptedCaller
from tests.conftest import make_workflow


def run_of(workflow: Workflow, model: str = "scripted", **kwargs: object) -> Run:
    return Run(workflow, caller=ScriptedCaller(), default_model=model, **kwargs)  # type: ignore[arg-type]


def index(events: list[Event], type_: str, node: str) -> int:
    return next(i for i, e in enumerate(events) if e.type == type_ and getattr(e, "node_id", None) == node)


async def test_chain_runs_in_order_with_gapless_seq_and_handoffs(chain: Workflow) -> None:
    events = await drain(run_of(chain))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].type == "run_started" and events[-1].type == "run_finished"
    handoffs = [(e.node_id, e.target) for e in events if e.type == "handoff"]  # type: ignore[union-attr]
    assert handoffs == [("r", "c"), ("c", "v")]
    state = fold(events)
    assert state.status == "succeeded"
    assert "Verdict: APPROVE" in state.outputs()["v"]


async def test_node_started_carries_exact_messages_and_parameters(chain: Workflow) -> None:
    events = await drain(run_of(chain))
    started = next(e for e in events if isinstance(e, NodeStarted) and e.node_id == "c")
    research = fold(events).outputs()["r"]
    assert started.messages[0].role == "system" and "software engineer" in started.messages[0].content
    assert started.messages[1].content == f"check palindromes\n\n## From Researcher\n{research}"
    assert started.parameters == {"temperature": 0.2, "max_tokens": 512, "timeout": 120.0}
    assert started.received_from == ["r"]


async def test_streamed_tokens_add_up_to_the_output(chain: Workflow) -> None:
    events = await drain(run_of(chain, model="scripted/delay=0.001"))
    streamed = "".join(e.text for e in events if isinstance(e, Token) and e.node_id == "c")
    finished = next(e for e in events if isinstance(e, NodeFinished) and e.node_id == "c")
    assert streamed == finished.output


async def test_independent_branches_do_not_wait_for_each_other() -> None:
    # slow -> end, beside a -> b -> c: the chain must finish while the slow node still works.
    workflow = make_workflow(
        [("slow", "custom"), ("a", "coder"), ("b", "coder"), ("c", "coder")],
        [("a", "b"), ("b", "c")],
        slow={"model": "scripted/latency=0.4"},
    )
    events = await drain(run_of(workflow, model="scripted/latency=0.02"))
    assert index(events, "node_finished", "c") < index(events, "node_finished", "slow")
    assert index(events, "node_started", "b") < index(events, "node_finished", "slow")


async def test_failure_skips_downstream_while_independent_branch_finishes() -> None:
    workflow = make_workflow(
        [("bad", "coder"), ("after", "reviewer"), ("other", "researcher")],
        [("bad", "after")],
        bad={"model": "scripted/fault=auth"},
    )
    state = fold(await drain(run_of(workflow)))
    assert state.status == "failed"
    assert state.nodes["bad"].status == "failed"
    assert state.nodes["bad"].latest.error_kind == "auth"  # type: ignore[union-attr]
    assert state.nodes["after"].status == "skipped"
    assert "upstream agent" in (state.nodes["after"].latest.skip_reason or "")  # type: ignore[union-attr]
    assert state.nodes["other"].status == "succeeded"


async def test_transient_faults_are_retried_and_stream_cut_text_is_not_kept() -> None:
    workflow = make_workflow([("a", "coder")], [], a={"model": "scripted/fault=stream_cut,times=2", "retries": 3})
    events = await drain(run_of(workflow, max_retry_wait=0.01))
    state = fold(events)
    assert [e.type for e in events].count("node_retrying") == 2
    ex = state.nodes["a"].latest
    assert ex is not None and ex.status == "succeeded" and ex.text == ex.output
    assert next(e for e in events if isinstance(e, NodeFinished)).attempts == 3


async def test_retries_stop_at_the_configured_limit() -> None:
    workflow = make_workflow([("a", "coder")], [], a={"model": "scripted/fault=server_error", "retries": 1})
    state = fold(await drain(run_of(workflow, max_retry_wait=0.01)))
    ex = state.nodes["a"].latest
    assert ex is not None and ex.status == "failed" and ex.error_kind == "unavailable"


async def test_cancel_stops_running_nodes_and_skips_the_rest(chain: Workflow) -> None:
    run = run_of(chain, model="scripted/latency=5")
    events: list[Event] = []

    async def consume() -> None:
        async for event in run:
            events.append(event)
            if event.type == "node_started":
                run.cancel()

    await asyncio.wait_for(consume(), 5)
    state = fold(events)
    assert state.status == "cancelled"
    assert state.nodes["r"].status == "cancelled"
    assert {state.nodes["c"].status, state.nodes["v"].status} == {"skipped"}


@pytest.mark.parametrize("template", ["fan-out-review", "triage"])
async def test_a_run_cancelled_before_its_agents_start_still_ends(template: str) -> None:
    # Cancelled as soon as it started: the agents' tasks are cancelled before they ever ran, so none of them
    # could end itself; the run hung (found by tests/test_routing_properties.py).
    from flowdeck.templates import load_template

    run = run_of(load_template(template))
    events: list[Event] = []

    async def consume() -> None:
        async for event in run:
            events.append(event)
            run.cancel()

    await asyncio.wait_for(consume(), 5)
    state = fold(events)
    assert state.status == "cancelled"
    assert {node.status for node in state.nodes.values()} == {"skipped"}
    assert any(
        "cancelled before this agent started" in (n.latest.skip_reason or "") for n in state.nodes.values() if n.latest
    )


async def test_cancel_reaches_an_agent_that_started_where_its_upstream_agent_finished(chain: Workflow) -> None:
    # The coder starts in the task that ran the researcher (a chain goes on in one task): cancelling the run
    # while the coder works must still stop it, and skip the reviewer.
    workflow = make_workflow(
        [("r", "researcher"), ("c", "coder"), ("v", "reviewer")],
        [("r", "c"), ("c", "v")],
        r={"model": "scripted"},
    )
    run = run_of(workflow, model="scripted/latency=5")
    events: list[Event] = []

    async def consume() -> None:
        async for event in run:
            events.append(event)
            if isinstance(event, NodeStarted) and event.node_id == "c":
                run.cancel()

    await asyncio.wait_for(consume(), 5)
    state = fold(events)
    assert (state.status, state.nodes["r"].status) == ("cancelled", "succeeded")
    assert (state.nodes["c"].status, state.nodes["v"].status) == ("cancelled", "skipped")


async def test_a_long_chain_of_agents_that_never_wait_lets_the_event_loop_run() -> None:
    class InstantCaller:
        async def prepare(self, models: set[str]) -> None:
            pass

        async def call(self, request: ModelRequest, on_text: Callable[[str], None]) -> Completion:
            return Completion(text="done", usage=Usage(), cost=0.0)

    n = 320
    workflow = make_workflow([(f"a{i}", "custom") for i in range(n)], [(f"a{i}", f"a{i + 1}") for i in range(n - 1)])
    turns = 0

    async def other_work() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(other_work())
    await asyncio.sleep(0)
    before = turns
    state = fold(await drain(Run(workflow, caller=InstantCaller())))
    during = turns - before
    other.cancel()
    assert state.status == "succeeded" and len(state.outputs()) == n
    assert during >= n // 32 - 1  # the chain let other work go on at least every 32 agents


async def test_cached_outputs_are_reused_and_marked(chain: Workflow) -> None:
    class MemoryCache:
        def __init__(self) -> None:
            self.data: dict[str, object] = {}

        def get(self, key: str) -> object:
            return self.data.get(key)

        def set(self, key: str, value: object) -> None:
            self.data[key] = value

    cache = MemoryCache()
    first = fold(await drain(run_of(chain, cache=cache)))
    second_events = await drain(run_of(chain, cache=cache))
    second = fold(second_events)
    assert all(e.cached for e in second_events if isinstance(e, NodeFinished))
    assert second.outputs() == first.outputs()


async def test_model_override_applies_to_every_agent(chain: Workflow) -> None:
    events = await drain(run_of(chain, model="embedded", model_override="scripted/chunks=2"))
    assert {e.model for e in events if isinstance(e, NodeStarted)} == {"scripted/chunks=2"}


async def test_the_workflows_default_model_beats_the_apps_and_the_override_beats_both(chain: Workflow) -> None:
    own = chain.model_copy(update={"default_model": "scripted/chunks=3"})
    researcher = own.nodes[0].model_copy(update={"config": AgentConfig(model="scripted")})
    pinned = own.model_copy(update={"nodes": [researcher, *own.nodes[1:]]})

    def models(events: list[Event]) -> dict[str, str]:
        return {e.node_id: e.model for e in events if isinstance(e, NodeStarted)}

    assert models(await drain(run_of(pinned, model="embedded"))) == {
        "r": "scripted",  # an agent's own model first
        "c": "scripted/chunks=3",
        "v": "scripted/chunks=3",
    }
    assert set(models(await drain(run_of(pinned, model="embedded", model_override="scripted/chunks=2"))).values()) == {
        "scripted/chunks=2"
    }
    assert models_of(own, "embedded") == {"scripted/chunks=3"}


def test_unknown_and_missing_inputs_are_setup_errors() -> None:
    workflow = make_workflow([("a", "coder")], [])
    with pytest.raises(WorkflowError, match="input topic: the workflow has no such input"):
        Run(workflow, {"topic": "x"}, caller=ScriptedCaller())
    strict = workflow.model_copy(update={"inputs": [workflow.inputs[0].model_copy(update={"default": None})]})
    with pytest.raises(WorkflowError, match="input task: required"):
        Run(strict, {}, caller=ScriptedCaller())


async def test_prompt_that_breaks_the_sandbox_at_runtime_fails_only_its_node() -> None:
    workflow = make_workflow([("a", "coder")], [], a={"prompt_template": "{{ inputs.task * 100000000 }}"})
    state = fold(await drain(run_of(workflow)))
    ex = state.nodes["a"].latest
    assert ex is not None and ex.status == "failed" and ex.error_kind == "prompt"


async def test_retry_after_is_honoured_and_capped() -> None:
    def waits() -> list[float]:
        return [e.wait for e in events if isinstance(e, NodeRetrying)]

    workflow = make_workflow([("a", "coder")], [], a={"model": "scripted/fault=rate_limit,times=1,retry_after=0.03"})
    events = await drain(run_of(workflow, max_retry_wait=60))
    assert waits() == [0.03]
    workflow = make_workflow([("a", "coder")], [], a={"model": "scripted/fault=rate_limit,times=2,retry_after=30"})
    events = await drain(run_of(workflow, max_retry_wait=0.01))
    assert waits() == [0.01, 0.01]
    assert fold(events).nodes["a"].status == "succeeded"


async def test_streamed_deltas_are_merged_into_about_one_event_per_50_ms_per_agent() -> None:
    # Two agents side by side, each streaming 60 chunks 5 ms apart (~0.3 s): one token event per chunk would
    # be 120 events; merged, what streamed goes about every 50 ms.
    workflow = make_workflow([("a", "custom"), ("b", "custom")], [])
    events = await drain(run_of(workflow, model="scripted/chunks=60,delay=0.005"))
    for node in ("a", "b"):
        tokens = [e for e in events if isinstance(e, Token) and e.node_id == node]
        finished = next(e for e in events if isinstance(e, NodeFinished) and e.node_id == node)
        assert "".join(t.text for t in tokens) == finished.output
        assert 3 <= len(tokens) <= 12, [round(t.ts, 3) for t in tokens]
        gaps = [later.ts - earlier.ts for earlier, later in itertools.pairwise(tokens[1:])]
        assert all(gap >= 0.03 for gap in gaps[:-1]), gaps  # the last one is the flush at the end


async def test_an_answer_cut_at_max_tokens_is_flagged() -> None:
    workflow = make_workflow([("r", "researcher"), ("c", "coder")], [("r", "c")], r={"max_tokens": 5})
    events = await drain(run_of(workflow))
    finished = {e.node_id: e for e in events if isinstance(e, NodeFinished)}
    assert finished["r"].cut and not finished["c"].cut
    assert len(finished["r"].output.split()) == 5
    state = fold(events)
    assert state.nodes["r"].summary().startswith("cut at 5 tokens · ")  # first: a card ellipsizes its end
    assert "cut" not in state.nodes["c"].summary()


class Counting(ScriptedCaller):
    def __init__(self) -> None:
        super().__init__()
        self.called: list[str] = []

    async def call(self, request: ModelRequest, on_text: Callable[[str], None]) -> Completion:
        self.called.append(request.messages[0].content[:20])
        return await super().call(request, on_text)


async def test_a_pinned_output_is_used_instead_of_calling_the_model(chain: Workflow) -> None:
    pinned = chain.model_copy(
        update={
            "nodes": [n.model_copy(update={"pinned_output": "PINNED NOTES"}) if n.id == "r" else n for n in chain.nodes]
        }
    )
    caller = Counting()
    events = await drain(Run(pinned, caller=caller, default_model="scripted"))
    state = fold(events)
    assert state.status == "succeeded"
    assert state.outputs()["r"] == "PINNED NOTES"
    assert state.nodes["r"].summary() == "done · pinned output (the model was not called)"
    assert len(caller.called) == 2  # the coder and the reviewer only
    coder = next(e for e in events if isinstance(e, NodeStarted) and e.node_id == "c")
    assert "PINNED NOTES" in coder.messages[-1].content
    # A partial run whose scope holds the pinned agent still uses its pin.
    again = Counting()
    rerun = Run(pinned, caller=again, default_model="scripted", scope={"r", "c", "v"})
    assert fold(await drain(rerun)).outputs()["r"] == "PINNED NOTES"
    assert len(again.called) == 2
    assert "scripted" in rerun.models() and rerun.callers_of()
