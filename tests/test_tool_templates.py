"""The two templates whose agents use tools, on the scripted model: file-report leaves report.md as the run's
artifact and side effect; research-with-sources says clearly which page it could not fetch when there is no network;
both refuse the embedded model, which cannot call tools."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flowdeck.services import Services
from flowdeck.storage.effects import effects_of
from flowdeck.templates import load_template
from flowdeck.tools import artifacts


async def test_file_report_writes_its_report_as_an_artifact(services: Services) -> None:
    run_id = await services.runner.start(load_template("file-report"), model="scripted")
    state = await services.runner.wait(run_id)
    assert state.status == "succeeded"
    workspace = services.settings.home / "workspaces" / run_id
    assert [a.path for a in artifacts(workspace)] == ["report.md"]
    assert (workspace / "report.md").read_text().startswith("# Report")
    effects = await asyncio.to_thread(effects_of, services.engine, run_id)
    assert [(e.tool, e.node_id, e.status) for e in effects] == [("write_file", "reporter", "ok")]


async def test_research_with_sources_says_which_page_it_could_not_fetch(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", offline)  # this machine has no network; CI might: the same for both
    run_id = await services.runner.start(load_template("research-with-sources"), model="scripted")
    state = await services.runner.wait(run_id)
    assert state.status == "succeeded"
    [call] = state.nodes["researcher"].latest.tool_calls  # type: ignore[union-attr]
    assert call.call.tool == "fetch" and "en.wikipedia.org/wiki/Workflow_engine" in call.call.arguments
    assert call.finished is not None and not call.finished.ok
    assert "en.wikipedia.org could not be found" in call.finished.result


@pytest.mark.parametrize("name", ["file-report", "research-with-sources"])
def test_the_tool_templates_allow_only_what_they_need(name: str) -> None:
    workflow = load_template(name)
    tools = {tool for node in workflow.nodes for tool in node.config.tools}
    assert tools <= {"fetch", "write_file", "list_files"}
    assert workflow.allowed_domains == (["en.wikipedia.org"] if "fetch" in tools else [])


def test_a_tool_template_on_the_embedded_model_is_refused_before_anything_runs(tmp_path: Path) -> None:
    env = {**os.environ, "FLOWDECK_HOME": str(tmp_path), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    env.pop("FLOWDECK_MODEL", None)
    done = subprocess.run(
        [sys.executable, "-m", "flowdeck.cli", "run", "file-report"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "Report writer: embedded: the embedded model cannot call tools" in done.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "flowdeck.cli", "runs"], env=env, capture_output=True, text=True, timeout=60
    )
    assert "file-report" not in listed.stdout.lower() and "File report" not in listed.stdout  # no run was started


def test_runs_show_says_which_tool_was_called_and_how_it_ended(tmp_path: Path) -> None:
    env = {**os.environ, "FLOWDECK_HOME": str(tmp_path), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    run = [sys.executable, "-m", "flowdeck.cli", "run", "file-report", "-m", "scripted", "--json"]
    done = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    run_id = json.loads(done.stdout.splitlines()[0])["run_id"]
    show = [sys.executable, "-m", "flowdeck.cli", "runs", "show", run_id]
    shown = subprocess.run(show, env=env, capture_output=True, text=True, timeout=60).stdout
    assert 'tool_called     reporter         write_file (side effect) {"path": "report.md"' in shown
    assert "tool_finished   reporter         write_file ok in" in shown and ": wrote report.md (" in shown
    assert "list_files ok in" in shown
