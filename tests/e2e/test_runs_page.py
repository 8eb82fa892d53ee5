"""The runs pages: history with filters, a past run read-only with replay, and comparing two runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_editor import node


def cli_run(home: Path, *args: str) -> None:
    env = {**os.environ, "FLOWDECK_HOME": str(home), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    subprocess.run([sys.executable, "-m", "flowdeck.cli", "run", *args], env=env, capture_output=True, check=False)


@pytest.fixture(scope="module")
def recorded_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three runs recorded by the command line (once for this module; the tests here only read them)."""
    home = tmp_path_factory.mktemp("runs") / "home"
    cli_run(home, "research-code-review", "--model", "scripted/delay=0.05", "--input", "task=reverse a list")
    cli_run(home, "research-code-review", "--model", "scripted/delay=0.05", "--input", "task=sort a list")
    cli_run(home, "fan-out-review", "--model", "scripted/fault=auth")
    return home


@pytest.fixture
def app_home(recorded_home: Path) -> Path:
    return recorded_home


@pytest.fixture
def history(recorded_home: Path) -> None:
    """The app serves the database the command line wrote to."""


def runs_table(page: Page) -> object:
    return page.get_by_role("table")


def test_history_lists_runs_and_filters_them(page: Page, app_url: str, history: None) -> None:
    page.get_by_role("button", name="Runs").click()
    rows = runs_table(page).get_by_role("row")
    expect(rows).to_have_count(4)  # the header and three runs
    expect(runs_table(page)).to_contain_text("Fan-out: two coders, one reviewer")
    expect(runs_table(page)).to_contain_text("failed")

    page.get_by_label("Status").click()
    page.get_by_role("option", name="failed").click()
    expect(rows).to_have_count(2)
    expect(runs_table(page)).not_to_contain_text("succeeded")
    page.get_by_label("Status").click()
    page.get_by_role("option", name="succeeded").click()
    expect(rows).to_have_count(3)
    expect(runs_table(page)).not_to_contain_text("Fan-out")

    page.goto(f"{app_url}/runs")  # no filter: every workflow, every status
    expect(rows).to_have_count(4)
    page.get_by_label("Workflow").click()
    page.get_by_role("option", name="Fan-out: two coders, one reviewer").click()
    expect(rows).to_have_count(2)
    expect(runs_table(page)).not_to_contain_text("Research, code, review")


def test_a_past_run_opens_read_only_and_replays(page: Page, app_url: str, history: None) -> None:
    page.goto(f"{app_url}/runs?status=succeeded")
    page.get_by_role("link", name=re.compile("^Open run")).first.click()
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible()
    expect(node(page, "Coder", "Coder")).to_contain_text("done")
    expect(node(page, "Coder", "Coder")).to_contain_text("scripted/delay=0.05")
    expect(page.get_by_text("Implementation for: sort a list").first).to_be_visible()

    # Read-only: nothing can be deleted.
    node(page, "Coder", "Coder").click()
    page.keyboard.press("Delete")
    expect(node(page, "Coder", "Coder")).to_be_visible()

    # Scrub one event back: the run is no longer finished.
    position = page.get_by_text(re.compile(r"^event \d+ of \d+"))
    total = int(re.findall(r"\d+", position.inner_text())[1])
    page.get_by_role("slider", name="Replay position").focus()
    page.keyboard.press("ArrowLeft")
    expect(position).to_contain_text(f"event {total - 1} of {total}")
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_hidden()
    # Back to the start: nothing has happened yet.
    page.get_by_role("button", name="Back to the start").click()
    expect(position).to_contain_text(f"event 0 of {total}")
    expect(node(page, "Coder", "Coder")).not_to_contain_text("done")

    page.get_by_label("Speed").click()
    page.get_by_role("option", name="1×", exact=True).click()
    page.get_by_role("button", name="Play the replay").click()
    expect(node(page, "Researcher", "Researcher")).to_contain_text("running")
    expect(node(page, "Reviewer", "Reviewer")).not_to_contain_text("done")
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=15_000)
    expect(page.get_by_role("button", name="Play the replay")).to_be_visible()

    page.get_by_role("tab", name="Handoffs").click()
    expect(page.get_by_role("list", name="Handoffs in time order").get_by_role("button")).to_have_count(2)


def test_comparing_two_runs_highlights_their_differences(page: Page, app_url: str, history: None) -> None:
    page.goto(f"{app_url}/runs?status=succeeded")
    checkboxes = runs_table(page).get_by_role("checkbox")
    checkboxes.nth(1).click()
    checkboxes.nth(2).click()
    page.get_by_role("button", name="Compare selected").click()
    expect(page.get_by_text("3 of 3 agents' outputs differ")).to_be_visible()
    researcher = page.get_by_role("region", name=re.compile("^Output of Researcher in run"))
    expect(researcher).to_have_count(2)
    expect(researcher.first.locator("del")).to_contain_text(["sort"])
    expect(researcher.last.locator("ins")).to_contain_text(["reverse"])


def test_the_runs_tables_checkboxes_and_page_size_have_names(page: Page, history: None) -> None:
    page.get_by_role("button", name="Runs").click()
    rows = runs_table(page).get_by_role("row")
    expect(rows).to_have_count(4)
    boxes = runs_table(page).get_by_role("checkbox", name=re.compile(r"^Select run \w+$"))
    expect(boxes).to_have_count(3)  # one a run, named by its id
    box = boxes.first
    box.click()
    expect(box).to_be_checked()
    expect(page.get_by_role("checkbox", name="Select every run on this page", exact=True)).to_have_count(1)
    names = page.get_by_role("checkbox").evaluate_all("boxes => boxes.map((b) => b.getAttribute('aria-label'))")
    assert all(names), names
    per_page = page.get_by_role("combobox", name="Runs per page")
    expect(per_page).to_have_count(1)
    per_page.click()
    page.get_by_role("option", name="25").click()
    expect(per_page).to_have_value("25")
    expect(rows).to_have_count(4)
