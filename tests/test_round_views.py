"""What the run panel's views make of a run with rounds (issue 21), from the events of real runs on the scripted
model: the log's lines, the timeline's rows, the handoffs' rounds, compare's rows and the replay's rounds."""

from __future__ import annotations

from typing import Any

from flowdeck.app.compare import compare_rows
from flowdeck.app.replay import round_at, round_starts
from flowdeck.components.handoffs import handoff_steps
from flowdeck.components.log import as_text, log_line
from flowdeck.components.rounds import feedback, loop_edges
from flowdeck.components.timeline import timeline_rows
from flowdeck.engine.events import Event, Handoff
from flowdeck.engine.run import Run, drain
from flowdeck.engine.state import fold
from flowdeck.engine.workflow import Workflow, parse_workflow
from flowdeck.models.scripted import ScriptedCaller
from flowdeck.templates import load_template

THREE_ROUNDS = "scripted/verdicts=revise,revise,approve"


def review_loop() -> Workflow:
    """The review-loop template without its sign-off: the coder and reviewer's loop alone."""
    data = load_template("review-loop").to_dict()
    data["nodes"] = [n for n in data["nodes"] if n["type"] != "approval"]
    data["edges"] = [e for e in data["edges"] if "approval" not in (e["source"], e["target"])]
    return parse_workflow(data)


async def run(workflow: Workflow, model: str) -> list[Event]:
    return await drain(Run(workflow, caller=ScriptedCaller(), default_model=model))


async def test_the_log_names_the_round_of_an_agent_that_ran_more_than_once() -> None:
    events = await run(review_loop(), THREE_ROUNDS)
    labels = {"researcher": "Researcher", "coder": "Coder", "reviewer": "Reviewer"}
    lines = [log_line(e, labels, events[0].ts) for e in events]
    rows = [row.split("\t") for row in as_text(lines).splitlines()]
    finished = [(agent, text.split(" · ")[0]) for _, _, agent, _, text in rows if "finished in" in text]
    assert finished == [
        ("Researcher", "finished in 0.00 s"),
        ("Coder (round 1)", "finished in 0.00 s"),
        ("Reviewer (round 1)", "verdict revise"),
        ("Coder (round 2)", "finished in 0.00 s"),
        ("Reviewer (round 2)", "verdict revise"),
        ("Coder (round 3)", "finished in 0.00 s"),
        ("Reviewer (round 3)", "verdict approve"),
    ]
    assert {line["round"] for line in lines if line["agent"] == "run"} == {None}


async def test_a_loop_out_of_rounds_is_a_warning_line_of_its_last_round() -> None:
    events = await run(review_loop(), "scripted/verdicts=revise")
    lines = [log_line(e, {"reviewer": "Reviewer"}, events[0].ts) for e in events]
    stopped = [line for line in lines if line["text"].startswith("stopped after 3 rounds")]
    assert [(line["agent"], line["round"], line["level"]) for line in stopped] == [("Reviewer", 3, "warning")]


async def test_the_timeline_has_a_row_per_execution_in_the_order_they_began() -> None:
    events = await run(review_loop(), THREE_ROUNDS)
    state = fold(events)
    rows = timeline_rows(state, state.labels)
    assert [row.name for row in rows] == [
        "Researcher",
        "Coder · round 1",
        "Reviewer · round 1",
        "Coder · round 2",
        "Reviewer · round 2",
        "Coder · round 3",
        "Reviewer · round 3",
    ]
    reviewer = [row.execution for row in rows if row.name.startswith("Reviewer")]
    assert [ex.verdict for ex in reviewer if ex is not None] == ["revise", "revise", "approve"]
    said = feedback(state.nodes["reviewer"].executions[0])
    assert said is not None and said.startswith("Review of the work on") and "Verdict" not in said


async def test_skipped_agents_come_last_in_the_timeline_with_their_reason() -> None:
    state = fold(await run(load_template("triage"), "scripted/verdicts=technical"))
    rows = timeline_rows(state, state.labels)
    assert [row.name for row in rows] == [
        "Triage",
        "Technical specialist",
        "Reply writer",
        "Billing specialist",
        "General support",
    ]
    skipped = rows[3].execution
    assert skipped is not None and (skipped.status, skipped.skip_reason) == ("skipped", "Triage chose technical")


async def test_each_handoff_has_its_round_and_a_loop_edge_sends_the_feedback_back() -> None:
    events = await run(review_loop(), THREE_ROUNDS)
    handoffs = [e for e in events if isinstance(e, Handoff)]
    for loops in (None, loop_edges(fold(events).workflow)):  # with the workflow, or from the handoffs alone
        steps = handoff_steps(handoffs, loops)
        assert [(s.handoff.node_id, s.round, s.to_round, s.back) for s in steps] == [
            ("researcher", 1, 1, False),
            ("coder", 1, 1, False),
            ("reviewer", 1, 2, True),
            ("coder", 2, 2, False),
            ("reviewer", 2, 3, True),
            ("coder", 3, 3, False),
        ]
        back = steps[2]
        assert back.verdict == "revise" and back.feedback.startswith("Review of the work on")
        assert "Verdict" not in back.feedback


