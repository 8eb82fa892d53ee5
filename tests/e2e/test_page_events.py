"""Page events crafted by a viewer, sent through the page's own socket.io connection as an attacker would: they act
on no one else's page, and every value they carry is held to what the page offers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from flowdeck.engine.events import RunFinished, RunStarted, Usage
from flowdeck.storage import RunLog, open_database
from flowdeck.templates import load_template
from tests.e2e.test_shared import EDITOR, TOKEN, VIEWER, log_in

RUNS = 60  # more than the page shows at first (50)


@pytest.fixture
def app_env() -> dict[str, str]:
    return {"FLOWDECK_PASSWORD": EDITOR, "FLOWDECK_VIEWER_PASSWORD": VIEWER, "FLOWDECK_API_TOKEN": TOKEN}


@pytest.fixture
def app_home(tmp_path: Path) -> Path:
    """A history of RUNS finished runs (written straight to the run log)."""
    home = tmp_path / "home"
    home.mkdir()
    engine = open_database(f"sqlite:///{home / 'flowdeck.db'}")
    log = RunLog(engine)
    workflow = load_template("research-code-review").to_dict()
    for number in range(1, RUNS + 1):
        run_id, ts = f"run{number:04d}", 1_790_000_000.0 + number * 60
        started = RunStarted(
            run_id=run_id, seq=1, ts=ts, workflow_name="Old run", workflow=workflow, inputs={}, node_ids=[]
        )
        finished = RunFinished(
            run_id=run_id, seq=2, ts=ts + 1, status="succeeded", duration=1.0, usage=Usage(), cost=0.0
        )
        log.append([started, finished])
    log.close()
    engine.dispose()
    return home


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    yield context
    context.close()


@pytest.fixture
def viewer(browser: Browser, app_url: str) -> Iterator[Page]:
    """A viewer's page of the runs list, in a browser context (cookies) of its own."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    log_in(page, app_url, VIEWER)
    expect(page.get_by_text("Viewer · read-only")).to_be_visible()
    expect(page.get_by_text(f"1-50 of {RUNS}")).to_be_visible()
    yield page
    context.close()


def test_a_viewers_socket_cannot_act_on_an_editors_page(context: BrowserContext, viewer: Page, app_url: str) -> None:
    editor = context.new_page()
    log_in(editor, app_url, EDITOR)
    editor.get_by_role("application", name="Workflow canvas").wait_for()
    # What an attacker would need, read here from the editor's tab: its ids, and those of the Run button.
    run = listener(editor, editor.get_by_role("button", name="Run", exact=True), "click")

    emit(viewer, run)  # through the viewer's own socket
    viewer.wait_for_timeout(1000)
    expect(editor.get_by_role("button", name="Start run")).to_have_count(0)

    # A second socket of the viewer's that says it is the editor's page (its client and tab ids).
    sneaked = viewer.evaluate(
        """(target) => new Promise((resolve) => {
            const socket = io(window.location.host, {
                path: "/_nicegui_ws/socket.io",
                transports: ["websocket"],
                query: {client_id: target.client_id, tab_id: target.tab_id, document_id: "sneaked",
                        implicit_handshake: "true"},
            });
            socket.on("connect", () => { window.sneaked = socket; resolve("connected"); });
            socket.on("connect_error", (err) => resolve(err.message));
        })""",
        run,
    )
    assert sneaked == "this socket's login is not the page's"
    expect(editor.get_by_role("button", name="Start run")).to_have_count(0)

    # The editor opens the dialog; the viewer's socket presses its Start run.
    editor.get_by_role("button", name="Run", exact=True).click()
    start = listener(editor, editor.get_by_role("button", name="Start run"), "click")
    emit(viewer, start)
    viewer.wait_for_timeout(1500)
    expect(editor.get_by_role("button", name="Start run")).to_be_visible()  # the dialog is as the editor left it
    assert runs_total(app_url) == RUNS


