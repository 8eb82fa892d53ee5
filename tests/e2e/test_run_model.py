"""The Run dialog's model for every agent: one run on one model whatever each agent names, kept for the next run
of the tab, and back to each agent's own model on asking."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.test_editor import node


def expect_ran_on(page: Page, label: str, model: str) -> None:
    """The agent's attempt in the run shown was on this model (the Inspector's line "model · attempt 1 · …")."""
    node(page, label, label).click()
    page.get_by_role("tab", name="Inspector").click()
    attempt = page.get_by_role("tabpanel").get_by_text(" · attempt 1").first
    expect(attempt).to_have_text(re.compile(rf"^{re.escape(model)} · attempt 1"), timeout=30_000)


def test_a_run_can_put_every_agent_on_one_model(page: Page) -> None:
    node(page, "Coder", "Coder").click()
    own = page.get_by_label("Model", exact=True)
    own.fill("scripted/chunks=4")
    own.press("Enter")

    page.get_by_role("button", name="Run", exact=True).click()
    dialog = page.get_by_role("dialog").filter(has_text="Start run")
    model = dialog.get_by_label("Model for every agent")
    expect(model).to_have_value("")
    expect(model).to_have_attribute("placeholder", "Keep each agent's model")
    model.fill("scripted spaced")
    dialog.get_by_role("button", name="Start run").click()
    expect(dialog.get_by_text("“scripted spaced” is not a model name: model names have no spaces")).to_be_visible()
    model.fill("scripted/chunks=2")
    model.press("Enter")
    dialog.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=30_000)
    for label in ("Researcher", "Coder", "Reviewer"):
        expect_ran_on(page, label, "scripted/chunks=2")

    page.get_by_role("button", name="Run", exact=True).click()  # the choice is kept for the next run
    dialog = page.get_by_role("dialog").filter(has_text="Start run")
    model = dialog.get_by_label("Model for every agent")
    expect(model).to_have_value("scripted/chunks=2")
    model.click()
    dialog.page.get_by_role("option", name="Keep each agent's model").click()
    expect(model).to_have_value("")
    dialog.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=30_000)
    expect_ran_on(page, "Coder", "scripted/chunks=4")  # a new run: each agent's own model again
    expect_ran_on(page, "Reviewer", "scripted")


def test_the_run_dialog_starts_from_the_keyboard(page: Page) -> None:
    page.get_by_role("button", name="Run", exact=True).click()
    task = page.get_by_role("dialog").get_by_label("Task")
    expect(task).to_be_focused()  # the first input has the cursor: type at once
    page.keyboard.press("Control+a")
    page.keyboard.type("Reverse a linked list")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=20_000)
    page.get_by_role("tab", name="Output").click()
    output = page.get_by_role("region", name="Output of Researcher")
    expect(output).to_contain_text("Research notes on: Reverse a linked list")  # the task typed, not the default
    assert len(page.get_by_text(re.compile(r"^Succeeded: ")).all()) == 1  # one run, not two


def test_an_input_without_a_default_is_asked_for(page: Page) -> None:
    page.get_by_role("button", name="New").click()
    page.get_by_role("button", name="Custom agent").click()  # the blank workflow's Task has no default
    page.get_by_role("button", name="Run", exact=True).click()
    dialog = page.get_by_role("dialog").filter(has_text="Start run")
    dialog.get_by_role("button", name="Start run").click()
    expect(dialog.get_by_text("Task is required: type it")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Succeeded: "))).to_have_count(0)  # nothing started
    dialog.get_by_label("Task").fill("Count to three")
    page.keyboard.press("Control+Enter")
    expect(dialog).to_be_hidden()
    expect(page.get_by_text(re.compile(r"^Succeeded: 1/1 agent"))).to_be_visible(timeout=30_000)


def test_a_double_click_on_run_opens_one_dialog(page: Page) -> None:
    page.get_by_role("button", name="Run", exact=True).dblclick()
    dialogs = page.get_by_role("dialog").filter(has_text="Start run")
    expect(dialogs).to_have_count(1)
    page.wait_for_timeout(500)  # the second click's dialog would have come by now
    expect(dialogs).to_have_count(1)
    dialogs.get_by_role("button", name="Cancel").click()
    expect(dialogs).to_have_count(0)
    page.get_by_role("button", name="Run", exact=True).click()  # and it opens again once closed
    expect(dialogs).to_have_count(1)
