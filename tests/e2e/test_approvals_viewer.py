"""A viewer and approvals: a viewer sees a run waiting for approval (the Runs page, the run's page) and cannot decide
it: no Review button, and the canvas's Review intent, crafted and sent through the viewer's own socket, is refused on
the server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_page_events import emit, listener
from tests.e2e.test_shared import EDITOR, TOKEN, VIEWER, log_in


@pytest.fixture
def app_env() -> dict[str, str]:
    return {"FLOWDECK_PASSWORD": EDITOR, "FLOWDECK_VIEWER_PASSWORD": VIEWER, "FLOWDECK_API_TOKEN": TOKEN}


@pytest.fixture
def viewer(browser: Browser, app_url: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    log_in(page, app_url, VIEWER)
    expect(page.get_by_text("Viewer · read-only")).to_be_visible()
    yield page
    context.close()


def test_a_viewer_sees_the_wait_and_cannot_decide(viewer: Page, app_url: str, tmp_path: Path) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    body = {"workflow": "review-loop", "model": "scripted/verdicts=approve", "wait": True}
    started = httpx.post(app_url + "/api/v1/runs", json=body, headers=auth, timeout=60)
    assert started.status_code == 200 and started.json()["status"] == "waiting", started.text
    run_id = started.json()["id"]

    viewer.goto(app_url + "/runs")
    row = viewer.get_by_role("row").filter(has_text=run_id)
    expect(row.get_by_text("Waiting for approval")).to_be_visible()
    row.get_by_role("link", name=f"Review run {run_id}").click()
    cards = viewer.get_by_role("region", name="Approvals")
    expect(cards.get_by_text("Waiting for approval")).to_be_visible()
    expect(cards.get_by_text("An editor decides")).to_be_visible()
    expect(viewer.get_by_role("button", name="Review Sign-off")).to_have_count(0)
    expect(viewer.get_by_role("button", name="Cancel run")).to_be_hidden()

    # The canvas's Review intent, crafted and sent through the viewer's own socket: refused on the server.
    canvas = viewer.get_by_role("application", name="Workflow canvas")
    emit(
        viewer,
        listener(viewer, canvas.locator("xpath=ancestor-or-self::*[@id][1]"), "approval_review"),
        {"id": "approval"},
    )
    expect(viewer.get_by_text("Viewers cannot decide approvals; log in as an editor")).to_be_visible()
    expect(viewer.get_by_role("dialog", name="Approve Sign-off")).to_have_count(0)
    answer = httpx.get(f"{app_url}/api/v1/runs/{run_id}", headers=auth, timeout=10)
    assert answer.json()["status"] == "waiting"
    assert "a viewer's page asked to decide an approval" in (tmp_path / "server.log").read_text()

    # An editor decides elsewhere (the API): the viewer's page follows the run on, by itself.
    decided = httpx.post(
        f"{app_url}/api/v1/runs/{run_id}/approvals/approval", json={"decision": "approve"}, headers=auth, timeout=60
    )
    assert decided.status_code == 202, decided.text
    expect(viewer.get_by_text("Succeeded: 4/4 agents")).to_be_visible(timeout=15_000)
    expect(cards.get_by_text("Waiting for approval")).to_have_count(0)