def test_crafted_paging_events_load_one_page_at_most(viewer: Page, tmp_path: Path) -> None:
    rows = viewer.get_by_role("row")
    expect(rows).to_have_count(51)  # the header and the newest 50
    table = viewer.locator(".q-table__container")
    for asked in (100_000, -1, 0, "all", None, 1e308, True):
        emit(viewer, listener(viewer, table, "request"), {"pagination": {"page": 1, "rowsPerPage": asked}})
        emit(viewer, listener(viewer, table, "update:pagination"), {"page": 1, "rowsPerPage": asked})
        viewer.wait_for_timeout(2500)  # the page reads its runs again every 2 s
        expect(rows).to_have_count(51)
        expect(viewer.get_by_text(f"1-50 of {RUNS}")).to_be_visible()
    for page in (-5, 0, 10**9, "2", [2]):
        emit(viewer, listener(viewer, table, "request"), {"pagination": {"page": page, "rowsPerPage": 25}})
        viewer.wait_for_timeout(500)
        expect(rows.filter(has=viewer.get_by_role("link"))).to_have_count(25 if page != 10**9 else RUNS - 2 * 25)
    emit(viewer, listener(viewer, table, "update:pagination"), "not a dict")
    viewer.wait_for_timeout(2500)
    expect(rows.filter(has=viewer.get_by_role("link")).first).to_be_visible()  # the page still works
    viewer.get_by_role("button", name="Next page").click()
    expect(viewer.get_by_text(f"51-{RUNS} of {RUNS}")).to_be_visible()
    assert "Traceback" not in (tmp_path / "server.log").read_text()


def test_crafted_replay_positions_are_held_to_the_run(viewer: Page, app_url: str, tmp_path: Path) -> None:
    viewer.goto(f"{app_url}/runs/run{RUNS:04d}")
    expect(viewer.get_by_text("event 2 of 2")).to_be_visible()
    slider = viewer.get_by_label("Replay position")
    scrub = listener(viewer, slider, "change")
    emit(viewer, scrub, -5)
    expect(viewer.get_by_text("event 0 of 2")).to_be_visible()
    for asked in ("3", [1], None, {}, True):
        emit(viewer, scrub, asked)
    viewer.wait_for_timeout(500)
    expect(viewer.get_by_text("event 0 of 2")).to_be_visible()
    emit(viewer, scrub, 100_000)
    expect(viewer.get_by_text("event 2 of 2")).to_be_visible()
    assert "Traceback" not in (tmp_path / "server.log").read_text()


def listener(page: Page, element: Any, event: str) -> dict[str, Any]:
    """The ids a socket.io event for `element`'s `event` names, read from the page's own data."""
    dom_id = element.get_attribute("id")
    assert dom_id and dom_id.startswith("c"), dom_id
    return page.evaluate(
        """([domId, type]) => {
            const id = Number(domId.slice(1));
            const events = mounted_app.elements[id].events;
            const found = events.find((e) => e.type === type);
            if (!found) throw new Error(`no ${type} listener; it has: ${events.map((e) => e.type)}`);
            return {id, listener_id: found.listener_id, client_id: window.clientId, tab_id: TAB_ID};
        }""",
        [dom_id, event],
    )


def emit(page: Page, target: dict[str, Any], *args: object) -> None:
    """Send an event through the page's socket, as the page's own code does (each argument as JSON)."""
    page.evaluate(
        """([target, args]) => window.socket.emit("event", {
            id: target.id, client_id: target.client_id, listener_id: target.listener_id,
            args: args.map((arg) => JSON.stringify(arg)),
        })""",
        [target, list(args)],
    )


def runs_total(app_url: str) -> int:
    answer = httpx.get(app_url + "/api/v1/runs?limit=200", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    return len(answer.json())


def test_a_viewer_watching_a_run_live_is_offered_nothing_that_starts_a_run(viewer: Page, app_url: str) -> None:
    viewer.goto(app_url + "/live")
    body = {"workflow": "research-code-review", "inputs": {"task": "Sort a list"}, "model": "scripted/delay=0.1"}
    started = httpx.post(app_url + "/api/v1/runs", json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    assert started.status_code == 202, started.text
    expect(viewer.get_by_text(f"run {started.json()['id']} · read-only")).to_be_visible(timeout=10_000)
    expect(viewer.get_by_text("Finished", exact=True)).to_be_visible(timeout=20_000)
    viewer.get_by_role("tab", name="Inspector").click()
    viewer.get_by_label("Researcher (Researcher)", exact=True).click()
    viewer.get_by_label("Coder (Coder)", exact=True).click()  # the Inspector drawn again, for the finished run
    expect(
        viewer.get_by_role("region", name="Run panel").get_by_text("Implementation for:").filter(visible=True)
    ).to_have_count(1)
    for action in ("Run from here", "Run this node only", "Retry", "Pin output", "Edit output…"):
        expect(viewer.get_by_role("button", name=action)).to_have_count(0)
