"""A long history is read a page at a time: every run can be reached, however many there are."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from flowdeck.engine.events import RunFinished, RunStarted, Usage
from flowdeck.storage import RunLog, open_database
from flowdeck.templates import load_template

RUNS = 520  # more than the page ever read at once before it was paged on the server (500)


@pytest.fixture
def app_home(tmp_path: Path) -> Path:
    """A history of RUNS runs, the oldest first, numbered in their inputs (written straight to the run log)."""
    home = tmp_path / "home"
    home.mkdir()
    engine = open_database(f"sqlite:///{home / 'flowdeck.db'}")
    log = RunLog(engine)
    workflow = load_template("research-code-review")
    for number in range(1, RUNS + 1):
        run_id = f"run{number:04d}"
        ts = 1_790_000_000.0 + number * 60
        started = RunStarted(
            run_id=run_id,
            seq=1,
            ts=ts,
            workflow_name=f"Run number {number}",
            workflow=workflow.to_dict(),
            inputs={"task": f"task {number}"},
            node_ids=[],
        )
        finished = RunFinished(
            run_id=run_id, seq=2, ts=ts + 1, status="succeeded", duration=1.0, usage=Usage(), cost=0.0
        )
        log.append([started, finished])
    log.close()
    engine.dispose()
    return home


def row(page: Page, run_id: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=f"Open run {run_id}"))


def test_the_history_pages_through_every_run(page: Page, app_url: str) -> None:
    page.goto(f"{app_url}/runs")
    table = page.get_by_role("table")
    rows = table.get_by_role("row")
    expect(rows).to_have_count(51)  # the header and the newest 50
    expect(row(page, "run0520")).to_be_visible()
    expect(row(page, "run0470")).to_have_count(0)
    expect(page.get_by_text(f"1-50 of {RUNS}")).to_be_visible()

    page.get_by_role("button", name="Next page").click()
    expect(page.get_by_text(f"51-100 of {RUNS}")).to_be_visible()
    expect(row(page, "run0470")).to_be_visible()
    expect(row(page, "run0520")).to_have_count(0)
    page.get_by_role("button", name="Last page").click()
    expect(page.get_by_text(f"501-520 of {RUNS}")).to_be_visible()
    expect(rows).to_have_count(21)
    expect(table.get_by_role("link", name="Open run run0001")).to_be_visible()  # the oldest run is there too


def test_runs_picked_on_two_pages_can_be_compared(page: Page, app_url: str) -> None:
    page.goto(f"{app_url}/runs")
    row(page, "run0520").get_by_role("checkbox").click()
    page.get_by_role("button", name="Last page").click()
    expect(page.get_by_text(f"501-520 of {RUNS}")).to_be_visible()
    row(page, "run0001").get_by_role("checkbox").click()
    page.get_by_role("button", name="Compare selected").click()
    expect(page).to_have_url(f"{app_url}/runs/compare?a=run0520&b=run0001")
