"""Approvals and cancels of one run from two processes at once (the server and `flowdeck runs approve`): each decision
lands once, whichever process drives the run; the server cancels a run that the CLI drives; no agent runs again."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.storagefaults import cli, cli_env
from tests.test_server_faults import AUTH, events, server, until

SLOW = "scripted/delay=0.3"  # the agent after Legal's approval streams for a few seconds


def two_sign_offs(path: Path) -> Path:
    """w fans out to two approvals; Legal's leads through a slow agent, and both join into the Publisher."""

    def edge(source: str, target: str) -> dict[str, str]:
        return {"id": f"{source}->{target}", "source": source, "target": target}

    workflow = {
        "format": 2,
        "name": "two sign-offs",
        "inputs": [{"name": "task", "default": "write it"}],
        "nodes": [
            {"id": "w", "type": "coder"},
            {"id": "legal", "type": "approval", "label": "Legal"},
            {"id": "tech", "type": "approval", "label": "Tech"},
            {"id": "s", "type": "custom", "label": "Summary", "config": {"model": SLOW}},
            {"id": "j", "type": "custom", "label": "Publisher"},
        ],
        "edges": [edge("w", "legal"), edge("w", "tech"), edge("legal", "s"), edge("s", "j"), edge("tech", "j")],
    }
    path.write_text(json.dumps(workflow))
    return path


@contextmanager
def waiting(tmp_path: Path) -> Iterator[tuple[str, str, Path, dict[str, str]]]:
    """A server on a home where `flowdeck run --no-input` left a run waiting at both approvals: the API's address, the
    run's id, the home and the CLI's environment (with the scripted model's ledger)."""
    home, ledger = tmp_path / "home", tmp_path / "ledger.jsonl"
    env = cli_env(home, FLOWDECK_SCRIPTED_LEDGER=str(ledger))
    code, out, err = cli(home, "run", str(two_sign_offs(tmp_path / "two.json")), "--no-input", "--json", env=env)
    assert code == 3, err
    run_id = json.loads(out.splitlines()[0])["run_id"]
    with server(home, tmp_path / "server.log", FLOWDECK_SCRIPTED_LEDGER=str(ledger)) as (api, _):
        yield api, run_id, home, env


def approve_in_cli(home: Path, env: dict[str, str], run_id: str, node: str) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "flowdeck.cli", "runs", "approve", run_id, "--node", node, "--no-input"]
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def decide(api: str, run_id: str, node: str, **body: Any) -> httpx.Response:
    return httpx.post(
        f"{api}/runs/{run_id}/approvals/{node}", json={"decision": "approve", **body}, headers=AUTH, timeout=60
    )


def status(api: str, run_id: str) -> str:
    return str(httpx.get(f"{api}/runs/{run_id}", headers=AUTH).json()["status"])


def one_story(api: str, run_id: str, ledger: Path) -> list[dict[str, Any]]:
    """The run's log: gapless, ended once at its end, and no model call made twice (the scripted model's ledger)."""
    stored = events(api, run_id)
    assert [e["seq"] for e in stored] == list(range(1, len(stored) + 1))
    assert [i for i, e in enumerate(stored) if e["type"] == "run_finished"] == [len(stored) - 1]
    calls = [(call["system"], call["input"]) for call in map(json.loads, ledger.read_text().splitlines())]
    assert len(calls) == len(set(calls)), "an agent was called again"
    return stored


def test_the_server_and_the_cli_decide_the_two_approvals_at_once_and_both_land(tmp_path: Path) -> None:
    for first in ("server", "cli"):  # the one that continues the run first drives it while the other decides
        case = tmp_path / first
        case.mkdir()
        with waiting(case) as (api, run_id, home, env):
            with ThreadPoolExecutor(2) as pool:
                if first == "server":
                    answer: Future[httpx.Response] = pool.submit(decide, api, run_id, "legal", note="ok")
                    until(lambda: status(api, run_id) == "running", "the server drives the run")
                    proc = approve_in_cli(home, env, run_id, "tech")
                else:
                    proc = approve_in_cli(home, env, run_id, "legal")
                    until(lambda: status(api, run_id) == "running", "the CLI drives the run")
                    answer = pool.submit(decide, api, run_id, "tech", note="ok")
                _, err = proc.communicate(timeout=120)
                assert answer.result().status_code == 202, answer.result().text
            assert proc.returncode == 0, err
            until(lambda: status(api, run_id) == "succeeded", "the run ended", 60)
            stored = one_story(api, run_id, case / "ledger.jsonl")
            decided = sorted(e["node_id"] for e in stored if e["type"] == "approval_decided")
            assert decided == ["legal", "tech"], first
            assert [e["node_id"] for e in stored if e["type"] == "node_started"] == ["w", "s", "j"], first


def test_the_server_cancels_a_run_that_the_cli_drives(tmp_path: Path) -> None:
    with waiting(tmp_path) as (api, run_id, home, env):
        proc = approve_in_cli(home, env, run_id, "legal")
        until(lambda: any(e["type"] == "node_started" for e in events(api, run_id)[-3:]), "the CLI runs the summary")
        asked = time.monotonic()
        cancelled = httpx.post(f"{api}/runs/{run_id}/cancel", headers=AUTH, timeout=60)
        assert cancelled.status_code == 202, cancelled.text
        assert cancelled.json()["status"] == "cancelling"
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err  # the CLI's run ended cancelled
        assert time.monotonic() - asked < 5
        until(lambda: status(api, run_id) == "cancelled", "the run ended cancelled")
        stored = one_story(api, run_id, tmp_path / "ledger.jsonl")
        tech = [e for e in stored if e["type"] == "node_skipped" and e["node_id"] == "tech"]
        assert tech and "cancelled while this approval waited" in tech[0]["reason"]


def test_a_cli_decision_and_a_server_cancel_at_once_leave_one_story(tmp_path: Path) -> None:
    with waiting(tmp_path) as (api, run_id, home, env):
        proc = approve_in_cli(home, env, run_id, "legal")
        time.sleep(0.5)  # the CLI is starting: the cancel lands before, while or after it takes the run
        cancelled = httpx.post(f"{api}/runs/{run_id}/cancel", headers=AUTH, timeout=60)
        assert cancelled.status_code in (200, 202), cancelled.text
        _, err = proc.communicate(timeout=60)
        assert proc.returncode in (2, 130), err  # refused (the run had ended cancelled) or cancelled while it drove it
        until(lambda: status(api, run_id) == "cancelled", "the run ended cancelled")
        one_story(api, run_id, tmp_path / "ledger.jsonl")
