"""The properties panel shows the system prompt an agent is really sent: a reviewer whose verdict routes a loop is
told to give approve or revise, not the "APPROVE or REQUEST CHANGES" of a reviewer that routes nothing."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_canvas_loops import connect_back, dialog_gone
from tests.e2e.test_editor import node


@pytest.fixture
def app_model() -> str:
    return "scripted/verdicts=approve"


def test_the_panel_shows_the_prompt_a_deciding_reviewer_is_sent(page: Page) -> None:
    node(page, "Reviewer", "Reviewer").click()
    prompt = page.get_by_label("System prompt", exact=True)
    expect(prompt).to_have_value(re.compile(r"APPROVE or REQUEST CHANGES\.$"))  # it routes nothing: the plain preset
    expect(page.get_by_text("flowdeck adds:")).to_have_count(0)

    connect_back(page)
    page.get_by_role("dialog").get_by_role("button", name="Add loop").click()
    dialog_gone(page)
    node(page, "Coder", "Coder").click()
    node(page, "Reviewer", "Reviewer").click()
    expect(prompt).not_to_have_value(re.compile("REQUEST CHANGES"))
    expect(prompt).to_have_value(re.compile(r"Approve the work only when it has none left\.$"))
    expect(page.get_by_text("flowdeck adds: End your answer with one line giving your verdict:")).to_be_visible()
