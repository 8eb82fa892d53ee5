"""Approvals through the server: the HTTP API decides them (editors only), and a run that waits survives kill -9 of
the server as waiting; after a restart, `flowdeck runs approve` finishes it and no model call is made twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.storagefaults import cli_env
from tests.test_server_faults import AUTH, events, server, until

VIEWER = "fdk_viewer_token_0123456789abcdef"


def start_waiting(api: str, model: str = "scripted/verdicts=approve") -> str:
    started = httpx.post(f"{api}/runs", json={"workflow": "review-loop", "model": model, "wait": True}, headers=AUTH)
    assert started.status_code == 200, started.text
    assert started.json()["status"] == "waiting"
    return str(started.json()["id"])


def decide(api: str, run_id: str, body: dict[str, Any], node: str = "approval", **headers: str) -> httpx.Response:
    return httpx.post(f"{api}/runs/{run_id}/approvals/{node}", json=body, headers=headers or AUTH, timeout=60)


def test_the_api_decides_approvals_and_refuses_what_does_not_wait(tmp_path: Path) -> None:
    home, log = tmp_path / "home", tmp_path / "server.log"
    with server(home, log) as (api, _):
        run_id = start_waiting(api)
        got = httpx.get(f"{api}/runs/{run_id}", headers=AUTH).json()
        assert got["status"] == "waiting"
        sign = next(n for n in got["nodes"] if n["id"] == "approval")
        assert sign["status"] == "waiting" and sign["summary"] == "Waiting for approval"

        bad = decide(api, run_id, {"decision": "reject", "text": "x"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "text"  # no edited text with reject
        assert decide(api, run_id, {"decision": "maybe"}).status_code == 422
        assert decide(api, run_id, {"decision": "approve"}, node="coder").status_code == 409

        rejected = decide(api, run_id, {"decision": "reject", "note": "add a docstring", "wait": True})
        assert rejected.status_code == 200, rejected.text
        assert rejected.json()["status"] == "waiting"  # the coder revised, and the sign-off asks again
        coder = [e for e in events(api, run_id) if e["type"] == "node_started" and e["node_id"] == "coder"]
        assert "add a docstring" in coder[-1]["messages"][-1]["content"]

        approved = decide(api, run_id, {"decision": "approve", "text": "final code", "wait": True})
        assert approved.status_code == 200 and approved.json()["status"] == "succeeded"
        assert approved.json()["outputs"]["approval"] == "final code"
        again = decide(api, run_id, {"decision": "approve"})
        assert again.status_code == 409 and "not waiting for approval" in again.json()["detail"]
        listed = {r["id"]: r["status"] for r in httpx.get(f"{api}/runs", headers=AUTH).json()}
        assert listed[run_id] == "succeeded"

        other = start_waiting(api)
        cancelled = httpx.post(f"{api}/runs/{other}/cancel", headers=AUTH, timeout=60)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text
        sign = next(n for n in cancelled.json()["nodes"] if n["id"] == "approval")
        assert sign["status"] == "skipped" and "cancelled while this approval waited" in sign["summary"]
        assert decide(api, other, {"decision": "approve"}).status_code == 409


def test_a_viewer_sees_a_waiting_run_and_cannot_decide_it(tmp_path: Path) -> None:
    home, log = tmp_path / "home", tmp_path / "server.log"
    viewer = {"Authorization": f"Bearer {_viewer_token(home)}"}
    with server(home, log) as (api, _):
        run_id = start_waiting(api)
        assert httpx.get(f"{api}/runs/{run_id}", headers=viewer).json()["status"] == "waiting"
        refused = decide(api, run_id, {"decision": "approve"}, **viewer)
        assert refused.status_code == 403 and "deciding approvals needs an editor token" in refused.json()["detail"]
        assert httpx.get(f"{api}/runs/{run_id}", headers=AUTH).json()["status"] == "waiting"


def _viewer_token(home: Path) -> str:
    made = subprocess.run(
        [sys.executable, "-m", "flowdeck.cli", "auth", "token", "create", "reader", "--viewer"],
        env=cli_env(home),
        check=True,
        capture_output=True,
        text=True,
    )
    return next(word for word in made.stdout.split() if word.startswith("fdk_"))


def test_kill_9_while_a_run_waits_then_runs_approve_finishes_it_with_no_call_repeated(tmp_path: Path) -> None:
    home, log, ledger = tmp_path / "home", tmp_path / "server.log", tmp_path / "ledger.jsonl"
    env = {"FLOWDECK_SCRIPTED_LEDGER": str(ledger)}
    with server(home, log, **env) as (api, proc):
        run_id = start_waiting(api)
        before = events(api, run_id)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    calls_before = ledger.read_text().splitlines()
    assert len(calls_before) == 3  # researcher, coder, reviewer: then the sign-off waits

    with server(home, log, **env) as (api, _):
        listed = {r["id"]: r["status"] for r in httpx.get(f"{api}/runs", headers=AUTH).json()}
        assert listed == {run_id: "waiting"}  # not interrupted
        assert events(api, run_id) == before
        done = subprocess.run(
            [sys.executable, "-m", "flowdeck.cli", "runs", "approve", run_id, "--note", "ship it"],
            env=cli_env(home, **env),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert f"run {run_id} succeeded" in done.stderr
        until(lambda: httpx.get(f"{api}/runs/{run_id}", headers=AUTH).json()["status"] == "succeeded", "seen")
        stored = events(api, run_id)
        assert [e["seq"] for e in stored] == list(range(1, len(stored) + 1))
        assert stored[: len(before)] == before
        assert not [e for e in stored[len(before) :] if e["type"] == "node_started"]
    assert ledger.read_text().splitlines() == calls_before  # no model call made again, none made after
