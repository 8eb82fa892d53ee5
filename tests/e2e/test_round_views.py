"""Every panel shows every round of a loop (issue 21): the Review loop template run on the scripted model, its
reviewer sending the work back twice, then approving; and the Triage template, whose specialists not chosen are
skipped with the reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_accessibility import violations
from tests.e2e.test_approvals import approve_sign_off
from tests.e2e.test_editor import node
from tests.e2e.test_live import log_lines, open_template, panel


@pytest.fixture
def app_model() -> str:
    return "scripted/verdicts=revise,revise,approve"


def run_to_the_end(page: Page, model: str | None = None, *, watching: str | None = None, sign_off: bool = True) -> None:
    """Run the workflow (on `model`, for every agent), with the tab `watching` open while it goes; the Review
    loop's sign-off approved when `sign_off`."""
    page.get_by_role("button", name="Run", exact=True).click()
    if model is not None:
        field = page.get_by_label("Model for every agent")
        field.fill(model)
        field.press("Tab")
    page.get_by_role("button", name="Start run").click()
    if watching is not None:
        page.get_by_role("tab", name=watching).click()
        expect(panel(page).get_by_text(re.compile(r"^Running: "))).to_be_visible()
    if sign_off:
        approve_sign_off(page)
    expect(panel(page).get_by_text(re.compile(r"^Succeeded: "))).to_be_visible(timeout=30_000)


def test_the_log_names_each_round_and_keeps_them_all_under_one_agent(page: Page, tmp_path: Path) -> None:
    open_template(page, "Review loop")
    run_to_the_end(page)
    texts = [(line[2], line[4]) for line in log_lines(page, tmp_path)]
    verdicts = [(agent, text.split(" · ")[0]) for agent, text in texts if text.startswith("verdict")]
    assert verdicts == [
        ("Reviewer (round 1)", "verdict revise"),
        ("Reviewer (round 2)", "verdict revise"),
        ("Reviewer (round 3)", "verdict approve"),
        ("Sign-off", "verdict approved"),
    ]
    assert ("Researcher", "started on scripted/verdicts=revise,revise,approve") in texts  # it ran once: no round
    assert [agent for agent, text in texts if text.startswith("started")] == [
        "Researcher",
        "Coder (round 1)",
        "Reviewer (round 1)",
        "Coder (round 2)",
        "Reviewer (round 2)",
        "Coder (round 3)",
        "Reviewer (round 3)",
    ]

    page.get_by_role("tab", name="Output").click()
    expect(page.get_by_role("region", name="Output of Reviewer")).to_contain_text(
        "round 3 · verdict: approve · done in"
    )
    expect(page.get_by_role("region", name="Output of Researcher")).not_to_contain_text("round")
    page.get_by_role("tab", name="Log").click()
    log = page.get_by_role("log", name="Run log")
    expect(log.get_by_text("Reviewer (round 2)", exact=True).first).to_be_visible()
    page.get_by_label("Agent", exact=True).click()
    page.get_by_role("option", name="Reviewer", exact=True).click()
    expect(page.get_by_text(re.compile(r"^\d+ of \d+ lines$"))).to_be_visible()
    for index, verdict in ((1, "revise"), (2, "revise"), (3, "approve")):
        line = log.locator(".fd-log-line").filter(has_text=f"Reviewer (round {index})")
        expect(line.filter(has_text=f"verdict {verdict}")).to_have_count(1)
    expect(log.get_by_text("Coder (round 1)")).to_have_count(0)


