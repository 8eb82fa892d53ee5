"""The API's side effects and artifacts of a run (GET /runs/{id}/effects, /artifacts, /artifacts/{path}) and resume's
choice for unknown outcomes: the real app in a subprocess, read with a viewer's token, as a client would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flowdeck.config import load_settings
from flowdeck.engine.tools import ToolCall, ToolContext, ToolSpec
from flowdeck.services import open_services
from flowdeck.storage.effects import SqlJournal
from tests.appserver import running_app
from tests.hooks import cli_env, flowdeck

TOKEN = "fdk_test_token_0123456789abcdef"
SECRET_FILE_TEXT = "the database's neighbour: must never be served"


def _workflow(folder: Path) -> Path:
    calls = [
        'CALL write_file {"path": "out/report.md", "content": "# Report\\nAll good."}',
        'CALL write_file {"path": "page.html", "content": "<script>alert(document.cookie)</script>"}',
    ]
    workflow = {
        "format": 2,
        "name": "reports",
        "inputs": [{"name": "task", "default": "report"}],
        "nodes": [
            {"id": "writer", "type": "custom", "label": "Writer",
             "config": {"system_prompt": "\n".join(calls), "tools": ["write_file"]}},
        ],
        "edges": [],
    }  # fmt: skip
    path = folder / "reports.json"
    path.write_text(json.dumps(workflow))
    return path


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = flowdeck(home, *args)
    assert done.returncode == 0, done.stderr
    return done


def _cancelled_run(home: Path, workflow: Path) -> str:
    """A run cancelled (Ctrl+C) while its writer's model still answers: no tool call made yet."""
    args = [sys.executable, "-m", "flowdeck.cli", "run", str(workflow), "--json", "-m", "scripted/delay=0.3"]
    proc = subprocess.Popen(args, env=cli_env(home), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    run_id = ""
    for line in proc.stdout:
        event = json.loads(line)
        run_id = run_id or event["run_id"]
        if event["type"] == "node_started":
            proc.send_signal(signal.SIGINT)
            break
    proc.stdout.read()
    proc.stdout.close()
    assert proc.wait(30) == 130
    return run_id


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, httpx.Client, dict[str, str]]]:
    """(a viewer's client, an editor's client, run ids): a run that wrote files, and a stopped one whose first call's
    outcome is unknown."""
    root = tmp_path_factory.mktemp("effects")
    home = root / "home"
    workflow = _workflow(root)
    wrote = json.loads(_cli(home, "run", str(workflow), "--json").stdout.splitlines()[0])["run_id"]
    unknown = _cancelled_run(home, workflow)
    os.environ["FLOWDECK_HOME"] = str(home)
    try:
        services = open_services(load_settings(env_file=None))
    finally:
        del os.environ["FLOWDECK_HOME"]
    try:  # as if its process had died while the first write ran: the intent, no outcome
        spec = ToolSpec(name="write_file", description="", parameters={}, effect="write")
        context = ToolContext(run_id=unknown, node_id="writer", execution=1, key=f"{unknown}:writer:1:1")
        call = ToolCall(id="c1", name="write_file", arguments='{"path": "out/report.md", "content": "x"}')
        SqlJournal(services.engine, unknown).intent(context, spec, call)
    finally:
        services.close()
    (root / "outside.txt").write_text(SECRET_FILE_TEXT)
    (home / "workspaces" / wrote / "leak.txt").symlink_to(root / "outside.txt")  # planted: never followed
    viewer = _cli(home, "auth", "token", "create", "screen", "--viewer").stdout.strip()
    with (
        running_app(home, root / "server.log", env={"FLOWDECK_API_TOKEN": TOKEN}) as url,
        httpx.Client(base_url=url + "/api/v1", headers={"Authorization": f"Bearer {viewer}"}) as reader,
        httpx.Client(base_url=url + "/api/v1", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as editor,
    ):
        yield reader, editor, {"wrote": wrote, "unknown": unknown}


def test_a_viewer_lists_a_runs_side_effects(app: tuple[httpx.Client, httpx.Client, dict[str, str]]) -> None:
    reader, _, runs = app
    answer = reader.get(f"/runs/{runs['wrote'][:8]}/effects")  # a unique prefix, as the other run routes take
    assert answer.status_code == 200, answer.text
    entries = answer.json()
    assert [(e["tool"], e["agent"], e["round"], e["status"]) for e in entries] == [
        ("write_file", "Writer", 1, "ok"),
        ("write_file", "Writer", 1, "ok"),
    ]
    assert entries[0]["arguments"] == {"path": "out/report.md", "content": "# Report\nAll good."}
    assert entries[0]["detail"]["path"] == "out/report.md"
    assert entries[0]["finished_at"] >= entries[0]["started_at"]
    [unknown] = reader.get(f"/runs/{runs['unknown']}/effects").json()
    assert (unknown["status"], unknown["finished_at"]) == ("unknown", None)


def test_a_viewer_lists_and_downloads_a_runs_files(app: tuple[httpx.Client, httpx.Client, dict[str, str]]) -> None:
    reader, _, runs = app
    listed = reader.get(f"/runs/{runs['wrote']}/artifacts")
    assert listed.status_code == 200
    assert [a["path"] for a in listed.json()] == ["out/report.md", "page.html"]  # the planted link is not listed
    report = reader.get(f"/runs/{runs['wrote']}/artifacts/out/report.md")
    assert report.status_code == 200
    assert report.text == "# Report\nAll good."
    assert report.headers["content-type"] == "text/plain; charset=utf-8"
    assert report.headers["content-disposition"] == "attachment; filename*=UTF-8''report.md"
    assert report.headers["x-content-type-options"] == "nosniff"
    page = reader.get(f"/runs/{runs['wrote']}/artifacts/page.html")
    assert page.status_code == 200
    assert page.headers["content-type"] == "application/octet-stream"  # never HTML that runs in the API's origin
    assert page.headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in page.headers["content-security-policy"]


@pytest.mark.parametrize(
    "path",
    [
        "leak.txt",  # a symlink inside the workspace to a file outside
        "..%2Foutside.txt",
        "%2E%2E/%2E%2E/outside.txt",
        "..%2F..%2F..%2Foutside.txt",
        "%2Fetc%2Fpasswd",
        "out/..%2F..%2F..%2Foutside.txt",
        "out%00.md",
        "out",  # a folder
        "missing.md",
    ],
)
def test_a_download_never_leaves_the_runs_workspace(
    app: tuple[httpx.Client, httpx.Client, dict[str, str]], path: str
) -> None:
    reader, _, runs = app
    base = str(reader.base_url).rstrip("/")
    answer = reader.get(httpx.URL(f"{base}/runs/{runs['wrote']}/artifacts/{path}"))  # sent as written
    assert answer.status_code == 404, answer.text
    assert SECRET_FILE_TEXT not in answer.text and "root:" not in answer.text
    assert "has no such file to download" in answer.json()["detail"]


def test_effects_and_artifacts_of_no_run_are_404_and_need_a_token(
    app: tuple[httpx.Client, httpx.Client, dict[str, str]],
) -> None:
    reader, _, runs = app
    for path in ("/runs/nosuchrun/effects", "/runs/nosuchrun/artifacts", "/runs/nosuchrun/artifacts/a.md"):
        assert reader.get(path).status_code == 404
    anonymous = httpx.get(f"{str(reader.base_url).rstrip('/')}/runs/{runs['wrote']}/effects")
    assert anonymous.status_code == 401


def test_resume_asks_what_to_do_with_an_unknown_outcome(
    app: tuple[httpx.Client, httpx.Client, dict[str, str]],
) -> None:
    reader, editor, runs = app
    run_id = runs["unknown"]
    refused = editor.post(f"/runs/{run_id}/resume")
    assert refused.status_code == 409, refused.text
    detail = " ".join(refused.json()["detail"])
    assert "Writer (round 1), write_file: outcome unknown" in detail
    assert '{"unknown": "retry"}' in detail and '{"unknown": "skip"}' in detail
    bad = editor.post(f"/runs/{run_id}/resume", json={"unknown": "maybe"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "unknown"]
    assert reader.post(f"/runs/{run_id}/resume", json={"unknown": "skip"}).status_code == 403  # viewers read only
    resumed = editor.post(f"/runs/{run_id}/resume?wait=true", json={"unknown": "skip"})
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "succeeded"
    new_id = resumed.json()["id"]
    # skipped: the first write (whose outcome was unknown) was not made again; the second one was
    assert [a["path"] for a in reader.get(f"/runs/{new_id}/artifacts").json()] == ["page.html"]
    assert [e["arguments"]["path"] for e in reader.get(f"/runs/{new_id}/effects").json()] == ["page.html"]
