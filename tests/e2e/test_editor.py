from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import Locator, Page, expect


def node(page: Page, label: str, title: str) -> object:
    return page.get_by_label(f"{label} ({title})", exact=True)


def canvas(page: Page) -> object:
    return page.get_by_role("application", name="Workflow canvas")


def type_prompt_template(page: Page, text: str) -> Locator:
    """Replace the selected agent's prompt template by typing, as a person does (click, select all, type)."""
    editor = page.get_by_role("textbox", name="Prompt template")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.type(text)
    return editor


def test_editor_opens_on_the_builtin_template(page: Page) -> None:
    expect(page.get_by_label("Workflow name")).to_have_value("Research, code, review")
    for label in ("Researcher", "Coder", "Reviewer"):
        expect(node(page, label, label)).to_be_visible()
    expect(page.get_by_text("Select an agent on the canvas to configure it.")).to_be_visible()
    expect(page.get_by_text("Not saved yet")).to_be_visible()  # nothing to lose yet: no warning
    expect(page.get_by_text("Unsaved changes")).to_be_hidden()


def test_each_agent_type_can_be_dragged_onto_the_canvas(page: Page) -> None:
    drops = [("Researcher", "Researcher 2", 250), ("Coder", "Coder 2", 350), ("Reviewer", "Reviewer 2", 450)]
    drops.append(("Custom agent", "Custom agent", 550))
    for title, label, y in drops:
        page.get_by_role("button", name=f"Add {title}").drag_to(canvas(page), target_position={"x": 300, "y": y})
        expect(node(page, label, title)).to_be_visible()
    expect(page.get_by_text("Unsaved changes")).to_be_visible()


def settle(page: Page) -> None:
    """Let the canvas finish a view change it scheduled for the next frames (centering a new agent)."""
    page.wait_for_function("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))")


def test_connecting_agents_and_refusing_a_loop(page: Page) -> None:
    page.get_by_role("button", name="Add Reviewer").click()
    expect(node(page, "Reviewer 2", "Reviewer")).to_be_in_viewport()
    settle(page)
    page.get_by_label("output of Coder").drag_to(page.get_by_label("input of Reviewer 2"))
    expect(page.get_by_label("Coder to Reviewer 2")).to_have_count(1)
    # A connection back asks how the loop repeats (tests/e2e/test_canvas_loops.py); cancelled, nothing is added.
    page.get_by_label("output of Reviewer", exact=True).drag_to(page.get_by_label("input of Researcher"))
    expect(page.get_by_role("dialog")).to_contain_text("This makes a loop")
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    expect(page.get_by_label("Reviewer to Researcher")).to_have_count(0)


def test_configuration_persists_after_save_and_reload(page: Page) -> None:
    node(page, "Coder", "Coder").click()
    name = page.get_by_label("Name", exact=True)
    name.fill("Senior coder")
    temperature = page.get_by_role("spinbutton", name="Temperature")
    temperature.fill("1.3")
    temperature.press("Tab")
    system = page.get_by_label("System prompt")
    system.fill("You write Rust only.")
    system.press("Tab")
    expect(node(page, "Senior coder", "Coder")).to_be_visible()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved “Research, code, review”")).to_be_visible()
    expect(page.get_by_text("Unsaved changes")).to_be_hidden()

    page.reload()
    node(page, "Senior coder", "Coder").click()
    expect(page.get_by_role("spinbutton", name="Temperature")).to_have_value("1.30")
    expect(page.get_by_label("System prompt")).to_have_value("You write Rust only.")


def test_invalid_value_is_shown_inline_and_not_applied(page: Page) -> None:
    node(page, "Coder", "Coder").click()
    retries = page.get_by_role("spinbutton", name="Retries")
    retries.fill("99")
    retries.press("Tab")
    expect(page.get_by_text("Retries must be a whole number from 0 to 10")).to_be_visible()
    expect(page.get_by_text("Not saved yet")).to_be_visible()  # nothing was changed


