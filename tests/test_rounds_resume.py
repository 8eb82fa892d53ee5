"""Rounds and the durable log: a looping run killed in round 2 resumes in round 2 and calls the model only for what
has no committed output; partial runs and the output cache work with rounds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from flowdeck.config import Settings
from flowdeck.engine.events import NodeFinished, NodeStarted, event_from_dict
from flowdeck.engine.state import fold
from flowdeck.engine.workflow import Workflow, parse_workflow
from flowdeck.services import Services, open_services
from flowdeck.templates import load_template

SCRIPT = "scripted/delay=0.05,verdicts=revise,revise,approve"


def test_a_run_killed_in_round_2_resumes_in_round_2(home: Path, settings: Settings) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    ledger = home.parent / "ledger.jsonl"
    env.update(FLOWDECK_HOME=str(home), LITELLM_LOCAL_MODEL_COST_MAP="True", FLOWDECK_SCRIPTED_LEDGER=str(ledger))
    env["FLOWDECK_SCRIPTED_DIRECT"] = "1"
    cli = [sys.executable, "-m", "flowdeck.cli"]
    proc = subprocess.Popen(
        [*cli, "run", "review-loop", "--json", "-m", SCRIPT], env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    for line in proc.stdout:  # killed while the coder works on its second round
        if ('"node_started"' in line and '"node_id":"coder","execution":2' in line) or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()

    services = open_services(settings)
    try:
        [run_id] = services.recovered
        before = fold(services.runs.events(run_id))
    finally:
        services.close()
    assert before.status == "interrupted"
    assert [ex.index for ex in before.nodes["coder"].executions] == [1, 2]
    assert before.nodes["coder"].executions[1].output is None  # killed mid-answer

    resumed = subprocess.run(
        [*cli, "runs", "resume", run_id, "--json", "--approve"], env=env, capture_output=True, text=True, timeout=120
    )
    assert resumed.returncode == 0, resumed.stderr
    events = [event_from_dict(json.loads(line)) for line in resumed.stdout.splitlines()]
    state = fold(events)
    assert state.status == "succeeded" and state.label == f"Resume of {run_id}"
    finished = [(e.node_id, e.execution, e.cached) for e in events if isinstance(e, NodeFinished)]
    assert finished == [
        ("researcher", 1, True),
        ("coder", 1, True),
        ("reviewer", 1, True),
        ("coder", 2, False),
        ("reviewer", 2, False),
        ("coder", 3, False),
        ("reviewer", 3, False),
        ("approval", 1, False),  # approved by --approve
    ]
    assert [e.verdict for e in events if isinstance(e, NodeFinished) and e.node_id == "reviewer"] == [
        "revise",
        "revise",
        "approve",
    ]
    # Round 2 of the resumed run got the feedback of round 1, as the killed run's round 2 did.
    killed_round_2 = before.nodes["coder"].executions[1].messages
    resumed_round_2 = next(e for e in events if isinstance(e, NodeStarted) and e.node_id == "coder").messages
    assert resumed_round_2 == killed_round_2
    # The model's own ledger: no call that completed was made again.
    inputs = [json.loads(line)["input"] for line in ledger.read_text().splitlines()]
    assert len(inputs) == 7 and len(set(inputs)) == 7  # 3 before the kill, 4 after


async def test_the_output_cache_holds_every_round(services: Services) -> None:
    runner = services.runner
    wf = load_template("review-loop")
    first = await runner.wait(await runner.start(wf, model="scripted/verdicts=revise,approve", use_cache=True))
    events = [
        e
        async for e in runner.subscribe(
            await runner.start(wf, model="scripted/verdicts=revise,approve", use_cache=True)
        )
    ]
    finished = [e for e in events if isinstance(e, NodeFinished)]
    assert [(e.node_id, e.execution) for e in finished] == [
        ("researcher", 1),
        ("coder", 1),
        ("reviewer", 1),
        ("coder", 2),
        ("reviewer", 2),
    ]
    assert all(e.cached for e in finished) and [e.verdict for e in finished][2::2] == ["revise", "approve"]
    assert fold(events).outputs() == first.outputs()


async def test_run_from_here_and_this_node_only_work_on_a_looping_run(services: Services) -> None:
    runner = services.runner
    wf = load_template("triage")
    first = await runner.wait(await runner.start(wf, model="scripted/verdicts=technical"))
    # From the writer: the triage and the technical specialist are reused, the others stay skipped.
    again = await runner.wait(await runner.rerun(first.run_id, "writer"))
    assert again.status == "succeeded"
    assert [again.nodes[n].status for n in ("triage", "technical", "writer")] == ["succeeded"] * 3
    assert again.nodes["triage"].latest is not None and again.nodes["triage"].latest.cached
    assert again.nodes["billing"].summary() == "skipped: Triage chose technical"
    # The review loop from its reviewer, which sends the work back to the coder (reused in round 1 only).
    loop = await runner.wait(await runner.start(_scripted("approve")))
    rerun = await runner.wait(await runner.rerun(loop.run_id, "reviewer", workflow=_scripted("revise,approve")))
    coder = rerun.nodes["coder"].executions
    assert [(ex.index, ex.cached) for ex in coder] == [(1, True), (2, False)]
    assert [ex.verdict for ex in rerun.nodes["reviewer"].executions] == ["revise", "approve"]


def _scripted(verdicts: str) -> Workflow:
    data = load_template("review-loop").to_dict()
    data["default_model"] = f"scripted/verdicts={verdicts}"
    return parse_workflow(data)
