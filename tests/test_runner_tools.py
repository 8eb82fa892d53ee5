"""The Runner's wiring for agents with tools: a workspace per run, the real toolbox (flowdeck/tools/) and the
side-effect log (storage/effects.py), on the scripted model, through the Python API."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flowdeck.engine.events import ToolFinished
from flowdeck.engine.workflow import Workflow, parse_workflow
from flowdeck.errors import UnknownEffects
from flowdeck.services import Services
from flowdeck.storage.effects import SqlJournal, effects_of
from flowdeck.tools import artifacts

REPORT = 'CALL write_file {"path": "out/report.md", "content": "# Report\\nAll good."}'


def tool_workflow(*calls: str, tools: tuple[str, ...] = ("write_file", "list_files")) -> Workflow:
    """A writer with tools whose scripted model makes `calls`, handing on to a reader without tools."""
    writer: dict[str, Any] = {"system_prompt": "\n".join(["You write reports.", *calls]), "tools": list(tools)}
    return parse_workflow(
        {
            "format": 2,
            "name": "tools",
            "inputs": [{"name": "task", "default": "report"}],
            "nodes": [
                {"id": "writer", "type": "custom", "label": "Writer", "config": writer},
                {"id": "reader", "type": "custom", "label": "Reader"},
            ],
            "edges": [{"id": "e", "source": "writer", "target": "reader"}],
        }
    )


async def test_a_run_with_tools_writes_in_its_own_workspace_and_logs_each_side_effect(services: Services) -> None:
    workflow = tool_workflow(REPORT, "CALL list_files {}")
    run_id = await services.runner.start(workflow, model="scripted")
    state = await services.runner.wait(run_id)
    assert state.status == "succeeded", state.nodes["writer"].latest

    workspace = services.settings.home / "workspaces" / run_id
    assert stat.S_IMODE(workspace.stat().st_mode) == 0o700
    assert stat.S_IMODE(workspace.parent.stat().st_mode) == 0o700
    assert (workspace / "out" / "report.md").read_text() == "# Report\nAll good."
    assert [a.path for a in artifacts(workspace)] == ["out/report.md"]

    effects = await asyncio.to_thread(effects_of, services.engine, run_id)
    assert [(e.tool, e.node_id, e.execution, e.status) for e in effects] == [("write_file", "writer", 1, "ok")]
    assert json.loads(effects[0].arguments) == {"path": "out/report.md", "content": "# Report\nAll good."}
    assert effects[0].detail["path"] == "out/report.md"
    assert effects[0].key == f"{run_id}:writer:1:1"
    calls = state.nodes["writer"].latest.tool_calls  # type: ignore[union-attr]
    assert [c.call.tool for c in calls] == ["write_file", "list_files"]  # the read is an event, not an effect


async def test_a_run_from_an_agent_on_starts_with_the_files_of_the_run_it_continues(services: Services) -> None:
    first = await services.runner.start(tool_workflow(REPORT), model="scripted")
    assert (await services.runner.wait(first)).status == "succeeded"
    again = await services.runner.rerun(first, "reader")
    assert (await services.runner.wait(again)).status == "succeeded"
    workspaces = services.settings.home / "workspaces"
    assert (workspaces / again / "out" / "report.md").read_text() == "# Report\nAll good."
    assert await asyncio.to_thread(effects_of, services.engine, again) == []  # the writer was not run again


async def test_a_run_that_cannot_start_leaves_no_workspace(services: Services) -> None:
    from flowdeck.errors import WorkflowError

    with pytest.raises(WorkflowError):
        await services.runner.start(tool_workflow(REPORT), {"nope": "x"}, model="scripted")
    workspaces = services.settings.home / "workspaces"
    assert not workspaces.exists() or list(workspaces.iterdir()) == []


async def test_resume_refuses_without_a_choice_when_an_outcome_is_unknown_then_skip_does_not_repeat_it(
    services: Services,
) -> None:
    # A run whose writer failed while its call's outcome was unknown (as after a crash: the intent, no outcome).
    workflow = tool_workflow(REPORT)
    run_id = await services.runner.start(workflow, model="scripted/fault=auth")
    assert (await services.runner.wait(run_id)).status == "failed"
    journal = SqlJournal(services.engine, run_id)
    from flowdeck.engine.tools import ToolCall, ToolContext, ToolSpec

    spec = ToolSpec(name="write_file", description="", parameters={}, effect="write")
    context = ToolContext(run_id=run_id, node_id="writer", execution=1, key=f"{run_id}:writer:1:1")
    await asyncio.to_thread(journal.intent, context, spec, ToolCall(id="c", name="write_file", arguments="{}"))

    with pytest.raises(UnknownEffects) as refused:
        await services.runner.resume(run_id, model="scripted")
    text = str(refused.value)
    assert "Writer (round 1), write_file" in text and "outcome unknown" in text
    assert "--unknown retry" in text and "--unknown skip" in text
    assert len(await asyncio.to_thread(services.runs.recent)) == 1  # nothing started

    resumed = await services.runner.resume(run_id, model="scripted", unknown="skip")
    state = await services.runner.wait(resumed)
    assert state.status == "succeeded"
    assert not (services.settings.home / "workspaces" / resumed / "out").exists()  # the write was not repeated
    [finished] = [e for e in await asyncio.to_thread(services.runs.events, resumed) if isinstance(e, ToolFinished)]
    assert finished.reused and "unknown" in finished.result
    assert await asyncio.to_thread(effects_of, services.engine, resumed) == []


def test_a_run_without_tools_does_not_load_the_tools(home: Path) -> None:
    code = (
        "import asyncio, sys\n"
        "from flowdeck.services import open_services\n"
        "from flowdeck.templates import load_template\n"
        "async def main():\n"
        "    s = await asyncio.to_thread(open_services)\n"
        "    run_id = await s.runner.start(load_template('research-code-review'), model='scripted')\n"
        "    assert (await s.runner.wait(run_id)).status == 'succeeded'\n"
        "    await s.runner.close(); s.close()\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.startswith('flowdeck.tools') or m == 'httpx'))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(FLOWDECK_HOME=str(home), FLOWDECK_SCRIPTED_DIRECT="1", LITELLM_LOCAL_MODEL_COST_MAP="True")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert not (home / "workspaces").exists()


async def test_a_decision_continues_a_waiting_run_with_its_tools_and_workspace(services: Services) -> None:
    from flowdeck.engine.approvals import Decision

    def writer(path: str) -> dict[str, Any]:
        call = json.dumps({"path": path, "content": path})
        return {"system_prompt": f"CALL write_file {call}", "tools": ["write_file"]}

    workflow = parse_workflow(
        {
            "format": 2,
            "name": "signed tools",
            "inputs": [{"name": "task", "default": "draft"}],
            "nodes": [
                {"id": "draft", "type": "custom", "label": "Drafter", "config": writer("draft.md")},
                {"id": "ok", "type": "approval", "label": "Sign-off"},
                {"id": "final", "type": "custom", "label": "Finisher", "config": writer("final.md")},
            ],
            "edges": [
                {"id": "a", "source": "draft", "target": "ok"},
                {"id": "b", "source": "ok", "target": "final"},
            ],
        }
    )
    run_id = await services.runner.start(workflow, model="scripted")
    assert (await services.runner.wait(run_id)).status == "waiting"
    assert not services.runner.is_active(run_id)  # continued from its log, as after a restart
    await services.runner.decide(run_id, "ok", Decision(approve=True, by="editor"))
    assert (await services.runner.wait(run_id)).status == "succeeded"
    workspace = services.settings.home / "workspaces" / run_id
    assert sorted(p.name for p in workspace.iterdir()) == ["draft.md", "final.md"]
    effects = await asyncio.to_thread(effects_of, services.engine, run_id)
    assert [(e.node_id, e.status) for e in effects] == [("draft", "ok"), ("final", "ok")]  # the draft not written twice