def test_the_output_tab_shows_every_round_latest_first(page: Page) -> None:
    open_template(page, "Review loop")
    run_to_the_end(page, "scripted/verdicts=revise,approve")
    page.get_by_role("tab", name="Output").click()
    reviewer = page.get_by_role("region", name="Output of Reviewer")
    expect(reviewer).to_contain_text("round 2 · verdict: approve · done in")  # the latest, open
    expect(reviewer.get_by_text("Verdict: approve", exact=True)).to_be_visible()
    rounds = reviewer.get_by_role("group")  # each earlier round, folded under it
    expect(rounds).to_have_count(1)
    first = rounds.first
    expect(first).to_contain_text(re.compile(r"^Round 1 · verdict: revise · done in"))
    expect(first.get_by_text("Verdict: revise", exact=True)).to_be_hidden()
    # Opened from the keyboard: its text, as markdown, and folded again.
    first.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(first.get_by_text("Verdict: revise", exact=True)).to_be_visible()
    expect(first.get_by_text(re.compile(r"^Suggestion: add a test"))).to_be_visible()
    page.keyboard.press("Enter")
    expect(first.get_by_text("Verdict: revise", exact=True)).to_be_hidden()
    first.get_by_text(re.compile(r"^Round 1 · ")).click()  # and with the mouse
    expect(first.get_by_text("Verdict: revise", exact=True)).to_be_visible()
    coder = page.get_by_role("region", name="Output of Coder")
    expect(coder.get_by_role("group")).to_have_text([re.compile(r"^Round 1 · done in")])
    expect(page.get_by_role("region", name="Output of Researcher").get_by_role("group")).to_have_count(0)
    expect(page.locator(".q-notification")).to_have_count(0, timeout=15_000)
    assert violations(page) == []


def test_a_loop_that_runs_out_of_rounds_says_so_in_the_log(page: Page) -> None:
    open_template(page, "Review loop")
    run_to_the_end(page, "scripted/verdicts=revise")
    page.get_by_role("tab", name="Log").click()
    log = page.get_by_role("log", name="Run log")
    expect(log.get_by_text(re.compile(r"^stopped after 3 rounds: Reviewer still chose revise"))).to_be_visible()
    expect(log.locator(".fd-log-line").filter(has_text="stopped after 3 rounds")).to_contain_text("Reviewer (round 3)")


