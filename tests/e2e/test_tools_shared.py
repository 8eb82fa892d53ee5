"""A run's files on a flowdeck shared on a LAN (issue 22): the page downloads them with its login (the API would
want a token), and nobody without one gets them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.e2e.test_shared import EDITOR, TOKEN, VIEWER, log_in


@pytest.fixture
def app_env() -> dict[str, str]:
    return {"FLOWDECK_PASSWORD": EDITOR, "FLOWDECK_VIEWER_PASSWORD": VIEWER, "FLOWDECK_API_TOKEN": TOKEN}


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    yield context
    context.close()


def test_a_logged_in_page_downloads_a_runs_file_and_a_stranger_cannot(
    context: BrowserContext, browser: Browser, app_url: str
) -> None:
    page = context.new_page()
    log_in(page, app_url, EDITOR)
    page.get_by_label("Coder (Coder)", exact=True).click()
    page.get_by_role("group", name="Tools").get_by_role("checkbox", name="Tool write_file").click()
    page.get_by_label("System prompt").fill('Write it.\nCALL write_file {"path": "out.txt", "content": "shared"}')
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=30_000)
    page.get_by_role("tab", name="Artifacts").click()
    link = page.get_by_role("link", name="Download out.txt")
    with page.expect_download() as download:
        link.click()
    assert Path(download.value.path()).read_bytes() == b"shared"

    href = link.get_attribute("href") or ""
    assert href.startswith("/runs/") and href.endswith("/files/out.txt")
    stranger = browser.new_context()
    try:
        answer = stranger.request.get(app_url + href, max_redirects=0)
        assert answer.status in (302, 303, 307, 401, 403), answer.status  # to the login page, never the file
        assert answer.body() != b"shared"
    finally:
        stranger.close()
