"""Kill -9 between a side effect's intent and its outcome: after the restart the effect's outcome is unknown, a resume
without a choice refuses and names the choices, --unknown skip does not repeat the call and --unknown retry does,
once. The call is a real http_request to a loopback server that counts what it receives (the command line, as a
person would use it)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowdeck.config import Settings
from flowdeck.services import open_services
from flowdeck.storage.effects import effects_of
from tests.hooks import Hook, cli_env, flowdeck, hook_server


@pytest.fixture
def hook() -> Iterator[Hook]:
    with hook_server(hold_first=True) as server:  # the first call gets no answer: it is in flight
        yield server


def workflow_file(folder: Path, url: str) -> Path:
    post = json.dumps({"method": "POST", "url": url, "body": "ship order 42"})
    write = json.dumps({"path": "order.txt", "content": "order 42"})
    workflow = {
        "format": 2,
        "name": "ship",
        "allowed_domains": ["127.0.0.1"],
        "inputs": [{"name": "task", "default": "ship order 42"}],
        "nodes": [
            {"id": "clerk", "type": "custom", "label": "Clerk",
             "config": {"system_prompt": f"CALL write_file {write}", "tools": ["write_file"]}},
            {"id": "shipper", "type": "custom", "label": "Shipper",
             "config": {"system_prompt": f"CALL http_request {post}", "tools": ["http_request"]}},
        ],
        "edges": [{"id": "e", "source": "clerk", "target": "shipper"}],
    }  # fmt: skip
    path = folder / "ship.json"
    path.write_text(json.dumps(workflow))
    return path


def test_a_call_cut_by_kill_9_is_unknown_and_never_repeated_without_a_choice(
    home: Path, settings: Settings, hook: Hook
) -> None:
    path = workflow_file(home.parent, hook.url)
    run = [sys.executable, "-m", "flowdeck.cli", "run", str(path), "--json"]
    proc = subprocess.Popen(run, env=cli_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not hook.bodies and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert hook.bodies == ["ship order 42"], proc.stderr.read().decode() if proc.poll() is not None else "no call"
    proc.send_signal(signal.SIGKILL)  # the request is in flight: its intent is stored, its outcome never will be
    proc.wait()
    assert proc.stderr is not None
    proc.stderr.close()

    services = open_services(settings)  # the restart
    try:
        [run_id] = services.recovered
        effects = effects_of(services.engine, run_id)
    finally:
        services.close()
    assert [(e.tool, e.node_id, e.status) for e in effects] == [
        ("write_file", "clerk", "ok"),
        ("http_request", "shipper", "unknown"),
    ]

    listed = flowdeck(home, "runs", "effects", run_id)
    assert listed.returncode == 0, listed.stderr
    assert "Shipper (round 1)  http_request  outcome unknown" in listed.stdout
    assert "Clerk (round 1)  write_file  ok" in listed.stdout
    shown = flowdeck(home, "runs", "show", run_id)
    assert "side effects: 2 (1 ok, 0 failed, 1 outcome unknown)" in shown.stdout
    assert "outcome unknown: http_request by Shipper (round 1)" in shown.stdout

    refused = flowdeck(home, "runs", "resume", run_id)
    assert refused.returncode == 2
    assert "Shipper (round 1), http_request: outcome unknown" in refused.stderr
    assert "--unknown retry" in refused.stderr and "--unknown skip" in refused.stderr
    assert len(flowdeck(home, "runs").stdout.strip().splitlines()) == 2  # a header and the one run: nothing started
    assert len(hook.bodies) == 1

    skipped = flowdeck(home, "runs", "resume", run_id, "--unknown", "skip", "--json")
    assert skipped.returncode == 0, skipped.stderr
    events = [json.loads(line) for line in skipped.stdout.splitlines()]
    [finished] = [e for e in events if e["type"] == "tool_finished"]
    assert finished["reused"] and "outcome of this call is unknown" in finished["result"]
    assert len(hook.bodies) == 1  # not repeated

    retried = flowdeck(home, "runs", "resume", run_id, "--unknown", "retry", "--json")
    assert retried.returncode == 0, retried.stderr
    assert hook.bodies == ["ship order 42", "ship order 42"]  # run again, once
    new_id = json.loads(retried.stdout.splitlines()[0])["run_id"]
    services = open_services(settings)
    try:
        again = effects_of(services.engine, new_id)
        original = effects_of(services.engine, run_id)
    finally:
        services.close()
    assert [(e.tool, e.attempt, e.status, e.key) for e in again] == [("http_request", 2, "ok", effects[1].key)]
    assert [e.status for e in original] == ["ok", "unknown"]  # the log keeps what it knew: never changed
