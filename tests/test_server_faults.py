"""The server's runs through the HTTP API when things go wrong: the server killed with kill -9 mid-run, and the
database locked by another program mid-run. Runs end visibly, keep what was stored, and resume to success."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.appserver import free_port, wait_for_port
from tests.storagefaults import cli_env, write_lock

TOKEN = "fdk_test_token_0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SLOW = "scripted/delay=0.05"  # each agent streams for ~0.6 s


@contextmanager
def server(home: Path, log: Path, **env: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`flowdeck serve` on `home`: its base URL and its process (to kill)."""
    port = free_port()
    full_env = cli_env(home, FLOWDECK_API_TOKEN=TOKEN, **env)
    with log.open("a") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flowdeck.cli", "serve", "--port", str(port)], env=full_env, stdout=out, stderr=out
        )
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}/api/v1", proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def start(api: str) -> str:
    started = httpx.post(f"{api}/runs", json={"workflow": "research-code-review", "model": SLOW}, headers=AUTH)
    assert started.status_code == 202, started.text
    return str(started.json()["id"])


def events(api: str, run_id: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{api}/runs/{run_id}/events", headers=AUTH)
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def until(check: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


def resume(api: str, run_id: str) -> dict[str, Any]:
    answer = httpx.post(f"{api}/runs/{run_id}/resume", params={"wait": True}, headers=AUTH, timeout=60)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_kill_9_of_the_server_mid_run_leaves_runs_interrupted_intact_and_resumable(tmp_path: Path) -> None:
    home, log = tmp_path / "home", tmp_path / "server.log"
    with server(home, log) as (api, proc):
        first, second = start(api), start(api)
        until(lambda: any(e["type"] == "node_finished" for e in events(api, first)), "an agent finished")
        until(lambda: any(e["type"] == "token" for e in events(api, second)), "the second run streamed")
        seen = {run_id: events(api, run_id) for run_id in (first, second)}
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    with sqlite3.connect(home / "flowdeck.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    with server(home, log) as (api, _):
        listed = {r["id"]: r["status"] for r in httpx.get(f"{api}/runs", headers=AUTH).json()}
        assert listed == {first: "interrupted", second: "interrupted"}
        for run_id, before in seen.items():
            stored = events(api, run_id)
            assert [e["seq"] for e in stored] == list(range(1, len(stored) + 1))
            assert stored[: len(before)] == before  # everything seen before the kill is still there, unchanged
            assert stored[-1]["type"] == "run_interrupted"
            assert httpx.get(f"{api}/runs/{run_id}", headers=AUTH).json()["status"] == "interrupted"
            committed = {e["node_id"]: e["output"] for e in stored if e["type"] == "node_finished"}
            resumed = resume(api, run_id)
            assert resumed["status"] == "succeeded"
            assert {node_id: resumed["outputs"][node_id] for node_id in committed} == committed
            started = {e["node_id"] for e in events(api, resumed["id"]) if e["type"] == "node_started"}
            assert not started & set(committed), "an agent whose output was stored ran again"


def test_a_lock_held_mid_run_ends_the_run_visibly_through_the_api_and_it_resumes(tmp_path: Path) -> None:
    home, log = tmp_path / "home", tmp_path / "server.log"
    with server(home, log, FLOWDECK_BUSY_TIMEOUT="0.5") as (api, _):
        run_id = start(api)
        until(lambda: any(e["type"] == "token" for e in events(api, run_id)), "the run streamed")
        with write_lock(home / "flowdeck.db"):
            assert httpx.get(f"{api}/runs", headers=AUTH).status_code == 200  # reads go on
            until(lambda: httpx.get(f"{api}/runs/{run_id}", headers=AUTH).json()["status"] == "interrupted", "ended")
            end = events(api, run_id)[-1]
            assert end["type"] == "run_interrupted" and "the database is locked" in end["reason"]
            assert "resume the run once the database works again" in end["reason"]
        # Released: the server stores the run's end by itself.
        stored = lambda: {r["id"]: r["status"] for r in httpx.get(f"{api}/runs", headers=AUTH).json()}  # noqa: E731
        until(lambda: stored().get(run_id) == "interrupted", "the end stored", seconds=15)
        assert resume(api, run_id)["status"] == "succeeded"
