"""The editor around the canvas: the palette's search and keyboard, shortcuts, templates of one's own, the theme,
a small window, zooming, and the editor opened from a Python script."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.appserver import free_port, wait_for_port
from tests.e2e.test_editor import discard_changes


def node(page: Page, label: str, title: str) -> object:
    return page.get_by_label(f"{label} ({title})", exact=True)


def test_palette_search_narrows_the_agents_and_the_keyboard_adds_one(page: Page) -> None:
    search = page.get_by_label("Search agents")
    search.fill("review")
    expect(page.get_by_role("button", name="Add Reviewer")).to_be_visible()
    for hidden in ("Researcher", "Coder", "Custom agent"):
        expect(page.get_by_role("button", name=f"Add {hidden}")).to_be_hidden()
    search.fill("code")  # matches descriptions too: the reviewer "reviews the work", the coder "writes working code"
    expect(page.get_by_role("button", name="Add Coder")).to_be_visible()
    expect(page.get_by_role("button", name="Add Researcher")).to_be_hidden()

    search.fill("review")
    search.press("Enter")  # adds the first agent shown
    expect(node(page, "Reviewer 2", "Reviewer")).to_have_count(1)
    page.get_by_role("button", name="Add Reviewer").focus()
    page.keyboard.press("Enter")
    expect(node(page, "Reviewer 3", "Reviewer")).to_have_count(1)
    search.fill("")
    for title in ("Researcher", "Coder", "Reviewer", "Custom agent"):
        expect(page.get_by_role("button", name=f"Add {title}")).to_be_visible()


def test_keyboard_shortcuts_save_undo_and_redo(page: Page) -> None:
    page.get_by_role("button", name="Add Coder").click()
    expect(node(page, "Coder 2", "Coder")).to_have_count(1)
    canvas = page.get_by_role("application", name="Workflow canvas")
    canvas.click(position={"x": 40, "y": 40})  # the keys go to the page, not to the palette
    page.keyboard.press("Control+z")
    expect(node(page, "Coder 2", "Coder")).to_have_count(0)
    page.keyboard.press("Control+y")
    expect(node(page, "Coder 2", "Coder")).to_have_count(1)
    page.keyboard.press("Control+s")
    expect(page.get_by_text("Saved “Research, code, review”")).to_be_visible()
    expect(page.get_by_text("Unsaved changes")).to_be_hidden()
    page.reload()
    expect(node(page, "Coder 2", "Coder")).to_have_count(1)


def test_a_workflow_saved_as_a_template_starts_new_workflows(page: Page) -> None:
    name = page.get_by_label("Workflow name")
    name.fill("Triage pipeline")
    name.press("Tab")
    page.get_by_role("button", name="Add Custom agent").click()
    page.get_by_role("button", name="More workflow actions").click()
    page.get_by_role("menuitem", name="Save as template").click()
    expect(page.get_by_text("“Triage pipeline” is now one of your templates")).to_be_visible()

    page.get_by_role("button", name="Templates").click()
    page.get_by_role("button", name="Use Research, code, review").click()
    discard_changes(page)
    expect(name).to_have_value("Research, code, review")
    expect(node(page, "Custom agent", "Custom agent")).to_have_count(0)

    page.get_by_role("button", name="Templates").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("Your template")).to_have_count(1)
    dialog.get_by_role("button", name="Use Triage pipeline").click()
    expect(name).to_have_value("Triage pipeline")
    expect(node(page, "Custom agent", "Custom agent")).to_have_count(1)

    # One's own templates can be deleted (after asking); the built-in ones cannot.
    page.get_by_role("button", name="Templates").click()
    dialog = page.get_by_role("dialog").filter(has_text="New workflow from a template")
    expect(dialog.get_by_role("button", name=re.compile("^Delete template"))).to_have_count(1)
    dialog.get_by_role("button", name="Delete template Triage pipeline").click()
    page.get_by_role("dialog").filter(has_text="This cannot be undone").get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog").filter(has_text="New workflow from a template")
    expect(dialog.get_by_role("button", name="Use Research, code, review")).to_be_visible()
    expect(dialog.get_by_role("button", name="Use Triage pipeline")).to_have_count(0)


def _is_dark(page: Page) -> bool:
    return bool(page.evaluate("document.body.classList.contains('body--dark')"))


def test_the_theme_chosen_is_kept_on_reload_and_on_every_page(page: Page, app_url: str) -> None:
    assert not _is_dark(page)
    page.get_by_role("button", name="Toggle dark theme").click()
    expect(page.locator("body")).to_have_class(re.compile(r"\bbody--dark\b"))
    expect(page.locator(".react-flow.dark")).to_have_count(1)
    page.reload()
    page.get_by_role("application", name="Workflow canvas").wait_for()
    assert _is_dark(page), "dark from the first paint after a reload"
    expect(page.locator(".react-flow.dark")).to_have_count(1)

    page.goto(f"{app_url}/runs")
    assert _is_dark(page)
    page.get_by_role("button", name="Toggle dark theme").click()  # switched back from the runs page
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bbody--dark\b"))
    page.goto(app_url)
    page.get_by_role("application", name="Workflow canvas").wait_for()
    assert not _is_dark(page)
    expect(page.locator(".react-flow.light")).to_have_count(1)


def test_the_editor_fits_a_1280_by_720_window(browser: Browser, app_url: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    try:
        page.goto(app_url)
        page.get_by_role("application", name="Workflow canvas").wait_for()
        node(page, "Coder", "Coder").click()
        page.get_by_label("Name", exact=True).wait_for()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1280, f"the page scrolls sideways ({width} px wide)"
        toolbar = ["Workflow settings", "Run", "Runs", "New", "Templates", "Open", "Save", "More workflow actions"]
        toolbar += [
            "Undo",
            "Redo",
            "Arrange agents",
            "Show the whole workflow",
            "Toggle dark theme",
            "Keyboard shortcuts",
        ]
        for name in toolbar:
            _inside(page, page.get_by_role("button", name=name, exact=True), name)
        for label in ("Name", "Model", "System prompt", "Max tokens", "Timeout (s)", "Retries"):
            _inside(page, page.get_by_label(label, exact=True), label)
        _inside(page, page.get_by_role("spinbutton", name="Temperature"), "Temperature")
        _inside(page, page.get_by_role("button", name="Add Custom agent"), "the palette")
        _inside(page, page.get_by_role("button", name="Zoom In"), "the zoom controls")
    finally:
        context.close()


def _inside(page: Page, locator: object, what: str) -> None:
    box = locator.bounding_box()  # type: ignore[attr-defined]
    assert box is not None, f"{what} is not shown"
    assert box["x"] >= 0 and box["y"] >= 0, f"{what} starts outside the window: {box}"
    assert box["x"] + box["width"] <= 1280 and box["y"] + box["height"] <= 720, f"{what} ends outside the window: {box}"


ZOOM = "parseFloat(/scale\\(([\\d.]+)\\)/.exec(document.querySelector('.react-flow__viewport').style.transform)[1])"


def test_zoom_controls_zoom_in_and_out(page: Page) -> None:
    before = page.evaluate(ZOOM)
    page.get_by_role("button", name="Zoom In").click()
    page.wait_for_function(f"{ZOOM} > {before}")
    zoomed = page.evaluate(ZOOM)
    page.get_by_role("button", name="Zoom Out").click()
    page.wait_for_function(f"{ZOOM} < {zoomed}")


def test_a_python_script_opens_the_editor_on_its_workflow_and_it_runs(browser: Browser, tmp_path: Path) -> None:
    workflow = tmp_path / "triage.json"
    workflow.write_text(
        '{"format": 1, "name": "Triage from a script", "inputs": [{"name": "task", "default": "Sort the bugs"}],'
        ' "nodes": [{"id": "sorter", "type": "researcher", "label": "Sorter"},'
        ' {"id": "fixer", "type": "coder", "label": "Fixer"}],'
        ' "edges": [{"id": "e1", "source": "sorter", "target": "fixer"}]}'
    )
    port = free_port()
    script = (
        "import flowdeck\n"
        f"workflow = flowdeck.load({str(workflow)!r})\n"
        f"flowdeck.open(workflow, port={port}, browser=False)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "FLOWDECK_"))}
    env.update(FLOWDECK_HOME=str(tmp_path / "home"), FLOWDECK_MODEL="scripted", LITELLM_LOCAL_MODEL_COST_MAP="True")
    with (tmp_path / "script.log").open("w") as log:
        proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=log, stderr=log)
        try:
            wait_for_port(port, proc)
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{port}")
            expect(page.get_by_label("Workflow name")).to_have_value("Triage from a script")
            expect(node(page, "Sorter", "Researcher")).to_have_count(1)
            expect(node(page, "Fixer", "Coder")).to_have_count(1)
            expect(page.get_by_text("Not saved yet")).to_be_visible()  # loaded, not saved
            page.get_by_role("button", name="Run", exact=True).click()
            expect(page.get_by_label("Task")).to_have_value("Sort the bugs")
            page.get_by_role("button", name="Start run").click()
            expect(page.get_by_text("Succeeded: 2/2 agents")).to_be_visible(timeout=30_000)
            context.close()
        finally:
            proc.terminate()
            proc.wait(10)


def steady_box(locator: object) -> dict[str, float]:
    """The element's box once the canvas has stopped moving it (the view fits itself as the page opens)."""
    last = None
    for _ in range(50):
        box = locator.bounding_box()  # type: ignore[attr-defined]
        if box is not None and box == last:
            return box
        last = box
        locator.page.wait_for_timeout(100)  # type: ignore[attr-defined]
    raise AssertionError(f"the element kept moving: {last}")


