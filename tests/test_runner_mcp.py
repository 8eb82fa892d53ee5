"""A run whose agents use an MCP server's tools, through the Runner on the scripted model: the stdio server starts
only once approved here, its side-effecting tools are journalled, and it stops when the run ends."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from flowdeck.engine.workflow import Workflow, parse_workflow
from flowdeck.services import Services
from flowdeck.storage.effects import effects_of

ROOT = Path(__file__).resolve().parents[1]
BOOT = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from tests.mcpserver.notes import main; main()"


def notes_workflow(
    marker: str, *calls: str, tools: tuple[str, ...] = ("notes__add_note", "notes__list_notes")
) -> Workflow:
    writer: dict[str, Any] = {"system_prompt": "\n".join(["You keep notes.", *calls]), "tools": list(tools)}
    return parse_workflow(
        {
            "format": 2,
            "name": "notes",
            "inputs": [{"name": "task", "default": "note it"}],
            # The folder argument is the run's workspace (the server's working directory); `marker` finds the process.
            "mcp_servers": [{"name": "notes", "command": [sys.executable, "-c", BOOT, ".", "--tag", marker]}],
            "nodes": [{"id": "writer", "type": "custom", "label": "Writer", "config": writer}],
        }
    )


def _alive(marker: str) -> bool:
    found = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True, check=False)
    return bool(found.stdout.strip())


def trust_everything(services: Services) -> None:
    runner: Any = services.runner
    runner._tools = dataclasses.replace(runner._tools, trusted=lambda content_hash: True)


ADD = 'CALL notes__add_note {"name": "todo.txt", "text": "buy milk"}'


async def test_an_approved_server_serves_the_run_and_stops_with_it(services: Services, tmp_path: Path) -> None:
    trust_everything(services)
    marker = f"notes-{tmp_path.name}"
    run_id = await services.runner.start(notes_workflow(marker, ADD, "CALL notes__list_notes {}"), model="scripted")
    state = await services.runner.wait(run_id)
    writer = state.nodes["writer"].latest
    assert state.status == "succeeded", writer
    assert (services.settings.home / "workspaces" / run_id / "todo.txt").read_text() == "buy milk"
    assert [(c.call.tool, c.finished.ok if c.finished else None) for c in writer.tool_calls] == [  # type: ignore[union-attr]
        ("notes__add_note", True),
        ("notes__list_notes", True),
    ]
    effects = await asyncio.to_thread(effects_of, services.engine, run_id)
    assert [(e.tool, e.status) for e in effects] == [("notes__add_note", "ok")]  # the read-only tool is no effect
    assert json.loads(effects[0].arguments) == {"name": "todo.txt", "text": "buy milk"}
    for _ in range(100):
        if not _alive(marker):
            break
        await asyncio.sleep(0.1)
    assert not _alive(marker), "the MCP server outlived its run"


async def test_an_unapproved_command_never_runs(services: Services) -> None:
    run_id = await services.runner.start(notes_workflow("unapproved", ADD), model="scripted")
    state = await services.runner.wait(run_id)
    writer = state.nodes["writer"].latest
    assert state.status == "failed" and writer is not None
    assert "no editor has approved it here" in (writer.error or "") and "flowdeck trust approve" in (writer.error or "")
    assert not (services.settings.home / "workspaces" / run_id / "todo.txt").exists()


async def test_a_tool_the_server_does_not_have_is_named(services: Services) -> None:
    trust_everything(services)
    workflow = notes_workflow("missing", tools=("notes__fly",))
    run_id = await services.runner.start(workflow, model="scripted")
    state = await services.runner.wait(run_id)
    error = state.nodes["writer"].latest.error or ""  # type: ignore[union-attr]
    assert state.status == "failed" and "MCP server 'notes' has no tool 'fly'" in error and "notes__add_note" in error
