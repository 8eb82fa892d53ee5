"""A run whose events cannot be stored (another program locks the database mid-run): the page says why at once,
its own page keeps saying it, and Resume finishes it once the lock is gone."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_editor import node
from tests.e2e.test_live import start_run
from tests.storagefaults import write_lock


@pytest.fixture
def app_model() -> str:
    return "scripted/delay=0.12"  # each agent streams for about 1.5 s


@pytest.fixture
def app_env() -> dict[str, str | None]:
    return {"FLOWDECK_BUSY_TIMEOUT": "0.5"}  # a write gives up on a held lock after half a second


def test_a_run_whose_storage_fails_says_why_and_resumes_once_it_works(page: Page, app_url: str, app_home: Path) -> None:
    start_run(page)
    expect(node(page, "Researcher", "Researcher")).to_contain_text("running", timeout=20_000)
    with write_lock(app_home / "flowdeck.db"):
        expect(page.get_by_text(re.compile(r"^Run interrupted: the database is locked"))).to_be_visible(timeout=20_000)
    page.get_by_role("button", name="Dismiss").click()

    page.goto(f"{app_url}/runs?status=interrupted")
    opened = page.get_by_role("link", name=re.compile("^Open run"))
    deadline = time.monotonic() + 20
    while not opened.count() and time.monotonic() < deadline:  # the server stores the run's end once it can
        time.sleep(0.5)
        page.reload()
    opened.first.click()
    expect(page.get_by_text(re.compile(r"^the database is locked while storing the run's events"))).to_be_visible()
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_text(re.compile(r"^Succeeded: \d/\d agents"))).to_be_visible(timeout=30_000)
