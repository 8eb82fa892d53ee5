"""Ctrl+C while the command line is still checking a large workflow file (issue 20): `validate` and `run` stop at
once with exit code 130 and one line, however long the check would have gone on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from flowdeck import load
from flowdeck.engine.dag import build

LINE = "Review {{ inputs.task | code_block | first_lines(20) }} for {{ inputs.task }}; then some prose here.\n"
AGENTS = 40
TEMPLATE_CHARS = 70_000
CHECK_AT_LEAST = 5.0  # seconds the check alone must take for the signal to land in it
STOPPED_WITHIN = 2.0  # seconds after the signal: generous, on a loaded machine


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """A workflow file of 40 agents with 70,000-character prompt templates, and how long checking it takes."""
    salt = uuid.uuid4().hex  # templates this process has never checked (the check keeps what it found)
    body = (LINE * (TEMPLATE_CHARS // len(LINE) + 1))[:TEMPLATE_CHARS]
    nodes = [
        {"id": f"n{i}", "type": "custom", "config": {"prompt_template": f"{body[: body.rfind(chr(10))]} {salt} {i}"}}
        for i in range(AGENTS)
    ]
    path = tmp_path_factory.mktemp("interrupt") / "big.json"
    path.write_text(json.dumps({"format": 1, "name": "big", "inputs": [{"name": "task"}], "nodes": nodes}))
    start = time.monotonic()
    build(load(path))
    took = time.monotonic() - start
    print(f"checking {path.stat().st_size:,} bytes ({AGENTS} templates of {TEMPLATE_CHARS:,} chars): {took:.1f} s")
    return path, took


@pytest.mark.parametrize("command", [["validate"], ["run", "--input", "task=t"]], ids=["validate", "run"])
def test_ctrl_c_during_the_check_of_a_large_workflow_stops_at_once(
    big: tuple[Path, float], command: list[str], tmp_path: Path
) -> None:
    path, check = big
    assert check > CHECK_AT_LEAST, f"the check took {check:.1f} s: make the file larger for this test to mean much"
    env = _env(tmp_path)
    startup = _startup(env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowdeck.cli", command[0], str(path), *command[1:]],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(startup + 1.5)  # its imports done, well inside the check
        assert proc.poll() is None, proc.communicate()
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        stopped = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    print(f"{command[0]}: start-up {startup:.1f} s, check alone {check:.1f} s, exit {stopped:.2f} s after Ctrl+C")
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["Stopped."], err
    assert stopped < STOPPED_WITHIN, f"{stopped:.2f} s after Ctrl+C"
    if command[0] == "run":
        listed = subprocess.run(
            [sys.executable, "-m", "flowdeck.cli", "runs"], env=env, capture_output=True, text=True, timeout=60
        )
        assert "no runs yet" in listed.stdout, listed  # nothing started, nothing half-stored


def _startup(env: dict[str, str]) -> float:
    """How long the command line takes to check a small workflow: its start-up, on this machine now."""
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "flowdeck.cli", "validate", "spec-code-tests"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return time.monotonic() - start


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "FLOWDECK_"))}
    env.update(FLOWDECK_HOME=str(tmp_path / "home"), FLOWDECK_MODEL="scripted", LITELLM_LOCAL_MODEL_COST_MAP="True")
    return env


@pytest.mark.parametrize("command", [["run", "research-code-review"], ["auth", "logout-all"]], ids=["run", "logout"])
def test_ctrl_c_while_another_program_holds_the_database_lock_stops_at_once(command: list[str], tmp_path: Path) -> None:
    # SQLite waits for the lock in C, for up to its busy timeout: Python ran the Ctrl+C handler only after it (an
    # attack measured 5.3-9.7 s, then "database is locked" and exit 1).
    import sqlite3

    env = _env(tmp_path) | {"FLOWDECK_BUSY_TIMEOUT": "30"}
    startup = _startup(env)
    made = subprocess.run(  # the database, with a run in it
        [sys.executable, "-m", "flowdeck.cli", "run", "research-code-review"], env=env, capture_output=True, timeout=120
    )
    assert made.returncode == 0, made.stderr
    lock = sqlite3.connect(tmp_path / "home" / "flowdeck.db", isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flowdeck.cli", *command], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            time.sleep(startup + 2.0)  # waiting for the lock by now
            assert proc.poll() is None, proc.communicate()
            sent = time.monotonic()
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
            stopped = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    finally:
        lock.rollback()
        lock.close()
    print(f"{command}: exit {stopped:.2f} s after Ctrl+C, the database locked")
    assert proc.returncode == 130, err
    assert err.decode().strip().splitlines()[-1] == "Stopped.", err
    assert stopped < STOPPED_WITHIN + 2.5, f"{stopped:.2f} s after Ctrl+C"  # a run has 2 s to store its cancel
