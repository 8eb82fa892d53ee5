"""A loop's curve and its label stay in view (issue 21): opening the Review loop, Fit View and Arrange fit the
loop's curve and label, not only the cards, and the label reads at a size and contrast a person can read."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.test_accessibility import violations
from tests.e2e.test_editor import canvas, settle
from tests.e2e.test_live import open_template

ARTIFACTS_NAME = "review-loop-after-fit.png"


def inside_canvas(page: Page, thing: Locator) -> None:
    """The whole of `thing` is inside the canvas's drawn area (not cut at its edge)."""
    box, area = thing.bounding_box(), canvas(page).bounding_box()
    assert box is not None and area is not None
    assert area["x"] <= box["x"] and box["x"] + box["width"] <= area["x"] + area["width"], (box, area)
    assert area["y"] <= box["y"] and box["y"] + box["height"] <= area["y"] + area["height"], (box, area)


def loop_parts(page: Page) -> tuple[Locator, Locator]:
    """The loops' labels and curves (the Review loop has two: the reviewer's and the sign-off's rejection)."""
    labels = page.locator('.fd-edge-label[data-loop="true"]')
    curves = page.locator('.fd-edge[data-loop="true"] .react-flow__edge-path')
    return labels, curves


def settled_view(page: Page) -> None:
    """The fit's transition over (React Flow animates none, but the page around may still be moving)."""
    page.wait_for_function("() => !document.getAnimations().some((a) => a instanceof CSSTransition)")
    page.wait_for_timeout(300)


@pytest.mark.parametrize("how", ["open", "Fit View", "Arrange agents", "keyboard"])
def test_the_loop_curve_and_its_label_are_in_view_after_a_fit(page: Page, how: str) -> None:
    open_template(page, "Review loop")
    settle(page)
    labels, curves = loop_parts(page)
    expect(labels.filter(has_text="revise · ≤ 3")).to_be_visible()
    expect(curves).to_have_count(2)
    if how == "keyboard":
        page.get_by_role("button", name="Fit View").focus()
        page.keyboard.press("Enter")
    elif how != "open":
        page.get_by_role("button", name=how).click()
    settled_view(page)
    for part in (*labels.all(), *curves.all()):
        inside_canvas(page, part)


def test_the_loop_label_is_readable(page: Page, tmp_path: object) -> None:
    open_template(page, "Review loop")
    settle(page)
    page.get_by_role("button", name="Fit View").click()
    settled_view(page)
    label = loop_parts(page)[0].filter(has_text="revise · ≤ 3")
    # Its text as drawn on the screen (the canvas's zoom included) is at least 12 px high.
    drawn = label.evaluate(
        """e => {
          const flow = e.closest('.react-flow').querySelector('.react-flow__viewport');
          const zoom = new DOMMatrixReadOnly(getComputedStyle(flow).transform).a;
          const own = new DOMMatrixReadOnly(getComputedStyle(e).transform).a;
          return parseFloat(getComputedStyle(e).fontSize) * zoom * own;
        }"""
    )
    assert drawn >= 12, f"the loop's label is drawn {drawn:.1f} px high"
    assert violations(page) == []  # axe's colour contrast (4.5:1) on the label among the rest
    page.screenshot(path=str(canvas_shot(page)))


def canvas_shot(page: Page) -> object:
    from tests.e2e.conftest import ARTIFACTS

    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / ARTIFACTS_NAME