def test_moving_an_agent_is_saved_and_several_agents_delete_together(page: Page) -> None:
    coder, reviewer = node(page, "Coder", "Coder"), node(page, "Reviewer", "Reviewer")
    before = steady_box(coder)
    assert before is not None
    page.mouse.move(before["x"] + 40, before["y"] + 12)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(before["x"] + 40, before["y"] + 12 + 16 * step)
    page.mouse.up()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved “Research, code, review”")).to_be_visible()
    assert coder_below_reviewer_after_reload(page) > 40  # it stays below the row it was in, after a reload
    coder, reviewer = node(page, "Coder", "Coder"), node(page, "Reviewer", "Reviewer")

    coder.click()
    reviewer.click(modifiers=["Shift"])  # Shift (or Ctrl) adds to the selection
    expect(coder).to_have_class(re.compile(r"\bselected\b"))
    expect(reviewer).to_have_class(re.compile(r"\bselected\b"))
    page.keyboard.press("Delete")
    expect(coder).to_have_count(0)
    expect(reviewer).to_have_count(0)
    expect(node(page, "Researcher", "Researcher")).to_have_count(1)
    page.get_by_role("button", name="Undo").click()  # one step brings both back, with their connections
    expect(coder).to_have_count(1)
    expect(reviewer).to_have_count(1)
    expect(page.get_by_label("Coder to Reviewer")).to_have_count(1)


