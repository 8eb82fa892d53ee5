"""Hostile prompt templates against the real app and the real CLI (issue 20): the server keeps answering while
they render, a CLI run ends with a clear error in bounded time, and Ctrl+C stops a run stuck in a template."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from flowdeck.config import Settings
from flowdeck.engine.workflow import parse_workflow
from tests.appserver import running_app

TOKEN = "fdk_test_token_0123456789abcdef"
NESTED = "{% for i in range(100000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}done"
TWO_RANGES = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
# 30-60 s in jinja2's own sandbox; the bounded one stops it at 2 s.
SLOW = "{% set s = 'ab' * 150000 %}{% for i in range(99000) %}{% set t = s|replace('a', 'c') %}{% endfor %}"


def workflow(**templates: str) -> dict[str, Any]:
    """Agents with these labels and prompt templates, side by side."""
    nodes = [
        {"id": f"n{i}", "type": "custom", "label": label, "config": {"prompt_template": template}}
        for i, (label, template) in enumerate(templates.items())
    ]
    return {"format": 1, "name": "hostile", "inputs": [{"name": "task", "default": "t"}], "nodes": nodes}


def test_the_server_answers_while_hostile_templates_render(settings: Settings, tmp_path: Path) -> None:
    from flowdeck.services import open_services

    services = open_services(settings)
    try:
        hostile = workflow(Looper=NESTED, Slow=SLOW, Wide="{{ 'a'|center(400000000) }}")
        services.workflows.save(parse_workflow(json.dumps(hostile)))
    finally:
        services.close()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with (
        running_app(settings.home, tmp_path / "server.log", env={"FLOWDECK_API_TOKEN": TOKEN}) as url,
        httpx.Client(base_url=url, headers=headers, timeout=5.0) as api,
    ):
        started = api.post("/api/v1/runs", json={"workflow": "hostile"}, timeout=30.0)
        assert started.status_code == 202, started.text
        run_id = started.json()["id"]
        for _ in range(6):  # over ~2 s of the renders: each request is answered within its 5 s timeout
            assert api.get(f"/api/v1/runs/{run_id}").status_code == 200
            assert httpx.get(url + "/", timeout=5.0).status_code == 200
            time.sleep(0.3)
        deadline = time.monotonic() + 60
        while (result := api.get(f"/api/v1/runs/{run_id}").json())["status"] in ("pending", "running"):
            assert time.monotonic() < deadline, result
            time.sleep(0.2)
    errors = {node["name"]: node["error"] for node in result["nodes"]}
    assert result["status"] == "failed", result
    assert "the prompt template of agent 'Looper' loops more than 100,000 times" in errors["Looper"]
    assert "the prompt template of agent 'Slow' took longer than 2 s to render" in errors["Slow"]
    assert "the prompt template of agent 'Wide' asks |center for a width of 400,000,000" in errors["Wide"]


def test_a_cli_run_with_nested_ranges_ends_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "loops.json"
    path.write_text(json.dumps(workflow(Looper=TWO_RANGES)))
    done = subprocess.run(cli("run", str(path)), env=cli_env(tmp_path), capture_output=True, text=True, timeout=90)
    assert done.returncode == 1, done.stderr
    assert "Looper failed: the prompt template of agent 'Looper' loops more than 100,000 times" in done.stderr
    assert "loop over fewer items" in done.stderr


def test_ctrl_c_stops_a_cli_run_stuck_in_a_template(tmp_path: Path) -> None:
    path = tmp_path / "slow.json"
    path.write_text(json.dumps(workflow(Stuck=SLOW)))
    proc = subprocess.Popen(
        cli("run", str(path), "--json"),
        env=cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert json.loads(proc.stdout.readline())["type"] == "run_started"
        time.sleep(0.5)  # the agent's template is rendering now
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=8)  # at once, give or take a loaded machine
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    events = [json.loads(line) for line in out.splitlines()]
    assert proc.returncode == 130, err
    assert events[-1]["type"] == "run_finished" and events[-1]["status"] == "cancelled"
    assert any(e["type"] == "node_failed" and e["error_kind"] == "cancelled" for e in events)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "flowdeck.cli", *args]


def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "FLOWDECK_"))}
    env.update(FLOWDECK_HOME=str(tmp_path / "home"), FLOWDECK_MODEL="scripted", LITELLM_LOCAL_MODEL_COST_MAP="True")
    return env
