"""Compensation in the browser (issue 22): a workflow imported with a handler from elsewhere opens the trust dialog
listing what it can call; an editor approves it; the run fails after a POST, the handler's DELETE reaches the loopback
server, and the Side effects tab shows the attempt; Compensate asks first and repeats nothing. A viewer sees the
attempts, and neither a Compensate button nor an Approve button."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_accessibility import violations
from tests.e2e.test_editor import import_file
from tests.e2e.test_shared import EDITOR, TOKEN, VIEWER, log_in
from tests.hooks import flowdeck
from tests.toolserver import ToolServer, tool_server


@pytest.fixture
def server() -> Iterator[ToolServer]:
    with tool_server() as s:
        yield s


def workflow_file(folder: Path, server: ToolServer) -> Path:
    post = f'CALL http_request {{"method": "POST", "url": "{server.url("/echo")}", "body": "42"}}'
    data = {
        "format": 2,
        "name": "posts",
        "inputs": [{"name": "task", "default": "post it"}],
        "allowed_domains": ["127.0.0.1"],
        "handlers": [{
            "id": "undo_post",
            "label": "Delete the posted item",
            "match": {"tool": "http_request", "method": ["POST"]},
            "action": {"kind": "http", "method": "DELETE",
                       "url": server.url("/echo") + "?undo={{ effect.arguments.body }}"},
        }],
        "nodes": [
            {"id": "poster", "type": "custom", "label": "Poster",
             "config": {"system_prompt": post, "tools": ["http_request"], "model": "scripted"}},
            {"id": "checker", "type": "custom", "label": "Checker", "config": {"model": "scripted/fault=auth"}},
        ],
        "edges": [{"id": "e", "source": "poster", "target": "checker"}],
    }  # fmt: skip
    path = folder / "posts.json"
    path.write_text(json.dumps(data))
    return path


def deletes(server: ToolServer, count: int, timeout: float = 30.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [s.path for s in server.seen if s.method == "DELETE"]
        if len(found) >= count:
            return found
        time.sleep(0.1)
    return [s.path for s in server.seen if s.method == "DELETE"]


def test_import_approve_run_fail_and_see_the_compensation(page: Page, server: ToolServer, tmp_path: Path) -> None:
    import_file(page, workflow_file(tmp_path, server))
    dialog = page.get_by_role("dialog", name="This workflow has compensation handlers from elsewhere")
    expect(dialog).to_be_visible()
    handler = dialog.get_by_role("group", name="Handler undo_post")
    expect(handler.get_by_text("Delete the posted item · http · undoes http_request")).to_be_visible()
    expect(handler.get_by_text("Domains: 127.0.0.1", exact=True)).to_be_visible()
    expect(handler.get_by_text("Methods: DELETE", exact=True)).to_be_visible()
    assert server.seen == []  # importing ran nothing
    dialog.get_by_role("button", name="Approve").click()
    expect(dialog).to_be_hidden()

    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("button", name="Start run").click()
    assert deletes(server, 1) == ["/echo?undo=42"]
    assert [s.method for s in server.seen] == ["POST", "DELETE"]

    page.get_by_role("tab", name="Side effects").click()
    attempts = page.get_by_role("list", name="Compensation attempts")
    expect(attempts.get_by_role("listitem")).to_have_count(1, timeout=15_000)
    expect(attempts.get_by_role("listitem")).to_contain_text("http_request · undo_post · ok — DELETE")

    page.get_by_role("button", name="Compensate").click()
    confirm = page.get_by_role("dialog", name="Compensate this run?")
    expect(confirm.get_by_text("Nothing to undo", exact=False)).to_be_visible()  # undone already: never twice
    expect(confirm.get_by_role("button", name="Undo them")).to_be_disabled()
    assert violations(page) == []
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    assert deletes(server, 2, timeout=1) == ["/echo?undo=42"]


def test_not_now_then_review_and_approve_from_the_compensate_confirmation(
    page: Page, server: ToolServer, tmp_path: Path
) -> None:
    import_file(page, workflow_file(tmp_path, server))
    dialog = page.get_by_role("dialog", name="This workflow has compensation handlers from elsewhere")
    dialog.get_by_role("button", name="Not now").click()
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("button", name="Start run").click()
    page.get_by_role("tab", name="Side effects").click()
    attempts = page.get_by_role("list", name="Compensation attempts")
    expect(attempts.get_by_role("listitem")).to_contain_text("undo_post · blocked — untrusted", timeout=30_000)
    assert deletes(server, 1, timeout=1) == []

    page.get_by_role("button", name="Compensate").click()
    confirm = page.get_by_role("dialog", name="Compensate this run?")
    expect(confirm.get_by_role("listitem")).to_contain_text("will not run: untrusted")
    confirm.get_by_role("button", name="Review handlers…").click()
    trust = page.get_by_role("dialog", name="This workflow has compensation handlers from elsewhere")
    trust.get_by_role("button", name="Approve").click()
    confirm = page.get_by_role("dialog", name="Compensate this run?")
    expect(confirm.get_by_role("listitem")).not_to_contain_text("will not run")
    confirm.get_by_role("button", name="Undo them").click()
    assert deletes(server, 1) == ["/echo?undo=42"]
    expect(attempts.get_by_role("listitem").last).to_contain_text("undo_post · ok")


class TestViewer:
    @pytest.fixture
    def app_env(self) -> dict[str, str]:
        return {"FLOWDECK_PASSWORD": EDITOR, "FLOWDECK_VIEWER_PASSWORD": VIEWER, "FLOWDECK_API_TOKEN": TOKEN}

    @pytest.fixture
    def run_id(self, app_home: Path, server: ToolServer, tmp_path: Path) -> str:
        done = flowdeck(app_home, "run", str(workflow_file(tmp_path, server)), "--json")
        return str(json.loads(done.stdout.splitlines()[0])["run_id"])

    def test_a_viewer_sees_the_attempts_and_no_compensate_button(
        self, run_id: str, browser: Browser, app_url: str
    ) -> None:
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        viewer = context.new_page()
        try:
            log_in(viewer, app_url, VIEWER)
            viewer.goto(f"{app_url}/runs/{run_id}")
            viewer.get_by_role("tab", name="Side effects").click()
            attempts = viewer.get_by_role("list", name="Compensation attempts")
            expect(attempts.get_by_role("listitem")).to_contain_text("undo_post · blocked — untrusted")
            expect(viewer.get_by_role("button", name="Compensate")).to_have_count(0)
        finally:
            context.close()


def test_handlers_written_here_are_checked_applied_undone_and_approved_as_the_editors(
    page: Page, app_home: Path
) -> None:
    page.get_by_role("button", name="More workflow actions").click()
    page.get_by_role("menuitem", name="Compensation handlers…").click()
    dialog = page.get_by_role("dialog", name="Compensation handlers")
    box = dialog.get_by_label("Compensation handlers (JSON)")
    expect(box).to_have_value("[]")
    written = {
        "id": "undo",
        "match": {"tool": "http_request", "method": ["POST"]},
        "action": {"kind": "http", "method": "DELETE", "url": "{{ effect.detail.url }}"},
    }
    box.fill(json.dumps([written]))
    dialog.get_by_role("button", name="Apply handlers").click()
    expect(dialog.get_by_role("alert")).to_contain_text(
        "handlers.0.action.http.url: url must start with a fixed http(s)"
    )
    expect(box).to_have_attribute("aria-invalid", "true")
    written["action"]["url"] = "https://api.example.org/items/{{ effect.key }}"  # type: ignore[index]
    box.fill(json.dumps([written]))
    dialog.get_by_role("button", name="Apply handlers").click()
    expect(dialog).to_be_hidden()

    listed = flowdeck(app_home, "trust", "list", "--json")
    [entry] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert entry["approved_by"] == "editor (written here)" and entry["summary"]["domains"] == ["api.example.org"]

    page.get_by_role("button", name="Undo").click()
    page.get_by_role("button", name="More workflow actions").click()
    page.get_by_role("menuitem", name="Compensation handlers…").click()
    expect(
        page.get_by_role("dialog", name="Compensation handlers").get_by_label("Compensation handlers (JSON)")
    ).to_have_value("[]")
    page.get_by_role("dialog", name="Compensation handlers").get_by_role("button", name="Cancel").click()


def test_manual_steps_are_shown_and_marked_done_by_the_editor(page: Page, tmp_path: Path) -> None:
    data = {
        "format": 2,
        "name": "manual",
        "inputs": [{"name": "task", "default": "write"}],
        "handlers": [{"id": "tell", "match": {"tool": "write_file"},
                      "action": {"kind": "manual", "steps": "Tell ops to remove {{ effect.arguments.path }}"}}],
        "nodes": [
            {"id": "w", "type": "custom", "label": "Writer", "config": {
                "system_prompt": 'CALL write_file {"path": "a.md", "content": "x"}', "tools": ["write_file"],
                "model": "scripted"}},
            {"id": "c", "type": "custom", "label": "Checker", "config": {"model": "scripted/fault=auth"}},
        ],
        "edges": [{"id": "e", "source": "w", "target": "c"}],
    }  # fmt: skip
    path = tmp_path / "manual.json"
    path.write_text(json.dumps(data))
    import_file(page, path)
    trust = page.get_by_role("dialog", name="This workflow has compensation handlers from elsewhere")
    expect(trust.get_by_text("It calls nothing: it shows steps to a person.")).to_be_visible()
    trust.get_by_role("button", name="Approve").click()
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("button", name="Start run").click()
    page.get_by_role("tab", name="Side effects").click()
    attempts = page.get_by_role("list", name="Compensation attempts")
    expect(attempts.get_by_text("Tell ops to remove a.md", exact=True)).to_be_visible(timeout=30_000)
    expect(attempts.get_by_role("listitem").first).to_contain_text("write_file · tell · manual")
    attempts.get_by_role("button", name="Mark done: tell for write_file").click()
    expect(attempts.get_by_role("listitem").last).to_contain_text("tell · ok — done by editor (page)")
    expect(attempts.get_by_role("button", name="Mark done: tell for write_file")).to_have_count(0)
