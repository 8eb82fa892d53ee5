"""RunState = fold(events): what every view of a run shows, worked out from its events alone."""

from __future__ import annotations

from flowdeck.engine.events import NodeStarted, RunInterrupted, RunStarted, Token
from flowdeck.engine.run import Run
from flowdeck.engine.state import RunState, fold
from flowdeck.engine.workflow import Workflow
from flowdeck.models.scripted import ScriptedCaller


async def test_tokens_are_estimated_while_agents_stream_and_exact_once_they_finish(chain: Workflow) -> None:
    run = Run(chain, caller=ScriptedCaller(), default_model="scripted/delay=0.01")
    state = RunState()
    seen: list[tuple[int, bool]] = []
    while batch := await run.next_batch():
        fold(batch, state)
        seen.append(state.tokens())
    streaming = [count for count, estimated in seen if estimated]
    assert streaming, "no estimate was shown while the agents streamed"
    assert streaming[0] > 0 and streaming == sorted(streaming)
    assert seen[-1] == (state.usage.total_tokens, False)
    assert state.usage.total_tokens > 0


def test_an_interrupted_runs_duration_is_the_time_it_ran_not_the_downtime() -> None:
    workflow = {"format": 1, "name": "w", "nodes": [{"id": "a", "type": "coder"}], "edges": []}
    events = [
        RunStarted(run_id="x", seq=1, ts=100.0, workflow_name="w", workflow=workflow, inputs={}, node_ids=["a"]),
        NodeStarted(
            run_id="x",
            seq=2,
            ts=100.5,
            node_id="a",
            execution=1,
            attempt=1,
            model="m",
            messages=[],
            parameters={},
            received_from=[],
        ),
        Token(run_id="x", seq=3, ts=102.0, node_id="a", execution=1, attempt=1, text="partial"),
        # Written when the server came back, an hour later; logs of older versions do not say how long it ran.
        RunInterrupted(run_id="x", seq=4, ts=3700.0, running=["a"]),
    ]
    state = fold(events)
    assert state.status == "interrupted" and state.duration == 2.0
    assert state.nodes["a"].status == "interrupted"
    recorded = fold([*events[:3], RunInterrupted(run_id="x", seq=4, ts=3700.0, running=["a"], duration=2.5)])
    assert recorded.duration == 2.5


async def test_a_cancelled_agents_streamed_text_counts_as_estimated_tokens(chain: Workflow) -> None:
    run = Run(chain, caller=ScriptedCaller(), default_model="scripted/delay=0.05,chunks=40")
    state = RunState()
    while batch := await run.next_batch():
        fold(batch, state)
        streamed = any(n.latest is not None and n.latest.text for n in state.nodes.values() if n.status == "running")
        if state.usage.total_tokens and streamed:
            break  # one agent done, the next one writing
    before = state.tokens()
    run.cancel()
    while batch := await run.next_batch():
        fold(batch, state)
    assert state.status == "cancelled"
    count, estimated = state.tokens()
    assert estimated, "the cancelled agent's text is an estimate: the provider never reported its usage"
    assert count > state.usage.total_tokens
    assert count >= before[0] * 0.9
