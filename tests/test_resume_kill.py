"""Kill -9 a run at several points, restart, resume: no committed output is lost or recomputed, the
database stays sound, and the interrupted run is never changed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from flowdeck.config import Settings
from flowdeck.engine.events import NodeStarted, event_from_dict
from flowdeck.engine.state import fold
from flowdeck.services import open_services

# (kill point, model every agent uses, the event line that triggers the kill, how many of them to see)
KILL_POINTS = [
    ("right after the run started", "scripted/delay=0.05", '"run_started"', 1),
    ("while the first agent streams", "scripted/delay=0.05", '"token"', 2),
    ("right after an agent finished", "scripted/delay=0.05", '"node_finished"', 1),
    ("after two agents finished", "scripted/delay=0.05", '"node_finished"', 2),
    ("during a retry wait", "scripted/fault=rate_limit,times=1,retry_after=2", '"node_retrying"', 1),
]
# Kills at fixed times after the run started (each agent takes ~0.6 s at delay=0.05; they finish at about 0.6,
# 1.2 and 1.8 s): these land before, during and just after the commits of agents' outputs.
TIMED = [0.3, 0.45, 0.5, 0.53, 0.56, 1.05, 1.1, 1.13, 1.16, 1.6]
KILL_POINTS += [(f"{t:.2f} s after the start", "scripted/delay=0.05", '"run_started"', -t) for t in TIMED]


def assert_sound(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"


@pytest.mark.parametrize(("point", "model", "trigger", "count"), KILL_POINTS, ids=[k[0] for k in KILL_POINTS])
def test_kill_restart_resume(point: str, model: str, trigger: str, count: int, home: Path, settings: Settings) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    ledger = home.parent / "ledger.jsonl"
    env.update(FLOWDECK_HOME=str(home), LITELLM_LOCAL_MODEL_COST_MAP="True", FLOWDECK_SCRIPTED_LEDGER=str(ledger))
    env["FLOWDECK_SCRIPTED_DIRECT"] = "1"  # recovery is about the engine and storage: skip loading litellm
    cli = [sys.executable, "-m", "flowdeck.cli"]
    proc = subprocess.Popen(
        [*cli, "run", "research-code-review", "--json", "-m", model],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    after, count = (-count, 1) if count < 0 else (0.0, count)  # a timed point: kill that long after the trigger
    seen = 0
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        seen += trigger in line
        if seen >= count or time.monotonic() > deadline:
            break
    time.sleep(after)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert seen >= count, f"never reached the kill point: {point}"

    services = open_services(settings)  # the restart: start-up recovery
    try:
        [run_id] = services.recovered
        before = services.runs.events(run_id)
        committed = services.runs.outputs(run_id)
        assert services.runs.get(run_id).status == "interrupted"
        print(f"kill point '{point}': {len(committed)} output(s) committed: {sorted(committed)}")
        assert_sound(services.engine)
    finally:
        services.close()

    resumed = subprocess.run(
        [*cli, "runs", "resume", run_id, "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert resumed.returncode == 0, resumed.stderr
    events = [event_from_dict(json.loads(line)) for line in resumed.stdout.splitlines()]
    state = fold(events)
    assert state.status == "succeeded"
    called = {e.node_id for e in events if isinstance(e, NodeStarted)}
    assert not called & set(committed), "a finished agent called its model again"
    assert called | set(committed) == {"researcher", "coder", "reviewer"}, "an agent was lost"
    for node_id, output in committed.items():
        assert state.outputs()[node_id] == output

    # The scripted model's own ledger: an agent whose output was committed called the model exactly once.
    system_of = {}
    for event in [*before, *events]:
        if isinstance(event, NodeStarted):
            system_of[event.node_id] = next(m.content for m in event.messages if m.role == "system")[:80]
    calls = Counter(json.loads(line)["system"] for line in ledger.read_text().splitlines())
    for node_id in committed:
        assert calls[system_of[node_id]] == 1, f"{node_id} called its model {calls[system_of[node_id]]} times"
    assert all(calls[system_of[n]] >= 1 for n in ("researcher", "coder", "reviewer"))
    repeated = sorted(n for n in system_of if calls[system_of[n]] > 1)
    print(f"  model calls made again on resume (finished but not committed when killed): {repeated or 'none'}")

    services = open_services(settings)
    try:
        assert services.runs.events(run_id) == before  # the interrupted run is never changed
        assert services.recovered == []
        assert_sound(services.engine)
    finally:
        services.close()