def test_undo_redo_and_delete(page: Page) -> None:
    page.get_by_role("button", name="Add Coder").click()
    added = node(page, "Coder 2", "Coder")
    expect(added).to_be_visible()
    expect(page.get_by_text("Unsaved changes")).to_be_visible()
    page.keyboard.press("Control+z")
    expect(added).to_have_count(0)
    expect(page.get_by_text("Not saved yet")).to_be_visible()  # back to the template as it opened
    page.keyboard.press("Control+Shift+z")
    expect(added).to_be_visible()
    settle(page)
    added.click()
    expect(added).to_have_class(re.compile(r"\bselected\b"))
    page.keyboard.press("Delete")
    expect(added).to_have_count(0)
    page.get_by_role("button", name="Undo").click()
    expect(added).to_be_visible()


def test_copy_paste_duplicates_selected_agents(page: Page) -> None:
    node(page, "Coder", "Coder").click()
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    expect(node(page, "Coder 2", "Coder")).to_be_visible()
    page.keyboard.press("Control+z")
    expect(node(page, "Coder 2", "Coder")).to_have_count(0)


def test_export_then_import_gives_the_same_workflow(page: Page, tmp_path: Path) -> None:
    node(page, "Coder", "Coder").click()
    page.get_by_label("Name", exact=True).fill("Exported coder")
    page.get_by_label("Name", exact=True).press("Tab")
    page.get_by_role("button", name="More workflow actions").click()
    with page.expect_download() as download:
        page.get_by_role("menuitem", name="Export to file").click()
    exported = tmp_path / "exported.json"
    download.value.save_as(exported)
    data = json.loads(exported.read_text())
    assert data["nodes"][1]["label"] == "Exported coder"
    assert "api_key" not in exported.read_text()

    page.get_by_role("button", name="Templates").click()
    page.get_by_role("button", name="Use Fan-out: two coders, one reviewer").click()
    discard_changes(page)
    expect(node(page, "Exported coder", "Coder")).to_have_count(0)
    import_file(page, exported)
    expect(page.get_by_text("Imported “Research, code, review”")).to_be_visible()
    expect(node(page, "Exported coder", "Coder")).to_be_visible()
    expect(page.get_by_label("Workflow name")).to_have_value("Research, code, review")


def test_malformed_import_lists_every_problem_and_changes_nothing(page: Page, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": 1, "name": "x", "nodes": [{"id": "a", "type": "wizard"}], "command": "rm"}))
    import_file(page, bad)
    expect(page.get_by_text("bad.json was not imported:")).to_be_visible()
    expect(page.get_by_text("command: Extra inputs are not permitted")).to_be_visible()
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_label("Workflow name")).to_have_value("Research, code, review")
    expect(node(page, "Coder", "Coder")).to_be_visible()


def test_import_of_numbers_and_text_json_cannot_hold_lists_each_and_imports_nothing(page: Page, tmp_path: Path) -> None:
    odd = tmp_path / "odd.json"
    odd.write_text(
        '{"format": 1, "name": "Odd \\ud800", "nodes": [{"id": "a", "type": "coder", "position": {"x": NaN},'
        ' "config": {"max_tokens": ' + "9" * 5000 + "}}]}"
    )
    import_file(page, odd)
    expect(page.get_by_text("odd.json was not imported:")).to_be_visible()
    expect(page.get_by_text("name: holds a lone surrogate (\\ud800)")).to_be_visible()
    expect(page.get_by_text("nodes[0].position.x: NaN is not a number JSON allows")).to_be_visible()
    expect(page.get_by_text("nodes[0].config.max_tokens: a number of 5,000 digits")).to_be_visible()
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_label("Workflow name")).to_have_value("Research, code, review")
    expect(node(page, "Coder", "Coder")).to_be_visible()


