"""Property tests (hypothesis) of random workflows with approval steps, decided at random: each time the run stops to
wait, a decision is stored and the run is continued from its log, as after a restart. Every run ends; the log is
gapless; no model call is made twice for what the log holds; the runs follow their edges as without approvals; and
the state folded from the whole log equals the state folded from the stored log."""

from __future__ import annotations

import asyncio
import random

from hypothesis import event, given
from hypothesis import strategies as st

from flowdeck.engine.approvals import Decision, decided_event
from flowdeck.engine.dag import Dag, build
from flowdeck.engine.events import ApprovalDecided, Event, NodeStarted, RunFinished, RunWaiting
from flowdeck.engine.run import Run
from flowdeck.engine.workflow import Workflow
from tests.test_routing_properties import (
    PROPERTIES,
    RandomModel,
    _every_agent_is_decided_within_its_bound,
    _handoffs_follow_conditions,
    _joins_run_and_skips_are_right,
    _the_log_folds_to_the_same_state,
    workflows,
)

MAX_DECISIONS = 200  # far above what the loops allow (3 rounds, nested twice, a few approvals)


@PROPERTIES
@given(wf=workflows(approvals=True), seed=st.integers(0, 10_000))
def test_random_runs_with_approvals_end_and_replay_nothing(wf: Workflow, seed: int) -> None:
    dag = build(wf)
    log = asyncio.run(asyncio.wait_for(_drive(dag, seed), 10))
    assert isinstance(log[-1], RunFinished)
    decisions = sum(isinstance(e, ApprovalDecided) for e in log)
    event(f"status {log[-1].status}")
    event(f"decisions: {'none' if not decisions else 'one' if decisions == 1 else 'several'}")
    assert [e.seq for e in log] == list(range(1, len(log) + 1))
    calls = [(e.node_id, e.execution, e.attempt) for e in log if isinstance(e, NodeStarted)]
    assert len(calls) == len(set(calls)), "a model call was made again for what the log held"
    _every_agent_is_decided_within_its_bound(dag, log)
    _handoffs_follow_conditions(dag, log)
    _joins_run_and_skips_are_right(dag, log, cancelled=False)
    _the_log_folds_to_the_same_state(log)


async def _drive(dag: Dag, seed: int) -> list[Event]:
    rng = random.Random(seed)
    log: list[Event] = []
    run = Run(dag, caller=RandomModel(seed), default_model="random")
    for _ in range(MAX_DECISIONS):
        while batch := await run.next_batch():
            log.extend(batch)
        if not isinstance(log[-1], RunWaiting):
            return log
        approve = rng.random() < 0.5
        decision = Decision(approve=approve, by="property", note="" if approve else f"note {rng.randint(0, 9)}")
        log.append(decided_event(log, rng.choice(log[-1].waiting), decision))
        run = Run(dag, caller=RandomModel(seed), default_model="random", run_id=log[0].run_id, prior=log)
    raise AssertionError("the run never ended")
