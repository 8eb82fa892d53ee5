"""The Runner with real storage and approvals: a waiting run is stored as waiting, survives a restart of its process
as waiting, decides by itself at its timeout, and is continued by a decision without a model call repeated."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from flowdeck.config import Settings
from flowdeck.engine.approvals import Decision
from flowdeck.engine.events import ApprovalDecided, NodeStarted, RunFinished
from flowdeck.engine.state import fold
from flowdeck.engine.workflow import Workflow, parse_workflow
from flowdeck.errors import NotWaitingError
from flowdeck.services import Services, open_services


def signed(**config: Any) -> Workflow:
    return parse_workflow(
        {
            "format": 2,
            "name": "signed",
            "inputs": [{"name": "task", "default": "write it"}],
            "nodes": [
                {"id": "w", "type": "coder"},
                {"id": "ok", "type": "approval", "label": "Sign-off", "config": config},
                {"id": "p", "type": "custom"},
            ],
            "edges": [{"id": "w->ok", "source": "w", "target": "ok"}, {"id": "ok->p", "source": "ok", "target": "p"}],
        }
    )


async def settled(services: Services, run_id: str) -> str:
    state = await services.runner.wait(run_id)
    return state.status


async def test_a_waiting_run_is_stored_as_waiting_and_a_decision_continues_it(services: Services) -> None:
    run_id = await services.runner.start(signed(), model="scripted")
    assert await settled(services, run_id) == "waiting"
    assert (await asyncio.to_thread(services.runs.get, run_id)).status == "waiting"
    assert not services.runner.is_active(run_id)  # nothing holds it in memory: it is a state in the log
    assert await services.runner.decide(run_id, None, Decision(approve=True, by="editor")) == "ok"
    watched = await services.runner.wait(run_id)  # a page following it again: the whole run, from its log on
    assert watched.status == "succeeded" and watched.gaps == 0 and watched.nodes["w"].status == "succeeded"
    summary = await asyncio.to_thread(services.runs.get, run_id)
    assert summary.status == "succeeded" and summary.finished_at is not None
    state = fold(await asyncio.to_thread(services.runs.events, run_id))
    assert state.gaps == 0 and [e.node_id for e in state.handoffs] == ["w", "ok"]
    assert (await asyncio.to_thread(services.runs.outputs, run_id))["p"] == state.outputs()["p"]
    # The run's end counts every agent's tokens, those before the wait too (it said 0 tokens after a decision).
    end = [e for e in await asyncio.to_thread(services.runs.events, run_id) if isinstance(e, RunFinished)][-1]
    spent = sum(ex.usage.total_tokens for node in state.nodes.values() for ex in node.executions)
    assert spent > 0 and end.usage.total_tokens == spent


async def test_a_second_decision_of_the_same_wait_is_refused(services: Services) -> None:
    run_id = await services.runner.start(signed(), model="scripted")
    await settled(services, run_id)
    await services.runner.decide(run_id, "ok", Decision(approve=False, by="a", note="no"))
    with pytest.raises(NotWaitingError):
        await services.runner.decide(run_id, "ok", Decision(approve=True, by="b"))
    assert await settled(services, run_id) == "rejected"
    events = await asyncio.to_thread(services.runs.events, run_id)
    assert [e.by for e in events if isinstance(e, ApprovalDecided)] == ["a"]


async def test_a_restart_leaves_a_waiting_run_waiting_and_a_decision_then_reruns_no_agent(settings: Settings) -> None:
    first = await asyncio.to_thread(open_services, settings)
    try:
        run_id = await first.runner.start(signed(), model="scripted")
        assert await settled(first, run_id) == "waiting"
    finally:
        await first.runner.close()
        first.close()
    again = await asyncio.to_thread(open_services, settings)  # start-up recovery runs here
    try:
        assert run_id not in again.recovered
        assert (await asyncio.to_thread(again.runs.get, run_id)).status == "waiting"
        await again.runner.decide(run_id, "ok", Decision(approve=True, by="editor"))
        assert await settled(again, run_id) == "succeeded"
        events = await asyncio.to_thread(again.runs.events, run_id)
        assert [e.node_id for e in events if isinstance(e, NodeStarted)] == ["w", "p"]  # w called once, before
    finally:
        await again.runner.close()
        again.close()


@pytest.mark.parametrize(
    ("on_timeout", "status", "verdict"), [("approve", "succeeded", "approved"), ("reject", "rejected", "rejected")]
)
async def test_a_timeout_decides_by_itself_and_says_so(
    services: Services, on_timeout: str, status: str, verdict: str
) -> None:
    run_id = await services.runner.start(signed(timeout=0.3, on_timeout=on_timeout), model="scripted")
    assert await settled(services, run_id) == "waiting"
    for _ in range(100):
        await asyncio.sleep(0.05)
        if (await asyncio.to_thread(services.runs.get, run_id)).status not in ("waiting", "running"):
            break
    state = fold(await asyncio.to_thread(services.runs.events, run_id))
    assert state.status == status
    sign = state.nodes["ok"].latest
    assert sign is not None and sign.verdict == verdict and sign.decision is not None
    assert sign.decision.timed_out and sign.decision.by == "timeout"
    assert sign.decision.note == f"no decision within 0.3 s: {verdict} by itself"
    assert state.nodes["ok"].summary() == f"{verdict} by itself (no decision in time)"


async def test_a_stored_timeout_is_kept_after_a_restart(settings: Settings) -> None:
    first = await asyncio.to_thread(open_services, settings)
    try:
        run_id = await first.runner.start(signed(timeout=0.5, on_timeout="approve"), model="scripted")
        assert await settled(first, run_id) == "waiting"
    finally:
        await first.runner.close()  # its timer goes with it
        first.close()
    again = await asyncio.to_thread(open_services, settings)
    try:
        assert await again.runner.watch_waiting() == 1
        for _ in range(100):
            await asyncio.sleep(0.05)
            if (await asyncio.to_thread(again.runs.get, run_id)).status == "succeeded":
                break
        assert (await asyncio.to_thread(again.runs.get, run_id)).status == "succeeded"
    finally:
        await again.runner.close()
        again.close()


async def test_cancelling_a_waiting_run_skips_its_approval(services: Services) -> None:
    run_id = await services.runner.start(signed(), model="scripted")
    await settled(services, run_id)
    assert not services.runner.cancel(run_id)  # nothing goes on in memory
    assert await services.runner.cancel_waiting(run_id)
    state = await services.runner.wait(run_id)
    assert state.status == "cancelled"
    final = fold(await asyncio.to_thread(services.runs.events, run_id))
    assert final.status == "cancelled" and final.gaps == 0
    assert final.nodes["ok"].status == "skipped" and final.nodes["p"].status == "skipped"
    assert not await services.runner.cancel_waiting(run_id)


async def test_a_server_times_out_a_run_that_another_process_stopped_to_wait(settings: Settings) -> None:
    server = await asyncio.to_thread(open_services, settings)
    watching = asyncio.get_running_loop().create_task(server.runner.watch_waiting(every=0.1))
    try:
        await asyncio.sleep(0.2)  # its first look found nothing
        cli = await asyncio.to_thread(open_services, settings)  # `flowdeck run --no-input`, which then exits
        try:
            run_id = await cli.runner.start(signed(timeout=0.3, on_timeout="reject"), model="scripted")
            assert await settled(cli, run_id) == "waiting"
        finally:
            await cli.runner.close()
            cli.close()
        for _ in range(100):
            await asyncio.sleep(0.05)
            if (await asyncio.to_thread(server.runs.get, run_id)).status == "rejected":
                break
        assert (await asyncio.to_thread(server.runs.get, run_id)).status == "rejected"
    finally:
        watching.cancel()
        await server.runner.close()
        server.close()


async def test_a_resumed_run_replays_the_decisions_of_the_run_it_resumes(services: Services) -> None:
    failing = signed().model_copy(deep=True)
    wf = parse_workflow(
        failing.to_dict()
        | {
            "nodes": [
                *failing.to_dict()["nodes"][:2],
                {"id": "p", "type": "custom", "config": {"model": "scripted/fault=auth,times=1"}},
            ]
        }
    )
    run_id = await services.runner.start(wf, model=None)
    assert await settled(services, run_id) == "waiting"
    await services.runner.decide(run_id, "ok", Decision(approve=True, by="editor", text="edited"))
    assert await settled(services, run_id) == "failed"  # the agent after the sign-off failed once
    resumed = await services.runner.resume(run_id)
    state = await services.runner.wait(resumed)
    assert state.status == "succeeded"  # it did not wait again: the sign-off's decision was replayed
    sign = state.nodes["ok"].latest
    assert sign is not None and sign.decision is not None and sign.decision.by == "editor"
    assert state.outputs()["ok"] == "edited"
    events = await asyncio.to_thread(services.runs.events, resumed)
    assert [e.node_id for e in events if isinstance(e, NodeStarted)] == ["p"]


async def test_run_from_here_after_an_approval_reuses_what_was_approved(services: Services) -> None:
    run_id = await services.runner.start(signed(), model="scripted")
    await settled(services, run_id)
    await services.runner.decide(run_id, "ok", Decision(approve=True, by="editor", text="approved text"))
    assert await settled(services, run_id) == "succeeded"
    again = await services.runner.rerun(run_id, "p")
    state = await services.runner.wait(again)
    assert state.status == "succeeded"  # it did not wait: the sign-off is upstream of what runs again
    assert state.nodes["ok"].latest is not None and state.nodes["ok"].latest.cached
    p_call = next(e for e in await asyncio.to_thread(services.runs.events, again) if isinstance(e, NodeStarted))
    assert p_call.node_id == "p" and "approved text" in p_call.messages[-1].content


async def test_a_decision_for_a_round_no_longer_waiting_is_refused(services: Services) -> None:
    # A dialog left open on round 1 approved round 2, which nobody saw (found by the issue 21 attack).
    from flowdeck.templates import load_template

    run_id = await services.runner.start(load_template("review-loop"), model="scripted/verdicts=approve")
    assert await settled(services, run_id) == "waiting"
    shown = fold(await asyncio.to_thread(services.runs.events, run_id)).nodes["approval"].latest
    assert shown is not None and shown.index == 1
    await services.runner.decide(run_id, "approval", Decision(approve=False, by="b", note="again", execution=1))
    assert await settled(services, run_id) == "waiting"  # the coder revised; the sign-off asks about round 2
    with pytest.raises(NotWaitingError, match="now waits in round 2, not round 1"):
        await services.runner.decide(run_id, "approval", Decision(approve=True, by="a", execution=1))
    assert fold(await asyncio.to_thread(services.runs.events, run_id)).status == "waiting"
    await services.runner.decide(run_id, "approval", Decision(approve=True, by="a", execution=2))
    assert await settled(services, run_id) == "succeeded"


async def test_a_cancel_and_a_decision_at_once_leave_one_story_in_the_log(services: Services) -> None:
    # Both used to succeed: seq numbers stored twice, rounds run after run_finished cancelled (the issue 21 attack).
    from flowdeck.engine.events import RunFinished
    from flowdeck.templates import load_template

    for first in ("cancel", "decide"):
        run_id = await services.runner.start(load_template("review-loop"), model="scripted/delay=0.05,verdicts=approve")
        assert await settled(services, run_id) == "waiting"

        async def cancel(run_id: str = run_id) -> object:
            return await services.runner.cancel_waiting(run_id)

        async def decide(run_id: str = run_id) -> object:
            try:
                return await services.runner.decide(run_id, "approval", Decision(approve=False, by="b", note="n"))
            except NotWaitingError as exc:
                return exc

        both = [cancel(), decide()] if first == "cancel" else [decide(), cancel()]
        await asyncio.gather(*both)
        state = await services.runner.wait(run_id)
        events = await asyncio.to_thread(services.runs.events, run_id)
        seqs = [e.seq for e in events]
        assert seqs == sorted(set(seqs)), f"{first}: a seq stored twice"
        ends = [i for i, e in enumerate(events) if isinstance(e, RunFinished)]
        assert len(ends) == 1 and ends[0] == len(events) - 1, f"{first}: events after the run ended"
        assert state.status == "cancelled", first
