"""Replay and Compare with runs that have rounds (issue 21): the Review loop recorded by the command line, its
reviewer approving in round 3 in one run and in round 2 in the other."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_accessibility import violations
from tests.e2e.test_editor import node
from tests.e2e.test_runs_page import cli_run


@pytest.fixture(scope="module")
def recorded_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("rounds") / "home"
    cli_run(home, "review-loop", "--approve", "--model", "scripted/verdicts=revise,approve")
    cli_run(home, "review-loop", "--approve", "--model", "scripted/verdicts=revise,revise,approve")
    return home


@pytest.fixture
def app_home(recorded_home: Path) -> Path:
    return recorded_home


def run_ids(home: Path) -> list[str]:
    """The recorded runs' ids, newest first (the three-round run, then the two-round one)."""
    env = {**os.environ, "FLOWDECK_HOME": str(home), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    out = subprocess.run(
        [sys.executable, "-m", "flowdeck.cli", "runs"], env=env, capture_output=True, text=True, check=True
    ).stdout
    return [line.split()[0] for line in out.splitlines()[1:]]


def seconds(progress: str) -> float:
    """The elapsed time in a progress line ("Running: 2/4 agents done · round 2 · 0.3 s · 512 tokens")."""
    found = re.search(r" · (\d+\.\d) s · ", progress)
    assert found is not None, progress
    return float(found[1])


def test_the_replay_steps_through_the_rounds_in_order(page: Page, app_url: str, recorded_home: Path) -> None:
    three, _ = run_ids(recorded_home)
    page.goto(f"{app_url}/runs/{three}")
    position = page.get_by_text(re.compile(r"^event \d+ of \d+"))
    expect(position).to_contain_text("round 3 of 3")
    coder, reviewer = node(page, "Coder", "Coder"), node(page, "Reviewer", "Reviewer")
    expect(reviewer).to_contain_text("verdict: approve")
    assert violations(page) == []  # with the round buttons
    progress = page.get_by_text(re.compile(r"^Succeeded: "))
    whole = seconds(progress.inner_text())

    # Back to where round 3 began: the coder is at work again, the reviewer's last word is round 2's.
    page.get_by_role("button", name="Previous round").click()
    expect(position).to_contain_text("round 3 of 3")
    expect(coder).to_contain_text("running")
    expect(reviewer).to_contain_text("verdict: revise")
    page.get_by_role("button", name="Previous round").click()
    expect(position).to_contain_text("round 2 of 3")
    # the time the run had taken at that point, not the time since it was recorded (it said "121.8 s")
    assert seconds(page.get_by_text(re.compile(r"^Running: ")).inner_text()) <= whole
    page.get_by_role("button", name="Previous round").click()
    expect(position).to_contain_text(re.compile(r"^event 0 of \d+ .* round 1 of 3"))
    expect(coder).not_to_contain_text("done")
    page.get_by_role("button", name="Next round").click()
    expect(position).to_contain_text("round 2 of 3")
    expect(coder).to_contain_text("running")

    # Played on from there, it goes through round 3 to the end, and every panel has every round.
    page.get_by_label("Speed").click()
    page.get_by_role("option", name="100×", exact=True).click()
    page.get_by_role("button", name="Play the replay").click()
    expect(page.get_by_text("Succeeded: 4/4 agents")).to_be_visible(timeout=15_000)
    expect(position).to_contain_text("round 3 of 3")
    page.get_by_role("tab", name="Timeline").click()
    expect(page.get_by_role("img", name=re.compile(r"^Reviewer · round 3: succeeded from"))).to_be_visible()
    page.get_by_role("button", name="Next round").click()  # at the end already: it stays there
    expect(page.get_by_text("Succeeded: 4/4 agents")).to_be_visible()


def test_compare_goes_agent_by_agent_and_round_by_round(page: Page, app_url: str, recorded_home: Path) -> None:
    three, two = run_ids(recorded_home)
    page.goto(f"{app_url}/runs/compare?a={two}&b={three}")
    expect(
        page.get_by_text(re.compile(r"^\d+ of 8 outputs differ, agent by agent and round by round$"))
    ).to_be_visible()
    # The reviewer's second round: it approved in one run, sent the work back in the other.
    left = page.get_by_role("region", name=f"Output of Reviewer · round 2 in run {two}")
    right = page.get_by_role("region", name=f"Output of Reviewer · round 2 in run {three}")
    expect(left.locator("del")).to_contain_text(["approve"])
    expect(right.locator("ins")).to_contain_text(["revise"])
    expect(page.get_by_text("Reviewer · round 2 · verdict: ", exact=False)).to_have_count(2)
    # A round only one run had.
    expect(page.get_by_text("Coder · round 3 · no round 3 in this run", exact=True)).to_be_visible()
    expect(page.get_by_role("region", name=f"Output of Coder · round 3 in run {three}")).to_contain_text(
        "Implementation for"
    )
    expect(page.get_by_text("Researcher · done in", exact=False)).to_have_count(2)  # it ran once: no round named
    assert violations(page) == []


def test_the_replay_position_is_moved_from_the_keyboard(page: Page, app_url: str, recorded_home: Path) -> None:
    _, two = run_ids(recorded_home)
    page.goto(f"{app_url}/runs/{two}")
    slider = page.get_by_role("slider", name="Replay position")
    position = page.get_by_text(re.compile(r"^event \d+ of \d+"))
    expect(position).to_be_visible()
    total = int(re.findall(r"of (\d+)", position.inner_text())[0])
    expect(slider).to_have_attribute("aria-valuetext", f"event {total} of {total}")
    page.get_by_role("button", name="Play the replay").focus()
    for _ in range(8):  # Tab reaches it, like a person would
        if slider.evaluate("e => e === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(slider).to_be_focused()
    steps = [
        ("Home", 0),
        ("ArrowRight", 1),
        ("ArrowUp", 2),
        ("ArrowLeft", 1),
        ("End", total),
        ("ArrowDown", total - 1),
        ("PageDown", None),
        ("PageUp", total - 1),
    ]
    for key, expected in steps:
        before = int(slider.input_value())
        page.keyboard.press(key)
        if expected is None:  # a page: a tenth or so of the run, back
            expect(slider).not_to_have_value(str(before))
            now = int(slider.input_value())
            assert 0 <= now < before - 1, (before, now)
            expected = now
        expect(slider).to_have_value(str(expected))
        expect(slider).to_have_attribute("aria-valuetext", f"event {expected} of {total}")
        expect(position).to_contain_text(f"event {expected} of {total}")  # the run shown follows it
        expect(slider).to_be_focused()
    page.keyboard.press("Home")
    expect(position).to_contain_text(f"event 0 of {total}")
    expect(node(page, "Coder", "Coder")).not_to_contain_text("done")
    assert violations(page) == []
