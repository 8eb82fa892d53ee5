"""The two templates whose agents use tools, on the scripted model: file-report leaves report.md as the run's
artifact and side effect; research-with-sources says clearly which page it could not fetch when there is no network;
both refuse the embedded model, which cannot call tools."""

from __future__ import annotations

import asyncio
import socket
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
