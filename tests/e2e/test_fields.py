"""The properties panel's fields as people use them: what is typed counts at once (a Save clicked a few
milliseconds later, Ctrl+S or Ctrl+Enter with the cursor still in the field, opening another workflow, leaving for
the Runs page), and a bad value is explained under its control in plain words."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.test_editor import discard_changes, node

PROMPT = "You write Rust only."


def type_system_prompt(page: Page, text: str = PROMPT) -> None:
    node(page, "Coder", "Coder").click()
    field = page.get_by_label("System prompt")
    field.click()
    page.keyboard.press("Control+a")
    page.keyboard.type(text)  # the cursor stays in the field


def saved_system_prompt(page: Page) -> str:
    page.reload()
    node(page, "Coder", "Coder").click()
    return page.get_by_label("System prompt").input_value()


def test_text_typed_then_saved_with_a_quick_click_is_saved(page: Page) -> None:
    type_system_prompt(page)
    page.get_by_role("button", name="Save", exact=True).click()  # mouse down and up within milliseconds
    expect(page.get_by_text("Saved “Research, code, review”")).to_be_visible()
    expect(page.get_by_text("Unsaved changes")).to_be_hidden()
    assert saved_system_prompt(page) == PROMPT


def test_ctrl_s_in_a_field_saves_what_was_typed(page: Page) -> None:
    type_system_prompt(page)
    expect(page.get_by_text("Unsaved changes")).to_be_visible()  # typing is a change, before the field is left
    page.keyboard.press("Control+s")
    expect(page.get_by_text("Saved “Research, code, review”")).to_be_visible()
    expect(page.get_by_label("System prompt")).to_be_focused()  # the cursor stays where it was
    assert saved_system_prompt(page) == PROMPT


def test_a_new_workflow_name_typed_then_saved_at_once_is_saved(page: Page) -> None:
    name = page.get_by_label("Workflow name")
    name.click()
    page.keyboard.press("Control+a")
    page.keyboard.type("Rust pipeline")
    page.keyboard.press("Control+s")
    expect(page.get_by_text("Saved “Rust pipeline”")).to_be_visible()
    page.reload()
    expect(page.get_by_label("Workflow name")).to_have_value("Rust pipeline")


def test_ctrl_z_in_a_field_undoes_the_typing_there_and_not_the_workflow(page: Page) -> None:
    page.get_by_role("button", name="Add Custom agent").click()
    expect(node(page, "Custom agent", "Custom agent")).to_have_count(1)
    type_system_prompt(page, "abc")
    page.keyboard.press("Control+z")
    expect(page.get_by_label("System prompt")).not_to_have_value("abc")  # the field's own undo
    expect(node(page, "Custom agent", "Custom agent")).to_have_count(1)  # not the app's


def test_ctrl_enter_in_a_field_runs_with_what_was_typed(page: Page) -> None:
    type_system_prompt(page, "You are a careful coder who checks edge cases.")
    page.keyboard.press("Control+Enter")
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=30_000)
    node(page, "Coder", "Coder").click()
    page.get_by_role("tab", name="Inspector").click()
    inspector = page.get_by_role("tabpanel").filter(has_text="Messages sent")
    expect(inspector.get_by_text("You are a careful coder who checks edge cases.")).to_be_visible()


def test_run_clicked_right_after_typing_runs_with_what_was_typed(page: Page) -> None:
    type_system_prompt(page, "You are a careful coder who checks edge cases.")
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=30_000)
    node(page, "Coder", "Coder").click()
    page.get_by_role("tab", name="Inspector").click()
    inspector = page.get_by_role("tabpanel").filter(has_text="Messages sent")
    expect(inspector.get_by_text("You are a careful coder who checks edge cases.")).to_be_visible()


def test_export_and_save_as_template_take_what_was_just_typed(page: Page, tmp_path: Path) -> None:
    type_system_prompt(page)
    page.get_by_role("button", name="More workflow actions").click()
    with page.expect_download() as download:
        page.get_by_role("menuitem", name="Export to file").click()
    exported = tmp_path / "exported.json"
    download.value.save_as(exported)
    coder = next(n for n in json.loads(exported.read_text())["nodes"] if n["id"] == "coder")
    assert coder["config"]["system_prompt"] == PROMPT

    page.get_by_label("System prompt").click()
    page.keyboard.press("End")
    page.keyboard.type(" Always.")
    page.get_by_role("button", name="More workflow actions").click()
    page.get_by_role("menuitem", name="Save as template").click()
    expect(page.get_by_text("is now one of your templates")).to_be_visible()
    page.get_by_role("button", name="Templates").click()
    page.get_by_role("button", name="Use Research, code, review").last.click()  # one's own comes after the built-in
    discard_changes(page)
    node(page, "Coder", "Coder").click()
    expect(page.get_by_label("System prompt")).to_have_value(f"{PROMPT} Always.")


def test_opening_another_workflow_asks_to_save_what_was_just_typed(page: Page) -> None:
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Saved “Research, code, review”")).to_be_visible()
    type_system_prompt(page)
    page.get_by_role("button", name="Templates").click()
    page.get_by_role("button", name="Use Spec, code and tests").click()
    question = page.get_by_role("dialog").filter(has_text="unsaved changes")
    expect(question).to_contain_text("“Research, code, review” has unsaved changes")
    question.get_by_role("button", name="Cancel").click()  # nothing happens: still here, still unsaved
    expect(page.get_by_label("Workflow name")).to_have_value("Research, code, review")
    expect(page.get_by_label("System prompt")).to_have_value(PROMPT)

    page.get_by_role("button", name="Templates").click()
    page.get_by_role("button", name="Use Spec, code and tests").click()
    page.get_by_role("dialog").filter(has_text="unsaved changes").get_by_role("button", name="Save").click()
    expect(page.get_by_label("Workflow name")).to_have_value("Spec, code and tests")
    page.get_by_role("button", name="Open", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="Open Research, code, review").click()
    expect(page.get_by_label("Workflow name")).to_have_value("Research, code, review")
    node(page, "Coder", "Coder").click()
    expect(page.get_by_label("System prompt")).to_have_value(PROMPT)


def test_an_out_of_range_temperature_is_explained_under_its_control(page: Page) -> None:
    node(page, "Coder", "Coder").click()
    temperature = page.get_by_role("spinbutton", name="Temperature")
    temperature.fill("3")
    temperature.press("Tab")
    error = page.get_by_text("Temperature must be between 0 and 2")
    expect(error).to_be_visible()
    expect(temperature).to_have_attribute("aria-invalid", "true")
    box, field, prompt = error.bounding_box(), temperature.bounding_box(), page.get_by_label("System prompt")
    prompt_box = prompt.bounding_box()
    assert box is not None and field is not None and prompt_box is not None
    assert box["y"] >= field["y"] + field["height"], "the message is under the box, not inside it"
    assert box["y"] + box["height"] <= prompt_box["y"], "the message does not overlap the System prompt"
    expect(page.get_by_text("Not saved yet")).to_be_visible()  # not applied

    temperature.fill("1.5")
    expect(error).to_have_count(0)
    expect(page.get_by_text("Unsaved changes")).to_be_visible()


def test_other_bad_values_are_explained_in_words(page: Page) -> None:
    node(page, "Coder", "Coder").click()
    retries = page.get_by_role("spinbutton", name="Retries")
    retries.fill("99")
    retries.press("Tab")
    expect(page.get_by_text("Retries must be a whole number from 0 to 10")).to_be_visible()
    max_tokens = page.get_by_role("spinbutton", name="Max tokens")
    max_tokens.fill("0")
    expect(page.get_by_text("Max tokens must be a whole number from 1 to 200,000")).to_be_visible()
    timeout = page.get_by_role("spinbutton", name="Timeout (s)")
    timeout.fill("0")
    expect(page.get_by_text("Timeout must be more than 0 and at most 3600 seconds")).to_be_visible()
    expect(page.get_by_text("Input should be")).to_have_count(0)  # never pydantic's wording
    expect(page.get_by_text("Not saved yet")).to_be_visible()


def test_leaving_for_the_runs_page_right_after_typing_keeps_the_text(page: Page) -> None:
    type_system_prompt(page)
    page.get_by_role("button", name="Runs", exact=True).click()
    page.wait_for_url("**/runs")
    page.go_back()
    expect(page.get_by_text("Restored your unsaved changes")).to_be_visible()
    node(page, "Coder", "Coder").click()
    expect(page.get_by_label("System prompt")).to_have_value(PROMPT)


def test_the_temperature_slider_and_its_box_follow_each_other(page: Page) -> None:
    node(page, "Coder", "Coder").click()
    slider = page.get_by_role("slider", name="Temperature slider")
    box = page.get_by_role("spinbutton", name="Temperature")
    expect(box).to_have_value("0.20")
    page.get_by_label("Model").press("Tab")  # the slider is next
    page.keyboard.press("ArrowRight")
    expect(box).to_have_value("0.25")
    expect(page.get_by_text("Unsaved changes")).to_be_visible()
    area = slider.bounding_box()
    assert area is not None
    page.mouse.click(area["x"] + area["width"] - 1, area["y"] + area["height"] / 2)  # the far end
    expect(box).to_have_value("2.00")
    box.fill("1.5")
    expect(slider).to_have_attribute("aria-valuenow", "1.5")
    page.keyboard.press("Control+s")
    expect(page.get_by_text("Saved “Research, code, review”")).to_be_visible()
    page.reload()
    node(page, "Coder", "Coder").click()
    expect(page.get_by_role("spinbutton", name="Temperature")).to_have_value("1.50")


def test_a_workflow_name_refused_as_typed_is_explained_and_put_back(page: Page) -> None:
    name = page.get_by_label("Workflow name")
    name.fill("")
    expect(page.get_by_text("The workflow needs a name")).to_be_visible()
    name.press("Tab")
    expect(name).to_have_value("Research, code, review")
    expect(page.get_by_text("The workflow needs a name: it stays “Research, code, review”")).to_be_visible()
    expect(page.get_by_text("Not saved yet")).to_be_visible()  # nothing was changed
