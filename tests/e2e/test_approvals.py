"""Approvals in the browser: a run waits at the sign-off, and an editor approves it from the run panel's card or
rejects it with a note (the coder revises, and it asks again). A viewer: tests/e2e/test_approvals_viewer.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.test_live import open_template, panel, start_run


@pytest.fixture
def app_model() -> str:
    return "scripted/verdicts=approve"  # the reviewer approves at once: the run goes on to the sign-off


def review_button(page: Page) -> Locator:
    """The run panel card's Review… (the canvas card has one of the same name)."""
    return panel(page).get_by_role("region", name="Approvals").get_by_role("button", name="Review Sign-off")


def approve_sign_off(page: Page) -> None:
    """Approve the Review loop's sign-off from the run panel once it waits."""
    cards = panel(page).get_by_role("region", name="Approvals")
    expect(cards.get_by_text("Waiting for approval")).to_be_visible(timeout=30_000)
    review_button(page).click()
    dialog = page.get_by_role("dialog", name="Approve Sign-off")
    dialog.get_by_role("button", name="Approve", exact=True).click()
    expect(dialog).to_be_hidden()


def wait_for_sign_off(page: Page) -> None:
    open_template(page, "Review loop")
    start_run(page)
    cards = panel(page).get_by_role("region", name="Approvals")
    expect(cards.get_by_text("Waiting for approval")).to_be_visible(timeout=30_000)
    expect(cards.get_by_text("Sign-off: Ship this code?")).to_be_visible()
    expect(page.get_by_text("Waiting: 3/4 agents done")).to_be_visible()


def test_approve_from_the_run_panel_card(page: Page) -> None:
    wait_for_sign_off(page)
    # The canvas card's Review… opens the same dialog as the run panel's card.
    canvas = page.get_by_role("application", name="Workflow canvas")
    canvas.get_by_role("button", name="Review Sign-off").click()
    dialog = page.get_by_role("dialog", name="Approve Sign-off")
    expect(dialog.get_by_text("Ship this code?")).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    review_button(page).click()
    dialog = page.get_by_role("dialog", name="Approve Sign-off")
    expect(dialog.get_by_text("Approve: Sign-off")).to_be_visible()
    expect(dialog.locator("pre").first).to_contain_text("def solve(value: str) -> bool:")  # the code, rendered
    dialog.get_by_role("button", name="Approve", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_text("Succeeded: 4/4 agents")).to_be_visible(timeout=30_000)
    expect(panel(page).get_by_role("region", name="Approvals").get_by_text("Waiting for approval")).to_have_count(0)


def test_reject_with_a_note_sends_the_work_back_and_it_asks_again(page: Page, tmp_path: Path) -> None:
    wait_for_sign_off(page)
    review_button(page).click()
    dialog = page.get_by_role("dialog", name="Approve Sign-off")
    dialog.get_by_label("Note (a rejection hands it on as feedback)").fill("Name it is_palindrome")
    dialog.get_by_role("button", name="Reject").click()
    expect(dialog).to_be_hidden()
    # The coder's second round, then the reviewer's, then the sign-off asks again.
    page.get_by_role("tab", name="Log").click()
    expect(panel(page).get_by_text("rejected by editor: Name it is_palindrome")).to_be_visible(timeout=30_000)
    expect(panel(page).get_by_text("Sign-off chose rejected: round 2 of 3, back to 'Coder'")).to_be_visible()
    expect(panel(page).get_by_role("region", name="Approvals").get_by_text("Waiting for approval")).to_be_visible(
        timeout=30_000
    )
    review_button(page).click()
    dialog = page.get_by_role("dialog", name="Approve Sign-off")
    dialog.get_by_label("Edited text (for Edit and approve)").fill("def is_palindrome(s): return s == s[::-1]")
    dialog.get_by_role("button", name="Edit and approve").click()
    expect(page.get_by_text("Succeeded: 4/4 agents")).to_be_visible(timeout=30_000)


def test_an_approval_is_added_from_the_palette_and_configured(page: Page) -> None:
    page.get_by_role("button", name="Add Approval").click()
    card = page.get_by_label(re.compile(r"^Approval \("))
    expect(card).to_be_visible()
    card.click()
    expect(page.get_by_text("Approval · a person decides, no model")).to_be_visible()
    page.get_by_label("Question").fill("Ship it?")
    timeout = page.get_by_label("Timeout (s)")
    timeout.fill("-3")
    expect(page.get_by_text("Timeout must be more than 0 seconds and at most 30 days")).to_be_visible()  # not applied
    timeout.fill("3600")
    page.get_by_label("On timeout").click()
    page.get_by_role("option", name="Approve").click()
    page.get_by_role("button", name="More workflow actions").click()
    with page.expect_download() as download:
        page.get_by_role("menuitem", name="Export to file").click()
    saved = Path(download.value.path()).read_text()
    assert '"type": "approval"' in saved and '"label": "Ship it?"' in saved
    assert '"timeout": 3600' in saved and '"on_timeout": "approve"' in saved


