"""axe-core on every kind of page: no serious or critical violation of its WCAG rules, and the rules the pages
once broke (the page's language, one level-one heading, landmarks told apart, ARIA attributes allowed where they
are) at any impact; and the canvas's handles used from the keyboard."""

from __future__ import annotations

import re
from importlib.resources import files

from playwright.sync_api import Page, expect

# axe-core, as shipped inside the axe-playwright-python wheel (a dev dependency).
AXE = (files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")
RULES = ["html-has-lang", "page-has-heading-one", "landmark-unique", "aria-allowed-attr", "aria-prohibited-attr"]


def violations(page: Page) -> list[str]:
    page.evaluate(AXE)
    found = page.evaluate("() => axe.run(document).then(r => r.violations)")
    return [
        f"{v['id']} ({v['impact']}): {v['help']}: {[n['target'] for n in v['nodes']][:5]}"
        for v in found
        if v["impact"] in ("serious", "critical") or v["id"] in RULES
    ]


def test_editor_runs_and_run_pages_pass_axe(page: Page) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text("flowdeck")
    assert violations(page) == []
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=30_000)
    assert violations(page) == []  # with the run panel
    page.get_by_role("button", name="Runs").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Runs")
    assert violations(page) == []
    page.get_by_role("link", name=re.compile("^Open run ")).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Run")
    page.get_by_role("application", name="Workflow canvas").wait_for()
    assert violations(page) == []
    # A read-only canvas has no handles to connect: none is offered as a button.
    expect(page.get_by_role("button", name=re.compile("^(input|output) of "))).to_have_count(0)
    page.get_by_role("link", name="Live").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert violations(page) == []


def test_the_loading_bar_has_a_name(page: Page) -> None:
    """Quasar shows its loading bar while any request is on its way (it failed CI once, caught mid-request)."""
    expect(page.get_by_role("heading", level=1)).to_have_text("flowdeck")
    page.evaluate("Quasar.LoadingBar.start()")
    expect(page.get_by_role("progressbar", name="Loading")).to_be_attached()
    assert violations(page) == []


def test_agents_can_be_connected_from_the_keyboard(page: Page) -> None:
    page.get_by_role("button", name="Add Reviewer").click()
    expect(page.get_by_label("Reviewer 2 (Reviewer)", exact=True)).to_be_visible()
    page.get_by_role("button", name="output of Coder").press("Enter")
    page.get_by_role("button", name="input of Reviewer 2").press("Enter")
    expect(page.get_by_label("Coder to Reviewer 2")).to_have_count(1)
