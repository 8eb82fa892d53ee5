"""Compensation and trust through the API and the command line, as a client and a person would: a run made by
`flowdeck run` whose handler came in a file (untrusted) is blocked; a viewer can read but neither compensate nor
approve (403); `flowdeck trust approve FILE` approves; the editor's compensate undoes newest first; again, nothing
is repeated. The real app in a subprocess; a loopback server records the DELETEs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.appserver import running_app
from tests.hooks import flowdeck
from tests.toolserver import ToolServer, tool_server

TOKEN = "fdk_test_token_0123456789abcdef"


def handler(server: ToolServer) -> dict[str, Any]:
    return {
        "id": "undo_post",
        "match": {"tool": "http_request", "method": ["POST"]},
        "action": {
            "kind": "http",
            "method": "DELETE",
            "url": server.url("/echo") + "?undo={{ effect.arguments.body }}",
        },
    }


def workflow_file(folder: Path, server: ToolServer) -> Path:
    calls = [f'CALL http_request {{"method": "POST", "url": "{server.url("/echo")}", "body": "{n}"}}' for n in (1, 2)]
    data = {
        "format": 2,
        "name": "posts",
        "allowed_domains": ["127.0.0.1"],
        "handlers": [handler(server)],
        "nodes": [
            {"id": "poster", "type": "custom", "label": "Poster",
             "config": {"system_prompt": "\n".join(calls), "tools": ["http_request"], "model": "scripted"}},
            {"id": "checker", "type": "custom", "label": "Checker", "config": {"model": "scripted/fault=auth"}},
        ],
        "edges": [{"id": "e", "source": "poster", "target": "checker"}],
    }  # fmt: skip
    path = folder / "posts.json"
    path.write_text(json.dumps(data))
    return path


@dataclass
class App:
    home: Path
    file: Path
    server: ToolServer
    viewer: httpx.Client
    editor: httpx.Client
    run_id: str

    def deletes(self) -> list[str]:
        return [seen.path for seen in self.server.seen if seen.method == "DELETE"]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    root = tmp_path_factory.mktemp("compensation")
    home = root / "home"
    with tool_server() as server:
        file = workflow_file(root, server)
        done = flowdeck(home, "run", str(file), "--json")
        assert done.returncode != 0, done.stdout  # the checker fails: the run ends failed
        run_id = json.loads(done.stdout.splitlines()[0])["run_id"]
        viewer = flowdeck(home, "auth", "token", "create", "screen", "--viewer").stdout.strip()
        with (
            running_app(home, root / "server.log", env={"FLOWDECK_API_TOKEN": TOKEN}) as url,
            httpx.Client(base_url=url + "/api/v1", headers={"Authorization": f"Bearer {viewer}"}) as reader,
            httpx.Client(base_url=url + "/api/v1", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as editor,
        ):
            yield App(home, file, server, reader, editor, run_id)


def test_the_failed_runs_untrusted_handler_was_blocked_and_runs_show_says_so(app: App) -> None:
    assert app.deletes() == []  # imported with the file: never ran
    shown = flowdeck(app.home, "runs", "show", app.run_id)
    assert shown.returncode == 0, shown.stderr
    assert "compensation:" in shown.stdout
    assert "blocked  untrusted: an editor must approve it (it can call: domains 127.0.0.1; methods DELETE)" in (
        shown.stdout
    )


def test_a_viewer_reads_what_would_be_undone_but_cannot_compensate_nor_approve(app: App) -> None:
    view = app.viewer.get(f"/runs/{app.run_id}/compensation")
    assert view.status_code == 200, view.text
    planned = view.json()["planned"]
    assert [(p["handler"], p["trust"], p["undone"]) for p in planned] == [("undo_post", "untrusted", False)] * 2
    assert planned[0]["reach"]["domains"] == ["127.0.0.1"] and planned[0]["reach"]["methods"] == ["DELETE"]
    assert [e["status"] for e in view.json()["log"]] == ["blocked", "blocked"]

    refused = app.viewer.post(f"/runs/{app.run_id}/compensate")
    assert refused.status_code == 403 and "editor token" in refused.text
    refused = app.viewer.post("/trust", json={"handler": handler(app.server)})
    assert refused.status_code == 403
    assert app.viewer.get("/trust").json() == []
    assert app.deletes() == []


def test_approved_on_the_command_line_then_compensated_by_the_api_once(app: App) -> None:
    approved = flowdeck(app.home, "trust", "approve", str(app.file))
    assert approved.returncode == 0, approved.stderr
    assert "approved undo_post" in approved.stdout and "domains 127.0.0.1; methods DELETE" in approved.stdout

    done = app.editor.post(f"/runs/{app.run_id[:8]}/compensate")
    assert done.status_code == 200, done.text
    assert [(a["handler"], a["status"]) for a in done.json()["attempts"]] == [("undo_post", "ok")] * 2
    assert app.deletes() == ["/echo?undo=2", "/echo?undo=1"]

    key = done.json()["attempts"][0]["key"]
    assert app.viewer.post(f"/runs/{app.run_id}/compensation/{key}/done", json={"by": "ann"}).status_code == 403
    marked = app.editor.post(f"/runs/{app.run_id}/compensation/{key}/done", json={"by": "ann"})
    assert marked.status_code == 409 and "undone already" in marked.text  # only manual steps are marked done

    again = flowdeck(app.home, "runs", "compensate", app.run_id)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("done before") == 2
    assert app.deletes() == ["/echo?undo=2", "/echo?undo=1"]

    listed = flowdeck(app.home, "trust", "list", "--json")
    [entry] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert entry["kind"] == "handler" and entry["summary"]["domains"] == ["127.0.0.1"]
    assert entry["approved_by"].endswith("(command line)")
    revoked = flowdeck(app.home, "trust", "revoke", entry["content_hash"])
    assert revoked.returncode == 0, revoked.stderr
    assert app.viewer.get("/trust").json() == []


def test_an_editor_approves_a_handler_by_its_content_and_bad_input_names_the_field(app: App) -> None:
    bad = app.editor.post("/trust", json={"handler": {**handler(app.server), "on": ["never"]}})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "handler", "on", 0]  # the field, and the values it takes
    assert "'failure', 'cancel' or 'demand'" in bad.json()["detail"][0]["msg"]
    good = app.editor.post("/trust", json={"handler": handler(app.server)})
    assert good.status_code == 200, good.text
    assert good.json()["approved_by"] == "editor (API)"
    gone = app.editor.delete(f"/trust/{good.json()['content_hash']}")
    assert gone.status_code == 200
    assert app.editor.delete(f"/trust/{good.json()['content_hash']}").status_code == 404
    assert app.viewer.delete(f"/trust/{'0' * 64}").status_code == 403


def test_a_command_line_run_that_fails_is_undone_before_the_command_exits(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with tool_server() as server:
        file = workflow_file(tmp_path, server)
        assert flowdeck(home, "trust", "approve", str(file)).returncode == 0
        done = flowdeck(home, "run", str(file))
        assert done.returncode != 0
        assert [s.path for s in server.seen if s.method == "DELETE"] == ["/echo?undo=2", "/echo?undo=1"]


def test_an_mcp_servers_command_runs_once_approved_with_flowdeck_trust(tmp_path: Path) -> None:
    from tests.test_runner_mcp import ADD, notes_workflow

    home = tmp_path / "home"
    file = tmp_path / "notes.json"
    file.write_text(notes_workflow("cli-approved", ADD).model_dump_json())
    refused = flowdeck(home, "run", str(file))
    assert refused.returncode == 1 and "no editor has approved it here" in refused.stdout + refused.stderr
    approved = flowdeck(home, "trust", "approve", str(file))
    assert approved.returncode == 0, approved.stderr
    assert "approved MCP server notes (" in approved.stdout
    done = flowdeck(home, "run", str(file))
    assert done.returncode == 0, done.stdout + done.stderr
    listed = [json.loads(line) for line in flowdeck(home, "trust", "list", "--json").stdout.splitlines()]
    assert [(e["kind"], e["summary"]["name"]) for e in listed] == [("mcp_server", "notes")]