def test_handoffs_timeline_and_inspector_show_every_round(page: Page) -> None:
    open_template(page, "Review loop")
    # Handoffs: each round's, labelled with it; the loop edge's say they sent the work back, with the feedback.
    # The tab is open while the run goes: the arrows drawn before round 2 get their round when it starts.
    run_to_the_end(page, "scripted/delay=0.05,verdicts=revise,revise,approve", watching="Handoffs")
    arrows = page.get_by_role("list", name="Handoffs in time order").get_by_role("button")
    expect(arrows).to_have_count(8)  # and the code and the review handed to the sign-off
    names = [(arrows.nth(i).get_attribute("aria-label") or "").split(" at +")[0] for i in range(6)]
    assert names == [
        "Researcher handed its output to Coder in round 1",  # drawn again once round 2 began
        "Coder handed its output to Reviewer in round 1",
        "Reviewer sent the work back to Coder for round 2",
        "Coder handed its output to Reviewer in round 2",
        "Reviewer sent the work back to Coder for round 3",
        "Coder handed its output to Reviewer in round 3",
    ]
    expect(arrows.nth(2)).to_contain_text("round 1 · revise: sent back for round 2")
    expect(arrows.nth(3)).to_contain_text("round 2 · Implementation for")
    feedback = page.get_by_role("list", name="Handoffs in time order").get_by_text(
        re.compile(r"^Review of the work on: .*Suggestion: add a test", re.DOTALL)
    )
    expect(feedback).to_have_count(2)
    expect(feedback.first).not_to_contain_text("Verdict")
    expect(page.locator(".q-notification")).to_have_count(0, timeout=15_000)  # the sign-off's, fading: not measured
    assert violations(page) == []
    # A loop's arrow opens the agent it sent the work back to, in the round it sent it for.
    page.get_by_role("button", name=re.compile(r"^Reviewer sent the work back to Coder for round 2 at")).click()
    expect(page.get_by_role("tab", name="Inspector")).to_have_attribute("aria-selected", "true")
    inspector = panel(page).get_by_role("tabpanel").filter(has_text="Messages sent")
    expect(inspector.get_by_text("Coder", exact=True)).to_be_visible()
    expect(page.get_by_role("combobox", name="Round")).to_have_value("Round 2 of 3")

    # Timeline: one bar per execution, in the order they ran.
    page.get_by_role("tab", name="Timeline").click()
    bars = page.get_by_role("img", name=re.compile(r": succeeded from"))
    expect(bars).to_have_count(8)
    order = [(bars.nth(i).get_attribute("aria-label") or "").split(":")[0] for i in range(8)]
    assert order == [
        "Researcher",
        "Coder · round 1",
        "Reviewer · round 1",
        "Coder · round 2",
        "Reviewer · round 2",
        "Coder · round 3",
        "Reviewer · round 3",
        "Sign-off",
    ]

    # Inspector: a round picker, on the latest round until another is picked; each round's verdict and feedback.
    node(page, "Reviewer", "Reviewer").click()
    page.get_by_role("tab", name="Inspector").click()
    picker = page.get_by_role("combobox", name="Round")
    expect(picker).to_have_value("Round 3 of 3")
    expect(inspector.get_by_text("Its verdict: approve", exact=True)).to_be_visible()
    picker.focus()
    page.keyboard.press("Enter")  # the keyboard opens it and picks, as a mouse does
    expect(page.get_by_role("option", name="Round 2 of 3")).to_be_visible()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    expect(picker).to_have_value("Round 2 of 3")
    expect(inspector.get_by_text("Its verdict: revise", exact=True)).to_be_visible()
    expect(inspector.get_by_role("button", name='Collapse "Feedback"')).to_be_visible()
    expect(inspector.get_by_text(re.compile(r"^Review of the work on: .*Suggestion", re.DOTALL)).first).to_be_visible()
    expect(inspector.get_by_text(re.compile(r"^\d+ prompt \+ \d+ completion tokens$"))).to_be_visible()
    # Focused, a Quasar field's label takes the theme's primary blue (3.1:1), the picker's as every field's: the
    # rest of the inspector is checked here.
    picker.blur()
    expect(page.get_by_role("listbox")).to_have_count(0)  # its menu closed: while it fades, it has no options yet
    assert violations(page) == []  # the picker and the feedback

    # The coder's second round was sent the reviewer's first answer: its prompt has the feedback.
    node(page, "Coder", "Coder").click()
    expect(picker).to_have_value("Round 2 of 3")  # as the loop's arrow opened it: a round picked is kept
    picker.click()
    page.get_by_role("option", name="Round 1 of 3").click()
    expect(inspector.get_by_text("Received the output of: Researcher", exact=True)).to_be_visible()
    picker.click()
    page.get_by_role("option", name="Round 2 of 3").click()
    expect(inspector.get_by_text("Received the output of: Researcher, Reviewer", exact=True)).to_be_visible()


def test_skipped_agents_say_why_in_every_panel(page: Page, tmp_path: Path) -> None:
    open_template(page, "Triage")
    run_to_the_end(page, "scripted/verdicts=billing", sign_off=False)
    why = "skipped: Triage chose billing"
    expect(page.get_by_role("region", name="Output of Technical specialist")).to_contain_text(why)
    texts = [(line[2], line[4]) for line in log_lines(page, tmp_path)]
    assert ("Technical specialist", why) in texts and ("General support", why) in texts
    page.get_by_role("tab", name="Timeline").click()
    expect(panel(page).get_by_role("tabpanel").get_by_text(why, exact=True)).to_have_count(2)
    expect(page.get_by_role("img", name=re.compile(r"^Billing specialist: succeeded from"))).to_be_visible()
    node(page, "General support", "Custom agent").click()
    page.get_by_role("tab", name="Inspector").click()
    expect(panel(page).get_by_role("tabpanel").get_by_text(why, exact=True)).to_have_count(1)  # the timeline gone
    expect(page.get_by_role("combobox", name="Round")).to_have_count(0)  # it was decided once: no rounds to pick
