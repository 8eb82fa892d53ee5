"""Partial re-runs: run from a node, run one node only, retry a failed node; upstream is reused, not called."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable

import pytest

from flowdeck.engine.events import NodeFinished, NodeSkipped, NodeStarted, RunStarted, Usage
from flowdeck.engine.llm_types import Completion, ModelRequest
from flowdeck.engine.run import Run, drain
from flowdeck.engine.state import fold
from flowdeck.engine.workflow import Workflow
from flowdeck.errors import WorkflowError
from flowdeck.models.scripted import ScriptedCaller
from flowdeck.runner import Runner
from flowdeck.services import Services


class Ledger(ScriptedCaller):
    """Counts model calls per agent (by the first words of its system prompt)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    async def call(self, request: ModelRequest, on_text: Callable[[str], None]) -> Completion:
        self.calls[" ".join(request.messages[0].content.split()[:4])] += 1
        return await super().call(request, on_text)


RESEARCHER, CODER, REVIEWER = "You are a meticulous", "You are an expert", "You are a demanding"


@pytest.fixture
async def runner(services: Services) -> AsyncIterator[tuple[Runner, Ledger]]:
    ledger = Ledger()
    runner = Runner(services.runs, ledger, default_model="scripted")
    yield runner, ledger
    await runner.close()


async def test_run_from_here_reuses_upstream_and_reruns_downstream(
    runner: tuple[Runner, Ledger], chain: Workflow
) -> None:
    run, ledger = runner
    first = await run.wait(await run.start(chain))
    assert sum(ledger.calls.values()) == 3

    ledger.calls.clear()
    again = await run.rerun(first.run_id, "c")
    events = [e async for e in run.subscribe(again)]
    state = fold(events)
    assert state.status == "succeeded"
    assert [k for k in ledger.calls] == [CODER, REVIEWER] and sum(ledger.calls.values()) == 2
    assert not any(isinstance(e, NodeStarted) and e.node_id == "r" for e in events)
    reused = next(e for e in events if isinstance(e, NodeFinished) and e.node_id == "r")
    assert reused.cached and reused.output == first.outputs()["r"]
    assert isinstance(events[0], RunStarted) and events[0].reused == ["r"]


async def test_run_this_node_only_uses_the_edited_workflow_and_skips_downstream(
    runner: tuple[Runner, Ledger], chain: Workflow
) -> None:
    run, ledger = runner
    first = await run.wait(await run.start(chain))
    ledger.calls.clear()
    edited = chain.model_copy(
        update={
            "nodes": [
                n.model_copy(update={"config": n.config.model_copy(update={"system_prompt": "Write Rust only."})})
                if n.id == "c"
                else n
                for n in chain.nodes
            ]
        }
    )
    again = await run.rerun(first.run_id, "c", only=True, workflow=edited)
    events = [e async for e in run.subscribe(again)]
    assert list(ledger.calls) == ["Write Rust only."]
    started = next(e for e in events if isinstance(e, NodeStarted))
    assert started.node_id == "c" and started.messages[1].content.endswith(first.outputs()["r"])
    skipped = next(e for e in events if isinstance(e, NodeSkipped))
    assert skipped.node_id == "v" and skipped.reason == "not part of this partial run"
    assert fold(events).status == "succeeded"


async def test_retrying_a_failed_node_calls_only_it_and_what_follows(runner: tuple[Runner, Ledger]) -> None:
    from tests.conftest import make_workflow

    workflow = make_workflow(
        [("r", "researcher"), ("c", "coder"), ("v", "reviewer")],
        [("r", "c"), ("c", "v")],
        c={"model": "scripted/fault=auth,times=1"},
    )
    run, ledger = runner
    failed = await run.wait(await run.start(workflow))
    assert failed.status == "failed" and failed.nodes["v"].status == "skipped"
    ledger.calls.clear()
    retried = await run.wait(await run.rerun(failed.run_id, "c"))
    assert retried.status == "succeeded"
    assert RESEARCHER not in ledger.calls and ledger.calls[CODER] == 1 and ledger.calls[REVIEWER] == 1


async def test_a_node_without_a_recorded_output_upstream_cannot_run_alone(chain: Workflow) -> None:
    with pytest.raises(WorkflowError, match="'Researcher' has no recorded output to reuse; run from it instead"):
        Run(chain, caller=ScriptedCaller(), default_model="scripted", scope={"c"})
    with pytest.raises(WorkflowError, match="node nope: no agent with this id"):
        Run(chain, caller=ScriptedCaller(), default_model="scripted", scope={"nope"})


