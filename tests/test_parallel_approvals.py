"""Two approvals side by side (one agent fans out to both, both join into one agent): decisions taken at once both land,
each once, with no agent run again; rejecting one with no "rejected" path ends the run rejected at once."""

from __future__ import annotations

import asyncio

from flowdeck.engine.approvals import Decision
from flowdeck.engine.events import ApprovalDecided, NodeStarted
from flowdeck.engine.state import fold
from flowdeck.engine.workflow import Workflow, parse_workflow
from flowdeck.services import Services


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
