"""A run the app refuses to start (a missing key, an invalid prompt template): the reason stays on screen until
dismissed, and the editor stays usable."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_editor import node, type_prompt_template
from tests.e2e.test_live import set_model, start_run

TOAST_SECONDS = 5  # how long an ordinary notification stays


@pytest.fixture
def app_env() -> dict[str, str | None]:
    return {"OPENAI_API_KEY": None}  # gpt-4o-mini has no key


def test_a_refused_start_says_why_until_dismissed_and_leaves_run_usable(page: Page) -> None:
    run = page.get_by_role("button", name="Run", exact=True)
    set_model(page, "Coder", "Coder", "gpt-4o-mini")
    start_run(page)
    refusal = page.get_by_role("alert").filter(has_text="Not started")
    # The first start after the app starts waits for the model library to load.
    expect(refusal).to_contain_text("Coder: gpt-4o-mini: needs OPENAI_API_KEY", timeout=20_000)
    expect(run).to_be_enabled()
    expect(page.get_by_role("button", name="Cancel run")).to_be_hidden()
    page.wait_for_timeout(TOAST_SECONDS * 1000 + 1000)
    expect(refusal).to_be_visible()
    refusal.get_by_role("button", name="Dismiss").click()
    expect(refusal).to_have_count(0)

    # An invalid prompt template is refused the same way; the next start replaces the reason shown.
    set_model(page, "Coder", "Coder", "scripted")
    node(page, "Reviewer", "Reviewer").click()
    expect(page.get_by_label("Name", exact=True)).to_have_value("Reviewer")  # the panel shows the Reviewer now
    type_prompt_template(page, "Review {{ broken")
    start_run(page)
    expect(refusal).to_contain_text("reviewer (Reviewer) prompt template: syntax error on line 1")
    expect(run).to_be_enabled()
    type_prompt_template(page, "Review {{ outputs.coder }}")
    start_run(page)
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=20_000)
    expect(refusal).to_have_count(0)  # the reason went with the start that fixed it


def on_top(locator: object) -> bool:
    """Whether a click at the middle of this element reaches it (nothing is drawn over it)."""
    return bool(
        locator.evaluate(  # type: ignore[attr-defined]
            """el => { const r = el.getBoundingClientRect();
                       return el.contains(document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2)); }"""
        )
    )


def test_the_reason_covers_none_of_the_canvas_controls(page: Page) -> None:
    set_model(page, "Coder", "Coder", "gpt-4o-mini")
    start_run(page)
    refusal = page.get_by_role("alert").filter(has_text="Not started")
    expect(refusal).to_be_visible(timeout=20_000)
    page.wait_for_timeout(500)  # any entrance animation over
    controls = [page.get_by_role("button", name=name) for name in ("Zoom In", "Zoom Out", "Fit View")]
    for control in [*controls, page.get_by_role("img", name="Minimap")]:
        assert on_top(control), f"the refusal covers {control}"
    # The run panel opened for "Starting…" and closed again: the agents are fitted to the whole canvas again.
    canvas = page.get_by_role("application", name="Workflow canvas")
    page.wait_for_timeout(800)
    area, card = canvas.bounding_box(), node(page, "Coder", "Coder").bounding_box()
    assert area is not None and card is not None
    middle = (card["y"] + card["height"] / 2 - area["y"]) / area["height"]
    assert 1 / 3 < middle < 2 / 3, f"the agents sit at {middle:.0%} of the canvas's height"
    controls[2].click()
    refusal.get_by_role("button", name="Dismiss").click()
    expect(refusal).to_have_count(0)
