"""A run the app refuses to start (a missing key, an invalid prompt template): the reason stays on screen until
dismissed, and the editor stays usable."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_editor import node
from tests.e2e.test_live import set_model, start_run

TOAST_SECONDS = 5  # how long an ordinary notification stays


@pytest.fixture
def app_env() -> dict[str, str | None]:
    return {"OPENAI_API_KEY": None}  # gpt-4o-mini has no key


def test_a_refused_start_says_why_until_dismissed_and_leaves_run_usable(page: Page) -> None:
    run = page.get_by_role("button", name="Run", exact=True)
    set_model(page, "Coder", "Coder", "gpt-4o-mini")
    start_run(page)
    refusal = page.get_by_role("alert").filter(has_text="Not started")
    # The first start after the app starts waits for the model library to load.
    expect(refusal).to_contain_text("Coder: gpt-4o-mini: needs OPENAI_API_KEY", timeout=20_000)
    expect(run).to_be_enabled()
    expect(page.get_by_role("button", name="Cancel run")).to_be_hidden()
    page.wait_for_timeout(TOAST_SECONDS * 1000 + 1000)
    expect(refusal).to_be_visible()
    refusal.get_by_role("button", name="Dismiss").click()
    expect(refusal).to_have_count(0)

    # An invalid prompt template is refused the same way; the next start replaces the reason shown.
    set_model(page, "Coder", "Coder", "scripted")
    node(page, "Reviewer", "Reviewer").click()
    expect(page.get_by_label("Name", exact=True)).to_have_value("Reviewer")  # the panel shows the Reviewer now
    template = page.get_by_label("Prompt template")
    template.fill("Review {{ broken")
    template.press("Tab")
    start_run(page)
    expect(refusal).to_contain_text("reviewer (Reviewer) prompt template: syntax error on line 1")
    expect(run).to_be_enabled()
    template.fill("Review {{ outputs.coder }}")
    template.press("Tab")
    start_run(page)
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=20_000)
    expect(refusal).to_have_count(0)  # the reason went with the start that fixed it
