"""Compensation wired end to end through the Runner (Python API): after a run fails or is cancelled its effects are
undone newest first, once, by the handlers that run then, if trust allows; on demand likewise; every attempt a row of
the side-effect log. A loopback server records what reached it; the scripted model makes the calls."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from flowdeck.engine.handlers import Handler
from flowdeck.engine.workflow import Workflow, parse_workflow
from flowdeck.errors import WorkflowError
from flowdeck.services import Services
from flowdeck.storage.compensations import mark_done
from flowdeck.storage.trust import TrustStore, approve_handler
from tests.toolserver import ToolServer, tool_server


@pytest.fixture
def server() -> Iterator[ToolServer]:
    with tool_server() as s:
        yield s


def undo(server: ToolServer, **extra: Any) -> dict[str, Any]:
    """A handler that DELETEs the item a POST made, naming it by the POST's url's query."""
    return {
        "id": "undo_post",
        "match": {"tool": "http_request", "method": ["POST"]},
        "action": {
            "kind": "http",
            "method": "DELETE",
            "url": server.url("/echo") + "?undo={{ effect.arguments.body }}",
        },
        **extra,
    }


def workflow(server: ToolServer, handlers: list[dict[str, Any]], last: str = "scripted/fault=auth") -> Workflow:
    """A poster that POSTs items 1 then 2, then a checker on model `last` (it fails by default)."""
    calls = [f'CALL http_request {{"method": "POST", "url": "{server.url("/echo")}", "body": "{n}"}}' for n in (1, 2)]
    return parse_workflow(
        {
            "format": 2,
            "name": "posts",
            "allowed_domains": ["127.0.0.1"],
            "handlers": handlers,
            "nodes": [
                {"id": "poster", "type": "custom", "label": "Poster",
                 "config": {"system_prompt": "\n".join(calls), "tools": ["http_request"], "model": "scripted"}},
                {"id": "checker", "type": "custom", "label": "Checker", "config": {"model": last}},
            ],
            "edges": [{"id": "e", "source": "poster", "target": "checker"}],
        }
    )  # fmt: skip


def deletes(server: ToolServer) -> list[str]:
    return [seen.path for seen in server.seen if seen.method == "DELETE"]


async def finished(services: Services, run_id: str) -> str:
    """The run's status once it ended and its automatic compensation (if any) is done."""
    state = await services.runner.wait(run_id)
    for _ in range(200):
        if not services.runner.compensating(run_id):
            break
        await asyncio.sleep(0.05)
    return state.status


async def approve(services: Services, handler: dict[str, Any]) -> None:
    trust = TrustStore(services.engine)
    await asyncio.to_thread(approve_handler, trust, Handler.model_validate(handler), "editor (written here)")


async def test_a_failed_run_is_undone_newest_first_once(services: Services, server: ToolServer) -> None:
    handler = undo(server)
    await approve(services, handler)
    run_id = await services.runner.start(workflow(server, [handler]))
    assert await finished(services, run_id) == "failed"
    assert deletes(server) == ["/echo?undo=2", "/echo?undo=1"]

    logged = await services.runner.compensation_log(run_id)
    assert [(e.status, e.handler, e.attempt) for e in logged] == [("ok", "undo_post", 1), ("ok", "undo_post", 1)]
    assert "DELETE" in logged[0].message and logged[0].run_id == run_id

    again = await services.runner.compensate(run_id)  # a person's Compensate after the automatic one
    assert [a.status for a in again.attempts] == ["done before", "done before"]
    assert deletes(server) == ["/echo?undo=2", "/echo?undo=1"]  # never twice


async def test_a_cancelled_run_is_undone_by_its_cancel_handlers(services: Services, server: ToolServer) -> None:
    handler = undo(server, on=["cancel"])
    await approve(services, handler)
    run_id = await services.runner.start(workflow(server, [handler], last="scripted/latency=30"))
    for _ in range(400):  # the checker starts once both POSTs are done
        if len([s for s in server.seen if s.method == "POST"]) == 2:
            break
        await asyncio.sleep(0.025)
    await asyncio.sleep(0.2)
    assert services.runner.cancel(run_id)
    assert await finished(services, run_id) == "cancelled"
    assert deletes(server) == ["/echo?undo=2", "/echo?undo=1"]


