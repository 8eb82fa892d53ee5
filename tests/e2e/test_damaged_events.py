"""A run whose stored events were changed after they were written (still valid JSON, so only their checksum shows
it): its page and the comparison say so, which run and which events, and the other pages go on working."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.storagefaults import cli


@pytest.fixture
def app_home(tmp_path: Path) -> Path:
    """Two runs recorded by the command line; in the first, the run's end was changed to "cancelled"."""
    home = tmp_path / "home"
    for task in ("reverse a list", "sort a list"):
        code, _, err = cli(home, "run", "research-code-review", "-m", "scripted", "--input", f"task={task}")
        assert code == 0, err
    conn = sqlite3.connect(home / "flowdeck.db")
    try:
        with conn:
            conn.execute(
                'UPDATE event_batches SET data = replace(data, \'"status":"succeeded"\', \'"status":"cancelled"\') '
                "WHERE data LIKE '%reverse a list%'"
            )
    finally:
        conn.close()
    return home


def _run_ids(home: Path) -> tuple[str, str]:
    _, out, _ = cli(home, "runs")
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    changed = [run for run in lines if cli(home, "runs", "show", run)[0] != 0]
    assert len(changed) == 1, out
    (other,) = set(lines) - set(changed)
    return changed[0], other


def test_a_run_whose_events_were_changed_says_so_on_its_page(page: Page, app_url: str, app_home: Path) -> None:
    changed, other = _run_ids(app_home)
    page.goto(f"{app_url}/runs/{changed}")
    said = page.get_by_text(re.compile(rf"^run {changed}: one or more of its stored events 1-\d+ \(run_started"))
    expect(said).to_be_visible(timeout=20_000)
    expect(said).to_contain_text("run_finished")
    expect(said).to_contain_text("changed after being written")
    expect(said).to_contain_text("restore a backup")
    expect(page.get_by_text("cancelled")).to_have_count(0)  # the changed end is not shown as what happened

    page.goto(f"{app_url}/runs/compare?a={other}&b={changed}")
    expect(page.get_by_text(re.compile(rf"^run {changed}: one or more of its stored events"))).to_be_visible()

    page.goto(f"{app_url}/runs/{other}")
    expect(page.get_by_text(re.compile(r"^Succeeded: 3/3 agents"))).to_be_visible(timeout=20_000)
    page.goto(f"{app_url}/runs")
    expect(page.get_by_role("link", name=re.compile(f"^Open run {changed}"))).to_be_visible(timeout=20_000)
