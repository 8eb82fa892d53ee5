"""Pinning an agent's output: runs use it instead of calling the model, so the agents after it can be iterated on;
an edited output is pinned the same way, and Unpin calls the model again."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_editor import node
from tests.e2e.test_live import panel, start_run


@pytest.fixture
def app_model() -> str:
    return "scripted"


def test_pin_edit_and_unpin_an_output(page: Page) -> None:
    start_run(page)
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=20_000)
    node(page, "Researcher", "Researcher").click()
    page.get_by_role("tab", name="Inspector").click()
    page.get_by_role("button", name="Pin output").click()
    expect(page.get_by_text("Output pinned")).to_be_visible()
    expect(node(page, "Researcher", "Researcher").get_by_role("img", name="Pinned output")).to_be_visible()
    expect(page.get_by_text("Unsaved changes")).to_be_visible()  # a pin is an edit of the workflow

    start_run(page)
    expect(page.get_by_text("Succeeded: 2/2 agents · 1 reused")).to_be_visible(timeout=20_000)
    expect(node(page, "Researcher", "Researcher")).to_contain_text("pinned output")
    expect(panel(page).get_by_text("Partial run")).to_have_count(0)  # a pin does not make a run partial
    page.get_by_role("tab", name="Output").click()
    cards = panel(page).get_by_role("region", name=re.compile("^Output of "))
    expect(cards).to_have_count(3)  # the pinned agent's output is listed, first, as the data flows
    expect(cards.first).to_have_accessible_name("Output of Researcher")
    expect(cards.first).to_contain_text("pinned output")

    # Edit the pinned output: the Coder then receives the edited text.
    node(page, "Researcher", "Researcher").click()
    page.get_by_role("tab", name="Inspector").click()
    page.get_by_role("button", name="Edit output…").click()
    box = page.get_by_role("dialog").get_by_label("Output")
    box.fill("CANCELLED-EDIT")
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()  # nothing pinned, nothing changed
    expect(page.get_by_role("dialog")).to_have_count(0)
    page.get_by_role("button", name="Edit output…").click()
    expect(box).not_to_have_value("CANCELLED-EDIT")
    box.fill("Use a two-pointer scan; PINNED-BY-HAND")
    page.get_by_role("button", name="Pin edited output").click()
    node(page, "Coder", "Coder").click()
    page.get_by_role("tab", name="Inspector").click()
    page.get_by_role("button", name="Run from here").click()
    expect(page.get_by_text("Succeeded: 2/2 agents · 1 reused")).to_be_visible(timeout=20_000)
    node(page, "Coder", "Coder").click()
    expect(panel(page).get_by_text("PINNED-BY-HAND").first).to_be_visible()

    # Unpin: the next run calls the Researcher's model again.
    node(page, "Researcher", "Researcher").click()
    page.get_by_role("tab", name="Inspector").click()
    page.get_by_role("button", name="Unpin").click()
    expect(page.get_by_text("Output unpinned")).to_be_visible()
    expect(node(page, "Researcher", "Researcher").get_by_role("img", name="Pinned output")).to_have_count(0)
    start_run(page)
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=20_000)
    expect(node(page, "Researcher", "Researcher")).not_to_contain_text("pinned")

    # Undo brings the pin back, as any edit.
    page.locator("body").press("Control+z")
    start_run(page)
    expect(page.get_by_text("Succeeded: 2/2 agents · 1 reused")).to_be_visible(timeout=20_000)
