"""Fork from history: a past run's page opens its workflow, as it ran, in the editor as a new workflow with that run on
it; Run from here goes on from the run's outputs, and what is saved stays as it is."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.test_editor import node
from tests.e2e.test_live import panel, start_run


def open_first_run(page: Page) -> str:
    """Go to the Runs page, open the newest run; its id."""
    page.get_by_role("button", name="Runs").click()
    link = page.get_by_role("link", name=re.compile("^Open run ")).first
    run_id = link.inner_text().removeprefix("Open run ").strip()
    link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Run")
    return run_id


def test_a_past_run_opens_in_the_editor_as_it_ran_and_runs_on_from_there(page: Page) -> None:
    start_run(page)
    expect(panel(page).get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=20_000)
    # Saved, then changed and saved again: the run's workflow is no longer what is saved.
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved “Research, code, review”")).to_be_visible()
    node(page, "Reviewer", "Reviewer").click()
    name = page.get_by_label("Name", exact=True)
    expect(name).to_have_value("Reviewer")
    name.fill("Critic")
    expect(page.get_by_text("Unsaved changes")).to_be_visible()
    page.keyboard.press("Control+s")
    expect(page.get_by_text("Unsaved changes")).to_be_hidden()

    run_id = open_first_run(page)
    page.get_by_role("button", name="Open in editor").click()
    forked = f"Research, code, review (run {run_id})"
    expect(page.get_by_label("Workflow name")).to_have_value(forked)
    expect(page).to_have_url(re.compile(r"/$"))  # a reload shows the draft, not a second fork
    expect(node(page, "Reviewer", "Reviewer")).to_be_visible()  # as it ran, before the rename
    expect(panel(page).get_by_text("Succeeded: 3/3 agents")).to_be_visible()
    expect(node(page, "Coder", "Coder")).to_contain_text("done")

    page.reload()  # the fork and the run shown on it survive a reload
    expect(page.get_by_label("Workflow name")).to_have_value(forked)
    expect(panel(page).get_by_text("Succeeded: 3/3 agents")).to_be_visible()

    node(page, "Coder", "Coder").click()
    page.get_by_role("tab", name="Inspector").click()
    page.get_by_role("button", name="Run from here").click()
    expect(page.get_by_text("Succeeded: 2/2 agents · 1 reused")).to_be_visible(timeout=20_000)
    expect(node(page, "Researcher", "Researcher")).to_contain_text("cached")
    expect(panel(page).get_by_text("Run from Coder", exact=True)).to_be_visible()

    # What is saved is untouched: the saved workflow still has its Critic.
    page.get_by_role("button", name="Open", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="Open Research, code, review", exact=True).click()
    # The fork, opened and not edited, gives way without asking (as a template opened does).
    expect(page.get_by_label("Workflow name")).to_have_value("Research, code, review")
    expect(node(page, "Critic", "Reviewer")).to_be_visible()


def test_opening_a_run_asks_before_replacing_unsaved_edits(page: Page) -> None:
    start_run(page)
    expect(panel(page).get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=20_000)
    page.get_by_label("Workflow name").fill("My edits")
    page.get_by_label("Workflow name").press("Tab")
    open_first_run(page)
    page.get_by_role("button", name="Open in editor").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("My edits")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_label("Workflow name")).to_have_value("My edits")  # nothing lost
    expect(page).to_have_url(re.compile(r"/$"))


def test_a_run_that_does_not_exist_is_said_so(page: Page) -> None:
    page.goto(page.url.split("?")[0] + "?run=nosuchrun")
    expect(page.get_by_text(re.compile("Run nosuchrun cannot be opened"))).to_be_visible()
    expect(page.get_by_label("Workflow name")).to_have_value("Research, code, review")
