"""A run whose models take a while to get ready (the first run after the app starts imports the model library,
a local model server may be starting): the page says what it is waiting for, then the run goes as usual."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_live import start_run


@pytest.fixture
def app_model() -> str:
    return "scripted/ready=3"


def test_a_slow_start_says_what_it_waits_for(page: Page) -> None:
    start_run(page)
    expect(page.get_by_text("Starting…", exact=True)).to_be_visible()
    expect(page.get_by_text("Starting… getting the models ready", exact=False)).to_be_visible(timeout=2_500)
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("getting the models ready", exact=False)).to_have_count(0)
