"""The editor shows the runs of the workflow it has open, by identity rather than name, and a run's state only on
the agents it ran; the Runs page estimates the tokens of runs still going."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import Page, expect

from flowdeck.templates import load_template
from tests.e2e.test_editor import node, settle
from tests.e2e.test_live import panel, start_run


def cli(home: Path, *args: str) -> subprocess.Popen[bytes]:
    """`flowdeck run ...` on the app's database, started (communicate() to wait for it)."""
    env = {**os.environ, "FLOWDECK_HOME": str(home), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return subprocess.Popen(
        [sys.executable, "-m", "flowdeck.cli", "run", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def cli_run(home: Path, *args: str) -> None:
    process = cli(home, *args)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()


def test_a_run_of_another_workflow_with_the_same_name_is_not_shown(page: Page, app_home: Path, tmp_path: Path) -> None:
    # A file of the same name, with an agent of the same id: nothing to do with the workflow open in the editor.
    other = tmp_path / "other.json"
    other.write_text(
        json.dumps({"format": 1, "name": "Research, code, review", "nodes": [{"id": "coder", "type": "coder"}]})
    )
    cli_run(app_home, str(other), "--model", "scripted")
    page.reload()
    expect(node(page, "Coder", "Coder")).to_be_visible()
    expect(panel(page).get_by_text("Succeeded: 1/1 agent")).to_have_count(0)
    expect(node(page, "Coder", "Coder")).not_to_contain_text("done")

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved “Research, code, review”")).to_be_visible()
    start_run(page)
    expect(panel(page).get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=20_000)
    cli_run(app_home, str(other), "--model", "scripted")  # the newest run of that name now
    page.get_by_role("button", name="Templates").click()
    page.get_by_role("button", name="Use Research, code, review").click()  # a new workflow: never run
    expect(panel(page).get_by_text("Succeeded: 3/3 agents")).to_be_hidden()
    expect(node(page, "Coder", "Coder")).not_to_contain_text("done")

    page.get_by_role("button", name="Open", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="Open Research, code, review").click()
    expect(panel(page).get_by_text("Succeeded: 3/3 agents")).to_be_visible()  # its own run, not the file's
    for label in ("Researcher", "Coder", "Reviewer"):
        expect(node(page, label, label)).to_contain_text("done")


def test_a_workflow_opened_unsaved_keeps_its_runs_through_a_reload_and_a_save(page: Page) -> None:
    page.get_by_role("button", name="Templates").click()
    page.get_by_role("button", name="Use Spec, code and tests").click()
    start_run(page)
    expect(panel(page).get_by_text("Succeeded: 4/4 agents")).to_be_visible(timeout=20_000)
    page.reload()
    expect(panel(page).get_by_text("Succeeded: 4/4 agents")).to_be_visible()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved “Spec, code and tests”")).to_be_visible()
    page.reload()
    expect(panel(page).get_by_text("Succeeded: 4/4 agents")).to_be_visible()
    expect(node(page, "Coder", "Coder")).to_contain_text("done")


def test_an_agent_added_after_deleting_one_inherits_nothing_from_the_run(page: Page) -> None:
    start_run(page)
    expect(panel(page).get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=20_000)
    expect(page.locator('.fd-edge[data-handoff="delivered"]')).to_have_count(2)
    node(page, "Coder", "Coder").click()
    page.keyboard.press("Delete")
    expect(node(page, "Coder", "Coder")).to_have_count(0)

    page.get_by_role("button", name="Add Coder").click()
    added = node(page, "Coder", "Coder")  # the name is free again; the agent is new
    expect(added).to_be_visible()
    expect(added).not_to_contain_text("done")
    page.get_by_role("button", name="Show the whole workflow").click()  # the view moved to the new agent
    expect(node(page, "Researcher", "Researcher")).to_be_in_viewport()
    settle(page)
    page.get_by_label("output of Researcher", exact=True).drag_to(page.get_by_label("input of Coder", exact=True))
    expect(page.get_by_label("Researcher to Coder")).to_have_count(1)
    expect(page.locator('.fd-edge[data-handoff="delivered"]')).to_have_count(0)  # not the run's connection
    added.click()
    page.get_by_role("tab", name="Inspector").click()
    inspected = panel(page).get_by_role("tabpanel").filter(has_text="This agent has not run in the run shown.")
    expect(inspected).to_be_visible()
    expect(inspected).to_contain_text("Coder")  # by its name, as on the canvas
    expect(panel(page).get_by_role("button", name="Run from here")).to_have_count(0)

    # After a reload the editing history is gone; the run shown still keeps its agents' ids from new agents.
    page.wait_for_timeout(1000)  # the draft is written at most twice a second
    page.reload()
    expect(panel(page).get_by_text("Succeeded: 3/3 agents")).to_be_visible()
    expect(node(page, "Coder", "Coder")).not_to_contain_text("done")
    page.get_by_role("button", name="Add Coder").click()
    expect(node(page, "Coder 2", "Coder")).to_be_visible()
    expect(node(page, "Coder 2", "Coder")).not_to_contain_text("done")


def test_the_runs_page_estimates_the_tokens_of_a_run_still_going(page: Page, app_url: str, app_home: Path) -> None:
    workflow = load_template("research-code-review")
    running = cli(app_home, "research-code-review", "--model", "scripted/delay=0.3")
    try:
        page.goto(f"{app_url}/runs")
        row = page.get_by_role("table").get_by_role("row").filter(has_text=workflow.name)
        expect(row).to_contain_text("running", timeout=20_000)
        tokens = row.get_by_role("cell").nth(6)  # the checkbox, then Workflow, What ran, Status, Started, Duration
        expect(tokens).to_have_text(re.compile(r"^~[1-9]\d*$"), timeout=10_000)
        expect(row).to_contain_text("succeeded", timeout=30_000)
        expect(tokens).to_have_text(re.compile(r"^[1-9]\d*$"))
    finally:
        _, err = running.communicate(timeout=60)
    assert running.returncode == 0, err.decode()
