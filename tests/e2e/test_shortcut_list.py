"""The list of keyboard shortcuts: "?" (outside text fields) or the header's button opens it; it lists every
shortcut of the editor's one table, and the keys do what it says."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from flowdeck.components.shortcuts import SHORTCUTS, shown
from tests.e2e.test_editor import canvas, node


def test_question_mark_lists_every_shortcut_and_the_keys_do_what_it_says(page: Page) -> None:
    canvas(page).click(position={"x": 40, "y": 40})  # type: ignore[attr-defined]
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    rows = dialog.get_by_role("row")
    expect(rows).to_have_count(len(SHORTCUTS) + len({s.where for s in SHORTCUTS}))  # and each table's heading row
    for shortcut in SHORTCUTS:
        keys = " or ".join(shown(k) for k in shortcut.keys)
        expect(rows.filter(has_text=shortcut.action).filter(has_text=keys)).to_have_count(1)
    expect(dialog.get_by_role("table", name="Canvas")).to_contain_text("Delete or Backspace")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # What the list says, by the keys it names.
    node(page, "Coder", "Coder").click()
    page.keyboard.press("Delete")
    expect(node(page, "Coder", "Coder")).to_have_count(0)
    page.keyboard.press("Control+z")
    expect(node(page, "Coder", "Coder")).to_have_count(1)
    page.keyboard.press("Control+Shift+z")
    expect(node(page, "Coder", "Coder")).to_have_count(0)
    page.keyboard.press("Control+y")  # nothing left to redo
    page.keyboard.press("Control+z")
    node(page, "Coder", "Coder").click()
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    expect(node(page, "Coder 2", "Coder")).to_have_count(1)


def test_question_mark_in_a_text_field_is_typed_and_the_header_button_opens_the_list(page: Page) -> None:
    search = page.get_by_label("Search agents")
    search.click()
    page.keyboard.type("what?")
    expect(search).to_have_value("what?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_have_count(0)

    page.get_by_role("button", name="Keyboard shortcuts").click()
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog.get_by_role("table", name="Editor")).to_contain_text("Ctrl+Shift+Z or Ctrl+Y")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
