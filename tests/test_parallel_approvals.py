"""Two approvals side by side (one agent fans out to both, both join into one agent): decisions taken at once both land,
each once, with no agent run again; rejecting one with no "rejected" path ends the run rejected at once."""

from __future__ import annotations

import asyncio

from flowdeck.config import Settings
from flowdeck.engine.approvals import Decision
from flowdeck.engine.events import ApprovalDecided, NodeStarted
from flowdeck.engine.state import fold
from flowdeck.engine.workflow import Workflow, parse_workflow
from flowdeck.errors import NotWaitingError
from flowdeck.services import Services, open_services


def two_sign_offs() -> Workflow:
    def edge(source: str, target: str) -> dict[str, str]:
        return {"id": f"{source}->{target}", "source": source, "target": target}

    return parse_workflow(
        {
            "format": 2,
            "name": "two sign-offs",
            "inputs": [{"name": "task", "default": "write it"}],
            "nodes": [
                {"id": "w", "type": "coder"},
                {"id": "legal", "type": "approval", "label": "Legal"},
                {"id": "tech", "type": "approval", "label": "Tech"},
                {"id": "j", "type": "custom", "label": "Publisher"},
            ],
            "edges": [edge("w", "legal"), edge("w", "tech"), edge("legal", "j"), edge("tech", "j")],
        }
    )


async def waiting_run(services: Services) -> str:
    run_id = await services.runner.start(two_sign_offs(), model="scripted")
    assert (await services.runner.wait(run_id)).status == "waiting"
    return run_id


async def test_two_approvals_decided_at_once_both_land_once_and_no_agent_runs_again(services: Services) -> None:
    for order in (("legal", "tech"), ("tech", "legal")):
        run_id = await waiting_run(services)
        decided = await asyncio.gather(
            *(services.runner.decide(run_id, node, Decision(approve=True, by=f"editor of {node}")) for node in order)
        )
        assert decided == list(order)
        state = await services.runner.wait(run_id)
        assert state.status == "succeeded", order
        events = await asyncio.to_thread(services.runs.events, run_id)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert sorted(e.node_id for e in events if isinstance(e, ApprovalDecided)) == ["legal", "tech"]
        assert [e.node_id for e in events if isinstance(e, NodeStarted)] == ["w", "j"]  # each agent called once
        publisher = fold(events).nodes["j"].latest
        assert publisher is not None and sorted(publisher.received_from) == ["legal", "tech"]


async def test_rejecting_one_of_two_approvals_ends_the_run_rejected_at_once(services: Services) -> None:
    run_id = await waiting_run(services)
    await services.runner.decide(run_id, "legal", Decision(approve=False, by="lawyer", note="not this"))
    state = await services.runner.wait(run_id)
    assert state.status == "rejected"  # not waiting on Tech, whose approval no longer matters
    assert state.nodes["tech"].status == "skipped"
    tech = state.nodes["tech"].latest
    assert (
        tech is not None
        and tech.skip_reason == "Legal was rejected, so the run ended: this approval is no longer asked"
    )
    assert state.nodes["j"].status == "skipped"  # the join never runs on half its inputs
    events = await asyncio.to_thread(services.runs.events, run_id)
    assert [e.node_id for e in events if isinstance(e, NodeStarted)] == ["w"]
    assert (await asyncio.to_thread(services.runs.get, run_id)).status == "rejected"


async def test_two_runners_on_one_database_decide_and_cancel_at_once_and_one_continues(settings: Settings) -> None:
    # Two processes' runners (the server's and the CLI's), each with its own lock: only the database orders them.
    a, b = [await asyncio.to_thread(open_services, settings) for _ in range(2)]
    try:
        run_id = await waiting_run(a)
        decided = await asyncio.gather(
            a.runner.decide(run_id, "legal", Decision(approve=True, by="a")),
            b.runner.decide(run_id, "tech", Decision(approve=True, by="b")),
        )
        assert decided == ["legal", "tech"]
        for _ in range(200):
            if (await asyncio.to_thread(a.runs.get, run_id)).status == "succeeded":
                break
            await asyncio.sleep(0.05)
        events = await asyncio.to_thread(a.runs.events, run_id)
        assert fold(events).status == "succeeded"
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert sorted(e.by for e in events if isinstance(e, ApprovalDecided)) == ["a", "b"]
        assert [e.node_id for e in events if isinstance(e, NodeStarted)] == ["w", "j"]

        other = await waiting_run(a)
        cancelled, refused = await asyncio.gather(
            a.runner.cancel_anywhere(other),
            b.runner.decide(other, "legal", Decision(approve=True, by="b")),
            return_exceptions=True,
        )
        assert cancelled in ("cancelled", "cancelling") and (isinstance(refused, NotWaitingError) or refused == "legal")
        for _ in range(200):
            if (await asyncio.to_thread(a.runs.get, other)).status == "cancelled":
                break
            await asyncio.sleep(0.05)
        events = await asyncio.to_thread(a.runs.events, other)
        assert fold(events).status == "cancelled"
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert [e.node_id for e in events if isinstance(e, NodeStarted)] == ["w"]
    finally:
        for services in (a, b):
            await services.runner.close()
            services.close()
