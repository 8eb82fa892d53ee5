"""MCP servers' tools (flowdeck/tools/mcp.py) against a real stdio server written with the SDK (tests/mcpserver)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowdeck.engine.mcp_config import McpServer
from flowdeck.tools.mcp import McpConnection

ROOT = Path(__file__).resolve().parents[1]


def notes(folder: Path, *extra: str, timeout: float = 20.0, start: float = 30.0) -> McpServer:
    # The server is started with the workspace as its folder; PYTHONPATH reaches the test package from there.
    command = [sys.executable, "-c", _BOOT, str(folder), *extra]
    return McpServer(name="notes", command=command, timeout=timeout, start_timeout=start)


_BOOT = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from tests.mcpserver.notes import main; main()"


def _alive(marker: str) -> bool:
    found = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True, check=False)
    return bool(found.stdout.strip())


async def test_its_tools_are_offered_with_their_effects_and_called(tmp_path: Path) -> None:
    connection = McpConnection(notes(tmp_path), workspace=tmp_path)
    try:
        specs = {spec.name: spec for spec in await connection.tools()}
        assert {name: spec.effect for name, spec in specs.items()} == {
            "notes__list_notes": "read",
            "notes__add_note": "write",
            "notes__delete_note": "write",
            "notes__shout": "write",  # no annotations: unknown is a side effect
            "notes__slow": "read",
            "notes__env_var": "read",
        }
        assert specs["notes__add_note"].parameters["required"] == ["name", "text"]
        added = await connection.call("notes__add_note", json.dumps({"name": "a.txt", "text": "hello"}))
        assert added.ok and added.content == "added a.txt"
        assert (tmp_path / "a.txt").read_text() == "hello"
        listed = await connection.call("notes__list_notes", "{}")
        assert listed.ok and listed.content == "a.txt"
    finally:
        await connection.close()


async def test_bad_calls_are_results_the_model_sees(tmp_path: Path) -> None:
    connection = McpConnection(notes(tmp_path), workspace=tmp_path)
    try:
        unknown = await connection.call("notes__nope", "{}")
        assert not unknown.ok and "has no tool 'notes__nope'" in unknown.content
        garbled = await connection.call("notes__shout", "{not json")
        assert not garbled.ok and "not valid JSON" in garbled.content
        wrong = await connection.call("notes__delete_note", json.dumps({"name": "missing.txt"}))
        assert not wrong.ok  # the tool's own error, reported by the server
        assert (await connection.call("notes__shout", json.dumps({"text": "still here"}))).content == "STILL HERE"
    finally:
        await connection.close()


async def test_a_server_never_sees_this_process_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak")
    connection = McpConnection(notes(tmp_path), workspace=tmp_path)
    try:
        seen = await connection.call("notes__env_var", json.dumps({"name": "OPENAI_API_KEY"}))
        assert seen.content == "(not set)"
    finally:
        await connection.close()


async def test_a_server_that_hangs_at_start_is_refused_in_time_and_stopped(tmp_path: Path) -> None:
    marker = str(tmp_path / "hanging")
    connection = McpConnection(notes(Path(marker), "--hang", start=2), workspace=tmp_path)
    t0 = time.monotonic()
    result = await connection.call("notes__shout", "{}")
    assert not result.ok and "did not start within 2 s" in result.content
    assert time.monotonic() - t0 < 6
    await connection.close()
    for _ in range(50):
        if not _alive(marker):
            break
        await asyncio.sleep(0.1)
    assert not _alive(marker), "the hanging server was left running"


async def test_a_slow_call_times_out_and_the_server_still_answers(tmp_path: Path) -> None:
    connection = McpConnection(notes(tmp_path, timeout=1.5), workspace=tmp_path)
    try:
        slow = await connection.call("notes__slow", json.dumps({"seconds": 5}))
        assert not slow.ok and "did not answer slow within 1.5 s" in slow.content
        assert (await connection.call("notes__shout", json.dumps({"text": "after"}))).content == "AFTER"
    finally:
        await connection.close()


async def test_a_flood_is_cut(tmp_path: Path) -> None:
    connection = McpConnection(notes(tmp_path, "--flood", str(5_000_000)), workspace=tmp_path)
    try:
        flood = await connection.call("notes__list_notes", "{}")
        assert flood.ok and len(flood.content) < 25_000 and "[cut at 20,000 characters]" in flood.content
    finally:
        await connection.close()


async def test_a_command_that_does_not_exist_says_so(tmp_path: Path) -> None:
    server = McpServer(name="ghost", command=["/nonexistent/mcp-server"], start_timeout=5)
    connection = McpConnection(server, workspace=tmp_path)
    result = await connection.call("ghost__anything", "{}")
    assert not result.ok and "MCP server 'ghost' could not start" in result.content
    await connection.close()


async def test_closing_stops_the_server(tmp_path: Path) -> None:
    marker = str(tmp_path / "closing")
    os.mkdir(marker)
    connection = McpConnection(notes(Path(marker)), workspace=tmp_path)
    await connection.tools()
    assert _alive(marker)
    await connection.close()
    for _ in range(50):
        if not _alive(marker):
            break
        await asyncio.sleep(0.1)
    assert not _alive(marker)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "x"}, "give either a command (stdio) or a url"),
        ({"name": "x", "command": ["a"], "url": "https://example.org/mcp"}, "give either a command"),
        ({"name": "x", "url": "file:///etc/passwd"}, "http:// or https://"),
        ({"name": "x", "url": "https://user:pw@example.org/mcp"}, "user name or password"),
        ({"name": "Bad Name", "command": ["a"]}, "String should match pattern"),
        ({"name": "x", "command": ["a\x00b"]}, "String should match pattern"),
        ({"name": "x", "command": ["a"], "timeout": True}, "valid number"),
        ({"name": "x", "command": "rm -rf /"}, "valid list"),
    ],
)
def test_a_server_entry_is_checked(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        McpServer.model_validate(entry)


def test_a_changed_entry_has_another_hash() -> None:
    one = McpServer(name="x", command=["a", "b"])
    assert one.content_hash() == McpServer(name="x", command=["a", "b"]).content_hash()
    assert one.content_hash() != McpServer(name="x", command=["a", "c"]).content_hash()
    assert os.sep  # (the hash is over data only: no paths resolved)
