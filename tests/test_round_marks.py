"""Rounds of agents in nested loops (review-loop's coder and reviewer sit in the review loop, inside the sign-off's):
each shows the round of its innermost loop out of that loop's bound, and the pass of the loop around it, not its
execution index out of the product of the bounds ("round 4/9", found by the issue 21 attack)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner

from flowdeck.app.run_rounds import RoundBounds
from flowdeck.cli.main import main
from flowdeck.engine.approvals import Decision
from flowdeck.engine.state import fold
from flowdeck.services import Services
from flowdeck.templates import load_template

SCRIPT = "scripted/verdicts=revise,approve,revise,approve"  # each pass: the reviewer sends the code back once


def test_the_terminal_shows_the_round_of_the_innermost_loop_and_the_pass(home: Path) -> None:
    first = CliRunner().invoke(main, ["run", "review-loop", "--no-input", "-m", SCRIPT])
    assert first.exit_code == 3, first.stderr
    assert (
        " Coder       round 2/3 · done" in first.stderr and " Reviewer    round 2/3 · verdict: approve" in first.stderr
    )
    run_id = first.stderr.split("error: run ")[1].split()[0]
    again = CliRunner().invoke(main, ["runs", "approve", run_id, "--reject", "--note", "again", "--no-input"])
    assert again.exit_code == 3, again.stderr
    final = again.stderr.split("\n\n")[-2]  # the last drawing of the progress, before the run's summary line
    assert " Coder       round 2/3 · pass 2 · done" in final
    assert " Reviewer    round 2/3 · pass 2 · verdict: approve" in final
    assert " Sign-off    round 2/3 · Waiting for approval" in final
    assert "/9" not in again.stderr


async def test_the_canvas_marks_agents_and_loop_edges_with_the_round_of_their_loop(services: Services) -> None:
    runner = services.runner
    run_id = await runner.start(load_template("review-loop"), model=SCRIPT)
    assert (await runner.wait(run_id)).status == "waiting"
    await runner.decide(run_id, "approval", Decision(approve=False, by="editor", note="again"))
    assert (await runner.wait(run_id)).status == "waiting"
    state = fold(await asyncio.to_thread(services.runs.events, run_id))
    assert state.nodes["coder"].latest is not None and state.nodes["coder"].latest.index == 4
    marks = RoundBounds.of(state.workflow, state.handoffs)
    assert marks.agent_round(state.nodes["coder"], "coder") == {"round": 2, "rounds": 3}
    assert marks.agent_round(state.nodes["reviewer"], "reviewer") == {"round": 2, "rounds": 3}
    assert marks.agent_round(state.nodes["approval"], "approval") == {"round": 2, "rounds": 3}
    assert marks.agent_round(state.nodes["researcher"], "researcher") == {"round": 1}
    assert marks.edge_round("reviewer->coder", 2) == {"round": 2, "rounds": 3}  # taken once in each pass
    assert marks.edge_round("approval->coder", 1) == {"round": 2, "rounds": 3}
