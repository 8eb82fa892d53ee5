"""The toolbox a run gets: the five built-ins' specs as the model is offered them, arguments checked with errors
that name the argument and show a valid call, and make_toolbox built from a workflow."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowdeck.engine.tools import BUILTIN_TOOLS, ToolCall, ToolContext, ToolResult
from flowdeck.engine.workflow import parse_workflow
from flowdeck.tools import BuiltinToolbox, make_toolbox
from tests.toolserver import ToolServer, tool_server

CONTEXT = ToolContext(run_id="r1", node_id="a", execution=1, key="r1:a:1:1")


@pytest.fixture
def server() -> Iterator[ToolServer]:
    with tool_server() as s:
        yield s


def toolbox(tmp_path: Path, secrets: Any = lambda _: None) -> BuiltinToolbox:
    return BuiltinToolbox(workspace=tmp_path / "ws", allowed_domains=("127.0.0.1",), secrets=secrets)


async def call(box: BuiltinToolbox, tool: str, arguments: str) -> ToolResult:
    spec = box.specs([tool])[0] if tool in BUILTIN_TOOLS else box.specs(["fetch"])[0]
    return await box.call(ToolCall(id="c1", name=tool, arguments=arguments), spec, CONTEXT)


def test_every_builtin_has_a_spec_with_a_schema_and_an_effect(tmp_path: Path) -> None:
    specs = toolbox(tmp_path).specs(list(BUILTIN_TOOLS))
    assert [s.name for s in specs] == list(BUILTIN_TOOLS)
    assert {s.name: s.effect for s in specs} == {
        "fetch": "read",
        "http_request": "write",  # whatever the method: the engine journals by the spec
        "read_file": "read",
        "write_file": "write",
        "list_files": "read",
    }
    for spec in specs:
        assert spec.description
        assert spec.parameters["type"] == "object" and spec.parameters["additionalProperties"] is False
        assert all(p.get("description") for p in spec.parameters["properties"].values()), spec.name
        assert "title" not in json.dumps(spec.parameters)
    write = toolbox(tmp_path).specs(["write_file"])[0].parameters
    assert write["required"] == ["path", "content"]
    http = toolbox(tmp_path).specs(["http_request"])[0]
    assert "{{secret:NAME}}" in http.description
    assert http.parameters["properties"]["method"]["enum"] == ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


def test_specs_keep_the_agents_order_and_name_an_unknown_tool(tmp_path: Path) -> None:
    box = toolbox(tmp_path)
    assert [s.name for s in box.specs(["write_file", "fetch"])] == ["write_file", "fetch"]
    with pytest.raises(KeyError, match="no tool named 'shell': the tools are fetch, http_request, read_file"):
        box.specs(["fetch", "shell"])


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        ("write_file", '{"path": "a.md", "content": ', "the arguments of write_file are not valid JSON"),
        ("write_file", "not json", "the arguments of write_file are not valid JSON"),
        ("write_file", '{"path": "a.md"}', "write_file cannot use these arguments: the argument 'content' is missing"),
        ("write_file", '{"path": 5, "content": "x"}', "the argument 'path': Input should be a valid string"),
        ("write_file", '["a.md", "x"]', "the arguments must be a JSON object with path, content"),
        ("read_file", '{"path": "a", "mode": "rb"}', "'mode' is not an argument of read_file (its arguments: path)"),
        ("fetch", '{"link": "https://x"}', "the argument 'url' is missing"),
        ("http_request", '{"url": "http://x", "method": "TRACE"}', "the argument 'method': Input should be 'GET'"),
        ("http_request", '{"url": "http://x", "headers": {"A": 1}}', "the argument 'headers.A': Input should be"),
        ("list_files", '{"path": null}', "the argument 'path': Input should be a valid string"),
    ],
)
async def test_arguments_that_do_not_fit_name_the_argument_and_show_a_valid_call(
    tmp_path: Path, tool: str, arguments: str, message: str
) -> None:
    result = await call(toolbox(tmp_path), tool, arguments)
    assert not result.ok
    assert message in result.content, result.content
    assert "A valid call: {" in result.content or "send a JSON object like {" in result.content
    assert not (tmp_path / "ws").exists()


async def test_empty_arguments_mean_an_empty_object(tmp_path: Path) -> None:
    result = await call(toolbox(tmp_path), "list_files", "")
    assert (result.ok, result.content) == (True, "no files in the workspace")


async def test_a_call_of_a_tool_that_does_not_exist_is_a_result(tmp_path: Path) -> None:
    result = await call(toolbox(tmp_path), "shell", '{"cmd": "id"}')
    assert not result.ok
    assert result.content == (
        "there is no tool named 'shell': the tools are fetch, http_request, read_file, write_file, list_files"
    )


async def test_a_failing_secret_store_is_a_result_not_an_exception(tmp_path: Path, server: ToolServer) -> None:
    def broken(name: str) -> str:
        raise OSError("keys file unreadable")

    arguments = json.dumps({"url": server.url("/echo"), "headers": {"A": "{{secret:X}}"}})
    result = await call(toolbox(tmp_path, broken), "http_request", arguments)
    assert not result.ok
    assert result.content == "http_request failed with an internal error; the run's log has the details"
    assert server.seen == []


async def test_make_toolbox_uses_the_workflows_allowed_domains(tmp_path: Path, server: ToolServer) -> None:
    workflow = parse_workflow({"format": 1, "name": "w", "nodes": [{"id": "a", "type": "coder"}]})
    closed = make_toolbox(workflow, tmp_path / "ws", lambda _: None)
    refused = await call(closed, "fetch", json.dumps({"url": server.url("/page")}))
    assert "this workflow may not use the network (its allowed domains are empty)" in refused.content
    # Workflow.allowed_domains is the engine's field (contract item 1); set as the engine's branch validates it
    opened = make_toolbox(workflow.model_copy(update={"allowed_domains": ["127.0.0.1"]}), tmp_path / "ws", dict().get)
    fetched = await call(opened, "fetch", json.dumps({"url": server.url("/page")}))
    assert fetched.ok, fetched.content
    written = await call(opened, "write_file", json.dumps({"path": "out.md", "content": "x"}))
    assert written.ok and (tmp_path / "ws" / "out.md").read_text() == "x"
    assert [s.path for s in server.seen] == ["/page"]
