"""Two flowdeck processes on one database at once: both runs complete, neither disturbs the other, and a
third process starting up (recovery) leaves runs that are going, and runs that finished, alone."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import text

from flowdeck.config import Settings
from flowdeck.services import open_services


def test_two_processes_write_one_database_soundly(home: Path, settings: Settings) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(FLOWDECK_HOME=str(home), LITELLM_LOCAL_MODEL_COST_MAP="True", FLOWDECK_SCRIPTED_DIRECT="1")
    cli = [sys.executable, "-m", "flowdeck.cli"]
    runs = [
        subprocess.Popen(
            [*cli, "run", template, "--json", "-m", "scripted/delay=0.15"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for template in ("research-code-review", "fan-out-review")
    ]
    deadline = time.monotonic() + 30
    while True:  # a third process starts up (recovery runs) while both runs go
        listing = subprocess.run([*cli, "runs"], env=env, capture_output=True, text=True, timeout=60)
        assert listing.returncode == 0, listing.stderr
        if listing.stdout.count("running") == 2 or time.monotonic() > deadline:
            break
    assert listing.stdout.count("running") == 2, listing.stdout  # a live process's runs are not "interrupted"
    assert "interrupted" not in listing.stdout
    for proc in runs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err

    services = open_services(settings)
    try:
        assert services.recovered == []
        summaries = services.runs.recent()
        assert sorted(s.status for s in summaries) == ["succeeded", "succeeded"]
        for summary in summaries:
            seqs = [e.seq for e in services.runs.events(summary.id)]
            assert seqs == list(range(1, len(seqs) + 1)), "events are stored in order with no gap"
            assert seqs[-1] == summary.last_seq
        finished = {s.id: services.runs.events(s.id) for s in summaries}
        with services.engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    finally:
        services.close()
    again = open_services(settings)  # another start-up: finished runs are never changed by recovery
    try:
        assert {s.id: again.runs.events(s.id) for s in again.runs.recent()} == finished
    finally:
        again.close()