async def test_independent_branches_outside_the_scope_are_reused(chain: Workflow) -> None:
    reuse = {n: Completion(text=f"recorded {n}", usage=Usage(), cost=0.0) for n in ("r", "c", "v")}
    events = await drain(
        Run(chain, caller=ScriptedCaller(), default_model="scripted", reuse=reuse, scope={"v"}),
    )
    state = fold(events)
    assert state.outputs()["r"] == "recorded r" and state.outputs()["c"] == "recorded c"
    assert state.outputs()["v"] != "recorded v"
    assert [e.node_id for e in events if isinstance(e, NodeStarted)] == ["v"]


async def test_partial_runs_say_what_they_ran_and_count_only_those_agents(
    runner: tuple[Runner, Ledger], services: Services, chain: Workflow
) -> None:
    run, _ = runner
    first = await run.wait(await run.start(chain))
    assert (first.label, first.origin, first.ran) == ("", None, ["r", "c", "v"])
    from_here = await run.wait(await run.rerun(first.run_id, "c"))
    assert (from_here.label, from_here.ran) == ("Run from Coder", ["c", "v"])
    only = await run.wait(await run.rerun(first.run_id, "c", only=True))
    assert (only.label, only.ran) == ("Only Coder", ["c"])
    retry = await run.wait(await run.rerun(first.run_id, "v", retry=True))
    assert (retry.label, retry.ran) == ("Retry of Reviewer", ["v"])
    for state in (from_here, only, retry):
        assert state.origin is not None and state.origin.run_id == first.run_id
    listed = {summary.id: summary.label for summary in services.runs.recent()}
    assert listed == {first.run_id: "", from_here.run_id: "Run from Coder", only.run_id: "Only Coder"} | {
        retry.run_id: "Retry of Reviewer"
    }


async def test_a_resumed_run_is_labelled_with_the_run_it_resumes(
    runner: tuple[Runner, Ledger], services: Services
) -> None:
    from tests.conftest import make_workflow

    workflow = make_workflow(
        [("r", "researcher"), ("c", "coder"), ("v", "reviewer")],
        [("r", "c"), ("c", "v")],
        c={"model": "scripted/fault=auth,times=1"},
    )
    run, _ = runner
    failed = await run.wait(await run.start(workflow))
    resumed = await run.wait(await run.resume(failed.run_id))
    assert resumed.status == "succeeded" and resumed.ran == ["c", "v"] and resumed.reused == ["r"]
    assert resumed.label == f"Resume of {failed.run_id}"
    assert services.runs.get(resumed.run_id).label == f"Resume of {failed.run_id}"


async def test_a_rerun_of_an_edited_workflow_runs_each_agent_on_the_model_it_names_now(
    runner: tuple[Runner, Ledger], chain: Workflow
) -> None:
    run, _ = runner
    first = await run.wait(await run.start(chain, model="scripted/chunks=3"))
    edited = chain.model_copy(
        update={
            "nodes": [
                n.model_copy(update={"config": n.config.model_copy(update={"model": "scripted/chunks=2"})})
                if n.id == "c"
                else n
                for n in chain.nodes
            ]
        }
    )
    again = await run.rerun(first.run_id, "c", workflow=edited)
    models = {e.node_id: e.model for e in [e async for e in run.subscribe(again)] if isinstance(e, NodeStarted)}
    assert models == {"c": "scripted/chunks=2", "v": "scripted"}  # as the editor shows them, not the old run's
    recorded = await run.rerun(first.run_id, "c")  # the recorded workflow keeps its run's model
    models = {e.node_id: e.model for e in [e async for e in run.subscribe(recorded)] if isinstance(e, NodeStarted)}
    assert models == {"c": "scripted/chunks=3", "v": "scripted/chunks=3"}


async def test_starting_a_workflow_of_long_templates_checks_them_off_the_event_loop(
    runner: tuple[Runner, Ledger],
) -> None:
    # 30 agents, each a different template of ~70,000 characters: parsing them took seconds, on the event loop.
    from tests.conftest import make_workflow

    template = "{{ inputs.task ~ " + " ~ ".join(["inputs.task"] * 5000) + " }}"
    nodes = [(f"a{i}", "custom") for i in range(30)]
    configs = {f"a{i}": {"prompt_template": f"{{# {i} #}}" + template} for i in range(30)}
    workflow = make_workflow(nodes, [], **configs)
    run, _ = runner
    gaps: list[float] = []
    loop = asyncio.get_running_loop()

    async def tick() -> None:
        last = loop.time()
        while True:
            await asyncio.sleep(0.01)
            gaps.append(loop.time() - last)
            last = loop.time()

    ticker = asyncio.create_task(tick())
    started = loop.time()
    await run.start(workflow, {"task": "x"})
    took = loop.time() - started
    ticker.cancel()
    assert took > 0.2, "too small to tell"  # the check itself takes a while here
    assert max(gaps) < took / 2, (max(gaps), took)  # the loop went on meanwhile