def second_page_on_the_run(page: Page, app_url: str) -> Page:
    """Another tab on the run that waits (from the Runs page, as a second editor would open it)."""
    other = page.context.new_page()
    other.goto(app_url + "/runs")
    other.get_by_role("link", name=re.compile(r"^Review run ")).first.click()
    expect(other.get_by_role("region", name="Approvals").get_by_text("Waiting for approval")).to_be_visible()
    return other


def open_dialog(page: Page) -> Locator:
    page.get_by_role("region", name="Approvals").get_by_role("button", name="Review Sign-off").click()
    dialog = page.get_by_role("dialog", name="Approve Sign-off")
    expect(dialog.get_by_text("Ship this code?")).to_be_visible()
    return dialog


def test_a_dialog_left_open_on_a_round_decided_elsewhere_is_refused_and_keeps_what_was_typed(
    page: Page, app_url: str
) -> None:
    wait_for_sign_off(page)
    other = second_page_on_the_run(page, app_url)
    stale = open_dialog(other)
    mine = open_dialog(page)
    # The first page rejects round 1: the coder revises, and the sign-off asks again, in round 2.
    mine.get_by_label("Note (a rejection hands it on as feedback)").fill("Name it is_palindrome")
    mine.get_by_role("button", name="Reject").click()
    expect(mine).to_be_hidden()
    expect(panel(page).get_by_role("region", name="Approvals").get_by_text("Waiting for approval")).to_be_visible(
        timeout=30_000
    )
    # The other page's dialog still shows round 1: its Approve is refused, saying why, and nothing typed is lost.
    stale.get_by_label("Note (a rejection hands it on as feedback)").fill("Looks good to me")
    stale.get_by_role("button", name="Approve", exact=True).click()
    alert = stale.get_by_role("alert")
    expect(alert).to_contain_text("Not decided: 'Sign-off' now waits in round 2, not round 1")
    expect(alert).to_contain_text("decide again")
    expect(stale.get_by_role("button", name="Approve", exact=True)).to_be_disabled()  # this round cannot be decided
    expect(stale.get_by_label("Note (a rejection hands it on as feedback)")).to_have_value("Looks good to me")
    expect(panel(page).get_by_text(re.compile(r"^Succeeded"))).to_have_count(0)  # nothing was approved
    # Closed and opened again from its card: round 2, decided.
    stale.get_by_role("button", name="Cancel").click()
    expect(stale).to_be_hidden()
    again = open_dialog(other)
    again.get_by_role("button", name="Approve", exact=True).click()
    expect(again).to_be_hidden()
    expect(page.get_by_text("Succeeded: 4/4 agents")).to_be_visible(timeout=30_000)


def test_a_dialog_left_open_on_a_run_decided_elsewhere_is_refused_from_the_keyboard(page: Page, app_url: str) -> None:
    wait_for_sign_off(page)
    other = second_page_on_the_run(page, app_url)
    stale = open_dialog(other)
    approve_sign_off(page)
    expect(page.get_by_text("Succeeded: 4/4 agents")).to_be_visible(timeout=30_000)
    edited = stale.get_by_label("Edited text (for Edit and approve)")
    edited.fill("def ok(): return True")
    stale.get_by_role("button", name="Edit and approve").focus()
    other.keyboard.press("Enter")
    alert = stale.get_by_role("alert")
    expect(alert).to_contain_text("Not decided: Sign-off was decided already (approved by editor, round 1)")
    expect(alert).to_contain_text("the run succeeded")
    expect(stale.get_by_role("button", name="Reject")).to_be_disabled()
    expect(edited).to_have_value("def ok(): return True")  # kept, to copy
    other.keyboard.press("Escape")
    expect(stale).to_be_hidden()
    expect(page.get_by_text("Succeeded: 4/4 agents")).to_be_visible()


def test_an_empty_edited_text_is_refused_next_to_its_field(page: Page) -> None:
    wait_for_sign_off(page)
    dialog = open_dialog(page)
    edited = dialog.get_by_label("Edited text (for Edit and approve)")
    for empty in ("", "  \n\t "):
        edited.fill(empty)
        dialog.get_by_role("button", name="Edit and approve").click()
        expect(dialog.get_by_role("alert").filter(has_text="Edited text is empty")).to_contain_text(
            "type the text to approve, or use Approve to keep it as it was"
        )
        expect(edited).to_have_attribute("aria-invalid", "true")
    # From the keyboard as well; nothing was decided: the run still waits.
    edited.focus()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    dialog.get_by_role("button", name="Edit and approve").focus()
    page.keyboard.press("Enter")
    expect(dialog.get_by_role("alert").filter(has_text="Edited text is empty")).to_be_visible()
    expect(panel(page).get_by_role("region", name="Approvals").get_by_text("Waiting for approval")).to_be_visible()
    field_box, alert_box = edited.bounding_box(), dialog.get_by_role("alert").filter(has_text="empty").bounding_box()
    assert field_box is not None and alert_box is not None
    assert 0 <= alert_box["y"] - (field_box["y"] + field_box["height"]) < 40, (field_box, alert_box)  # right under it
    edited.fill("def is_palindrome(s): return s == s[::-1]")
    dialog.get_by_role("button", name="Edit and approve").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_text("Succeeded: 4/4 agents")).to_be_visible(timeout=30_000)
