"""Kill -9 a run at several points, restart, resume: no committed output is lost or recomputed, the
database stays sound, and the interrupted run is never changed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
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


def assert_sound(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"


@pytest.mark.parametrize(("point", "model", "trigger", "count"), KILL_POINTS, ids=[k[0] for k in KILL_POINTS])
def test_kill_restart_resume(point: str, model: str, trigger: str, count: int, home: Path, settings: Settings) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(FLOWDECK_HOME=str(home), LITELLM_LOCAL_MODEL_COST_MAP="True")
    cli = [sys.executable, "-m", "flowdeck.cli"]
    proc = subprocess.Popen(
        [*cli, "run", "research-code-review", "--json", "-m", model],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    seen = 0
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        seen += trigger in line
        if seen >= count or time.monotonic() > deadline:
            break
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

    services = open_services(settings)
    try:
        assert services.runs.events(run_id) == before  # the interrupted run is never changed
        assert services.recovered == []
        assert_sound(services.engine)
    finally:
        services.close()
