"""Runs belong to a workflow's identity, never to its name: a saved workflow's id, a built-in template, a file, or
the content of a workflow given from Python."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import flowdeck
from flowdeck.cli import main
from flowdeck.services import Services
from flowdeck.templates import load_template


async def test_the_latest_run_is_the_workflows_own_not_one_with_the_same_name(services: Services) -> None:
    workflow = load_template("research-code-review")
    mine = await services.runner.start(workflow, model="scripted", workflow_id="a1b2c3d4e5f6")
    await services.runner.wait(mine)
    other = await services.runner.start(workflow, model="scripted", workflow_id="template:research-code-review")
    await services.runner.wait(other)
    assert await asyncio.to_thread(services.runner.latest, "a1b2c3d4e5f6") == mine
    assert await asyncio.to_thread(services.runner.latest, "0f0f0f0f0f0f") is None  # never run
    summary = await asyncio.to_thread(services.runs.get, mine)
    assert summary.workflow_id == "a1b2c3d4e5f6"
    assert (await services.runner.wait(mine)).workflow_id == "a1b2c3d4e5f6"  # recorded in the run's own events


async def test_a_rerun_and_a_resume_belong_to_the_workflow_of_the_run_they_continue(services: Services) -> None:
    workflow = load_template("research-code-review")
    first = await services.runner.start(workflow, model="scripted/fault=auth", workflow_id="a1b2c3d4e5f6")
    assert (await services.runner.wait(first)).status == "failed"
    rerun = await services.runner.rerun(first, "researcher", only=True)
    resumed = await services.runner.resume(first, model="scripted")
    for run_id in (rerun, resumed):
        await services.runner.wait(run_id)
        assert (await asyncio.to_thread(services.runs.get, run_id)).workflow_id == "a1b2c3d4e5f6"


def test_the_command_line_ties_runs_to_the_template_or_the_file_they_ran(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "flows" / "same-name.json"
    path.parent.mkdir()
    path.write_text(load_template("research-code-review").to_json())
    runner = CliRunner()
    assert runner.invoke(main, ["run", "research-code-review", "-m", "scripted"]).exit_code == 0
    assert runner.invoke(main, ["run", "flows/same-name.json", "-m", "scripted"]).exit_code == 0
    state = flowdeck.run(load_template("spec-code-tests"), model="scripted")
    services = _open()
    try:
        identities = [r.workflow_id for r in services.runs.recent()]
        # The listing filter stays by name: the three runs of one name are all there.
        named = services.runs.recent(workflow="Research, code, review")
    finally:
        services.close()
    assert identities[1:] == [f"file:{path.resolve()}", "template:research-code-review"]
    assert identities[0] is not None and identities[0].startswith("sha256:") and state.workflow_id == identities[0]
    assert len(named) == 2


def test_a_file_with_a_long_path_gets_an_identity_that_fits(home: Path, tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*["a-rather-long-folder-name"] * 14)
    deep.mkdir(parents=True)
    path = deep / "flow.json"
    path.write_text(json.dumps({"format": 1, "name": "deep", "nodes": [{"id": "a", "type": "coder"}]}))
    assert CliRunner().invoke(main, ["run", str(path), "-m", "scripted"]).exit_code == 0
    services = _open()
    try:
        (run,) = services.runs.recent()
    finally:
        services.close()
    assert run.workflow_id is not None and run.workflow_id.startswith("file:") and len(run.workflow_id) <= 300
    assert flowdeck.load_with_identity(path)[1] == run.workflow_id  # the same file, the same identity


def _open() -> Services:
    from flowdeck.services import open_services

    return open_services()