async def test_a_handler_that_runs_on_cancel_only_does_not_run_on_failure(
    services: Services, server: ToolServer
) -> None:
    handler = undo(server, on=["cancel", "demand"])
    await approve(services, handler)
    run_id = await services.runner.start(workflow(server, [handler]))
    assert await finished(services, run_id) == "failed"
    assert deletes(server) == []
    assert await services.runner.compensation_log(run_id) == []
    done = await services.runner.compensate(run_id)  # on demand it does
    assert [a.status for a in done.attempts] == ["ok", "ok"]
    assert deletes(server) == ["/echo?undo=2", "/echo?undo=1"]


async def test_an_untrusted_handler_runs_nothing_until_approved_and_again_once_changed(
    services: Services, server: ToolServer
) -> None:
    handler = undo(server)
    run_id = await services.runner.start(workflow(server, [handler]))
    assert await finished(services, run_id) == "failed"
    assert deletes(server) == []
    logged = await services.runner.compensation_log(run_id)
    assert [e.status for e in logged] == ["blocked", "blocked"]
    assert "untrusted: an editor must approve it" in logged[0].message
    assert "domains 127.0.0.1" in logged[0].message and "methods DELETE" in logged[0].message

    await approve(services, handler)
    done = await services.runner.compensate(run_id)
    assert [a.status for a in done.attempts] == ["ok", "ok"]
    assert deletes(server) == ["/echo?undo=2", "/echo?undo=1"]

    changed = undo(server, label="Undo a post, changed")  # another hash: the approval does not carry over
    second = await services.runner.start(workflow(server, [changed]))
    assert await finished(services, second) == "failed"
    assert [e.status for e in await services.runner.compensation_log(second)] == ["blocked", "blocked"]
    assert len(deletes(server)) == 2


async def test_an_approved_handler_may_only_call_the_workflows_allowed_domains(
    services: Services, server: ToolServer
) -> None:
    handler = undo(server)
    handler["action"]["url"] = "https://undo.example.org/items?x={{ effect.key }}"
    await approve(services, handler)
    run_id = await services.runner.start(workflow(server, [handler]))
    assert await finished(services, run_id) == "failed"
    logged = await services.runner.compensation_log(run_id)
    assert [e.status for e in logged] == ["blocked", "blocked"]
    assert "undo.example.org, which is not in this workflow's allowed domains" in logged[0].message


async def test_manual_steps_wait_for_a_person_and_count_once_marked_done(
    services: Services, server: ToolServer
) -> None:
    handler = {
        "id": "tell_ops",
        "match": {"tool": "http_request"},
        "action": {"kind": "manual", "steps": "Remove item {{ effect.arguments.body }} by hand"},
    }
    await approve(services, handler)
    run_id = await services.runner.start(workflow(server, [handler]))
    assert await finished(services, run_id) == "failed"
    logged = await services.runner.compensation_log(run_id)
    assert [e.status for e in logged] == ["manual", "manual"]
    assert logged[0].detail["steps"] == "Remove item 2 by hand"
    await asyncio.to_thread(mark_done, services.engine, run_id, logged[0].key, "ann")
    with pytest.raises(Exception, match="undone already"):
        await asyncio.to_thread(mark_done, services.engine, run_id, logged[0].key, "ann")
    again = await services.runner.compensate(run_id)
    assert [a.status for a in again.attempts] == ["done before", "manual"]


async def test_a_failed_run_keeps_its_files_until_a_person_compensates(services: Services) -> None:
    write = 'CALL write_file {"path": "out.md", "content": "draft"}'
    flow = parse_workflow(
        {
            "format": 2,
            "name": "files",
            "nodes": [
                {"id": "w", "type": "custom", "config": {"system_prompt": write, "tools": ["write_file"],
                                                         "model": "scripted"}},
                {"id": "c", "type": "custom", "config": {"model": "scripted/fault=auth"}},
            ],
            "edges": [{"id": "e", "source": "w", "target": "c"}],
        }
    )  # fmt: skip
    run_id = await services.runner.start(flow)
    assert await finished(services, run_id) == "failed"
    written = services.settings.home / "workspaces" / run_id / "out.md"
    assert written.read_text() == "draft"  # the system handler is on demand only
    done = await services.runner.compensate(run_id)
    assert [(a.handler, a.status) for a in done.attempts] == [("delete_written_file", "ok")]
    assert not written.exists()


async def test_a_run_still_going_is_not_compensated(services: Services, server: ToolServer) -> None:
    run_id = await services.runner.start(workflow(server, [undo(server)], last="scripted/latency=30"))
    with pytest.raises(WorkflowError, match="still going"):
        await services.runner.compensate(run_id)
    services.runner.cancel(run_id)
    await finished(services, run_id)
    assert deletes(server) == []  # an untrusted handler, cancelled: blocked