def test_a_second_connection_is_refused_with_the_reason_and_a_self_connection_asks_how_it_loops(page: Page) -> None:
    expect(page.get_by_label("Coder to Reviewer")).to_have_count(1)
    page.get_by_label("output of Coder").drag_to(page.get_by_label("input of Reviewer", exact=True))
    expect(page.get_by_text("these agents are already connected")).to_be_visible()
    expect(page.get_by_label("Coder to Reviewer")).to_have_count(1)
    page.get_by_label("output of Coder").drag_to(page.get_by_label("input of Coder"))
    # connected to itself, an agent loops (format 2): it is asked how, and Cancel adds nothing
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("This makes a loop")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_label("Coder to Coder")).to_have_count(0)


def test_an_agent_moved_with_the_arrow_keys_is_saved_and_undone_like_a_drag(page: Page) -> None:
    coder = node(page, "Coder", "Coder")
    steady_box(coder)
    coder.click()
    for _ in range(8):
        page.keyboard.press("ArrowDown")
    expect(page.get_by_text("Unsaved changes")).to_be_visible()  # the move reached the workflow
    page.keyboard.press("Control+z")  # one undo step for the whole move
    expect(page.get_by_text("Unsaved changes")).to_be_hidden()
    page.keyboard.press("Control+Shift+z")
    expect(page.get_by_text("Unsaved changes")).to_be_visible()
    page.keyboard.press("Control+s")
    expect(page.get_by_text("Saved “Research, code, review”")).to_be_visible()
    assert coder_below_reviewer_after_reload(page) > 20


def coder_below_reviewer_after_reload(page: Page) -> float:
    """How far below the Reviewer's card the Coder's is drawn once the page is loaded again."""
    page.reload()
    page.get_by_role("application", name="Workflow canvas").wait_for()
    coder, reviewer = node(page, "Coder", "Coder"), node(page, "Reviewer", "Reviewer")
    steady_box(coder)
    moved, other = coder.bounding_box(), reviewer.bounding_box()
    assert moved is not None and other is not None
    return moved["y"] - other["y"]


def test_a_reload_shows_the_workflow_opened_not_the_one_saved_last(page: Page) -> None:
    name = page.get_by_label("Workflow name")
    name.fill("First saved")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved “First saved”")).to_be_visible()
    page.get_by_role("button", name="New").click()
    expect(name).not_to_have_value("First saved")  # the blank workflow is shown
    name.fill("Second saved")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved “Second saved”")).to_be_visible(timeout=15_000)
    page.get_by_role("button", name="Open", exact=True).click()
    page.get_by_role("button", name="Open First saved").click()
    expect(name).to_have_value("First saved")
    page.wait_for_timeout(1_500)  # the browser notes which workflow it shows (with the draft's timer)
    page.reload()
    expect(page.get_by_label("Workflow name")).to_have_value("First saved")
