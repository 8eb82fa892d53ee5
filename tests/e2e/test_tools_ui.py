"""Tools in the browser (issue 22): an agent's Tools section, the workflow's allowed domains, and what a run with
tool calls shows: the card's badge, the Inspector's tool calls, the Artifacts and Side effects tabs."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.test_accessibility import violations
from tests.e2e.test_editor import node
from tests.e2e.test_workflow_settings import open_settings


def test_tools_section_ticks_a_tool_limits_calls_and_undoes(page: Page) -> None:
    node(page, "Coder", "Coder").click()
    tools = page.get_by_role("group", name="Tools")
    write = tools.get_by_role("checkbox", name="Tool write_file")
    expect(write).not_to_be_checked()
    expect(tools.get_by_text("Writes a file in the run's workspace: the run's artifacts")).to_be_visible()
    expect(tools.get_by_text("side effect")).to_have_count(2)  # write_file and http_request
    write.click()
    expect(write).to_be_checked()
    assert violations(page) == []

    limit = page.get_by_label("Max tool calls")
    expect(limit).to_have_value("10")
    limit.fill("0")
    expect(page.get_by_text("Max tool calls must be a whole number from 1 to 50")).to_be_visible()
    expect(limit).to_have_attribute("aria-invalid", "true")
    limit.fill("3")
    expect(page.get_by_text("Max tool calls must be a whole number from 1 to 50")).to_be_hidden()

    # The panel drawn again (another agent, then back) shows what the workflow holds.
    node(page, "Reviewer", "Reviewer").click()
    node(page, "Coder", "Coder").click()
    expect(page.get_by_role("group", name="Tools").get_by_role("checkbox", name="Tool write_file")).to_be_checked()
    expect(page.get_by_label("Max tool calls")).to_have_value("3")

    page.get_by_role("button", name="Undo").click()  # the limit
    page.get_by_role("button", name="Undo").click()  # the tool: the panel shows the workflow as it is again
    expect(page.get_by_role("group", name="Tools").get_by_role("checkbox", name="Tool write_file")).not_to_be_checked()
    expect(page.get_by_label("Max tool calls")).to_have_value("10")

    # A person has no tools: an approval's properties have no Tools section.
    page.get_by_role("button", name="Add Approval").click()
    page.get_by_label(re.compile(r"^Approval \(")).click()
    expect(page.get_by_text("Approval · a person decides, no model")).to_be_visible()
    expect(page.get_by_role("group", name="Tools")).to_have_count(0)
    expect(page.get_by_label("Max tool calls")).to_have_count(0)


def test_allowed_domains_are_edited_by_keyboard_checked_as_the_engine_does_and_undone(page: Page) -> None:
    dialog = open_settings(page)
    expect(dialog.get_by_label("Name", exact=True)).to_be_focused()  # as the dialog opens: not later, over ours
    domains = dialog.get_by_role("list", name="Allowed domains")
    expect(dialog.get_by_text("No network: tools that fetch cannot reach anything.")).to_be_visible()
    expect(dialog.get_by_text("no scheme, path or port", exact=False)).to_be_visible()
    no_field_focused(page)
    assert violations(page) == []
    expect(dialog.get_by_role("button", name="Add domain")).to_be_focused()
    page.keyboard.press("Enter")
    first = domains.get_by_label("Allowed domain")
    expect(first).to_be_focused()
    page.keyboard.type("https://example.org/docs")
    expect(dialog.get_by_text("has a scheme; write the host name alone, e.g. example.org")).to_be_visible()
    expect(first).to_have_attribute("aria-invalid", "true")
    page.keyboard.press("Enter")  # Apply is refused while a domain is wrong
    expect(dialog).to_be_visible()
    page.keyboard.press("Control+a")
    page.keyboard.type("example.org")
    expect(dialog.get_by_text("has a scheme")).to_be_hidden()
    dialog.get_by_role("button", name="Add domain").focus()
    page.keyboard.press("Enter")
    expect(domains.get_by_label("Allowed domain").nth(1)).to_be_focused()
    page.keyboard.type("*.wikipedia.org")
    no_field_focused(page)
    assert violations(page) == []
    domains.get_by_label("Allowed domain").nth(1).focus()
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Remove domain *.wikipedia.org")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # Apply
    expect(dialog).to_be_hidden()

    dialog = open_settings(page)
    boxes = dialog.get_by_role("list", name="Allowed domains").get_by_label("Allowed domain")
    expect(boxes).to_have_count(2)
    expect(boxes.nth(0)).to_have_value("example.org")
    expect(boxes.nth(1)).to_have_value("*.wikipedia.org")
    dialog.get_by_role("button", name="Remove domain example.org").focus()
    page.keyboard.press("Enter")
    expect(boxes).to_have_count(1)
    dialog.get_by_role("button", name="Apply").click()
    expect(dialog).to_be_hidden()

    page.get_by_role("button", name="Undo").click()  # the removal, as one step
    dialog = open_settings(page)
    expect(dialog.get_by_role("list", name="Allowed domains").get_by_label("Allowed domain")).to_have_count(2)
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Undo").click()
    dialog = open_settings(page)
    expect(dialog.get_by_text("No network: tools that fetch cannot reach anything.")).to_be_visible()


def test_a_run_with_a_tool_call_shows_badge_inspector_artifact_and_side_effect(page: Page) -> None:
    node(page, "Coder", "Coder").click()
    page.get_by_role("group", name="Tools").get_by_role("checkbox", name="Tool write_file").click()
    prompt = page.get_by_label("System prompt")
    prompt.fill(
        'Write the report.\nCALL write_file {"path": "notes/report.md", "content": "# Report\\nAll <b>good</b>"}'
    )
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=30_000)

    card = page.get_by_label("Coder (Coder)", exact=True)
    expect(card.get_by_text("1 tool call", exact=True)).to_be_visible()
    expect(page.get_by_label("Reviewer (Reviewer)", exact=True).get_by_text("tool call")).to_have_count(0)

    card.click()
    page.get_by_role("tab", name="Inspector").click()
    inspector = page.get_by_role("tabpanel").filter(has_text="Tool calls (1)")
    row = inspector.get_by_text("1. write_file · ok · ", exact=False)
    expect(row).to_contain_text("side effect")
    row.click()  # opens the row: arguments pretty-printed, the result, as text
    pretty = re.compile(r'^\{\s+"path": "notes/report.md",\s+"content": "# Report\\nAll <b>good</b>"\s+\}$')
    expect(inspector.get_by_text(pretty)).to_be_visible()  # indented, one key a line
    expect(inspector.get_by_text("wrote notes/report.md (24 bytes)", exact=True)).to_be_visible()  # the result
    expect(inspector.locator("b")).to_have_count(0)  # arguments are text, never markup
    expect(inspector.get_by_text("Wrote: notes/report.md")).to_be_visible()
    assert violations(page) == []

    page.get_by_role("tab", name="Log").click()
    log = page.get_by_role("tabpanel").filter(has_text="called write_file")
    expect(log.get_by_text('called write_file (side effect): {"path": "notes/report.md"', exact=False)).to_be_visible()
    expect(
        log.get_by_text(re.compile(r"write_file ok in \d+\.\d\d s: wrote notes/report.md \(24 bytes\)"))
    ).to_be_visible()

    page.get_by_role("tab", name="Artifacts").click()
    files = page.get_by_role("table", name="Artifacts")
    expect(files.get_by_role("row").filter(has_text="notes/report.md")).to_contain_text("Coder")
    expect(files.get_by_role("row").filter(has_text="notes/report.md")).to_contain_text("24 bytes")
    with page.expect_download() as download:
        files.get_by_role("link", name="Download notes/report.md").click()
    assert download.value.suggested_filename == "report.md"
    assert Path(download.value.path()).read_bytes() == b"# Report\nAll <b>good</b>"
    href = files.get_by_role("link", name="Download notes/report.md").get_attribute("href") or ""
    folder = href.removesuffix("notes/report.md")
    sent = page.request.get(page.url.rstrip("/") + href)
    assert sent.headers["content-type"] == "application/octet-stream"  # saved, never shown as a page of the app
    assert sent.headers["content-disposition"].startswith("attachment")
    for outside in ("..%2F..%2Fflowdeck.db", "..%2F..%2F..%2Fflowdeck.db", "%2Fetc%2Fpasswd", "notes/missing.md"):
        refused = page.request.get(page.url.rstrip("/") + folder + outside)
        assert refused.status == 404, outside
    plain = page.request.get(page.url.rstrip("/") + folder + "../../../flowdeck.db")  # the client resolves the dots
    assert not plain.body().startswith(b"SQLite format 3")
    assert violations(page) == []

    page.get_by_role("tab", name="Side effects").click()
    effects = page.get_by_role("table", name="Side effects")
    entry = effects.get_by_role("row").filter(has_text="write_file")
    expect(entry).to_contain_text("Coder")
    expect(entry).to_contain_text("ok")
    expect(entry).to_contain_text('"path": "notes/report.md"')
    assert violations(page) == []

    # The Runs page's run view shows the same.
    page.get_by_role("button", name="Runs", exact=True).click()
    page.get_by_role("link", name=re.compile("^Open run ")).first.click()
    page.get_by_role("application", name="Workflow canvas").wait_for()
    page.get_by_role("tab", name="Artifacts").click()
    expect(page.get_by_role("link", name="Download notes/report.md")).to_be_visible()
    page.get_by_role("tab", name="Side effects").click()
    expect(
        page.get_by_role("table", name="Side effects").get_by_role("row").filter(has_text="write_file")
    ).to_contain_text("ok")


def test_the_new_tabs_say_what_would_appear_in_a_run_without_tools(page: Page) -> None:
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=30_000)
    page.get_by_role("tab", name="Artifacts").click()
    expect(page.get_by_text("Files the run's agents write (with the write_file tool) appear here")).to_be_visible()
    page.get_by_role("tab", name="Side effects").click()
    expect(page.get_by_text("Calls that change the world appear here")).to_be_visible()
    assert violations(page) == []

    # The tab in view follows the next run: its file appears as it is written, without choosing the tab again.
    node(page, "Researcher", "Researcher").click()  # (shows the Inspector)
    page.get_by_role("group", name="Tools").get_by_role("checkbox", name="Tool write_file").click()
    page.get_by_label("System prompt").fill('Note it.\nCALL write_file {"path": "facts.txt", "content": "facts"}')
    page.get_by_role("tab", name="Artifacts").click()
    expect(page.get_by_text("Files the run's agents write (with the write_file tool) appear here")).to_be_visible()
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_role("link", name="Download facts.txt")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("table", name="Artifacts")).to_contain_text("Researcher")


def no_field_focused(page: Page) -> None:
    """axe without a focused field: Quasar draws a focused field's label in its pale blue (3.1:1, an app-wide finding
    of its own)."""
    page.get_by_role("dialog").get_by_role("button", name="Add domain").focus()
    expect(page.locator(".q-field--focused")).to_have_count(0)  # Quasar lets go of it a moment after the blur


def test_ctrl_enter_on_a_ticked_tool_runs_and_leaves_the_tick(page: Page) -> None:
    node(page, "Coder", "Coder").click()
    read = page.get_by_role("group", name="Tools").get_by_role("checkbox", name="Tool read_file")
    read.click()
    expect(read).to_be_checked()
    read.focus()
    page.keyboard.press("Control+Enter")  # the Run shortcut, with the focus still on the box
    dialog = page.get_by_role("dialog").filter(has_text="Start run")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    node(page, "Reviewer", "Reviewer").click()
    node(page, "Coder", "Coder").click()  # drawn again from the workflow
    expect(page.get_by_role("group", name="Tools").get_by_role("checkbox", name="Tool read_file")).to_be_checked()