def nested() -> Workflow:
    """a → b → c → d; c sends the work back to b (the inner loop), d back to a (the outer one)."""
    node: Any = lambda id, type: {"id": id, "type": type}  # noqa: E731
    return parse_workflow(
        {
            "format": 2,
            "name": "nested",
            "inputs": [{"name": "task", "default": "t"}],
            "nodes": [node("a", "coder"), node("b", "coder"), node("c", "reviewer"), node("d", "reviewer")],
            "edges": [
                {"id": "ab", "source": "a", "target": "b"},
                {"id": "bc", "source": "b", "target": "c"},
                {"id": "cd", "source": "c", "target": "d", "condition": {"verdict": "approve"}},
                {
                    "id": "cb",
                    "source": "c",
                    "target": "b",
                    "condition": {"verdict": "revise"},
                    "loop": {"max_rounds": 3},
                },
                {
                    "id": "da",
                    "source": "d",
                    "target": "a",
                    "condition": {"verdict": "revise"},
                    "loop": {"max_rounds": 2},
                },
            ],
        }
    )


async def test_with_the_workflow_nested_loops_hand_over_in_the_right_rounds() -> None:
    events = await run(nested(), "scripted/verdicts=revise,approve,revise,approve")
    state = fold(events)
    handoffs = [e for e in events if isinstance(e, Handoff)]
    steps = handoff_steps(handoffs, loop_edges(state.workflow))
    assert [(s.handoff.edge_id, s.round, s.to_round) for s in steps if s.back] == [
        ("cb", 1, 2),
        ("da", 1, 2),
        ("cb", 3, 4),
    ]
    # Round 2 of a hands over to b's third execution: a forward edge, though b ran twice already.
    second = next(s for s in steps if s.handoff.edge_id == "ab" and s.round == 2)
    assert (second.back, second.to_round) == (False, 3)


async def test_compare_pairs_each_agents_rounds() -> None:
    two = fold(await run(review_loop(), "scripted/verdicts=revise,approve"))
    three = fold(await run(review_loop(), THREE_ROUNDS))
    rows = compare_rows(two, three)
    assert [(row.node_id, row.execution) for row in rows] == [
        ("researcher", 1),
        ("coder", 1),
        ("coder", 2),
        ("coder", 3),
        ("reviewer", 1),
        ("reviewer", 2),
        ("reviewer", 3),
    ]
    assert not rows[0].several and rows[1].several
    missing = rows[3]
    assert missing.outputs[0] is None and missing.summaries[0] == "no round 3 in this run"
    assert missing.outputs[1] is not None and missing.summaries[1].startswith("done in")
    approved, revised = rows[5].outputs
    assert approved is not None and approved.endswith("Verdict: approve")
    assert revised is not None and revised.endswith("Verdict: revise")


async def test_the_replay_knows_where_each_round_starts() -> None:
    events = await run(review_loop(), THREE_ROUNDS)
    starts = round_starts(events)
    assert len(starts) == 3 and starts[0] == 0
    for index, start in enumerate(starts[1:], start=2):
        first = events[start - 1]  # the round's first event: its coder starting again
        assert (first.type, getattr(first, "node_id", None), getattr(first, "execution", None)) == (
            "node_started",
            "coder",
            index,
        )
    assert [round_at(starts, pos) for pos in (0, starts[1] - 1, starts[1], starts[2], len(events))] == [1, 1, 2, 3, 3]
    assert round_starts(await run(load_template("research-code-review"), "scripted")) == [0]


async def test_compare_says_why_an_agent_was_skipped() -> None:
    billing = fold(await run(load_template("triage"), "scripted/verdicts=billing"))
    technical = fold(await run(load_template("triage"), "scripted/verdicts=technical"))
    rows = {row.node_id: row for row in compare_rows(billing, technical)}
    assert rows["technical"].summaries[0] == "skipped: Triage chose billing"
    assert rows["technical"].summaries[1].startswith("done in")
    assert rows["billing"].summaries[1] == "skipped: Triage chose technical"
    assert rows["billing"].outputs[1] is None and not rows["billing"].several


async def test_the_progress_line_says_the_round_while_a_loop_goes_on() -> None:
    from flowdeck.app.run_view import progress_text

    events = await run(review_loop(), THREE_ROUNDS)
    second = next(i for i, e in enumerate(events) if getattr(e, "execution", 1) == 2)
    assert " · round 2 · " in progress_text(fold(events[: second + 1]))
    assert "round" not in progress_text(fold(events[:2]))
    assert "round" not in progress_text(fold(events))  # ended: the counts say it all


async def test_a_replayed_runs_elapsed_time_is_the_replays_not_the_time_of_day() -> None:
    from flowdeck.app.run_view import progress_text

    events = await run(review_loop(), THREE_ROUNDS)
    middle = fold(events[: len(events) // 2])
    shown = progress_text(middle, middle.last_ts)
    assert f" · {middle.last_ts - middle.started_at:.1f} s · " in shown  # type: ignore[operator]
    assert " · 0.0 s · " in progress_text(middle, middle.started_at)


async def test_a_run_whose_loop_ran_out_of_rounds_says_so_in_its_progress_line() -> None:
    from flowdeck.app.run_view import progress_text

    ran_out = fold(await run(review_loop(), "scripted/verdicts=revise,revise,revise"))
    assert progress_text(ran_out).startswith("Succeeded: 3/3 agents · a loop stopped after 3 rounds · ")
    approved = fold(await run(review_loop(), THREE_ROUNDS))
    assert "stopped" not in progress_text(approved)