def test_templates_gallery_creates_a_workflow(page: Page) -> None:
    page.get_by_role("button", name="Templates").click()
    expect(page.get_by_role("img", name="Preview of 4 agents").first).to_be_visible()
    page.get_by_role("button", name="Use Spec, code and tests").click()
    expect(page.get_by_label("Workflow name")).to_have_value("Spec, code and tests")
    expect(node(page, "Test writer", "Custom agent")).to_be_visible()


def test_open_dialog_duplicates_deletes_after_asking_and_opens(page: Page) -> None:
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved “Research, code, review”")).to_be_visible()
    page.get_by_role("button", name="Open", exact=True).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Duplicate Research, code, review").click()
    copy = "Research, code, review (copy)"
    expect(dialog.get_by_role("button", name=f"Open {copy}")).to_be_visible()
    expect(dialog.get_by_role("button", name="Delete Research, code, review", exact=True)).to_be_disabled()  # open now
    dialog.get_by_role("button", name=f"Delete {copy}").click()
    page.get_by_role("dialog").filter(has_text="This cannot be undone").get_by_role("button", name="Cancel").click()
    expect(dialog.get_by_role("button", name=f"Open {copy}")).to_be_visible()  # asked, and kept
    dialog.get_by_role("button", name=f"Delete {copy}").click()
    page.get_by_role("dialog").filter(has_text="This cannot be undone").get_by_role("button", name="Delete").click()
    expect(dialog.get_by_role("button", name=f"Open {copy}")).to_have_count(0)
    dialog.get_by_role("button", name="Close").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    # Opened again, it lists what is saved now; clicking a workflow's name opens it.
    page.get_by_role("button", name="Templates").click()
    page.get_by_role("button", name="Use Spec, code and tests").click()
    page.get_by_role("button", name="Open", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("button", name=re.compile("^Open "))).to_have_count(1)
    dialog.get_by_text("Research, code, review", exact=True).click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_label("Workflow name")).to_have_value("Research, code, review")
    # From the keyboard: Enter in the search box opens the first workflow it lists.
    page.get_by_role("button", name="Templates").click()
    page.get_by_role("button", name="Use Spec, code and tests").click()
    page.get_by_role("button", name="Open", exact=True).click()
    page.get_by_label("Search saved workflows").fill("code, rev")
    page.get_by_label("Search saved workflows").press("Enter")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_label("Workflow name")).to_have_value("Research, code, review")


def test_refresh_with_unsaved_edits_restores_the_draft(page: Page) -> None:
    page.get_by_role("button", name="Add Custom agent").click()
    expect(node(page, "Custom agent", "Custom agent")).to_be_visible()
    page.wait_for_timeout(1000)  # the draft is written at most twice a second
    page.reload()
    expect(page.get_by_text("Restored your unsaved changes")).to_be_visible()
    expect(node(page, "Custom agent", "Custom agent")).to_be_visible()
    expect(page.get_by_text("Unsaved changes", exact=True)).to_be_visible()


def test_a_template_opened_but_not_edited_comes_back_on_refresh_without_a_warning(page: Page) -> None:
    page.get_by_role("button", name="Templates").click()
    page.get_by_role("button", name="Use Spec, code and tests").click()
    expect(page.get_by_label("Workflow name")).to_have_value("Spec, code and tests")
    expect(page.get_by_text("Not saved yet")).to_be_visible()
    page.wait_for_timeout(1000)  # the draft is written at most twice a second
    page.reload()
    expect(page.get_by_label("Workflow name")).to_have_value("Spec, code and tests")
    expect(page.get_by_text("Not saved yet")).to_be_visible()
    expect(page.get_by_text("Unsaved changes")).to_be_hidden()
    expect(page.get_by_text("Restored your unsaved changes")).to_have_count(0)


