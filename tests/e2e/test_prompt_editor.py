"""The prompt template editor (issue 18): references read as names inside the text while the stored form stays
the raw template, suggestions after `{{`, `outputs.` and `|` taken with the keyboard, filters shown on their chips,
problems underlined where they are, a preview with the last run's values, the Raw switch, the editor's own undo,
and Ctrl+S / Ctrl+Enter with the cursor in it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from tests.e2e.test_accessibility import violations
from tests.e2e.test_editor import import_file, node, type_prompt_template


def edit_template(page: Page, agent: str) -> Locator:
    """Select the agent and put the cursor in its (empty) prompt template, as a person clicks into it."""
    node(page, agent, agent).click()
    expect(page.get_by_label("Name", exact=True)).to_have_value(agent)
    editor = page.get_by_role("textbox", name="Prompt template")
    editor.click()
    return editor


def raw_text(page: Page) -> Locator:
    """Switch the editor to its raw text; the editor, showing it."""
    page.get_by_role("button", name="Raw text").click()
    expect(page.get_by_role("button", name="Raw text")).to_have_attribute("aria-pressed", "true")
    return page.get_by_role("textbox", name="Prompt template")


def test_references_read_as_names_over_the_raw_text_which_ctrl_s_saves(page: Page) -> None:
    editor = edit_template(page, "Reviewer")
    page.keyboard.type("Check {{ outputs.coder }} against {{ inputs.task }}!")
    expect(editor).to_have_text("Check Output of Coder against Input: Task!")
    # Each chip is one piece of text: the cursor steps over it, Backspace takes it whole.
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Backspace")
    expect(editor).to_have_text("Check Output of Coder against !")
    page.keyboard.press("Control+z")
    expect(editor).to_have_text("Check Output of Coder against Input: Task!")

    page.keyboard.press("Control+s")  # the cursor still in the editor
    expect(page.get_by_text("Saved “Research, code, review”")).to_be_visible()
    expect(editor).to_be_focused()
    page.reload()
    node(page, "Reviewer", "Reviewer").click()
    expect(editor).to_have_text("Check Output of Coder against Input: Task!")
    expect(raw_text(page)).to_have_text("Check {{ outputs.coder }} against {{ inputs.task }}!")
    page.reload()  # the switch is remembered in this browser
    node(page, "Reviewer", "Reviewer").click()
    expect(editor).to_have_text("Check {{ outputs.coder }} against {{ inputs.task }}!")
    page.get_by_role("button", name="Raw text").click()
    expect(editor).to_have_text("Check Output of Coder against Input: Task!")


def test_suggestions_after_braces_and_outputs_are_taken_with_the_keyboard(page: Page) -> None:
    editor = edit_template(page, "Reviewer")
    page.keyboard.type("Review {{")
    suggestions = page.get_by_role("listbox")
    expect(suggestions.get_by_role("option", name=re.compile("^Output of Coder"))).to_be_visible()
    expect(suggestions.get_by_role("option", name=re.compile("^Input: Task"))).to_be_visible()
    page.keyboard.type(" cod")  # narrows the list to the coder
    expect(suggestions.get_by_role("option")).to_have_count(1)
    page.keyboard.press("Enter")
    expect(editor).to_have_text("Review Output of Coder")

    # After `outputs.`: the agents upstream, by name (the researcher is two steps up); the id goes in.
    page.keyboard.type(" with {{ outputs.")
    expect(suggestions.get_by_role("option", name=re.compile("^Researcher"))).to_be_visible()
    expect(suggestions.get_by_role("option", name=re.compile("^Reviewer"))).to_have_count(0)  # itself: not upstream
    page.keyboard.type("Rese")
    page.keyboard.press("Enter")
    page.keyboard.type(" }}")
    expect(editor).to_have_text("Review Output of Coder with Output of Researcher")
    # Typed in the text itself, `outputs.` brings its braces with it.
    page.keyboard.type(" or outputs.")
    suggestions.get_by_role("option", name=re.compile("^Coder")).wait_for()
    page.keyboard.press("Enter")
    expect(editor).to_have_text("Review Output of Coder with Output of Researcher or Output of Coder")
    expect(raw_text(page)).to_have_text(
        "Review {{ outputs.coder }} with {{ outputs.researcher }} or {{ outputs.coder }}"
    )


def test_filters_are_suggested_after_a_bar_and_shown_on_the_chip(page: Page) -> None:
    editor = edit_template(page, "Reviewer")
    page.keyboard.type("{{ outputs.coder | ")
    suggestions = page.get_by_role("listbox")
    for name in ("first_lines", "code_block", "json_field('…')", "join('…')"):
        expect(suggestions.get_by_role("option").filter(has_text=name).first).to_be_visible()
    page.keyboard.type("code")
    page.keyboard.press("Enter")  # the first: code_block
    page.keyboard.type(" | first")
    expect(suggestions.get_by_role("option")).to_have_count(1)
    page.keyboard.press("Enter")  # first_lines(3), with the 3 selected to type over
    page.keyboard.type("5")
    page.keyboard.press("Tab")  # on, after the brackets
    page.keyboard.type(" }}")
    expect(editor).to_have_text("Output of Coder · code block · first 5 lines")
    expect(raw_text(page)).to_have_text("{{ outputs.coder | code_block | first_lines(5) }}")


def test_problems_are_underlined_where_they_are_with_their_message(page: Page) -> None:
    editor = edit_template(page, "Coder")
    page.keyboard.type("Fix {{ task }} as {{ outputs.reviewer }} says")
    # An unknown variable: underlined on its name; hovering it tells what is wrong and what to use.
    editor.get_by_text("task", exact=True).hover()
    tooltip = page.locator(".cm-tooltip-lint")  # CodeMirror's, which has no role; the Reads row says it too
    expect(tooltip).to_contain_text("unknown variable 'task'; use inputs.<name>, outputs.<node id> or upstream")
    # An agent that is not upstream: a red chip, saying why when hovered.
    page.mouse.move(0, 0)
    editor.get_by_text("Output of Reviewer", exact=True).hover()
    expect(page.get_by_role("tooltip")).to_have_text(
        "Reviewer is not upstream of this agent: connect it to this agent (directly or through others), "
        "or remove this reference."
    )
    # A syntax error: on the block that has it.
    type_prompt_template(page, "Line one\nthen {{ inputs.task + }} here")
    page.mouse.move(0, 0)
    editor.get_by_text("{{ inputs.task + }}").hover()
    expect(tooltip).to_contain_text("syntax error on line 2: unexpected 'end of print statement'")
    # Fixed: nothing underlined is left.
    page.mouse.move(0, 0)
    type_prompt_template(page, "Fix {{ inputs.task }}")
    expect(editor).to_have_text("Fix Input: Task")
    expect(page.locator(".cm-lintRange")).to_have_count(0)


def test_preview_renders_with_the_last_runs_values(page: Page) -> None:
    edit_template(page, "Reviewer")
    page.keyboard.type("Task: {{ inputs.task }}\nCode: {{ outputs.coder | code_block | first_lines(1) }}")
    page.get_by_role("button", name="Preview with the last run's values").click()
    preview = page.get_by_role("region", name="Preview of the prompt")
    expect(preview).to_contain_text("No run of this workflow yet")
    expect(preview).to_contain_text("Task: ⟨Input: Task⟩\nCode: ⟨Output of Coder⟩")

    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("dialog").get_by_label("Task").fill("Check palindromes")
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=30_000)
    expect(preview).to_contain_text("With the values of the last run (succeeded).")  # open, it follows the run
    expect(preview).to_contain_text("Task: Check palindromes\nCode: def solve(value: str) -> bool:")
    # It follows the typing.
    page.get_by_role("textbox", name="Prompt template").click()
    page.keyboard.press("Control+End")
    page.keyboard.type(" <b>as text</b>")
    expect(preview).to_contain_text("Code: def solve(value: str) -> bool: <b>as text</b>")


def test_undo_in_the_editor_undoes_its_typing_and_not_the_workflow(page: Page) -> None:
    page.get_by_role("button", name="Add Custom agent").click()
    expect(node(page, "Custom agent", "Custom agent")).to_have_count(1)
    editor = edit_template(page, "Custom agent")
    page.keyboard.type("abc")
    expect(editor).to_have_text("abc")
    page.keyboard.press("Control+z")
    expect(editor).not_to_have_text("abc")  # the editor's own undo
    expect(node(page, "Custom agent", "Custom agent")).to_have_count(1)  # not the app's
    page.keyboard.press("Control+Shift+z")
    expect(editor).to_have_text("abc")


def test_ctrl_enter_in_the_editor_runs_with_the_template_typed(page: Page) -> None:
    edit_template(page, "Reviewer")
    page.keyboard.type("Please review: {{ outputs.coder | first_lines(1) }}")
    page.keyboard.press("Control+Enter")
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=30_000)
    node(page, "Reviewer", "Reviewer").click()
    page.get_by_role("tab", name="Inspector").click()
    inspector = page.get_by_role("tabpanel").filter(has_text="Messages sent")
    expect(inspector.get_by_text(re.compile(r"^Please review: Implementation for: "))).to_be_visible()


def test_the_editor_with_chips_problems_suggestions_and_preview_passes_axe(page: Page) -> None:
    edit_template(page, "Reviewer")
    page.keyboard.type("Check {{ outputs.coder | code_block }} and {{ outputs.nobody }} for {{ foo }} ")
    page.get_by_role("button", name="Preview with the last run's values").click()
    expect(page.get_by_role("region", name="Preview of the prompt")).to_contain_text("No run of this workflow yet")
    page.get_by_role("textbox", name="Prompt template").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("{{")
    expect(page.get_by_role("listbox").get_by_role("option").first).to_be_visible()
    assert violations(page) == []
    page.keyboard.press("Escape")
    raw_text(page)
    assert violations(page) == []


def test_names_with_markup_stay_text_in_chips_suggestions_and_preview(page: Page, tmp_path: Path) -> None:
    planner = '<img src=x onerror="window.__xss=1">Planner'
    topic = "<b onmouseover=window.__xss=2>Topic</b>"
    path = tmp_path / "hostile.json"
    workflow = {
        "format": 1,
        "name": "Hostile names",
        "inputs": [{"name": "topic", "label": topic}],
        "nodes": [
            {"id": "planner", "type": "researcher", "label": planner, "position": {"x": 0, "y": 0}},
            {"id": "writer", "type": "custom", "label": "Writer", "position": {"x": 320, "y": 0}},
        ],
        "edges": [{"id": "planner->writer", "source": "planner", "target": "writer"}],
    }
    path.write_text(json.dumps(workflow))
    import_file(page, path)
    expect(node(page, "Writer", "Custom agent")).to_be_visible()
    node(page, "Writer", "Custom agent").click()
    editor = page.get_by_role("textbox", name="Prompt template")
    editor.click()
    page.keyboard.type("{{")
    expect(page.get_by_role("listbox").get_by_text(f"Output of {planner}")).to_be_visible()
    page.keyboard.type(" plan")
    expect(page.get_by_role("listbox").get_by_role("option")).to_have_count(1)
    page.keyboard.press("Enter")
    page.keyboard.type(" about {{ inputs.topic }}")
    expect(editor).to_have_text(f"Output of {planner} about Input: {topic}")
    page.get_by_role("button", name="Preview with the last run's values").click()
    expect(page.get_by_role("region", name="Preview of the prompt")).to_contain_text(
        f"⟨Output of {planner}⟩ about ⟨Input: {topic}⟩"
    )
    editor.get_by_text(f"Input: {topic}").hover()
    assert page.evaluate("window.__xss") is None
    assert page.locator("[onerror], [onmouseover]").count() == 0
