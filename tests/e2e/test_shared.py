"""A flowdeck shared on a LAN, in the browser: logging in and out, and a viewer's read-only screen."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

EDITOR = "editor password 1"
VIEWER = "viewer password 1"
TOKEN = "fdk_e2e_token_0123456789abcdef"


@pytest.fixture
def app_env() -> dict[str, str]:
    return {"FLOWDECK_PASSWORD": EDITOR, "FLOWDECK_VIEWER_PASSWORD": VIEWER, "FLOWDECK_API_TOKEN": TOKEN}


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    yield context
    context.close()


def log_in(page: Page, url: str, password: str) -> None:
    page.goto(url)
    expect(page.get_by_text("This flowdeck is shared; log in to continue.")).to_be_visible()
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_editor_logs_in_and_logging_out_closes_every_tab(context: BrowserContext, app_url: str) -> None:
    page = context.new_page()
    log_in(page, app_url, "wrong password!")
    expect(page.get_by_role("alert")).to_have_text("Wrong password.")
    page.get_by_label("Password").fill(EDITOR)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("application", name="Workflow canvas")).to_be_visible()
    expect(page.get_by_text("Editor", exact=True)).to_be_visible()

    other = context.new_page()
    other.goto(app_url + "/runs")
    expect(other.get_by_role("heading", name="Runs").or_(other.get_by_text("Runs", exact=True)).first).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    expect(other.get_by_role("button", name="Log in")).to_be_visible(timeout=10_000)  # the other tab too
    page.goto(app_url + "/")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


def test_viewer_watches_a_run_read_only(context: BrowserContext, app_url: str) -> None:
    body = {"workflow": "research-code-review", "inputs": {"task": "Reverse a list"}, "wait": True}
    run = httpx.post(app_url + "/api/v1/runs", json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    run_id = run.json()["id"]

    page = context.new_page()
    log_in(page, app_url, VIEWER)
    expect(page).to_have_url(app_url + "/runs")  # a viewer does not get the editor
    expect(page.get_by_text("Viewer · read-only")).to_be_visible()
    expect(page.get_by_role("link", name="Editor")).to_have_count(0)
    page.get_by_text(run_id).click()
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=20_000)
    page.get_by_role("tab", name="Inspector").click()
    page.get_by_text("Coder", exact=True).first.click()
    expect(page.get_by_role("button", name="Run from here")).to_have_count(0)
    expect(page.get_by_role("button", name="Resume")).to_have_count(0)


def test_the_live_screen_moves_on_to_each_new_run(context: BrowserContext, app_url: str) -> None:
    page = context.new_page()
    log_in(page, app_url, VIEWER)
    expect(page).to_have_url(app_url + "/runs")  # logged in: going on before this would find the login page
    page.goto(app_url + "/live")
    expect(page.get_by_text("No runs yet. The next run will appear here by itself.")).to_be_visible()
    for task in ("Sort a list", "Merge two lists"):
        body = {"workflow": "research-code-review", "inputs": {"task": task}, "model": "scripted/delay=0.1"}
        run = httpx.post(app_url + "/api/v1/runs", json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
        assert run.status_code == 202, run.text
        expect(page.get_by_text(f"run {run.json()['id']} · read-only")).to_be_visible(timeout=10_000)
        expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=20_000)
        expect(page.get_by_text("Finished", exact=True)).to_be_visible()
        expect(page.get_by_text(task).first).to_be_visible()
    expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)