def test_arrange_places_agents_left_to_right(page: Page) -> None:
    page.get_by_role("button", name="Add Reviewer").click()
    added = node(page, "Reviewer 2", "Reviewer")
    before = added.bounding_box()
    page.get_by_role("button", name="Arrange agents").click()
    expect(added).to_be_in_viewport()
    page.wait_for_timeout(500)  # the fit-view transition
    xs = [node(page, label, label).bounding_box()["x"] for label in ("Researcher", "Coder", "Reviewer")]  # type: ignore[index]
    assert xs == sorted(xs) and len(set(xs)) == 3, xs  # in data-flow order, one column each
    arranged = added.bounding_box()
    assert arranged != before
    page.get_by_role("button", name="Undo").click()  # one step puts every agent back
    page.wait_for_timeout(300)
    assert added.bounding_box() != arranged


def discard_changes(page: Page) -> None:
    """Answer the question asked when another workflow is opened over unsaved changes: discard them."""
    question = page.get_by_role("dialog").filter(has_text="has unsaved changes")
    question.get_by_role("button", name="Discard changes").click()


def import_file(page: Page, path: Path) -> None:
    page.get_by_role("button", name="More workflow actions").click()
    page.get_by_role("menuitem", name="Import from file…").click()
    # Quasar's uploader keeps its file input hidden; this is the input a person's file chooser fills.
    page.locator("input[type=file]").set_input_files(str(path))


def test_run_from_the_editor_shows_each_agent_finish(page: Page) -> None:
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_label("Task")).to_have_value("Write a function that checks if a string is a palindrome")
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=30_000)
    for label in ("Researcher", "Coder", "Reviewer"):
        expect(node(page, label, label)).to_contain_text("done")
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_enabled()

    node(page, "Coder", "Coder").click()
    page.get_by_role("tab", name="Inspector").click()
    expect(page.get_by_text("Received the output of: Researcher")).to_be_visible()
    inspector = page.get_by_role("tabpanel").filter(has_text="Messages sent")
    expect(inspector.get_by_text("def solve(value: str) -> bool:")).to_be_visible()
    expect(page.get_by_text("## From Researcher")).to_be_visible()


def test_reloading_mid_run_shows_the_run_going_on(page: Page) -> None:
    node(page, "Researcher", "Researcher").click()
    model = page.get_by_label("Model")
    model.fill("scripted/latency=4")
    model.press("Enter")
    expect(node(page, "Researcher", "Researcher")).to_contain_text("scripted/latency=4")
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("button", name="Start run").click()
    # The first run of a fresh app loads the model library first.
    expect(node(page, "Researcher", "Researcher")).to_contain_text("running", timeout=20_000)
    page.reload()
    expect(node(page, "Researcher", "Researcher")).to_contain_text("running")
    expect(page.get_by_role("button", name="Cancel run")).to_be_visible()
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=30_000)


def test_prompt_template_references_read_as_names(page: Page) -> None:
    node(page, "Reviewer", "Reviewer").click()
    template = page.get_by_role("textbox", name="Prompt template")
    reads = page.get_by_role("status", name="What this prompt reads")
    page.get_by_role("button", name="Insert Output of Coder").click()
    expect(template).to_have_text("Output of Coder")
    expect(reads.get_by_text("Output of Coder")).to_be_visible()
    # The cursor is back in the editor, after the reference: typing goes on from there.
    expect(template).to_be_focused()
    page.keyboard.type(" has bugs?")
    expect(template).to_have_text("Output of Coder has bugs?")
    # A reference goes in where the cursor is, from the keyboard too; the editor's own undo takes it out.
    page.keyboard.press("Control+Home")
    page.keyboard.type("Task:")
    page.get_by_role("button", name="Insert Input: Task").press("Enter")
    expect(template).to_have_text("Task: Input: Task Output of Coder has bugs?")
    expect(template).to_be_focused()
    page.keyboard.press("Control+z")
    expect(template).to_have_text("Task:Output of Coder has bugs?")
    # An agent two steps upstream can be read too; a name that resolves to nothing is flagged, with why.
    type_prompt_template(page, "Research: {{ outputs.researcher }} for {{ inputs.task }} and {{ outputs.nobody }}")
    expect(reads.get_by_text("Output of Researcher")).to_be_visible()
    expect(reads.get_by_text("Input: Task")).to_be_visible()
    expect(reads.get_by_text("outputs.nobody: not upstream of this agent")).to_be_visible()
    type_prompt_template(page, "{{ broken")
    expect(reads.get_by_text(re.compile("syntax error on line 1"))).to_be_visible()


