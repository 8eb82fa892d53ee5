"""Workflow settings (name, description, inputs, default model) as one undo step, and New workflow."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from tests.e2e.test_editor import discard_changes, node, type_prompt_template


def open_settings(page: Page) -> Locator:
    page.get_by_role("button", name="Workflow settings").click()
    dialog = page.get_by_role("dialog", name="Workflow settings")
    expect(dialog).to_be_visible()
    return dialog


def test_settings_rename_an_input_into_its_prompts_add_and_reorder_inputs_and_undo_as_one_step(page: Page) -> None:
    node(page, "Coder", "Coder").click()
    template = type_prompt_template(page, "Build {{ inputs.task }}")
    expect(template).to_have_text("Build Input: Task")

    dialog = open_settings(page)
    expect(dialog.get_by_label("Name", exact=True)).to_be_focused()
    page.keyboard.press("Control+a")
    page.keyboard.type("Spec to code")
    dialog.get_by_label("Description", exact=True).fill("Turns a spec into reviewed code.")
    first = dialog.get_by_role("group", name="Input 1")
    first.get_by_label("Input name").fill("spec")
    first.get_by_label("Label").fill("Spec")
    expect(dialog.get_by_text("Renaming task to spec renames it in the prompt templates of Coder too.")).to_be_visible()
    dialog.get_by_role("button", name="Add input").click()
    second = dialog.get_by_role("group", name="Input 2")
    expect(second.get_by_label("Input name")).to_be_focused()  # typing names the new input at once
    page.keyboard.type("audience")
    second.get_by_label("Label").fill("Audience")
    second.get_by_label("Default value").fill("beginners")
    second.get_by_role("button", name="Move input audience up").click()
    expect(dialog.get_by_role("group", name="Input 1").get_by_label("Input name")).to_have_value("audience")
    dialog.get_by_role("button", name="Move input audience down").click()
    expect(dialog.get_by_role("group", name="Input 2").get_by_label("Input name")).to_have_value("audience")
    dialog.get_by_role("button", name="Move input audience up").click()
    expect(dialog.get_by_role("group", name="Input 1").get_by_label("Input name")).to_have_value("audience")
    dialog.get_by_role("button", name="Apply").click()

    expect(dialog).to_be_hidden()
    expect(page.get_by_label("Workflow name")).to_have_value("Spec to code")
    expect(page.get_by_text("Prompt templates follow the renamed inputs: Coder")).to_be_visible()
    expect(template).to_have_text("Build Input: Spec")  # the renamed input, by its new label
    page.get_by_role("button", name="Run", exact=True).click()
    run = page.get_by_role("dialog").filter(has_text="Start run")
    expect(run.get_by_role("textbox")).to_have_count(2)
    expect(run.get_by_role("textbox").nth(0)).to_have_value("beginners")  # Audience, moved first
    expect(run.get_by_label("Spec")).to_have_value("Write a function that checks if a string is a palindrome")
    run.get_by_role("button", name="Cancel").click()

    page.get_by_role("button", name="Undo").click()  # everything the dialog applied, at once
    expect(page.get_by_label("Workflow name")).to_have_value("Research, code, review")
    expect(template).to_have_text("Build Input: Task")
    dialog = open_settings(page)
    expect(dialog.get_by_role("group")).to_have_count(1)
    expect(dialog.get_by_role("group", name="Input 1").get_by_label("Input name")).to_have_value("task")


def test_bad_settings_are_explained_under_their_fields_and_not_applied(page: Page) -> None:
    page.get_by_role("button", name="More workflow actions").click()
    page.get_by_role("menuitem", name="Workflow settings…").click()
    dialog = page.get_by_role("dialog", name="Workflow settings")
    dialog.get_by_label("Name", exact=True).fill("")
    expect(dialog.get_by_text("Name must not be empty")).to_be_visible()
    row = dialog.get_by_role("group", name="Input 1")
    row.get_by_label("Input name").fill("2nd task")
    expect(row.get_by_role("alert")).to_have_text(
        "Input name must start with a letter or underscore, then letters, digits or underscores "
        "(at most 64 characters), e.g. task or source_text"
    )
    dialog.get_by_role("button", name="Add input").click()
    expect(dialog.get_by_role("group", name="Input 2").get_by_label("Input name")).to_be_focused()
    page.keyboard.type("2nd_task")
    dialog.get_by_role("button", name="Apply").click()  # refused: the dialog stays, with every problem said
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("group", name="Input 2").get_by_role("alert")).to_contain_text("must start with")
    expect(dialog.get_by_label("Name", exact=True)).to_be_focused()
    expect(page.get_by_label("Workflow name")).to_have_value("Research, code, review")

    dialog.get_by_label("Name", exact=True).fill("Two tasks")
    row.get_by_label("Input name").fill("task_a")
    dialog.get_by_role("group", name="Input 2").get_by_label("Input name").fill("task_a")
    expect(dialog.get_by_text("Input name “task_a” is taken by another input; each needs its own")).to_be_visible()
    dialog.get_by_role("group", name="Input 2").get_by_role("button", name="Remove input task_a").click()
    expect(dialog.get_by_role("group")).to_have_count(1)
    row.get_by_label("Input name").press("Enter")  # Enter in a one-line field applies
    expect(dialog).to_be_hidden()
    expect(page.get_by_label("Workflow name")).to_have_value("Two tasks")


def test_removing_an_input_a_prompt_reads_warns_which_agents_read_it(page: Page) -> None:
    node(page, "Reviewer", "Reviewer").click()
    type_prompt_template(page, "Check it against {{ inputs.task }}")
    dialog = open_settings(page)
    dialog.get_by_role("button", name="Remove input task").click()
    expect(dialog.get_by_text("No inputs: agents receive only what the agents before them hand over.")).to_be_visible()
    warning = "Removing task: the prompt templates of Reviewer read it, and will not run until they are changed."
    expect(dialog.get_by_text(warning)).to_be_visible()
    dialog.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("Removed input task: still read by the prompt template of Reviewer")).to_be_visible()


def test_the_default_model_shows_on_agents_without_their_own_and_is_saved(page: Page) -> None:
    node(page, "Coder", "Coder").click()
    own = page.get_by_label("Model", exact=True)
    own.fill("scripted/chunks=4")
    own.press("Enter")
    dialog = open_settings(page)
    model = dialog.get_by_label("Default model")
    expect(model).to_have_attribute("placeholder", "App default (scripted)")
    model.fill("scripted/chunks=2")
    model.press("Enter")
    dialog.get_by_role("button", name="Apply").click()
    expect(node(page, "Researcher", "Researcher")).to_contain_text("scripted/chunks=2")
    expect(node(page, "Reviewer", "Reviewer")).to_contain_text("scripted/chunks=2")
    expect(node(page, "Coder", "Coder")).to_contain_text("scripted/chunks=4")
    expect(page.get_by_label("Model", exact=True)).to_have_attribute("placeholder", "Default (scripted/chunks=2)")
    page.keyboard.press("Control+s")
    expect(page.get_by_text("Saved “Research, code, review”")).to_be_visible()

    page.reload()
    expect(node(page, "Researcher", "Researcher")).to_contain_text("scripted/chunks=2")
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=30_000)
    node(page, "Reviewer", "Reviewer").click()
    page.get_by_role("tab", name="Inspector").click()
    expect(page.get_by_role("tabpanel").get_by_text("scripted/chunks=2").first).to_be_visible()


def test_a_template_saved_from_a_workflow_carries_its_own_description(page: Page) -> None:
    dialog = open_settings(page)
    dialog.get_by_label("Name", exact=True).fill("Palindromes")
    dialog.get_by_label("Description", exact=True).fill("Checks palindromes three ways.")
    dialog.get_by_role("button", name="Apply").click()
    page.get_by_role("button", name="More workflow actions").click()
    page.get_by_role("menuitem", name="Save as template").click()
    expect(page.get_by_text("“Palindromes” is now one of your templates")).to_be_visible()
    page.get_by_role("button", name="Templates").click()
    gallery = page.get_by_role("dialog").filter(has_text="New workflow from a template")
    expect(gallery.get_by_text("Checks palindromes three ways.")).to_be_visible()


def test_new_workflow_is_blank_and_asks_first_over_unsaved_changes(page: Page) -> None:
    name = page.get_by_label("Workflow name")
    page.get_by_role("button", name="New", exact=True).click()  # the template as opened: nothing to lose
    expect(name).to_have_value("Untitled workflow")
    expect(node(page, "Coder", "Coder")).to_have_count(0)
    expect(page.get_by_text("Not saved yet")).to_be_visible()

    page.get_by_role("button", name="Add Coder").click()
    expect(node(page, "Coder", "Coder")).to_have_count(1)
    page.get_by_role("button", name="New", exact=True).click()
    question = page.get_by_role("dialog").filter(has_text="has unsaved changes")
    expect(question).to_contain_text("Save them before opening “Untitled workflow 2”?")
    question.get_by_role("button", name="Cancel").click()
    expect(node(page, "Coder", "Coder")).to_have_count(1)

    page.get_by_role("button", name="More workflow actions").click()
    page.get_by_role("menuitem", name="New workflow").click()
    discard_changes(page)
    expect(name).to_have_value("Untitled workflow 2")
    expect(node(page, "Coder", "Coder")).to_have_count(0)
    page.get_by_role("button", name="Add Custom agent").click()  # the blank workflow has a task to give it
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("dialog").get_by_label("Task").fill("Say hello")
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Succeeded: 1/1 agent")).to_be_visible(timeout=30_000)
