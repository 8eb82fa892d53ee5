"""Compensation (tools/compensation.py): newest effect first, each once, every attempt recorded, nothing run that
trust or the egress guard does not allow; against a loopback server that records what reached it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from flowdeck.engine.handlers import Handler
from flowdeck.tools import Egress
from flowdeck.tools.compensation import compensate
from flowdeck.tools.workspace import Workspace
from tests.toolserver import ToolServer, tool_server


@dataclass(frozen=True)
class FakeEffect:
    seq: int
    key: str
    tool: str
    detail: dict[str, Any]
    status: str = "ok"
    arguments: str = "{}"
    content: str = ""
    run_id: str = "r1"
    node_id: str = "coder"
    execution: int = 1


@dataclass
class MemoryLog:
    rows: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)

    def undone(self, key: str) -> bool:
        return any(k == key and status in ("ok",) for k, _h, status, _d in self.rows)

    def attempt(self, effect: Any, handler: Handler, status: str, detail: dict[str, Any]) -> None:
        self.rows.append((effect.key, handler.id, status, detail))


@pytest.fixture
def server() -> Iterator[ToolServer]:
    with tool_server() as s:
        yield s


def undo_items(server: ToolServer, **action: Any) -> Handler:
    return Handler.model_validate(
        {
            "id": "undo_item",
            "match": {"tool": "http_request", "method": ["POST"]},
            "action": {
                "kind": "http",
                "method": "DELETE",
                "url": server.url("/echo") + "?item={{ effect.arguments.name|urlencode }}",
                **action,
            },
        }
    )


def posted(seq: int, name: str, status: str = "ok") -> FakeEffect:
    return FakeEffect(
        seq=seq,
        key=f"r1:coder:1:{seq}",
        tool="http_request",
        detail={"method": "POST", "url": "http://api/items", "status": 201},
        arguments=json.dumps({"name": name}),
        status=status,
    )


async def run(effects: list[FakeEffect], handlers: list[Handler], tmp_path: Path, log: MemoryLog, **kw: Any) -> Any:
    return await compensate(
        effects,
        handlers,
        blocked=kw.pop("blocked", lambda handler: None),
        egress=Egress(kw.pop("allowed", ["127.0.0.1"])),
        workspace=tmp_path,
        secrets=kw.pop("secrets", lambda name: None),
        log=log,
        run={"id": "r1"},
    )


async def test_newest_first_each_once_and_recorded(server: ToolServer, tmp_path: Path) -> None:
    digest = hashlib.sha256(b"draft").hexdigest()
    Workspace(tmp_path).write("report.md", b"draft")
    effects = [
        FakeEffect(seq=1, key="r1:coder:1:1", tool="write_file", detail={"path": "report.md", "sha256": digest}),
        posted(2, "first"),
        posted(3, "second"),
        posted(4, "never happened", status="failed"),
    ]
    log = MemoryLog()
    report = await run(effects, [undo_items(server)], tmp_path, log)
    assert [(a.key, a.status) for a in report.attempts] == [
        ("r1:coder:1:3", "ok"),
        ("r1:coder:1:2", "ok"),
        ("r1:coder:1:1", "ok"),
    ]
    assert [(s.method, s.path) for s in server.seen] == [
        ("DELETE", "/echo?item=second"),
        ("DELETE", "/echo?item=first"),
    ]
    assert not (tmp_path / "report.md").exists()
    assert [(key, handler, status) for key, handler, status, _ in log.rows] == [
        ("r1:coder:1:3", "undo_item", "ok"),
        ("r1:coder:1:2", "undo_item", "ok"),
        ("r1:coder:1:1", "delete_written_file", "ok"),
    ]
    again = await run(effects, [undo_items(server)], tmp_path, log)
    assert {a.status for a in again.attempts} == {"done before"} and len(server.seen) == 2


async def test_an_untrusted_handler_that_is_not_approved_runs_nothing(server: ToolServer, tmp_path: Path) -> None:
    log = MemoryLog()
    reason = "untrusted: an editor must approve it first"
    report = await run([posted(1, "x")], [undo_items(server)], tmp_path, log, blocked=lambda h: reason)
    assert [(a.status, a.message) for a in report.attempts] == [("blocked", reason)] and report.failed
    assert server.seen == [] and log.rows[0][2] == "blocked"


async def test_the_egress_guard_holds_for_handlers(server: ToolServer, tmp_path: Path) -> None:
    log = MemoryLog()
    report = await run([posted(1, "x")], [undo_items(server)], tmp_path, log, allowed=[])
    assert report.attempts[0].status == "failed" and "allowed domains" in report.attempts[0].message
    assert server.seen == []


async def test_a_secret_reaches_the_server_and_never_the_log(server: ToolServer, tmp_path: Path) -> None:
    log = MemoryLog()
    handler = undo_items(server, headers={"Authorization": "Bearer {{ secret('API') }}"})
    report = await run([posted(1, "x")], [handler], tmp_path, log, secrets={"API": "s3cr3t-value"}.get)
    assert report.attempts[0].status == "ok"
    assert server.seen[0].headers["Authorization"] == "Bearer s3cr3t-value"
    assert "s3cr3t-value" not in json.dumps(log.rows) + repr(report)


async def test_a_missing_secret_fails_that_effect_and_sends_nothing(server: ToolServer, tmp_path: Path) -> None:
    log = MemoryLog()
    handler = undo_items(server, headers={"Authorization": "Bearer {{ secret('API') }}"})
    report = await run([posted(1, "x")], [handler], tmp_path, log)
    assert report.attempts[0].status == "failed" and "no saved secret is named 'API'" in report.attempts[0].message
    assert server.seen == []


async def test_a_file_changed_since_the_run_wrote_it_is_left_alone(tmp_path: Path) -> None:
    Workspace(tmp_path).write("report.md", b"edited by a person")
    effect = FakeEffect(seq=1, key="k", tool="write_file", detail={"path": "report.md", "sha256": "0" * 64})
    report = await run([effect], [], tmp_path, MemoryLog())
    assert report.attempts[0].status == "failed" and "changed after the run wrote it" in report.attempts[0].message
    assert (tmp_path / "report.md").read_bytes() == b"edited by a person"


async def test_a_path_that_escapes_the_workspace_is_refused(tmp_path: Path) -> None:
    outside = tmp_path.parent / "outside.txt"
    outside.write_text("keep")
    digest = hashlib.sha256(b"keep").hexdigest()
    effect = FakeEffect(seq=1, key="k", tool="write_file", detail={"path": "../outside.txt", "sha256": digest})
    report = await run([effect], [], tmp_path / "ws", MemoryLog())
    assert report.attempts[0].status == "failed" and outside.read_text() == "keep"


async def test_manual_steps_are_rendered_for_a_person_and_an_unmatched_effect_is_said(tmp_path: Path) -> None:
    manual = Handler.model_validate(
        {
            "id": "tell",
            "match": {"tool": "notes__add_note"},
            "action": {"kind": "manual", "steps": "Remove the note {{ effect.arguments.name }} by hand."},
        }
    )
    note = FakeEffect(seq=2, key="n", tool="notes__add_note", detail={}, arguments='{"name": "todo"}')
    other = FakeEffect(seq=1, key="o", tool="notes__shout", detail={}, status="unknown")
    log = MemoryLog()
    report = await run([note, other], [manual], tmp_path, log)
    assert [(a.status, a.handler) for a in report.attempts] == [("manual", "tell"), ("no handler", None)]
    assert log.rows[0][3]["steps"] == "Remove the note todo by hand."