def test_minimap_can_be_hidden_and_large_workflows_open_without_it(page: Page, tmp_path: Path) -> None:
    minimap = page.get_by_role("img", name="Minimap")
    expect(minimap).to_be_visible()
    page.get_by_role("button", name="Hide minimap").click()
    expect(minimap).to_have_count(0)
    page.get_by_role("button", name="Show minimap").click()
    expect(minimap).to_be_visible()

    big = tmp_path / "big.json"
    nodes = [
        {"id": f"n{i}", "type": "custom", "position": {"x": (i % 20) * 260, "y": i // 20 * 120}} for i in range(250)
    ]
    big.write_text(json.dumps({"format": 1, "name": "Big", "nodes": nodes, "edges": []}))
    import_file(page, big)
    expect(page.get_by_label("Workflow name")).to_have_value("Big")
    expect(page.get_by_role("button", name="Show minimap")).to_be_visible()
    expect(minimap).to_have_count(0)


def test_a_fit_follows_the_canvas_as_its_size_settles(page: Page) -> None:
    """A fit asked for while the page around the canvas changes (the run panel opening as a run is restored)
    lands on the canvas's final size."""
    reviewer = node(page, "Reviewer", "Reviewer")
    expect(reviewer).to_be_visible()
    page.get_by_role("button", name="Show the whole workflow").click()
    page.set_viewport_size({"width": 1100, "height": 800})  # the canvas shrinks right after the fit

    def inside() -> bool:
        box, area = reviewer.bounding_box(), canvas(page).bounding_box()
        if box is None or area is None:  # for a frame mid-resize, the agent can be outside what is drawn
            return False
        return box["x"] >= area["x"] and box["x"] + box["width"] <= area["x"] + area["width"]

    for _ in range(50):
        if inside():
            break
        page.wait_for_timeout(50)
    assert inside(), "the Reviewer is cut off: the view was fitted to the canvas's old size"


def test_arrange_and_fit_leave_no_agent_under_the_minimap_or_the_controls(page: Page, tmp_path: Path) -> None:
    # One agent handing to five: arranged, the five stand in a column at the right, down to the canvas's bottom.
    nodes = [{"id": "a", "type": "researcher"}] + [
        {"id": f"b{i}", "type": "coder", "label": f"Coder {i}"} for i in range(1, 6)
    ]
    edges = [{"id": f"a-b{i}", "source": "a", "target": f"b{i}"} for i in range(1, 6)]
    path = tmp_path / "fan.json"
    path.write_text(json.dumps({"format": 1, "name": "Wide fan", "nodes": nodes, "edges": edges}))
    import_file(page, path)
    expect(page.get_by_label("Workflow name")).to_have_value("Wide fan")
    cards = [node(page, "Researcher", "Researcher")] + [node(page, f"Coder {i}", "Coder") for i in range(1, 6)]
    panels = [page.get_by_role("img", name="Minimap"), page.get_by_label("Zoom controls")]
    for step in ("Arrange agents", "Show the whole workflow", "Fit View"):
        page.get_by_role("button", name=step).click()
        page.wait_for_timeout(600)  # the fit's transition
        covered = [box for box in (p.bounding_box() for p in panels) if box is not None]
        assert len(covered) == 2
        for card in cards:
            expect(card).to_be_in_viewport()
            c = card.bounding_box()
            assert c is not None
            for p in covered:
                apart = (
                    c["x"] + c["width"] <= p["x"]
                    or p["x"] + p["width"] <= c["x"]
                    or c["y"] + c["height"] <= p["y"]
                    or p["y"] + p["height"] <= c["y"]
                )
                assert apart, f"after {step}, {card} is under a panel at {p}"
